// Generated replies through the client, with the LLM double as the provider:
// generate's event stream, resume after a cut, stop, and a failed reply.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfabError, type Message, type StreamEvent } from "../src/index.js";
import { apiKey, client, signedUpClient, tenantClient } from "./helpers.js";

// One account for the user-API tests here (sign-ups are rate-limited per address),
// made when the first of them needs it.
let account: ReturnType<typeof signedUpClient> | undefined;
const sharedAccount = () => (account ??= signedUpClient());

const deltaTexts = (events: StreamEvent[]) => events.flatMap((e) => (e.event === "message.delta" ? [e.data.text] : []));

test("generate streams the user message, the reply, every delta in order, then completed", async () => {
  const { confab, userId } = await sharedAccount();
  const { chat } = await confab.post("/api/users/{user_id}/chats", {
    path: { user_id: userId },
    body: { name: "Counting", model: "count-5-20" },
  });
  const events: StreamEvent[] = [];
  for await (const event of confab.generate("/api/users/{user_id}/chats/{chat_id}/generate", {
    path: { user_id: userId, chat_id: chat.id },
    body: { message: { content: "Count to five" } },
  })) {
    events.push(event);
  }

  assert.deepEqual(
    events.map((e) => e.event),
    ["message.created", "message.created", ...Array(5).fill("message.delta"), "message.completed"],
  );
  const [question, reply] = events;
  assert.ok(question?.event === "message.created" && reply?.event === "message.created");
  assert.equal(question.data.message, "Count to five");
  assert.equal(question.data.actor, "user");
  assert.equal(reply.data.actor, "assistant");
  assert.equal(reply.data.status, "generating");
  assert.equal(reply.data.parent_id, question.data.id);

  const deltas = events.filter((e) => e.event === "message.delta");
  assert.deepEqual(deltas.map((e) => e.data.seq), [1, 2, 3, 4, 5]);
  assert.deepEqual(deltas.map((e) => e.id), ["1", "2", "3", "4", "5"]);
  assert.ok(deltas.every((e) => e.data.message_id === reply.data.id));
  assert.deepEqual(deltaTexts(events), ["w1 ", "w2 ", "w3 ", "w4 ", "w5 "]);

  const completed = events.at(-1);
  assert.ok(completed?.event === "message.completed");
  assert.equal(completed.data.id, reply.data.id);
  assert.equal(completed.data.status, "complete");
  assert.equal(completed.data.model, "count-5-20");
  assert.equal(completed.data.message, deltaTexts(events).join(""));

  // The stored reply is the streamed one.
  const { chatMessages } = await confab.get("/api/users/{user_id}/chats/{chat_id}/messages", {
    path: { user_id: userId, chat_id: chat.id },
  });
  assert.equal(chatMessages.at(-1)?.message, completed.data.message);
});

test("resume after two deltas of an aborted stream sends the rest, none twice", async () => {
  const confab = tenantClient();
  const chat = await confab.post("/api/v1/chats", { body: { name: "Resume", model: "count-10-40" } });
  const abort = new AbortController();
  const first: StreamEvent[] = [];
  await assert.rejects(async () => {
    for await (const event of confab.generate("/api/v1/chats/{chat_id}/generate", {
      path: { chat_id: chat.id },
      body: { message: { content: "Count to ten" } },
      signal: abort.signal,
    })) {
      first.push(event);
      if (deltaTexts(first).length === 2) abort.abort();
    }
  }, (error: unknown) => error instanceof Error && error.name === "AbortError");

  const reply = first[1];
  assert.ok(reply?.event === "message.created" && reply.data.actor === "assistant");
  const lastId = first.at(-1)?.id;
  assert.equal(lastId, "2");

  const rest: StreamEvent[] = [];
  for await (const event of confab.resume("/api/v1/chats/{chat_id}/messages/{message_id}/stream", {
    path: { chat_id: chat.id, message_id: reply.data.id },
    after: lastId ?? undefined,
  })) {
    rest.push(event);
  }
  const restDeltas = rest.filter((e) => e.event === "message.delta");
  assert.deepEqual(restDeltas.map((e) => e.data.seq), [3, 4, 5, 6, 7, 8, 9, 10]);
  const all = [...deltaTexts(first), ...deltaTexts(rest)];
  assert.deepEqual(all, Array.from({ length: 10 }, (_, i) => `w${i + 1} `));
  const end = rest.at(-1);
  assert.ok(end?.event === "message.completed");
  assert.equal(end.data.message, all.join(""));

  // Resuming the finished reply from the start replays every delta, then the end.
  const replay: StreamEvent[] = [];
  for await (const event of confab.resume("/api/v1/chats/{chat_id}/messages/{message_id}/stream", {
    path: { chat_id: chat.id, message_id: reply.data.id },
  })) {
    replay.push(event);
  }
  assert.deepEqual(deltaTexts(replay), all);
});

test("stop ends a running reply stopped, and its stream ends with it", async () => {
  const { confab, userId } = await sharedAccount();
  const { chat } = await confab.post("/api/users/{user_id}/chats", {
    path: { user_id: userId },
    body: { name: "Long", model: "count-200-20" },
  });
  const ids = { user_id: userId, chat_id: chat.id };
  const events: StreamEvent[] = [];
  let stopped: Promise<{ chatMessage: Message }> | undefined;
  for await (const event of confab.generate("/api/users/{user_id}/chats/{chat_id}/generate", {
    path: ids,
    body: { message: { content: "Count a lot" } },
  })) {
    events.push(event);
    if (event.event === "message.delta" && event.data.seq === 3) {
      stopped = confab.post("/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/stop", {
        path: { ...ids, message_id: event.data.message_id },
      });
    }
  }
  assert.ok(stopped, "the stream reached delta 3");
  const { chatMessage } = await stopped;
  assert.equal(chatMessage.status, "stopped");

  const end = events.at(-1);
  assert.ok(end?.event === "message.completed");
  assert.equal(end.data.status, "stopped");
  const texts = deltaTexts(events);
  assert.ok(texts.length >= 3 && texts.length < 200, `stopped early, after ${texts.length} deltas`);
  assert.equal(end.data.message, texts.join(""));
});

test("a failing provider ends the stream with message.failed; a missing chat throws", async () => {
  const confab = tenantClient();
  const chat = await confab.post("/api/v1/chats", { body: { name: "Failing", model: "fail-500" } });
  const events: StreamEvent[] = [];
  for await (const event of confab.generate("/api/v1/chats/{chat_id}/generate", {
    path: { chat_id: chat.id },
    body: { message: { content: "Hello?" } },
  })) {
    events.push(event);
  }
  const end = events.at(-1);
  assert.ok(end?.event === "message.failed", `ended with ${end?.event}`);
  assert.equal(end.data.status, "failed");
  assert.equal(end.data.error.code, "llm_upstream_error");

  await assert.rejects(async () => {
    for await (const event of confab.generate("/api/v1/chats/{chat_id}/generate", {
      path: { chat_id: "00000000-0000-4000-8000-000000000000" },
    })) {
      assert.fail(`no event expected, got ${event.event}`);
    }
  }, (error: unknown) => error instanceof ConfabError && error.status === 404 && error.code === "chat_not_found");
});

test("leaving the loop early cancels the response body; the reply goes on", async () => {
  // The real fetch, with the body passed through a stream that notes its cancellation.
  let cancelled = false;
  const confab = client({
    apiKey,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      const reader = response.body?.getReader();
      if (reader === undefined) return response;
      const watched = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel(reason) {
          cancelled = true;
          return reader.cancel(reason);
        },
      });
      return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers });
    },
  });
  const chat = await confab.post("/api/v1/chats", { body: { name: "Early exit", model: "count-4-30" } });
  let replyId: number | undefined;
  for await (const event of confab.generate("/api/v1/chats/{chat_id}/generate", {
    path: { chat_id: chat.id },
    body: { message: { content: "Count to four" } },
  })) {
    if (event.event === "message.delta") {
      replyId = event.data.message_id;
      break;
    }
  }
  assert.ok(replyId !== undefined, "a delta arrived");
  assert.equal(cancelled, true, "break cancelled the body");

  const rest: StreamEvent[] = [];
  for await (const event of confab.resume("/api/v1/chats/{chat_id}/messages/{message_id}/stream", {
    path: { chat_id: chat.id, message_id: replyId },
    after: 0,
  })) {
    rest.push(event);
  }
  assert.deepEqual(deltaTexts(rest), ["w1 ", "w2 ", "w3 ", "w4 "]);
  assert.equal(rest.at(-1)?.event, "message.completed");
});
