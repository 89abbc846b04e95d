/** The client: typed requests to both APIs, reply streams and live events. */
import { errorFromResponse } from "./errors.js";
import type {
  CommonInit,
  InitArgs,
  Method,
  Operation,
  PathParams,
  PathsWith,
  RequestBody,
  ResponseBody,
} from "./operation-types.js";
import { readReplyStream, type StreamEvent } from "./reply-stream.js";
import { SessionCookie } from "./session-cookie.js";
import { fillPath, queryString, trimBase, webSocketUrl } from "./urls.js";
import { openWatch, type FrameOf, type Watch, type WatchHandlers, type WatchPath, type WebSocketClass } from "./watch.js";

export interface ConfabOptions {
  /** The server's URL, e.g. `http://127.0.0.1:8080`. Default "": the page's own origin (browsers). */
  baseUrl?: string;
  /** A tenant API key, sent as `X-API-Key` on every request and WebSocket upgrade. */
  apiKey?: string;
  /** The `fetch` to use; default the global one. */
  fetch?: typeof fetch;
  /** The WebSocket class for `watch`; default `globalThis.WebSocket`. In Node pass the `ws` package's. */
  WebSocket?: WebSocketClass;
}

export type GeneratePath = "/api/users/{user_id}/chats/{chat_id}/generate" | "/api/v1/chats/{chat_id}/generate";
export type ResumePath =
  | "/api/users/{user_id}/chats/{chat_id}/messages/{message_id}/stream"
  | "/api/v1/chats/{chat_id}/messages/{message_id}/stream";

export interface GenerateInit<P extends GeneratePath> extends CommonInit {
  path: PathParams<Operation<P, "post">>;
  /** The request; `stream` is always true here (use `post` for `stream: false`). Default `{}`: regenerate. */
  body?: Omit<RequestBody<Operation<P, "post">>, "stream">;
}

export interface ResumeInit<P extends ResumePath> extends CommonInit {
  path: PathParams<Operation<P, "get">>;
  /** The last delta `seq` (event `id`) already read; sent as `Last-Event-ID`. Absent: from the first. */
  after?: number | string;
}

export interface WatchInit<P extends WatchPath> extends WatchHandlers<FrameOf<P>> {
  path: PathParams<Operation<P, "get">>;
}

interface AnyInit extends CommonInit {
  path?: unknown;
  query?: unknown;
  body?: unknown;
}

export class Confab {
  private readonly baseUrl: string;
  private readonly apiKey: string | undefined;
  private readonly send: typeof fetch;
  private readonly WebSocketImpl: WebSocketClass | undefined;
  private readonly session = new SessionCookie();

  constructor(options: ConfabOptions = {}) {
    this.baseUrl = trimBase(options.baseUrl ?? "");
    this.apiKey = options.apiKey;
    const fetchImpl = options.fetch;
    // Called unbound: browsers refuse a `fetch` called as a method of another object.
    this.send = fetchImpl ? (input, init) => fetchImpl(input, init) : (input, init) => fetch(input, init);
    this.WebSocketImpl = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketClass }).WebSocket;
  }

  get<P extends PathsWith<"get">>(path: P, ...init: InitArgs<Operation<P, "get">>): Promise<ResponseBody<Operation<P, "get">>> {
    return this.request("get", path, init[0]);
  }

  post<P extends PathsWith<"post">>(path: P, ...init: InitArgs<Operation<P, "post">>): Promise<ResponseBody<Operation<P, "post">>> {
    return this.request("post", path, init[0]);
  }

  put<P extends PathsWith<"put">>(path: P, ...init: InitArgs<Operation<P, "put">>): Promise<ResponseBody<Operation<P, "put">>> {
    return this.request("put", path, init[0]);
  }

  patch<P extends PathsWith<"patch">>(path: P, ...init: InitArgs<Operation<P, "patch">>): Promise<ResponseBody<Operation<P, "patch">>> {
    return this.request("patch", path, init[0]);
  }

  delete<P extends PathsWith<"delete">>(path: P, ...init: InitArgs<Operation<P, "delete">>): Promise<ResponseBody<Operation<P, "delete">>> {
    return this.request("delete", path, init[0]);
  }

  /**
   * Generates a reply and yields its events as they arrive, ending with
   * `message.completed` or `message.failed`. The request goes out when iteration starts.
   * Leaving the loop early closes the stream, not the reply: it goes on, and `resume`
   * picks it up again.
   */
  async *generate<P extends GeneratePath>(path: P, init: GenerateInit<P>): AsyncGenerator<StreamEvent, void, undefined> {
    const response = await this.fetchOk("post", path, { ...init, body: init.body ?? {} }, { Accept: "text/event-stream" });
    yield* readReplyStream(response);
  }

  /** Follows a reply from after delta `init.after` (or from its start) to its end event. */
  async *resume<P extends ResumePath>(path: P, init: ResumeInit<P>): AsyncGenerator<StreamEvent, void, undefined> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (init.after !== undefined) headers["Last-Event-ID"] = String(init.after);
    const response = await this.fetchOk("get", path, init, headers);
    yield* readReplyStream(response);
  }

  /**
   * Opens a chat's live connection and hands every frame to `init.onFrame`. In Node the
   * upgrade carries `X-API-Key` and the session cookie as headers (with the `ws`
   * package as `WebSocket`); in a browser the page's cookie is the credential.
   */
  watch<P extends WatchPath>(path: P, init: WatchInit<P>): Watch {
    if (this.WebSocketImpl === undefined) {
      throw new TypeError("no WebSocket class: pass one as the WebSocket option (in Node, the ws package's)");
    }
    const url = webSocketUrl(this.baseUrl + fillPath(path, init.path));
    return openWatch(this.WebSocketImpl, url, this.credentialHeaders(), init);
  }

  private async request(method: Method, path: string, init: AnyInit | undefined): Promise<never> {
    const response = await this.fetchOk(method, path, init ?? {}, {});
    const mediaType = (response.headers.get("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
    const json = mediaType === "application/json" || mediaType.endsWith("+json");
    // ResponseBody<...> describes what this returns; the cast is where the two meet.
    return (json ? await response.json() : await response.text()) as never;
  }

  /** Sends a request; keeps the session cookie it sets; throws `ConfabError` unless 2xx. */
  private async fetchOk(method: Method, path: string, init: AnyInit, extraHeaders: Record<string, string>): Promise<Response> {
    const headers = new Headers({ ...this.credentialHeaders(), ...extraHeaders });
    let body: BodyInit | undefined;
    if (init.body !== undefined) {
      if (isRawBody(init.body)) {
        body = init.body as BodyInit;
        // Else fetch labels a string text/plain, which the import route refuses.
        if (!(body instanceof Blob && body.type !== "")) headers.set("Content-Type", "application/octet-stream");
      } else {
        body = JSON.stringify(init.body);
        headers.set("Content-Type", "application/json");
      }
    }
    for (const [name, value] of Object.entries(init.headers ?? {})) headers.set(name, value);
    const url = this.baseUrl + fillPath(path, init.path) + queryString(init.query);
    const response = await this.send(url, {
      method: method.toUpperCase(),
      headers,
      body,
      signal: init.signal,
      credentials: "include",
    });
    this.session.update(response.headers);
    if (!response.ok) throw await errorFromResponse(response);
    return response;
  }

  private credentialHeaders(): Record<string, string> {
    const headers: Record<string, string> = {};
    if (this.apiKey !== undefined) headers["X-API-Key"] = this.apiKey;
    const cookie = this.session.header();
    if (cookie !== null) headers.Cookie = cookie;
    return headers;
  }
}

function isRawBody(body: unknown): boolean {
  return (
    typeof body === "string" ||
    body instanceof Blob ||
    body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body)
  );
}
