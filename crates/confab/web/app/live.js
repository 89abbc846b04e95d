// The open chat's WebSocket: every frame goes to onFrame. After an unexpected close it
// connects again (with growing pauses) and, after each try, calls onReconnect so the
// view reads what it missed (or finds the chat gone). chat.deleted ends it for good.
import { watchChat } from './api.js';
import { refreshChats } from './store.js';

/** How long close() waits for the server to end the connection. */
const CLOSE_WAIT_MS = 2000;

export function liveChat(chatId, { onFrame, onReconnect, onDeleted }) {
  let socket = null;
  let stopped = false;
  let failures = 0;
  let timer = 0;
  let whenClosed = () => {};

  const connect = (again) => {
    socket = watchChat(
      chatId,
      (frame) => {
        if (frame.type === 'chat.deleted') {
          stopped = true;
          onDeleted();
        } else {
          onFrame(frame);
        }
      },
      (code) => {
        whenClosed();
        if (stopped) return;
        // 4001: the session ended (logged out elsewhere); the next read signs this tab out.
        if (code === 4001) refreshChats().catch(() => {});
        failures += 1;
        timer = setTimeout(() => connect(true), Math.min(30000, 500 * 2 ** failures));
      },
    );
    const caughtUp = () => again && !stopped && onReconnect();
    socket.ready.then(() => {
      failures = 0;
      caughtUp();
    }, caughtUp);
  };
  connect(false);

  return {
    /** Ends the connection; resolves once the server has let go of it (so it no longer
     * counts as the chat being open here), or after CLOSE_WAIT_MS. */
    close() {
      stopped = true;
      clearTimeout(timer);
      if (!socket) return Promise.resolve();
      const closed = new Promise((resolve) => {
        whenClosed = resolve;
        setTimeout(resolve, CLOSE_WAIT_MS);
      });
      socket.close();
      return closed;
    },
  };
}
