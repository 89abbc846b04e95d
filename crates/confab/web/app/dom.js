// Building DOM nodes without innerHTML: every text goes in through textContent, so
// nothing a message or a chat name holds can ever become markup.

/** h('button', {class: 'x', onclick: fn, 'aria-label': 'y'}, 'text', childNode, ...) */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value == null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
    else if (key === 'value' || key === 'checked') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  add(el, children);
  return el;
}

/** Appends children (strings become text nodes; null and false are skipped). */
export function add(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

export const $ = (selector, root = document) => root.querySelector(selector);

/** A button whose visible text starts its accessible name (label-in-name). */
export function button(text, onclick, props = {}) {
  return h('button', { type: 'button', onclick, ...props }, text);
}

/** Re-renders `root` with `render()` and puts focus back on the element that had the
 * same data-focus key, so keyboard users keep their place when a list is rebuilt; when
 * that element is gone, on `fallback()`. */
export function keepFocus(root, render, fallback = () => null) {
  const active = document.activeElement;
  const had = active && root.contains(active);
  const key = had ? active.dataset.focus : null;
  render();
  if (!had) return;
  const again = key && root.querySelector(`[data-focus="${CSS.escape(key)}"]`);
  (again || fallback())?.focus();
}

export function formatTime(iso) {
  const date = new Date(iso);
  const sameDay = date.toDateString() === new Date().toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : date.toLocaleDateString([], { year: 'numeric', month: 'short', day: 'numeric' });
}
