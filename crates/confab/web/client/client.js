/** The client: typed requests to both APIs, reply streams and live events. */
import { errorFromResponse } from "./errors.js";
import { readReplyStream } from "./reply-stream.js";
import { SessionCookie } from "./session-cookie.js";
import { fillPath, queryString, trimBase, webSocketUrl } from "./urls.js";
import { openWatch } from "./watch.js";
export class Confab {
    constructor(options = {}) {
        this.session = new SessionCookie();
        this.baseUrl = trimBase(options.baseUrl ?? "");
        this.apiKey = options.apiKey;
        const fetchImpl = options.fetch;
        // Called unbound: browsers refuse a `fetch` called as a method of another object.
        this.send = fetchImpl ? (input, init) => fetchImpl(input, init) : (input, init) => fetch(input, init);
        this.WebSocketImpl = options.WebSocket ?? globalThis.WebSocket;
    }
    get(path, ...init) {
        return this.request("get", path, init[0]);
    }
    post(path, ...init) {
        return this.request("post", path, init[0]);
    }
    put(path, ...init) {
        return this.request("put", path, init[0]);
    }
    patch(path, ...init) {
        return this.request("patch", path, init[0]);
    }
    delete(path, ...init) {
        return this.request("delete", path, init[0]);
    }
    /**
     * Generates a reply and yields its events as they arrive, ending with
     * `message.completed` or `message.failed`. The request goes out when iteration starts.
     * Leaving the loop early closes the stream, not the reply: it goes on, and `resume`
     * picks it up again.
     */
    async *generate(path, init) {
        const response = await this.fetchOk("post", path, { ...init, body: init.body ?? {} }, { Accept: "text/event-stream" });
        yield* readReplyStream(response);
    }
    /** Follows a reply from after delta `init.after` (or from its start) to its end event. */
    async *resume(path, init) {
        const headers = { Accept: "text/event-stream" };
        if (init.after !== undefined)
            headers["Last-Event-ID"] = String(init.after);
        const response = await this.fetchOk("get", path, init, headers);
        yield* readReplyStream(response);
    }
    /**
     * Opens a chat's live connection and hands every frame to `init.onFrame`. In Node the
     * upgrade carries `X-API-Key` and the session cookie as headers (with the `ws`
     * package as `WebSocket`); in a browser the page's cookie is the credential.
     */
    watch(path, init) {
        if (this.WebSocketImpl === undefined) {
            throw new TypeError("no WebSocket class: pass one as the WebSocket option (in Node, the ws package's)");
        }
        const url = webSocketUrl(this.baseUrl + fillPath(path, init.path));
        return openWatch(this.WebSocketImpl, url, this.credentialHeaders(), init);
    }
    async request(method, path, init) {
        const response = await this.fetchOk(method, path, init ?? {}, {});
        const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
        const json = mediaType === "application/json" || mediaType.endsWith("+json");
        // ResponseBody<...> describes what this returns; the cast is where the two meet.
        return (json ? await response.json() : await response.text());
    }
    /** Sends a request; keeps the session cookie it sets; throws `ConfabError` unless 2xx. */
    async fetchOk(method, path, init, extraHeaders) {
        const headers = new Headers({ ...this.credentialHeaders(), ...extraHeaders });
        let body;
        if (init.body !== undefined) {
            if (isRawBody(init.body)) {
                body = init.body;
                // Else fetch labels a string text/plain, which the import route refuses.
                if (!(body instanceof Blob && body.type !== ""))
                    headers.set("Content-Type", "application/octet-stream");
            }
            else {
                body = JSON.stringify(init.body);
                headers.set("Content-Type", "application/json");
            }
        }
        for (const [name, value] of Object.entries(init.headers ?? {}))
            headers.set(name, value);
        const url = this.baseUrl + fillPath(path, init.path) + queryString(init.query);
        const response = await this.send(url, {
            method: method.toUpperCase(),
            headers,
            body,
            signal: init.signal,
            credentials: "include",
        });
        this.session.update(response.headers);
        if (!response.ok)
            throw await errorFromResponse(response);
        return response;
    }
    credentialHeaders() {
        const headers = {};
        if (this.apiKey !== undefined)
            headers["X-API-Key"] = this.apiKey;
        const cookie = this.session.header();
        if (cookie !== null)
            headers.Cookie = cookie;
        return headers;
    }
}
function isRawBody(body) {
    return (typeof body === "string" ||
        body instanceof Blob ||
        body instanceof ArrayBuffer ||
        ArrayBuffer.isView(body));
}
