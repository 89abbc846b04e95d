// Message text to DOM: fenced code blocks (``` and ~~~, as CommonMark opens and closes
// them) become highlighted code, `inline code` becomes <code>, and everything else is
// plain text in paragraphs. Nothing in a message is ever read as HTML.
import { h } from './dom.js';
import { highlight } from './highlight.js';

const OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;

/** Splits text into {kind: 'text', text} and {kind: 'code', language, text} blocks. */
export function blocks(text) {
  const out = [];
  const lines = text.split('\n');
  let prose = [];
  const flush = () => {
    if (prose.length) out.push({ kind: 'text', text: prose.join('\n') });
    prose = [];
  };
  for (let i = 0; i < lines.length; i += 1) {
    const open = OPEN.exec(lines[i]);
    // A backtick fence's info string may not hold a backtick.
    if (!open || (open[1][0] === '`' && open[2].includes('`'))) {
      prose.push(lines[i]);
      continue;
    }
    flush();
    const [, fence, info] = open;
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    const code = [];
    for (i += 1; i < lines.length && !close.test(lines[i]); i += 1) code.push(lines[i]);
    const language = info.trim().split(/[\s:{]/)[0].replace(/^\./, '').toLowerCase();
    out.push({ kind: 'code', language, text: code.length ? `${code.join('\n')}\n` : '' });
  }
  flush();
  return out;
}

/** Paragraphs of plain text, with `inline code` spans. */
function prose(text) {
  return text
    .split(/\n\s*\n/)
    .filter((part) => part.trim())
    .map((part) =>
      h(
        'p',
        {},
        part.split(/(`[^`\n]+`)/).map((piece, index) => (index % 2 ? h('code', {}, piece.slice(1, -1)) : piece)),
      ),
    );
}

export function codeBlock(text, language) {
  return h('pre', { class: 'code', tabindex: 0 }, highlight(text, language));
}

/** Renders message text. `codeView(block, index)` may return the node for the index-th
 * code block (e.g. a code file card); without one, a plain highlighted block is used. */
export function renderText(text, codeView = () => null) {
  let index = 0;
  return blocks(text).flatMap((block) => {
    if (block.kind === 'text') return prose(block.text);
    const node = codeView(block, index);
    index += 1;
    return node ?? codeBlock(block.text, block.language);
  });
}
