// The open chat's header: its name, model and tags, and the actions on the whole chat.
import { h, button, keepFocus } from './dom.js';
import { renameChat, editTags, togglePinned, toggleArchived } from './chat-actions.js';
import { shareDialog } from './share.js';

/** actions: {deleteLast(), deleteChat()}; the rest act on the chat directly. */
export function renderHeader(root, chat, actions) {
  const act = (text, run, key, props = {}) => button(text, run, { class: 'quiet small', 'data-focus': key, ...props });
  keepFocus(root, () =>
    root.replaceChildren(
      h(
        'div',
        { class: 'chat-title' },
        h('h2', { id: 'chat-title', tabindex: -1 }, chat.name),
        chat.model ? h('span', { class: 'model' }, chat.model) : null,
        chat.archived ? h('span', { class: 'badge' }, 'Archived') : null,
        chat.tags.length ? h('ul', { class: 'tags', 'aria-label': 'Tags' }, chat.tags.map((tag) => h('li', { class: 'tag' }, tag))) : null,
      ),
      h(
        'div',
        { class: 'chat-actions', role: 'group', 'aria-label': 'Chat actions' },
        act('Rename', () => renameChat(chat), 'rename'),
        act('Tags', () => editTags(chat), 'tags'),
        act(chat.pinned ? 'Unpin' : 'Pin', () => togglePinned(chat), 'pin'),
        act(chat.archived ? 'Unarchive' : 'Archive', () => toggleArchived(chat), 'archive'),
        act('Share', () => shareDialog(chat), 'share'),
        act('Delete last exchange', actions.deleteLast, 'delete-last'),
        act('Delete chat', actions.deleteChat, 'delete-chat', { class: 'quiet small danger-text' }),
      ),
    ),
  );
}
