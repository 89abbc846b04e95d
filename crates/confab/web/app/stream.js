// Replies being written, read as server-sent events: the stream of a generate request,
// and resume streams for replies this tab did not start (another tab's, or one that was
// running when the page was reloaded). Every event goes to `apply(event, data)`; deltas
// carry their `seq`, so the view can drop the ones it already has.
import { resume } from './api.js';

/** Feeds one SSE stream to apply(); an `error` event ends it with that error. */
export async function readEvents(events, apply) {
  for await (const { event, data } of events) {
    if (event === 'error') throw new Error(data?.message ?? 'the reply stream failed');
    apply(event, data);
  }
}

/** One resume stream per reply, started again from the last delta after a network
 * error, until the reply ends or the chat is closed. */
export class Followers {
  /** lastSeq(id): the last delta applied; stillGenerating(id): whether to go on. */
  constructor(chatId, { apply, lastSeq, stillGenerating, onError }) {
    this.chatId = chatId;
    this.hooks = { apply, lastSeq, stillGenerating, onError };
    this.running = new Map();
    this.closed = false;
  }

  /** The generate stream of this tab reads this reply: no resume needed meanwhile. */
  adopt(messageId) {
    this.running.set(messageId, null);
  }

  release(messageId) {
    this.running.delete(messageId);
  }

  async follow(messageId) {
    if (this.closed || this.running.has(messageId)) return;
    const controller = new AbortController();
    this.running.set(messageId, controller);
    const { apply, lastSeq, stillGenerating, onError } = this.hooks;
    for (let attempt = 0; attempt < 5 && !controller.signal.aborted; attempt += 1) {
      try {
        await readEvents(await resume(this.chatId, messageId, lastSeq(messageId), controller.signal), apply);
        break;
      } catch (error) {
        if (controller.signal.aborted || error?.status) {
          if (!controller.signal.aborted) onError(error);
          break;
        }
        // A cut connection: wait a little, then read on from the last delta.
        await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
        if (!stillGenerating(messageId)) break;
      }
    }
    if (this.running.get(messageId) === controller) this.running.delete(messageId);
  }

  close() {
    this.closed = true;
    for (const controller of this.running.values()) controller?.abort();
    this.running.clear();
  }
}
