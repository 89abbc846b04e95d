// Start-up and routing. The app routes in the URL's fragment: #/ (the chat list),
// #/chat/ID (?m=MESSAGE to open it at a message), #/search?q=..., #/shared/ID (a share
// link, no account needed). Everything else waits for a signed-in user.
import { $, h } from './dom.js';
import { savedUser, whenSignedOut, onUserChangedElsewhere, logOut, exportUrl } from './api.js';
import { setUpAuth, showAuth } from './auth.js';
import { attempt, clearError, showError, showStatus } from './notice.js';
import { forgetChats, refreshChats } from './store.js';
import { setUpSidebar, markOpenChat, setSidebarOpen } from './sidebar.js';
import { openChat, closeChat, setUpChat } from './chat.js';
import { showSearch } from './search.js';
import { showShared } from './shared.js';

/** The user this tab shows ({id, email}), or null before login and after logout. */
let signedInAs = null;

function parseRoute() {
  const [path, query = ''] = location.hash.replace(/^#/, '').split('?');
  const params = new URLSearchParams(query);
  const parts = path.split('/').filter(Boolean);
  const id = Number(parts[1]);
  if (parts[0] === 'shared' && parts[1]) return { name: 'shared', shareId: parts[1] };
  if (parts[0] === 'chat' && Number.isInteger(id) && id > 0) {
    const message = Number(params.get('m'));
    return { name: 'chat', chatId: id, messageId: Number.isInteger(message) && message > 0 ? message : null };
  }
  if (parts[0] === 'search' && params.get('q')) return { name: 'search', q: params.get('q') };
  return { name: 'home' };
}

function showHome(view) {
  view.replaceChildren(h('p', { class: 'empty home-note' }, 'Pick a chat from the list, or start a new one.'));
  document.title = 'confab';
}

async function route() {
  const target = parseRoute();
  if (target.name === 'shared') {
    closeChat();
    $('#auth').hidden = true;
    $('#app').hidden = true;
    $('#shared-view').hidden = false;
    return showShared($('#shared-view'), target.shareId);
  }
  $('#shared-view').hidden = true;
  if (!signedInAs) return start();
  $('#app').hidden = false;
  const view = $('#view');
  document.body.classList.toggle('home', target.name === 'home');
  setSidebarOpen(false);
  if (target.name !== 'chat') closeChat();
  markOpenChat(target.name === 'chat' ? target.chatId : null);
  if (target.name === 'chat') return openChat(view, target.chatId, target.messageId);
  if (target.name === 'search') {
    $('#search').value = target.q;
    document.title = `Search: ${target.q} – confab`;
    return showSearch(view, target.q);
  }
  return showHome(view);
}

/** listed: the chat list was just read (the session is known to hold). */
async function enterApp(user, listed = false) {
  signedInAs = user;
  $('#auth').hidden = true;
  $('#app').hidden = false;
  $('#who').textContent = user.email;
  $('#export').href = exportUrl();
  if (!listed) await attempt(refreshChats);
  await route();
}

function signOut() {
  signedInAs = null;
  closeChat();
  forgetChats();
  $('#view').replaceChildren();
  showAuth();
}

/** The session ended, not by this tab's Log out: a 401, or a logout in another tab. */
function signedOutElsewhere() {
  if (!signedInAs) return;
  signOut();
  showError('You are signed out. Log in again to go on.');
}

async function boot() {
  setUpAuth((user) => {
    clearError();
    enterApp(user);
  });
  setUpSidebar();
  setUpChat();
  whenSignedOut(signedOutElsewhere);
  onUserChangedElsewhere((user) => {
    if (user?.id === signedInAs?.id) return;
    // Another tab logged in as someone (else): start again as them.
    if (user) location.reload();
    else signedOutElsewhere();
  });
  $('#logout').addEventListener('click', async () => {
    // The chat's socket first: logging out closes it, which must not read as a fault.
    closeChat();
    await attempt(logOut);
    signOut();
    location.hash = '#/';
    showStatus('You are logged out.');
  });
  window.addEventListener('hashchange', route);
  return parseRoute().name === 'shared' ? route() : start();
}

/** Finds the user again after a reload: the saved user, if the session still holds
 * (reading their chat list answers 401 when it does not). */
async function start() {
  const user = savedUser();
  if (!user) return showAuth();
  try {
    await refreshChats();
  } catch (error) {
    if (error?.status === 401) return showAuth();
    showError(error);
  }
  return enterApp(user, true);
}

boot();
