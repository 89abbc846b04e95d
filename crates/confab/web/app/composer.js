// The composer: the Message field (Enter sends, Shift+Enter starts a new line), the
// optional Model field (remembered in this browser), Send, and Stop while a reply is
// being written.
import { h, button } from './dom.js';

const MODEL_KEY = 'confab.model';

/** onSend(text) may answer false to keep the text (it was not sent). */
export function composer({ onSend, onStop }) {
  const message = h('textarea', {
    id: 'message',
    rows: 2,
    placeholder: 'Write a message. Enter sends, Shift+Enter adds a line.',
    'aria-describedby': 'composer-hint',
  });
  const model = h('input', {
    id: 'model',
    value: localStorage.getItem(MODEL_KEY) ?? '',
    placeholder: 'the chat’s model',
    autocomplete: 'off',
    spellcheck: 'false',
  });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const stop = button('Stop', () => onStop(), { hidden: true, class: 'danger' });
  const hint = h('p', { id: 'composer-hint', class: 'visually-hidden' }, 'Enter sends, Shift+Enter adds a line.');
  const form = h(
    'form',
    { class: 'composer', 'aria-label': 'Compose' },
    h('label', { for: 'message', class: 'visually-hidden' }, 'Message'),
    message,
    hint,
    h(
      'div',
      { class: 'composer-row' },
      h('label', { for: 'model' }, 'Model'),
      model,
      send,
      stop,
    ),
  );

  const grow = () => {
    message.style.height = 'auto';
    message.style.height = `${Math.min(message.scrollHeight + 2, window.innerHeight * 0.4)}px`;
  };
  const submit = async () => {
    const text = message.value;
    if (!text.trim() || send.disabled) return;
    message.value = '';
    grow();
    if ((await onSend(text)) === false && !message.value) {
      message.value = text;
      grow();
    }
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  message.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  message.addEventListener('input', grow);
  model.addEventListener('change', () => localStorage.setItem(MODEL_KEY, model.value.trim()));

  return {
    element: form,
    focus: () => message.focus(),
    /** Where focus goes when the control that had it disappears: Stop, or the field. */
    focusTarget: () => (stop.hidden ? message : stop),
    /** The model typed in the Model field ('' for the chat's own). */
    model: () => model.value.trim(),
    /** While a reply is written: Stop instead of Send. */
    setBusy(busy) {
      const hadFocus = document.activeElement === (busy ? send : stop);
      send.disabled = busy;
      stop.hidden = !busy;
      if (hadFocus) (busy ? stop : message).focus();
    },
  };
}
