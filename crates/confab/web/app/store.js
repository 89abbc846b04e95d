// The signed-in user's chats (archived ones included), shared by the sidebar, the open
// chat and the actions on chats. Kept in the sidebar's order: pinned first, then the
// most recently updated.
import { listChats } from './api.js';

let chats = [];
const listeners = new Set();

const order = (a, b) =>
  Number(b.pinned) - Number(a.pinned) || b.updated_at.localeCompare(a.updated_at) || b.id - a.id;

function changed() {
  chats.sort(order);
  for (const listener of listeners) listener(chats);
}

export const onChatsChanged = (listener) => listeners.add(listener);
export const allChats = () => chats;
export const findChat = (id) => chats.find((chat) => chat.id === id);

/** Reads the list again from the server. */
export async function refreshChats() {
  chats = await listChats();
  changed();
}

/** Puts a chat the server answered (new or changed) into the list. */
export function putChat(chat) {
  chats = [...chats.filter((known) => known.id !== chat.id), chat];
  changed();
}

export function dropChat(id) {
  chats = chats.filter((chat) => chat.id !== id);
  changed();
}

export function forgetChats() {
  chats = [];
  changed();
}
