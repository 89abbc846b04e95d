// The open chat: its active path, replies streaming in (from this tab's generate, from
// a resume after a reload, or from another tab), live changes from its WebSocket, and
// the actions on its messages (switch branch, edit, regenerate, delete last exchange).
import { h, keepFocus } from './dom.js';
import * as api from './api.js';
import { confirmAction } from './dialog.js';
import { attempt, clearError, showError, showStatus } from './notice.js';
import { findChat, onChatsChanged, putChat, refreshChats, dropChat } from './store.js';
import { removeChat } from './chat-actions.js';
import { renderHeader } from './chat-header.js';
import { messageItem, updateBody } from './messages.js';
import { composer } from './composer.js';
import { Followers, readEvents } from './stream.js';
import { liveChat } from './live.js';

let view = null;

const lastMessage = (v) => v.path[v.path.length - 1];
const busy = (v) => Boolean(v.localGenerate) || v.path.some((m) => m.status === 'generating');
const reducedMotion = () => matchMedia('(prefers-reduced-motion: reduce)').matches;

function render(v) {
  const scroller = v.scroller;
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  const handlers = {
    switchTo: (id) => switchTo(v, id),
    edit: (message, text) => {
      v.editing = null;
      return edit(v, message, text);
    },
    regenerate: (message) => generateInto(v, { parent_id: message.parent_id, ...modelOf(v) }),
    editing: v.editing,
    startEdit: (id, text) => {
      v.editing = { id, text };
    },
    draft: (text) => {
      if (v.editing) v.editing.text = text;
    },
    endEdit: () => {
      v.editing = null;
    },
  };
  v.composer.setBusy(busy(v));
  keepFocus(
    v.list,
    () => v.list.replaceChildren(...v.path.map((message, index) => messageItem(message, index, handlers, busy(v)))),
    () => v.composer.focusTarget(),
  );
  v.empty.hidden = v.path.length > 0;
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}

/** Replaces the shown path with the server's, keeping text already streamed in. */
function setPath(v, messages) {
  v.path = messages.map((message) => {
    const streamed = v.streams.get(message.id);
    return message.status === 'generating' && streamed && streamed.text.length > message.message.length
      ? { ...message, message: streamed.text }
      : message;
  });
  for (const id of v.streams.keys()) if (!v.path.some((m) => m.id === id && m.status === 'generating')) v.streams.delete(id);
  render(v);
  for (const message of v.path) {
    if (message.status === 'generating' && !v.localGenerate) v.followers.follow(message.id);
  }
}

/** Numbers a read of the active path (or a branch switch, which answers it): answers
 * can arrive out of order, and only the latest request's may be shown. Answers a check
 * that the request is still the latest (and its chat still open). */
function pathRequest(v) {
  v.pathRequests += 1;
  const ticket = v.pathRequests;
  return () => view === v && ticket === v.pathRequests;
}

/** Reads the active path again; a chat that is gone meanwhile is left. */
async function reload(v) {
  const latest = pathRequest(v);
  try {
    const messages = await api.listMessages(v.chatId);
    if (!latest()) return;
    setPath(v, messages);
    // The server could not be reached before: that error is over.
    if (v.unreachable) clearError();
    v.unreachable = false;
  } catch (error) {
    if (!latest() || error?.status === 401) return;
    v.unreachable = !error?.status;
    showError(error);
    if (error?.status === 404) {
      dropChat(v.chatId);
      location.hash = '#/';
    }
  }
}

/** Several frames often call for a reload at once (an edit, a delete): read once. */
function reloadSoon(v) {
  clearTimeout(v.reloadTimer);
  v.reloadTimer = setTimeout(() => reload(v), 100);
}

function replaceMessage(v, message) {
  const index = v.path.findIndex((m) => m.id === message.id);
  if (index < 0) return false;
  v.path[index] = message;
  return true;
}

/** Tells screen readers how a reply goes (the streaming text itself would be read out
 * word by word): that it started, then the whole reply when it ends. */
function announce(v, text) {
  v.announcer.textContent = text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}

function showDelta(v, id) {
  v.pendingBodies.add(id);
  if (v.bodyTimer) return;
  // Deltas come fast: draw the texts that changed at most every 50 ms.
  v.bodyTimer = setTimeout(() => {
    v.bodyTimer = 0;
    const atBottom = v.scroller.scrollHeight - v.scroller.scrollTop - v.scroller.clientHeight < 80;
    for (const pending of v.pendingBodies) {
      const message = v.path.find((m) => m.id === pending);
      const item = v.list.querySelector(`[data-id="${pending}"]`);
      if (message && item) updateBody(item, message);
    }
    v.pendingBodies.clear();
    if (atBottom) v.scroller.scrollTop = v.scroller.scrollHeight;
  }, 50);
}

/** Applies one event of a reply or of the chat (from SSE or the WebSocket). */
function apply(v, event, data) {
  if (view !== v) return;
  if (event === 'message.created') {
    const known = v.path.find((m) => m.id === data.id);
    if (known) {
      replaceMessage(v, known.status === 'generating' && known.message.length > data.message.length ? { ...data, message: known.message } : data);
    } else if (data.parent_id === (lastMessage(v)?.id ?? null)) {
      v.path.push(data);
    } else {
      // Posted under another branch: that branch is now the active path.
      reloadSoon(v);
      return;
    }
    render(v);
    if (data.status === 'generating' && !known) announce(v, 'The assistant is writing a reply.');
    if (data.status === 'generating' && !v.localGenerate) v.followers.follow(data.id);
  } else if (event === 'message.delta') {
    const message = v.path.find((m) => m.id === data.message_id);
    if (!message) return;
    const stream = v.streams.get(message.id) ?? { seq: 0, text: '', floor: message.message.length };
    v.streams.set(message.id, stream);
    // Each delta once, in order: the generate stream, a resume and the socket overlap.
    if (data.seq !== stream.seq + 1) return;
    stream.seq = data.seq;
    stream.text += data.text;
    // After a reload the persisted text shows until the stream has caught up with it.
    if (stream.text.length >= stream.floor) {
      message.message = stream.text;
      showDelta(v, message.id);
    }
  } else if (event === 'message.completed') {
    const was = v.path.find((m) => m.id === data.id);
    if (!was) return;
    if (was.status === 'generating') announce(v, `${data.status === 'stopped' ? 'Reply stopped' : 'Reply'}: ${data.message}`);
    replaceMessage(v, data);
    v.streams.delete(data.id);
    render(v);
  } else if (event === 'message.failed') {
    const message = v.path.find((m) => m.id === data.message_id);
    if (!message) return;
    if (data.status === 'deleted') return reloadSoon(v);
    announce(v, `The reply ${data.status === 'failed' ? 'failed' : 'was interrupted'}: ${data.error?.message ?? ''}`);
    replaceMessage(v, { ...message, status: data.status, error: data.error });
    v.streams.delete(message.id);
    render(v);
  }
}

function onFrame(v, frame) {
  if (!v.loaded) {
    v.missed = true;
    return;
  }
  switch (frame.type) {
    case 'message.created':
    case 'message.completed':
      return apply(v, frame.type, frame.message);
    case 'message.delta':
    case 'message.failed':
      return apply(v, frame.type, frame);
    case 'messages.deleted':
      if (frame.message_ids.some((id) => v.path.some((m) => m.id === id))) reloadSoon(v);
      return;
    case 'chat.current_changed':
      if (frame.current_message_id !== (lastMessage(v)?.id ?? null)) reloadSoon(v);
      return;
    case 'chat.updated':
      return putChat(frame.chat);
    default:
  }
}

/** rejoin: the chat was not watched for a while, so read what changed once connected. */
function connect(v, rejoin = false) {
  const handlers = {
    onFrame: (frame) => onFrame(v, frame),
    onReconnect: () => reload(v),
    onDeleted: () => {
      if (view !== v) return;
      showError(`“${v.chat?.name ?? 'This chat'}” was deleted in another tab or on another device.`);
      dropChat(v.chatId);
      location.hash = '#/';
    },
  };
  v.live = liveChat(v.chatId, handlers, { rejoin });
}

const modelOf = (v) => (v.composer.model() ? { model: v.composer.model() } : {});

/** Generates a reply (body as the generate route takes it) and streams it into the view.
 * Answers whether the server took the request. */
async function generateInto(v, body) {
  // A new action: the error of an earlier one is over (as attempt() does).
  clearError();
  const controller = new AbortController();
  v.localGenerate = controller;
  v.composer.setBusy(true);
  let replyId = null;
  let taken = false;
  try {
    const events = api.generate(v.chatId, body, controller.signal);
    await readEvents(events, (event, data) => {
      if (event === 'message.created') {
        taken = true;
        if (data.status === 'generating') {
          replyId = data.id;
          v.followers.adopt(data.id);
        }
      }
      apply(v, event, data);
    });
  } catch (error) {
    // A stream cut after the reply began is read on by a resume (below), quietly.
    const cut = replyId !== null && !error?.status;
    if (!controller.signal.aborted && !cut && error?.status !== 401) showError(error);
  } finally {
    if (v.localGenerate === controller) v.localGenerate = null;
    if (replyId !== null) v.followers.release(replyId);
    if (view === v) {
      render(v);
      // The stream broke off before the end: read the rest with a resume.
      if (v.path.some((m) => m.id === replyId && m.status === 'generating')) v.followers.follow(replyId);
      // The chat list read afterwards must not clear the error shown above.
      attempt(refreshChats, { keepError: true });
    }
  }
  return taken;
}

async function send(v, text) {
  if (v.path.length === 0 && v.chat?.name === 'New chat') {
    // A new chat takes its name from the first line of its first message.
    const name = text.trim().split('\n')[0].replace(/\s+/g, ' ').slice(0, 60);
    attempt(async () => putChat(await api.updateChat(v.chatId, { name })));
  }
  return generateInto(v, { message: { content: text, role: 'user' }, ...modelOf(v) });
}

async function stop(v) {
  for (const message of v.path.filter((m) => m.status === 'generating')) {
    const answer = await attempt(() => api.stopReply(v.chatId, message.id));
    if (answer) apply(v, 'message.completed', answer.chatMessage);
  }
}

async function switchTo(v, messageId) {
  const latest = pathRequest(v);
  const path = await attempt(() => api.switchBranch(v.chatId, messageId));
  if (path && latest()) setPath(v, path);
}

/** An edit is a new branch: the edited question as a sibling, and a reply to it. */
async function edit(v, message, text) {
  const edited = await attempt(() => api.editMessage(v.chatId, message.id, text));
  if (!edited || view !== v) return;
  await reload(v);
  await generateInto(v, { parent_id: edited.id, ...modelOf(v) });
}

async function deleteLast(v) {
  const sure = await confirmAction(
    'Delete last exchange',
    'Delete the last question and its answer (and any unanswered messages after them)?',
    'Delete',
    { danger: true },
  );
  if (!sure) return;
  const done = await attempt(() => api.deleteLastExchange(v.chatId));
  if (done === undefined) return;
  await reload(v);
  showStatus('Deleted the last exchange.');
}

async function deleteChat(v) {
  const gone = await removeChat(v.chat, {
    letGo: () => v.live.close(),
    keep: () => view === v && connect(v, true),
  });
  if (gone && view === v) location.hash = '#/';
}

/** Scrolls to a message (switching to its branch if needed) and marks it briefly. */
async function showMessage(v, messageId) {
  if (!v.path.some((m) => m.id === messageId)) await switchTo(v, messageId);
  const item = v.list.querySelector(`[data-id="${messageId}"]`);
  if (!item) return showError('That message is no longer in this chat.');
  item.scrollIntoView({ block: 'center', behavior: reducedMotion() ? 'auto' : 'smooth' });
  item.focus({ preventScroll: true });
  item.classList.add('flash');
  setTimeout(() => item.classList.remove('flash'), 2500);
}

export function closeChat() {
  if (!view) return;
  view.followers.close();
  view.live.close();
  view.localGenerate?.abort();
  clearTimeout(view.reloadTimer);
  view = null;
}

export async function openChat(root, chatId, messageId) {
  if (view?.chatId !== chatId) {
    closeChat();
    const v = {
      chatId,
      chat: findChat(chatId),
      path: [],
      streams: new Map(),
      editing: null,
      pendingBodies: new Set(),
      localGenerate: null,
      pathRequests: 0,
    };
    view = v;
    v.followers = new Followers(chatId, {
      apply: (event, data) => apply(v, event, data),
      lastSeq: (id) => v.streams.get(id)?.seq ?? 0,
      stillGenerating: (id) => view === v && v.path.some((m) => m.id === id && m.status === 'generating'),
      onError: (error) => error?.status !== 401 && showError(error),
    });
    v.composer = composer({ onSend: (text) => send(v, text), onStop: () => stop(v) });
    v.header = h('header', { class: 'chat-header' });
    v.list = h('ol', { class: 'messages', 'aria-label': 'Conversation' });
    v.empty = h('p', { class: 'empty', hidden: true }, 'No messages yet. Write the first one below.');
    v.announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite' });
    v.scroller = h('div', { class: 'scroller' }, v.list, v.empty, v.announcer);
    root.replaceChildren(h('section', { class: 'chat', 'aria-labelledby': 'chat-title' }, v.header, v.scroller, v.composer.element));
    if (v.chat) showHeader(v);
    // A chat made in another tab is not in this tab's list yet: reading it shows the header.
    else attempt(refreshChats);
    connect(v);
    const latest = pathRequest(v);
    const messages = await attempt(() => api.listMessages(chatId));
    if (view !== v) return;
    if (!messages) {
      closeChat();
      location.hash = '#/';
      return;
    }
    v.loaded = true;
    // A reload after a reconnect may have been asked for (and answered) meanwhile.
    if (latest()) setPath(v, messages);
    if (v.missed) reload(v);
    v.scroller.scrollTop = v.scroller.scrollHeight;
    // Keyboard users land on the chat's name, or in the composer of an empty chat.
    if (!messageId && v.path.length) root.querySelector('#chat-title')?.focus();
    else if (!messageId) v.composer.focus();
  }
  if (messageId) await showMessage(view, messageId);
}

function showHeader(v) {
  renderHeader(v.header, v.chat, { deleteLast: () => deleteLast(v), deleteChat: () => deleteChat(v) });
  document.title = `${v.chat.name} – confab`;
}

/** Keeps the header in step with the chat list (renames, pins, tags from anywhere). */
export function setUpChat() {
  onChatsChanged(() => {
    const chat = view && findChat(view.chatId);
    if (!chat) return;
    view.chat = chat;
    showHeader(view);
  });
}
