// The signed-in user's chats (archived ones included), shared by the sidebar, the open
// chat and the actions on chats. Kept in the sidebar's order: pinned first, then the
// most recently updated.
import { listChats } from './api.js';

let chats = [];
const listeners = new Set();
// Local changes so far (a chat put, dropped, or the list forgotten): a list read while
// one happened may predate it, and must not undo it.
let edits = 0;
// How many times a read starts again because of such a change before its answer is kept.
const REREADS = 3;

const order = (a, b) =>
  Number(b.pinned) - Number(a.pinned) || b.updated_at.localeCompare(a.updated_at) || b.id - a.id;

function changed() {
  chats.sort(order);
  for (const listener of listeners) listener(chats);
}

export const onChatsChanged = (listener) => listeners.add(listener);
export const allChats = () => chats;
export const findChat = (id) => chats.find((chat) => chat.id === id);

/** Reads the list again from the server. A chat made here while the list was being read
 * (New chat right after signing in) would vanish from a list answered before it existed:
 * such an answer is read again instead. */
export async function refreshChats() {
  for (let read = 0; ; read++) {
    const before = edits;
    const listed = await listChats();
    if (edits === before || read === REREADS) {
      chats = listed;
      changed();
      return;
    }
  }
}

/** Puts a chat the server answered (new or changed) into the list. */
export function putChat(chat) {
  edits++;
  chats = [...chats.filter((known) => known.id !== chat.id), chat];
  changed();
}

export function dropChat(id) {
  edits++;
  chats = chats.filter((chat) => chat.id !== id);
  changed();
}

export function forgetChats() {
  edits++;
  chats = [];
  changed();
}
