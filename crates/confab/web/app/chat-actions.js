// Actions on a whole chat, offered by the sidebar and the chat's own header: rename,
// tags, pin, archive, and deleting it (with the "open elsewhere" case explained).
import { updateChat, deleteChat, isStatus } from './api.js';
import { askText, confirmAction } from './dialog.js';
import { attempt, showStatus } from './notice.js';
import { putChat, dropChat } from './store.js';

const change = (chat, changes) =>
  attempt(async () => {
    const updated = await updateChat(chat.id, changes);
    putChat(updated);
    return updated;
  });

export async function renameChat(chat) {
  const name = await askText('Rename chat', 'Name', chat.name);
  if (name === null || !name.trim() || name.trim() === chat.name) return;
  await change(chat, { name: name.trim() });
}

export async function editTags(chat) {
  const text = await askText('Tags', 'Tags', chat.tags.join(', '), 'Separate tags with commas.');
  if (text === null) return;
  const tags = text.split(',').map((tag) => tag.trim()).filter(Boolean);
  await change(chat, { tags });
}

export async function togglePinned(chat) {
  const updated = await change(chat, { pinned: !chat.pinned });
  if (updated) showStatus(updated.pinned ? `Pinned “${chat.name}”.` : `Unpinned “${chat.name}”.`);
}

export async function toggleArchived(chat) {
  const updated = await change(chat, { archived: !chat.archived });
  if (updated) showStatus(updated.archived ? `Archived “${chat.name}”.` : `“${chat.name}” is back in your chats.`);
}

/** Deletes a chat after asking. `letGo()` closes this tab's own live connection to the
 * chat first (it would count as "open elsewhere") and may return a promise of its end; `keep()` reopens it when the user
 * changes their mind. Resolves true when the chat is gone. */
export async function removeChat(chat, { letGo = () => {}, keep = () => {} } = {}) {
  const sure = await confirmAction(
    'Delete chat',
    `Delete “${chat.name}” with all its messages and code files? This cannot be undone.`,
    'Delete chat',
    { danger: true },
  );
  if (!sure) return false;
  // This tab's own connection must be gone before the server counts the chat's.
  await letGo();
  const deleted = await attempt(async () => {
    try {
      await deleteChat(chat.id, true);
      return true;
    } catch (error) {
      if (!isStatus(error, 409)) throw error;
    }
    const anyway = await confirmAction(
      'This chat is in use',
      'This chat is open in another tab or a reply is being written. Delete it anyway?',
      'Delete anyway',
      { danger: true },
    );
    if (!anyway) return false;
    await deleteChat(chat.id, false);
    return true;
  });
  if (!deleted) {
    keep();
    return false;
  }
  dropChat(chat.id);
  showStatus(`Deleted “${chat.name}”.`);
  return true;
}
