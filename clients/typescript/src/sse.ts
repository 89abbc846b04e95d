/**
 * A `text/event-stream` parser, after the WHATWG rules for server-sent events, fed the
 * body's bytes as they arrive. Chunks may split the stream anywhere: inside a line,
 * between the `\r` and `\n` of a line end, or inside a UTF-8 character. One parser
 * reads one stream; an event the stream leaves unfinished (no blank line after it) is
 * never returned, as the rules say.
 */

/** One dispatched event, before its data is interpreted. */
export interface SseEvent {
  /** The `event:` field; `"message"` when the event had none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /**
   * The last event ID: the latest `id:` field seen so far in the stream, which, as in
   * `EventSource`, carries over to later events that have none; null before any.
   */
  id: string | null;
}

export class SseParser {
  private readonly decoder = new TextDecoder("utf-8");
  private buffer = "";
  // A chunk ended with `\r`: a `\n` opening the next chunk belongs to the same line end.
  private skipLineFeed = false;
  private eventType = "";
  private data = "";
  private hasData = false;
  private lastEventId: string | null = null;

  /** Parses the next bytes (or already decoded text); returns the events they complete. */
  push(chunk: Uint8Array | string): SseEvent[] {
    const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    return this.consume(text);
  }

  private consume(text: string): SseEvent[] {
    if (this.skipLineFeed && text.length > 0) {
      if (text[0] === "\n") text = text.slice(1);
      this.skipLineFeed = false;
    }
    this.buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    for (;;) {
      const end = lineEnd(this.buffer, start);
      if (end < 0) break;
      const event = this.line(this.buffer.slice(start, end));
      if (event) events.push(event);
      if (this.buffer[end] === "\r") {
        if (end + 1 === this.buffer.length) {
          this.skipLineFeed = true;
        } else if (this.buffer[end + 1] === "\n") {
          start = end + 2;
          continue;
        }
      }
      start = end + 1;
    }
    this.buffer = this.buffer.slice(start);
    return events;
  }

  private line(line: string): SseEvent | null {
    if (line === "") return this.dispatch();
    if (line[0] === ":") return null; // a comment: keeps a quiet connection open
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "event") {
      this.eventType = value;
    } else if (field === "data") {
      this.data += this.hasData ? `\n${value}` : value;
      this.hasData = true;
    } else if (field === "id" && !value.includes("\0")) {
      this.lastEventId = value;
    }
    // `retry:` and unknown fields are ignored: reconnecting is the caller's choice.
    return null;
  }

  private dispatch(): SseEvent | null {
    const event = this.hasData
      ? { event: this.eventType || "message", data: this.data, id: this.lastEventId }
      : null;
    this.resetEvent();
    return event;
  }

  private resetEvent(): void {
    this.eventType = "";
    this.data = "";
    this.hasData = false;
  }
}

/** Index of the next `\r` or `\n` at or after `from`, or -1. */
function lineEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || c === 13) return i;
  }
  return -1;
}
