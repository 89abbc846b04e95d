// The two live regions of the page: errors (role=alert, stays until dismissed or
// replaced) and short status news (role=status, fades after a while).
import { $, h, button } from './dom.js';
import { errorText } from './api.js';

let statusTimer = 0;

/** Shows an error in plain words: an API error's own message, or the text given. */
export function showError(errorOrText) {
  const text = typeof errorOrText === 'string' ? errorOrText : errorText(errorOrText);
  const region = $('#errors');
  region.replaceChildren(
    h('p', {}, text),
    button('Dismiss', () => region.replaceChildren(), { class: 'quiet', 'aria-label': 'Dismiss error' }),
  );
}

export function clearError() {
  $('#errors').replaceChildren();
}

export function showStatus(text) {
  const region = $('#status');
  region.textContent = text;
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => (region.textContent = ''), 6000);
}

/** Runs an action, showing its error instead of letting it vanish. An action starts by
 * clearing the error shown, unless keepError (a read that follows an action whose own
 * error, if any, must stay visible). */
export async function attempt(action, { keepError = false } = {}) {
  try {
    if (!keepError) clearError();
    return await action();
  } catch (error) {
    // A 401 has already sent the app to the login screen, which says why.
    if (error?.status !== 401) showError(error);
    return undefined;
  }
}
