// Live events through watch(): the frames a change made by another request causes,
// on both routes, with the credential sent as upgrade headers from Node.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfabError, type FrameOf } from "../src/index.js";
import { client, eventually, signedUpClient, tenantClient } from "./helpers.js";

test("the user route receives the frames of a message another client posts, and 4001 at logout", async (t) => {
  const { confab, userId } = await signedUpClient();
  const { chat } = await confab.post("/api/users/{user_id}/chats", { path: { user_id: userId }, body: { name: "Live" } });
  const frames: FrameOf<"/api/users/{user_id}/chats/{chat_id}/ws">[] = [];
  let closed: { code: number; reason: string } | undefined;
  const watch = confab.watch("/api/users/{user_id}/chats/{chat_id}/ws", {
    path: { user_id: userId, chat_id: chat.id },
    onFrame: (frame) => frames.push(frame),
    onClose: (code, reason) => (closed = { code, reason }),
  });
  t.after(() => watch.close()); // an open socket would keep a failed test's process alive
  await watch.ready;

  // Another request (a tenant-API client would do too): a post and a rename through the user API.
  await confab.post("/api/users/{user_id}/chats/{chat_id}/messages", {
    path: { user_id: userId, chat_id: chat.id },
    body: { message: "live!", actor: "user" },
  });
  await confab.patch("/api/users/{user_id}/chats/{chat_id}", { path: { user_id: userId, chat_id: chat.id }, body: { name: "Renamed" } });

  const created = await eventually(() => frames.find((f) => f.type === "message.created"), "message.created");
  assert.equal(created.chat_id, chat.id);
  assert.equal(created.message.message, "live!");
  const updated = await eventually(() => frames.find((f) => f.type === "chat.updated"), "chat.updated");
  assert.equal(updated.chat.name, "Renamed");
  assert.ok(updated.seq > created.seq, "frames arrive in seq order");

  await confab.post("/api/auth/logout");
  const close = await eventually(() => closed, "the close after logout");
  assert.equal(close.code, 4001);
});

test("the tenant route, with the API key as an upgrade header", async (t) => {
  const confab = tenantClient();
  const chat = await confab.post("/api/v1/chats", { body: { name: "Live tenant" } });
  const frames: FrameOf<"/api/v1/chats/{chat_id}/ws">[] = [];
  const watch = confab.watch("/api/v1/chats/{chat_id}/ws", { path: { chat_id: chat.id }, onFrame: (f) => frames.push(f) });
  t.after(() => watch.close());
  await watch.ready;

  // The socket is the chat's live connection: a plain delete is refused while it is open.
  // The server counts it once the upgrade has finished on its side, which can be just
  // after the client sees it open (with Redis, after the presence write), as it stops
  // counting it just after the close below.
  await eventually(async () => {
    const { active_connections } = await confab.get("/api/v1/chats/{chat_id}", { path: { chat_id: chat.id } });
    return active_connections === 1 ? true : undefined;
  }, "the connection to be counted");
  await assert.rejects(
    confab.delete("/api/v1/chats/{chat_id}", { path: { chat_id: chat.id } }),
    (error: unknown) => error instanceof ConfabError && error.status === 409 && error.code === "chat_has_active_connections",
  );

  await tenantClient().post("/api/v1/chats/{chat_id}/messages", {
    path: { chat_id: chat.id },
    body: { messages: [{ role: "user", content: "one" }, { role: "user", content: "two" }] },
  });
  const created = await eventually(() => {
    const found = frames.filter((f) => f.type === "message.created");
    return found.length === 2 ? found : undefined;
  }, "two message.created frames");
  assert.deepEqual(created.map((f) => f.type === "message.created" && f.message.message), ["one", "two"]);
  assert.ok(created.every((f) => f.chat_id === chat.id), "the tenant route's frames carry the uuid");

  // After close() the server no longer counts it, and the plain delete goes through.
  watch.close();
  await eventually(async () => {
    const { active_connections } = await confab.get("/api/v1/chats/{chat_id}", { path: { chat_id: chat.id } });
    return active_connections === 0 ? true : undefined;
  }, "the connection to end");
  const deleted = await confab.delete("/api/v1/chats/{chat_id}", { path: { chat_id: chat.id } });
  assert.equal(deleted.success, true);
});

test("a refused upgrade rejects ready", async () => {
  const watch = client().watch("/api/v1/chats/{chat_id}/ws", {
    path: { chat_id: "00000000-0000-4000-8000-000000000000" },
    onFrame: () => assert.fail("no frame expected"),
  });
  await assert.rejects(watch.ready, /could not be opened/);
});
