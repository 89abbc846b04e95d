// A share link's read-only snapshot (#/shared/ID): the chat's name and messages as they
// were when shared. Needs no account.
import { h } from './dom.js';
import { readShared, errorText } from './api.js';
import { messageBody } from './messages.js';

const WHO = { user: 'User', assistant: 'Assistant', system: 'System' };

export async function showShared(root, shareId) {
  root.replaceChildren(h('p', { role: 'status' }, 'Loading the shared chat…'));
  try {
    const { chat, chatMessages } = await readShared(shareId);
    root.replaceChildren(
      h(
        'article',
        { class: 'shared', 'aria-labelledby': 'shared-title' },
        h('h2', { id: 'shared-title' }, chat.name),
        h('p', { class: 'hit-meta' }, 'A read-only copy of a chat, as it was when it was shared. ', h('a', { href: '#/' }, 'Open confab')),
        h(
          'ol',
          { class: 'messages' },
          chatMessages.map((message) =>
            h(
              'li',
              { class: `message ${message.actor}` },
              h('div', { class: 'message-head' }, h('h3', {}, WHO[message.actor] ?? message.actor)),
              h('div', { class: 'body' }, messageBody(message)),
            ),
          ),
        ),
      ),
    );
  } catch (error) {
    root.replaceChildren(h('p', { role: 'alert' }, `This link does not work: ${errorText(error)}`));
  }
}
