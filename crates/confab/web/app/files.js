// Code files of a reply (extracted by the server from its fenced blocks): a card per
// file with its title, language, highlighted text and a Copy button.
import { h, button } from './dom.js';
import { codeBlock } from './markdown.js';
import { showError, showStatus } from './notice.js';

let cardCount = 0;

/** Copies text: the Clipboard API where the page may use it, else the old
 * selection-and-copy way (a self-hosted server on plain HTTP is no secure context). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return;
  } catch {
    // No Clipboard API here, or no permission: copy the old way.
  }
  const area = h('textarea', { class: 'offscreen', readonly: true, 'aria-hidden': 'true' });
  area.value = text;
  document.body.append(area);
  area.select();
  const copied = document.execCommand('copy');
  area.remove();
  if (!copied) throw new Error('the browser refused to copy');
}

export function copyButton(text, what, props = {}) {
  return button(
    'Copy',
    async (event) => {
      const target = event.currentTarget;
      try {
        await copyText(text);
        target.textContent = 'Copied';
        setTimeout(() => (target.textContent = 'Copy'), 1500);
        showStatus(`Copied ${what}.`);
      } catch (error) {
        showError(`Could not copy ${what}: ${error.message}`);
      }
    },
    props,
  );
}

/** A card for one code file: {title, language, text}. */
export function fileCard(file) {
  cardCount += 1;
  const titleId = `file-title-${cardCount}`;
  return h(
    'figure',
    { class: 'file' },
    h(
      'figcaption',
      {},
      h('span', { class: 'file-title', id: titleId }, file.title),
      h('span', { class: 'file-language' }, file.language),
      copyButton(file.text, file.title, { class: 'quiet small', 'aria-describedby': titleId }),
    ),
    codeBlock(file.text, file.language),
  );
}
