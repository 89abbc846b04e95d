/** A generated reply's event stream (`text/event-stream`), read into typed events. */
import { ConfabError } from "./errors.js";
import { SseParser } from "./sse.js";
const REPLY_EVENTS = new Set(["message.created", "message.delta", "message.completed", "message.failed"]);
/**
 * Yields the events of a reply stream response until the reply's end event
 * (`message.completed` or `message.failed`). Throws `ConfabError` for the stream's own
 * `error` event, and an `Error` when the stream stops before the end event (a cut
 * connection: resume from the last `id`). Stopping early (`break`) cancels the
 * response body; the reply itself goes on on the server.
 */
export async function* readReplyStream(response) {
    const contentType = response.headers.get("content-type") ?? "";
    if (!contentType.startsWith("text/event-stream") || response.body === null) {
        throw new ConfabError(response.status, null, `expected an event stream, got "${contentType}"`, await response.text());
    }
    const reader = response.body.getReader();
    const parser = new SseParser();
    try {
        for (;;) {
            const { done, value } = await reader.read();
            if (done)
                throw new Error("the reply stream ended before the reply's end event");
            for (const sse of parser.push(value)) {
                if (sse.event === "error") {
                    const data = JSON.parse(sse.data);
                    throw new ConfabError(response.status, data.code ?? null, data.message ?? "the reply stream failed", data);
                }
                if (!REPLY_EVENTS.has(sse.event))
                    continue; // a later server's new event: not ours to read
                const event = { event: sse.event, id: sse.id, data: JSON.parse(sse.data) };
                yield event;
                if (event.event === "message.completed" || event.event === "message.failed")
                    return;
            }
        }
    }
    finally {
        // Frees the connection when the stream is left early (break, return, an error).
        await reader.cancel().catch(() => undefined);
    }
}
