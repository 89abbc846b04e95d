// Search results: each hit's chat, who wrote it, and its snippet with the matched terms
// marked. The server gives plain text and [start, end) offsets in code points; the
// <mark> elements are built from those, never from markup.
import { h, button, formatTime } from './dom.js';
import { search } from './api.js';
import { attempt } from './notice.js';

/** The snippet as text nodes and <mark>s. */
export function snippetNodes(snippet, highlights) {
  const chars = Array.from(snippet);
  const nodes = [];
  let at = 0;
  for (const [start, end] of highlights) {
    if (start < at || end <= start) continue;
    nodes.push(chars.slice(at, start).join(''), h('mark', {}, chars.slice(start, end).join('')));
    at = end;
  }
  nodes.push(chars.slice(at).join(''));
  return nodes;
}

function hitItem(hit) {
  const where = hit.message_id ? `#/chat/${hit.chat_id}?m=${hit.message_id}` : `#/chat/${hit.chat_id}`;
  const who = hit.actor === 'assistant' ? 'Assistant' : hit.actor === 'user' ? 'You' : hit.actor ?? 'Chat name';
  return h(
    'li',
    { class: 'hit' },
    h('a', { href: where }, h('span', { class: 'hit-chat' }, hit.chat_name)),
    h('p', { class: 'hit-meta' }, who, ' · ', h('time', { datetime: hit.created_at }, formatTime(hit.created_at))),
    h('p', { class: 'snippet' }, snippetNodes(hit.snippet, hit.highlights)),
  );
}

export async function showSearch(root, q) {
  const list = h('ol', { class: 'hits', 'aria-label': 'Results' });
  const count = h('p', { role: 'status' }, 'Searching…');
  const more = h('p', {});
  const heading = h('h2', { id: 'search-title', tabindex: -1 }, `Search: ${q}`);
  root.replaceChildren(h('section', { class: 'search-results', 'aria-labelledby': 'search-title' }, heading, count, list, more));
  heading.focus();
  let shown = 0;
  const page = async (cursor) => {
    const answer = await attempt(() => search(q, cursor));
    if (!answer || !root.contains(list)) return;
    list.append(...answer.results.map(hitItem));
    shown += answer.results.length;
    count.textContent = shown ? `${shown} ${shown === 1 ? 'hit' : 'hits'}${answer.next_cursor ? ' so far' : ''}.` : 'Nothing found.';
    more.replaceChildren(answer.next_cursor ? button('More results', () => page(answer.next_cursor)) : '');
  };
  await page(undefined);
}
