// The tenant API through the client: the key in X-API-Key, keyset pages, the tenant
// error shape's code, and how paths and queries are built.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import { ConfabError } from "../src/index.js";
import { client, tenantClient } from "./helpers.js";

function isConfabError(status: number, code: string, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ConfabError, `expected a ConfabError, got ${String(error)}`);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

test("create chats and walk them page by page with the cursor", async () => {
  const confab = tenantClient();
  const tag = `walk-${randomUUID().slice(0, 8)}`;
  const created = [];
  for (let i = 0; i < 5; i++) {
    const chat = await confab.post("/api/v1/chats", { body: { name: `Order ${i}`, model: "echo", metadata: { order: i } } });
    // Tag them so the walk sees only this test's chats, whatever else the tenant has.
    const tagged = await confab.patch("/api/v1/chats/{chat_id}", { path: { chat_id: chat.id }, body: { tags: [tag] } });
    created.push(tagged);
  }
  assert.deepEqual(created[2]?.metadata, { order: 2 });

  const seen: string[] = [];
  const pages: number[] = [];
  let cursor: string | undefined;
  do {
    const page = await confab.get("/api/v1/chats", { query: { limit: "2", tag, cursor } });
    pages.push(page.data.length);
    seen.push(...page.data.map((chat) => chat.id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);

  assert.deepEqual(pages, [2, 2, 1]);
  // Newest first, each once.
  assert.deepEqual(seen, created.map((chat) => chat.id).reverse());
});

test("messages through the tenant API, and its errors with their codes", async () => {
  const confab = tenantClient();
  const chat = await confab.post("/api/v1/chats", { body: { name: "Support" } });
  const posted = await confab.post("/api/v1/chats/{chat_id}/messages", {
    path: { chat_id: chat.id },
    body: { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" }] },
  });
  assert.deepEqual(posted.data.map((m) => m.message), ["Hi", "Hello!"]);
  const first = await confab.get("/api/v1/chats/{chat_id}/messages", { path: { chat_id: chat.id }, query: { limit: "1" } });
  assert.deepEqual(first.data.map((m) => m.message), ["Hi"]);
  assert.ok(first.next_cursor, "a first page of one has a next cursor");
  const rest = await confab.get("/api/v1/chats/{chat_id}/messages", {
    path: { chat_id: chat.id },
    query: { after: first.next_cursor ?? undefined },
  });
  assert.deepEqual(rest.data.map((m) => m.message), ["Hello!"]);

  // Answers that are not JSON come back as text: the Markdown export.
  const markdown = await confab.get("/api/v1/chats/{chat_id}/export", { path: { chat_id: chat.id }, query: { format: "markdown" } });
  assert.equal(typeof markdown, "string");
  assert.match(markdown as string, /^# Support\n[\s\S]*Hello!/);
  const json = await confab.get("/api/v1/chats/{chat_id}/export", { path: { chat_id: chat.id } });
  assert.ok(typeof json !== "string" && json.messages.length === 2, "the JSON export is parsed");

  await assert.rejects(
    confab.get("/api/v1/chats/{chat_id}", { path: { chat_id: randomUUID() } }),
    isConfabError(404, "chat_not_found", /^Chat not found$/),
  );
  await assert.rejects(
    confab.get("/api/v1/chats", { query: { limit: "1000" } }),
    isConfabError(400, "invalid_limit"),
  );
  await assert.rejects(
    client({ apiKey: "cfb_000000000000_wrong" }).get("/api/v1/chats"),
    isConfabError(401, "unauthorized"),
  );
});

test("path parameters are URL-encoded, and a missing one is refused before sending", async () => {
  const confab = tenantClient();
  // Encoded, "a/b?c" stays one path segment and reaches the chat route (400: not a
  // UUID); sent as it is, it would be another path (404 not_found).
  await assert.rejects(
    confab.get("/api/v1/chats/{chat_id}", { path: { chat_id: "a/b?c" } }),
    isConfabError(400, "invalid_chat_id"),
  );
  await assert.rejects(
    // @ts-expect-error the path parameters are required
    confab.get("/api/v1/chats/{chat_id}"),
    (error: unknown) => error instanceof TypeError && /chat_id/.test(error.message),
  );
});

test("calls the types refuse are refused by the server too", async () => {
  const confab = tenantClient();
  await assert.rejects(
    // @ts-expect-error a chat's name is a string
    confab.post("/api/v1/chats", { body: { name: 42 } }),
    isConfabError(400, "validation_error"),
  );
  await assert.rejects(
    // @ts-expect-error no such route
    confab.get("/api/v1/no-such-route"),
    isConfabError(404, "not_found"),
  );
  await assert.rejects(
    // @ts-expect-error the route has no PUT
    confab.put("/api/v1/chats/{chat_id}", { path: { chat_id: randomUUID() } }),
    isConfabError(405, "method_not_allowed"),
  );
});

test("a raw import body: a chat's export sent back as a file", async () => {
  const confab = tenantClient();
  const chat = await confab.post("/api/v1/chats", { body: { name: "Round trip" } });
  await confab.post("/api/v1/chats/{chat_id}/messages", { path: { chat_id: chat.id }, body: { message: "kept", actor: "user" } });
  const exported = await confab.get("/api/v1/chats/{chat_id}/export", { path: { chat_id: chat.id } });
  // A string body goes as it is, labelled application/octet-stream (text/plain would be a 415).
  const report = await confab.post("/api/v1/import", {
    query: { format: "confab", dry_run: "true" },
    body: JSON.stringify(exported),
  });
  // The chat is still there, so a dry run would skip it as a duplicate.
  assert.deepEqual(report, { chats_imported: 0, messages_imported: 0, skipped_duplicates: 1, errors: [] });
});
