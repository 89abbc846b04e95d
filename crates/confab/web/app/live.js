// The open chat's WebSocket: every frame goes to onFrame. After an unexpected close it
// connects again (with growing pauses) and, after each try, calls onReconnect so the
// view reads what it missed (or finds the chat gone). chat.deleted ends it for good.
import { watchChat } from './api.js';
import { refreshChats } from './store.js';

/** How long close() waits for the server to end the connection. */
const CLOSE_WAIT_MS = 2000;

/** rejoin: call onReconnect after the first connection too (the view was not watching
 * the chat for a while, e.g. while a delete was being confirmed). */
export function liveChat(chatId, { onFrame, onReconnect, onDeleted }, { rejoin = false } = {}) {
  let socket = null;
  // Whether the socket is open or opening: a closed one sends no more close events.
  let connected = false;
  let stopped = false;
  let failures = 0;
  let timer = 0;
  let whenClosed = () => {};

  const connect = (again) => {
    connected = true;
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
        connected = false;
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
  connect(rejoin);

  return {
    /** Ends the connection; resolves once the server has let go of it (so it no longer
     * counts as the chat being open here), or after CLOSE_WAIT_MS. At once when it was
     * already closed (waiting to connect again). */
    close() {
      stopped = true;
      clearTimeout(timer);
      if (!connected) return Promise.resolve();
      const closed = new Promise((resolve) => {
        whenClosed = resolve;
        setTimeout(resolve, CLOSE_WAIT_MS);
      });
      socket.close();
      return closed;
    },
  };
}
