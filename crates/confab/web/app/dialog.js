// Modal questions in a <dialog>: focus is trapped while it is open, Escape cancels, and
// focus returns to where it was. Each answers a promise.
import { h, add } from './dom.js';

function open(title, body, actions) {
  const previous = document.activeElement;
  const heading = h('h2', { id: 'dialog-title' }, title);
  const form = h('form', { method: 'dialog' }, heading, body, h('div', { class: 'actions' }, actions));
  const dialog = h('dialog', { 'aria-labelledby': 'dialog-title' }, form);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      previous?.focus?.();
      resolve(dialog.returnValue);
    });
    dialog.showModal();
  });
}

const choice = (text, value, props = {}) => h('button', { value, ...props }, text);

/** Asks a yes/no question; resolves true when confirmed. */
export async function confirmAction(title, text, confirmText, { danger = false } = {}) {
  // The first button is the form's default (Enter); a dangerous action starts on Cancel.
  const answer = await open(title, h('p', {}, text), [
    choice(confirmText, 'ok', { class: danger ? 'danger' : '', autofocus: !danger }),
    choice('Cancel', 'cancel', { class: 'quiet', autofocus: danger }),
  ]);
  return answer === 'ok';
}

/** Asks for one line of text; resolves the text, or null when cancelled. */
export async function askText(title, label, value, hint) {
  const input = h('input', { id: 'dialog-field', value, autocomplete: 'off', required: true });
  const body = h('p', { class: 'field' }, h('label', { for: 'dialog-field' }, label), input);
  if (hint) add(body, [h('small', {}, hint)]);
  input.addEventListener('focus', () => input.select(), { once: true });
  const answer = await open(title, body, [
    choice('Save', 'ok'),
    choice('Cancel', 'cancel', { class: 'quiet', formnovalidate: true }),
  ]);
  return answer === 'ok' ? input.value : null;
}

/** Shows content with a Close button. */
export function inform(title, body) {
  return open(title, body, [choice('Close', 'close')]);
}
