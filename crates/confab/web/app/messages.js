// One message of the active path as a list item: who wrote it, its text (with code
// blocks and code files), its status, the arrows between its versions, and Edit
// (user messages) or Regenerate (replies).
import { h, button, formatTime } from './dom.js';
import { blocks, renderText } from './markdown.js';
import { fileCard } from './files.js';

const STATUS_TEXT = {
  generating: 'Writing…',
  stopped: 'Stopped',
  failed: 'Failed',
  interrupted: 'Interrupted',
  deleted: 'Deleted',
};
const WHO = { user: 'You', assistant: 'Assistant', system: 'System' };

/** The body of a message: its text, and its code files as cards where its code blocks
 * are (when the server's files line up with the blocks), else after the text. */
export function messageBody(message) {
  const files = message.files ?? [];
  const codeBlocks = blocks(message.message).filter((block) => block.kind === 'code').length;
  if (files.length && codeBlocks === files.length) {
    return renderText(message.message, (block, index) => fileCard(files[index]));
  }
  return [...renderText(message.message), ...files.map(fileCard)];
}

function branchArrows(message, index, onSwitch) {
  const siblings = message.sibling_ids ?? [];
  if (siblings.length < 2) return null;
  const position = siblings.indexOf(message.id);
  const go = (step) => () => {
    const target = siblings[position + step];
    if (target !== undefined) onSwitch(target);
  };
  const arrow = (text, label, step, key) =>
    button(text, go(step), {
      class: 'quiet small',
      'aria-label': label,
      'aria-disabled': siblings[position + step] === undefined ? 'true' : null,
      'data-focus': `${key}-${index}`,
    });
  return h(
    'div',
    { class: 'branches', role: 'group', 'aria-label': `Version ${position + 1} of ${siblings.length}` },
    arrow('‹', 'Previous version', -1, 'prev'),
    h('span', { class: 'branch-count' }, `${position + 1}/${siblings.length}`),
    arrow('›', 'Next version', 1, 'next'),
  );
}

function editForm(message, onEdit, restore, text, onDraft) {
  const fieldId = `edit-${message.id}`;
  const area = h('textarea', { id: fieldId, rows: 3, value: text, required: true, 'data-focus': `edit-text-${message.id}` });
  area.addEventListener('input', () => onDraft(area.value));
  const form = h(
    'form',
    { class: 'edit' },
    h('label', { for: fieldId }, 'Edit message'),
    area,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Save and send'), button('Cancel', restore, { class: 'quiet' })),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (area.value.trim()) onEdit(message, area.value);
  });
  area.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') restore();
  });
  return form;
}

/** handlers: {switchTo(id), edit(message, text), regenerate(message), and the open edit
 * form: editing ({id, text} or null), startEdit(id, text), draft(text), endEdit()}; busy:
 * a reply is being written in this chat (no edits or regenerations meanwhile). An open
 * form is kept in the view, so a render (a live event, a reload) draws it again with its
 * text instead of closing it under the user's hands. */
export function messageItem(message, index, handlers, busy) {
  const generating = message.status === 'generating';
  const headingId = `message-${message.id}-who`;
  const body = h('div', { class: 'body' }, messageBody(message));
  const status = STATUS_TEXT[message.status];
  const actions = h('div', { class: 'message-actions' });
  const item = h(
    'li',
    { class: `message ${message.actor}`, id: `message-${message.id}`, 'data-id': message.id, tabindex: -1, 'aria-labelledby': headingId },
    h(
      'div',
      { class: 'message-head' },
      h('h3', { id: headingId }, WHO[message.actor] ?? message.actor),
      h('time', { datetime: message.created_at }, formatTime(message.created_at)),
      message.model && message.actor === 'assistant' ? h('span', { class: 'model' }, message.model) : null,
      status ? h('span', { class: `status status-${message.status}` }, status) : null,
      branchArrows(message, index, handlers.switchTo),
    ),
    body,
    message.error ? h('p', { class: 'message-error' }, `${message.error.message} (${message.error.code})`) : null,
    actions,
  );
  if (!busy && message.actor === 'user') {
    const restore = () => {
      handlers.endEdit();
      item.querySelector('form.edit')?.replaceWith(body);
      actions.hidden = false;
      actions.querySelector('button')?.focus();
    };
    const open = (text) => {
      const form = editForm(message, handlers.edit, restore, text, handlers.draft);
      body.replaceWith(form);
      actions.hidden = true;
      return form;
    };
    actions.append(
      button(
        'Edit',
        () => {
          handlers.startEdit(message.id, message.message);
          open(message.message).querySelector('textarea').focus();
        },
        { class: 'quiet small', 'data-focus': `edit-${index}` },
      ),
    );
    if (handlers.editing?.id === message.id) open(handlers.editing.text);
  }
  // A reply is regenerated under its question; a chat's very first message has none.
  if (!busy && message.actor === 'assistant' && !generating && message.parent_id !== null) {
    actions.append(button('Regenerate', () => handlers.regenerate(message), { class: 'quiet small', 'data-focus': `regen-${index}` }));
  }
  return item;
}

/** Replaces the text of a message being written, keeping its element. */
export function updateBody(item, message) {
  item.querySelector('.body')?.replaceChildren(...messageBody(message));
}
