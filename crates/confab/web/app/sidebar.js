// The chat list: pinned chats first, then the newest; the Active/Archived views; a tag
// filter; each chat's tags and its Pin, Archive, Rename and Tags buttons; New chat; and
// the search box. On a narrow screen it slides in behind the Chats button.
import { $, h, button, keepFocus } from './dom.js';
import { createChat } from './api.js';
import { attempt } from './notice.js';
import { allChats, onChatsChanged, putChat, refreshChats } from './store.js';
import { renameChat, editTags, togglePinned, toggleArchived } from './chat-actions.js';

const filter = { archived: false, tag: '' };
let openChatId = null;

function chatItem(chat) {
  const name = chat.name;
  const tags = chat.tags.length
    ? h(
        'ul',
        { class: 'tags', 'aria-label': 'Tags' },
        chat.tags.map((tag) =>
          h('li', {}, button(tag, () => setTag(tag), { class: 'tag', 'aria-label': `${tag}: show chats tagged ${tag}` })),
        ),
      )
    : null;
  const action = (text, run, key) =>
    button(text, () => run(chat), { class: 'quiet small', 'aria-label': `${text} ${name}`, 'data-focus': `${key}-${chat.id}` });
  return h(
    'li',
    { class: `chat-item${chat.pinned ? ' pinned' : ''}` },
    h(
      'a',
      { href: `#/chat/${chat.id}`, 'aria-current': chat.id === openChatId ? 'page' : null, 'data-focus': `open-${chat.id}` },
      chat.pinned ? [h('span', { class: 'pin-mark', 'aria-hidden': 'true' }, '★ '), h('span', { class: 'visually-hidden' }, 'Pinned: ')] : null,
      name,
    ),
    tags,
    h(
      'div',
      { class: 'item-actions' },
      action(chat.pinned ? 'Unpin' : 'Pin', togglePinned, 'pin'),
      action(chat.archived ? 'Unarchive' : 'Archive', toggleArchived, 'archive'),
      action('Rename', renameChat, 'rename'),
      action('Tags', editTags, 'tags'),
    ),
  );
}

function renderTagOptions(chats) {
  const select = $('#tag-filter');
  const tags = [...new Set(chats.flatMap((chat) => chat.tags))].sort((a, b) => a.localeCompare(b));
  if (filter.tag && !tags.includes(filter.tag)) tags.unshift(filter.tag);
  select.replaceChildren(h('option', { value: '' }, 'All tags'), ...tags.map((tag) => h('option', { value: tag }, tag)));
  select.value = filter.tag;
}

function render(chats) {
  renderTagOptions(chats);
  for (const view of document.querySelectorAll('[data-view]')) {
    view.setAttribute('aria-pressed', String((view.dataset.view === 'archived') === filter.archived));
  }
  const shown = chats.filter(
    (chat) => chat.archived === filter.archived && (!filter.tag || chat.tags.includes(filter.tag)),
  );
  const list = $('#chat-list');
  keepFocus($('#sidebar'), () => list.replaceChildren(...shown.map(chatItem)));
  const empty = filter.tag ? `No chats tagged “${filter.tag}” here.` : filter.archived ? 'No archived chats.' : 'No chats yet. Start one with New chat.';
  $('#chat-list-empty').textContent = shown.length ? '' : empty;
}

function setTag(tag) {
  filter.tag = tag;
  render(allChats());
  $('#tag-filter').focus();
}

/** Marks the open chat in the list. */
export function markOpenChat(chatId) {
  openChatId = chatId;
  render(allChats());
}

export function setSidebarOpen(open) {
  document.body.classList.toggle('sidebar-open', open);
  $('#menu-toggle').setAttribute('aria-expanded', String(open));
  if (open) $('#new-chat').focus();
}

async function newChat() {
  const chat = await attempt(() => createChat('New chat', ''));
  if (!chat) return;
  putChat(chat);
  filter.archived = false;
  location.hash = `#/chat/${chat.id}`;
}

export function setUpSidebar() {
  onChatsChanged(render);
  $('#new-chat').addEventListener('click', newChat);
  $('#tag-filter').addEventListener('change', (event) => setTag(event.target.value));
  for (const view of document.querySelectorAll('[data-view]')) {
    view.addEventListener('click', () => {
      filter.archived = view.dataset.view === 'archived';
      render(allChats());
    });
  }
  $('#search-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const q = $('#search').value.trim();
    const target = `#/search?q=${encodeURIComponent(q)}`;
    // The same search again (e.g. after new messages) reads it again.
    if (q && location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else if (q) location.hash = target;
  });
  $('#menu-toggle').addEventListener('click', () =>
    setSidebarOpen(!document.body.classList.contains('sidebar-open')),
  );
  // On a phone, a tap on the chat beside the open list closes the list.
  $('#view').addEventListener('click', () => {
    if (document.body.classList.contains('sidebar-open')) setSidebarOpen(false);
  });
  $('#sidebar').addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && document.body.classList.contains('sidebar-open')) {
      setSidebarOpen(false);
      $('#menu-toggle').focus();
    }
  });
  // Other tabs and devices change chats too: read the list again when this one is back.
  // Focus and visibility often change together: one read for both.
  let last = 0;
  const refresh = () => {
    if (document.visibilityState !== 'visible' || Date.now() - last < 2000) return;
    last = Date.now();
    attempt(refreshChats);
  };
  window.addEventListener('focus', refresh);
  document.addEventListener('visibilitychange', refresh);
}
