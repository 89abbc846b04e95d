// Every call the app makes to confab goes through confab's TypeScript client (same
// origin, session cookie). A 401 anywhere but at login means the session is gone: the
// handler main.js sets shows the login screen.
import { Confab, ConfabError } from '/client/index.js';

const client = new Confab({});
const USER_KEY = 'confab.user';
/** share.js remembers the share ids of each chat under this prefix. */
export const SHARES_KEY_PREFIX = 'confab.shares.';
let onSignedOut = () => {};

export const whenSignedOut = (handler) => (onSignedOut = handler);

/** The signed-in user as remembered at login ({id, email}), or null. */
export function savedUser() {
  try {
    return JSON.parse(localStorage.getItem(USER_KEY));
  } catch {
    return null;
  }
}

/** Calls handler(savedUser()) when another tab changes the saved user: it logged out, or
 * logged in (perhaps as someone else; the session cookie is the same in every tab). */
export function onUserChangedElsewhere(handler) {
  window.addEventListener('storage', (event) => {
    // No key: another tab cleared the whole storage.
    if (event.key === USER_KEY || event.key === null) handler(savedUser());
  });
}

/** Forgets the user, and the share ids kept for them: each is a read key to a chat. */
function forgetUser() {
  localStorage.removeItem(USER_KEY);
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith(SHARES_KEY_PREFIX)) localStorage.removeItem(key);
  }
}

function signOutOn401(error) {
  if (error instanceof ConfabError && error.status === 401) {
    forgetUser();
    onSignedOut();
  }
  return error;
}

async function call(request) {
  try {
    return await request();
  } catch (error) {
    throw signOutOn401(error);
  }
}

/** Reads a stream the client opens lazily; a 401 while opening it signs out. */
async function* guarded(open) {
  try {
    yield* await open();
  } catch (error) {
    throw signOutOn401(error);
  }
}

/** The plain-words text of any error an API call threw. */
export function errorText(error) {
  if (error instanceof ConfabError) return error.message || `The server answered ${error.status}.`;
  return `Could not reach the server (${error?.message ?? error}).`;
}

export const isStatus = (error, status) => error instanceof ConfabError && error.status === status;

// Path parameters: the signed-in user, a chat of theirs, a message of that chat.
const uid = () => savedUser()?.id ?? 0;
const user = () => ({ user_id: uid() });
const chat = (chatId, more) => ({ user_id: uid(), chat_id: chatId, ...more });

const USERS = '/api/users/{user_id}';
const CHAT = `${USERS}/chats/{chat_id}`;
const MESSAGE = `${CHAT}/messages/{message_id}`;

async function authenticate(route, email, password) {
  const { user: found } = await client.post(route, { body: { email, password } });
  localStorage.setItem(USER_KEY, JSON.stringify({ id: found.id, email: found.email }));
  return found;
}
export const signUp = (email, password) => authenticate('/api/auth/sign-up', email, password);
export const logIn = (email, password) => authenticate('/api/auth/login', email, password);

export async function logOut() {
  try {
    await client.post('/api/auth/logout', { body: {} });
  } finally {
    forgetUser();
  }
}

/** Every chat of the user, archived ones too, pinned first, then the newest. */
export const listChats = async () =>
  (await call(() => client.get(`${USERS}/chats`, { path: user(), query: { order_by: 'pinned:desc,updated_at:desc', archived: 'all' } }))).chats;

export const createChat = async (name, model) =>
  (await call(() => client.post(`${USERS}/chats`, { path: user(), body: { name, model } }))).chat;

/** changes: any of {name, archived, pinned, tags}. */
export const updateChat = async (chatId, changes) =>
  (await call(() => client.patch(CHAT, { path: chat(chatId), body: changes }))).chat;

/** With checkConnections the server answers 409 while another tab has the chat open or
 * a reply is being written; without it the chat is deleted regardless. */
export const deleteChat = (chatId, checkConnections) =>
  call(() => client.delete(CHAT, { path: chat(chatId), query: checkConnections ? { check_connections: true } : {} }));

/** The active path, oldest first. */
export const listMessages = async (chatId) =>
  (await call(() => client.get(`${CHAT}/messages`, { path: chat(chatId) }))).chatMessages;

/** Makes the newest leaf under messageId current; answers the new active path. */
export const switchBranch = async (chatId, messageId) =>
  (await call(() => client.put(`${CHAT}/current`, { path: chat(chatId), body: { message_id: messageId } }))).chatMessages;

/** An edit is a new sibling of the message, made the current leaf. */
export const editMessage = async (chatId, messageId, text) =>
  (await call(() => client.patch(MESSAGE, { path: chat(chatId, { message_id: messageId }), body: { message: text } })))
    .chatMessage;

export const deleteLastExchange = (chatId) => call(() => client.delete(`${CHAT}/messages/last`, { path: chat(chatId) }));

/** Generates a reply; yields its SSE events {event, id, data}. body: {message?, parent_id?, model?}. */
export const generate = (chatId, body, signal) =>
  guarded(() => client.generate(`${CHAT}/generate`, { path: chat(chatId), body, signal }));

/** The reply's events after delta number `after`, then the live ones, then its end. */
export const resume = (chatId, messageId, after, signal) =>
  guarded(() => client.resume(`${MESSAGE}/stream`, { path: chat(chatId, { message_id: messageId }), after, signal }));

/** Answers {chatMessage}: the reply as it ended. */
export const stopReply = (chatId, messageId) =>
  call(() => client.post(`${MESSAGE}/stop`, { path: chat(chatId, { message_id: messageId }) }));

/** Live frames of one chat over its WebSocket; answers {close(), ready}. */
export const watchChat = (chatId, onFrame, onClose) => client.watch(`${CHAT}/ws`, { path: chat(chatId), onFrame, onClose });

export const search = (q, cursor) => call(() => client.get(`${USERS}/search`, { path: user(), query: { q, cursor } }));

export const shareChat = (chatId) => call(() => client.post(`${CHAT}/share`, { path: chat(chatId) }));

export const revokeShare = (chatId, shareId) =>
  call(() => client.delete(`${CHAT}/share/{share_id}`, { path: chat(chatId, { share_id: shareId }) }));

/** A share link's snapshot; needs no session. */
export const readShared = (shareId) => client.get('/api/shared/{share_id}', { path: { share_id: shareId } });

/** Where the user's chats download as NDJSON. A plain link rather than a request of the
 * client: the browser streams the file to disk however large it is. */
export const exportUrl = () => `/api/users/${encodeURIComponent(uid())}/export`;
