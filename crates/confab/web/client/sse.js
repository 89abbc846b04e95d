/**
 * A `text/event-stream` parser, after the WHATWG rules for server-sent events, fed the
 * body's bytes as they arrive. Chunks may split the stream anywhere: inside a line,
 * between the `\r` and `\n` of a line end, or inside a UTF-8 character. One parser
 * reads one stream; an event the stream leaves unfinished (no blank line after it) is
 * never returned, as the rules say.
 */
export class SseParser {
    constructor() {
        this.decoder = new TextDecoder("utf-8");
        this.buffer = "";
        // A chunk ended with `\r`: a `\n` opening the next chunk belongs to the same line end.
        this.skipLineFeed = false;
        this.eventType = "";
        this.data = "";
        this.hasData = false;
        this.lastEventId = null;
    }
    /** Parses the next bytes (or already decoded text); returns the events they complete. */
    push(chunk) {
        const text = typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
        return this.consume(text);
    }
    consume(text) {
        if (this.skipLineFeed && text.length > 0) {
            if (text[0] === "\n")
                text = text.slice(1);
            this.skipLineFeed = false;
        }
        this.buffer += text;
        const events = [];
        let start = 0;
        for (;;) {
            const end = lineEnd(this.buffer, start);
            if (end < 0)
                break;
            const event = this.line(this.buffer.slice(start, end));
            if (event)
                events.push(event);
            if (this.buffer[end] === "\r") {
                if (end + 1 === this.buffer.length) {
                    this.skipLineFeed = true;
                }
                else if (this.buffer[end + 1] === "\n") {
                    start = end + 2;
                    continue;
                }
            }
            start = end + 1;
        }
        this.buffer = this.buffer.slice(start);
        return events;
    }
    line(line) {
        if (line === "")
            return this.dispatch();
        if (line[0] === ":")
            return null; // a comment: keeps a quiet connection open
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value[0] === " ")
            value = value.slice(1);
        if (field === "event") {
            this.eventType = value;
        }
        else if (field === "data") {
            this.data += this.hasData ? `\n${value}` : value;
            this.hasData = true;
        }
        else if (field === "id" && !value.includes("\0")) {
            this.lastEventId = value;
        }
        // `retry:` and unknown fields are ignored: reconnecting is the caller's choice.
        return null;
    }
    dispatch() {
        const event = this.hasData
            ? { event: this.eventType || "message", data: this.data, id: this.lastEventId }
            : null;
        this.resetEvent();
        return event;
    }
    resetEvent() {
        this.eventType = "";
        this.data = "";
        this.hasData = false;
    }
}
/** Index of the next `\r` or `\n` at or after `from`, or -1. */
function lineEnd(text, from) {
    for (let i = from; i < text.length; i++) {
        const c = text.charCodeAt(i);
        if (c === 10 || c === 13)
            return i;
    }
    return -1;
}
