/** A generated reply's event stream (`text/event-stream`), read into typed events. */
import { ConfabError } from "./errors.js";
import type { components } from "./schema.js";
import { SseParser } from "./sse.js";

/** A message as the listing routes show it (both APIs). */
export type Message = components["schemas"]["MessageView"];

/** One chunk of a reply's text; `seq` counts the reply's deltas from 1. */
export interface Delta {
  message_id: number;
  seq: number;
  text: string;
}

/** How a reply ended when it did not complete. */
export interface ReplyFailure {
  message_id: number;
  /** `deleted` when the reply was deleted while the stream followed it. */
  status: "failed" | "interrupted" | "deleted";
  error: { code: string; message: string };
}

interface EventBase {
  /**
   * The stream's last event ID: a delta's `seq`, carried over to the events after it
   * (as `EventSource` does); null before the first delta. Give it to `resume` as `after`.
   */
  id: string | null;
}

/** An event of a reply's stream. */
export type StreamEvent =
  /** The user message (when one was sent), then the reply with status `generating`. */
  | (EventBase & { event: "message.created"; data: Message })
  | (EventBase & { event: "message.delta"; data: Delta })
  /** The reply ended `complete` or `stopped`: the final message, with `files` and `usage`. */
  | (EventBase & { event: "message.completed"; data: Message })
  /** The reply ended `failed` or `interrupted` (or was deleted). */
  | (EventBase & { event: "message.failed"; data: ReplyFailure });

const REPLY_EVENTS = new Set(["message.created", "message.delta", "message.completed", "message.failed"]);

/**
 * Yields the events of a reply stream response until the reply's end event
 * (`message.completed` or `message.failed`). Throws `ConfabError` for the stream's own
 * `error` event, and an `Error` when the stream stops before the end event (a cut
 * connection: resume from the last `id`). Stopping early (`break`) cancels the
 * response body; the reply itself goes on on the server.
 */
export async function* readReplyStream(response: Response): AsyncGenerator<StreamEvent, void, undefined> {
  const contentType = response.headers.get("content-type") ?? "";
  if (!contentType.startsWith("text/event-stream") || response.body === null) {
    throw new ConfabError(response.status, null, `expected an event stream, got "${contentType}"`, await response.text());
  }
  const reader = response.body.getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) throw new Error("the reply stream ended before the reply's end event");
      for (const sse of parser.push(value)) {
        if (sse.event === "error") {
          const data = JSON.parse(sse.data) as { code?: string; message?: string };
          throw new ConfabError(response.status, data.code ?? null, data.message ?? "the reply stream failed", data);
        }
        if (!REPLY_EVENTS.has(sse.event)) continue; // a later server's new event: not ours to read
        const event = { event: sse.event, id: sse.id, data: JSON.parse(sse.data) } as StreamEvent;
        yield event;
        if (event.event === "message.completed" || event.event === "message.failed") return;
      }
    }
  } finally {
    // Frees the connection when the stream is left early (break, return, an error).
    await reader.cancel().catch(() => undefined);
  }
}
