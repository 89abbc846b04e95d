// Share links: a read-only snapshot of the chat's active path, readable by anyone with
// the link (the app shows it at #/shared/ID). The API has no list of a chat's links, so
// this browser remembers the ones it made, to offer revoking them.
import { h, button, formatTime } from './dom.js';
import { shareChat, revokeShare, savedUser, SHARES_KEY_PREFIX } from './api.js';
import { inform } from './dialog.js';
import { attempt, showStatus } from './notice.js';
import { copyButton } from './files.js';

// Forgotten at logout (api.js), like the user.
const key = (chatId) => `${SHARES_KEY_PREFIX}${savedUser()?.id}.${chatId}`;
const remembered = (chatId) => JSON.parse(localStorage.getItem(key(chatId)) ?? '[]');
const remember = (chatId, shares) => localStorage.setItem(key(chatId), JSON.stringify(shares));

export const shareLink = (shareId) => `${location.origin}/#/shared/${shareId}`;

function linkList(chat) {
  const list = h('ul', { class: 'shares' });
  const render = () => {
    const shares = remembered(chat.id);
    list.replaceChildren(
      ...shares.map((share) =>
        h(
          'li',
          {},
          h('a', { href: shareLink(share.share_id), target: '_blank', rel: 'noopener' }, `Shared ${formatTime(share.created_at)}`),
          button(
            'Revoke',
            async () => {
              const done = await attempt(() => revokeShare(chat.id, share.share_id));
              if (done === undefined) return;
              remember(chat.id, remembered(chat.id).filter((s) => s.share_id !== share.share_id));
              showStatus('The link no longer works.');
              render();
            },
            { class: 'quiet small', 'aria-label': `Revoke the share of ${formatTime(share.created_at)}` },
          ),
        ),
      ),
    );
  };
  render();
  return list;
}

/** Makes a new share link for the chat and shows it, with the earlier ones. */
export async function shareDialog(chat) {
  const share = await attempt(() => shareChat(chat.id));
  if (!share) return;
  remember(chat.id, [...remembered(chat.id), { share_id: share.share_id, created_at: new Date().toISOString() }]);
  const link = shareLink(share.share_id);
  const field = h('input', { id: 'share-link', value: link, readonly: true });
  field.addEventListener('focus', () => field.select());
  await inform(
    'Share link',
    h(
      'div',
      {},
      h('p', {}, 'Anyone with this link can read the chat as it is now (later messages are not shared).'),
      h('p', { class: 'field' }, h('label', { for: 'share-link' }, 'Share link'), h('span', { class: 'inline' }, field, copyButton(link, 'the link'))),
      h('h3', {}, 'Links made in this browser'),
      linkList(chat),
    ),
  );
}
