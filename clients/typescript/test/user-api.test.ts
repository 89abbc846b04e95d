// The user API through the client: the session cookie kept by the client in Node,
// chats and messages, and both kinds of error normalised into ConfabError.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfabError } from "../src/index.js";
import { client, password, uniqueEmail } from "./helpers.js";

async function rejectsWith(promise: Promise<unknown>, status: number, code: string | null, message: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ConfabError, `expected a ConfabError, got ${String(error)}`);
    assert.equal(error.status, status);
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
}

test("sign-up, logout and login: the client keeps the session cookie itself", async () => {
  // The real fetch, watched: which Cookie header each request carried.
  const cookies: (string | null)[] = [];
  const confab = client({
    fetch: (input, init) => {
      cookies.push(new Headers(init?.headers).get("cookie"));
      return fetch(input, init);
    },
  });
  const email = uniqueEmail();
  const { user } = await confab.post("/api/auth/sign-up", { body: { email, password } });
  assert.equal(user.email, email);
  assert.equal(cookies.at(-1), null, "nothing to send before the sign-up");

  // Signed in by the cookie from the sign-up's Set-Cookie.
  const { chats } = await confab.get("/api/users/{user_id}/chats", { path: { user_id: user.id } });
  assert.deepEqual(chats, []);
  const session = cookies.at(-1);
  assert.match(session ?? "", /^neptun-session=[A-Za-z0-9_-]{43}$/);

  // Another client has no session: the same request is refused.
  await rejectsWith(client().get("/api/users/{user_id}/chats", { path: { user_id: user.id } }), 401, null, /./);

  assert.equal(await confab.post("/api/auth/logout"), true);
  // The server cleared the cookie (Max-Age=0) and the client forgot it.
  await rejectsWith(confab.get("/api/users/{user_id}/chats", { path: { user_id: user.id } }), 401, null, /./);
  assert.equal(cookies.at(-1), null, "no cookie sent after logout");

  const login = await confab.post("/api/auth/login", { body: { email, password } });
  assert.equal(login.user.id, user.id);
  const again = await confab.get("/api/users/{user_id}/chats", { path: { user_id: user.id } });
  assert.deepEqual(again.chats, []);
  const newSession = cookies.at(-1);
  assert.match(newSession ?? "", /^neptun-session=/);
  assert.notEqual(newSession, session, "the login's new session");

  // Chats and messages, with the session of the login.
  const { chat } = await confab.post("/api/users/{user_id}/chats", {
    path: { user_id: user.id },
    body: { name: "Sorting  in Python  ", model: "echo" },
  });
  assert.equal(chat.name, "Sorting  in Python");
  assert.equal(chat.neptun_user_id, user.id);

  const messagesPath = "/api/users/{user_id}/chats/{chat_id}/messages" as const;
  const ids = { user_id: user.id, chat_id: chat.id };
  const posted = await confab.post(messagesPath, { path: ids, body: { message: "How do I sort? ünïcødé 👋", actor: "user" } });
  assert.ok("chatMessage" in posted, "one message answers {chatMessage}");
  assert.equal(posted.chatMessage.message, "How do I sort? ünïcødé 👋");
  const batch = await confab.post(messagesPath, {
    path: ids,
    body: { messages: [{ content: "Use sorted:\n```python\nsorted(x)\n```", role: "assistant" }, { content: "Thanks", role: "user" }] },
  });
  assert.ok("chatMessages" in batch, "a batch answers {chatMessages}");
  assert.deepEqual(batch.chatMessages.map((m) => m.actor), ["assistant", "user"]);

  const { chatMessages } = await confab.get(messagesPath, { path: ids });
  assert.deepEqual(chatMessages.map((m) => m.message), [
    "How do I sort? ünïcødé 👋",
    "Use sorted:\n```python\nsorted(x)\n```",
    "Thanks",
  ]);
  assert.equal(chatMessages[1]?.files?.[0]?.language, "python");

  // Query parameters: undefined ones are left out, the others sent.
  const page = await confab.get(messagesPath, { path: ids, query: { limit: 1, after: chatMessages[0]?.id, before: undefined } });
  assert.deepEqual(page.chatMessages.map((m) => m.message), ["Use sorted:\n```python\nsorted(x)\n```"]);

  // A 404 and a 400 in the user API's shape: message from data.message, no code.
  await rejectsWith(confab.get(messagesPath, { path: { user_id: user.id, chat_id: chat.id + 1_000_000 } }), 404, null, /^Chat not found$/);
  await rejectsWith(confab.post(messagesPath, { path: ids, body: { message: "x", actor: "robot" as "user" } }), 400, null, /actor/);
  // Delete-last on an emptied chat: the user API's other error body, `data` a plain string.
  const empty = await confab.post("/api/users/{user_id}/chats", { path: { user_id: user.id }, body: { name: "Empty" } });
  await rejectsWith(
    confab.delete("/api/users/{user_id}/chats/{chat_id}/messages/last", { path: { user_id: user.id, chat_id: empty.chat.id } }),
    400,
    null,
    /^No messages found, for chat\.$/,
  );
});

test("a wrong password is a 401 ConfabError with the server's message and body", async () => {
  const error = await client()
    .post("/api/auth/login", { body: { email: uniqueEmail(), password: "not the password" } })
    .then(() => null, (caught: unknown) => caught);
  assert.ok(error instanceof ConfabError);
  assert.equal(error.status, 401);
  assert.equal(error.message, "Invalid email or password");
  assert.deepEqual(error.body, { data: { message: "Invalid email or password" }, statusCode: 401, statusMessage: "Unauthorized" });
});
