/** Live events of a chat over a WebSocket, as JSON frames. */
import type { Message, ReplyFailure } from "./reply-stream.js";
import type { components } from "./schema.js";

/**
 * A WebSocket class: the browser's `WebSocket`, or in Node the `ws` package's. The
 * third argument carries the upgrade's headers (`X-API-Key`, `Cookie`); `ws` sends
 * them, and browsers ignore it (they cannot set headers and send the cookie themselves).
 */
export type WebSocketClass = new (
  url: string,
  protocols?: string | string[],
  options?: { headers?: Record<string, string> },
) => object;

/** What the client uses of a socket; both kinds have it. */
interface SocketLike {
  onopen: (() => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: (() => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  close(code?: number): void;
}

/** The frames of a chat's live connection; `Id` is the chat id's type in the route's API. */
export type LiveFrame<Id, Chat> =
  | { type: "message.created"; chat_id: Id; seq: number; message: Message }
  | { type: "messages.deleted"; chat_id: Id; seq: number; message_ids: number[] }
  | { type: "chat.current_changed"; chat_id: Id; seq: number; current_message_id: number | null }
  | { type: "chat.updated"; chat_id: Id; seq: number; chat: Chat }
  | { type: "chat.deleted"; chat_id: Id; seq: number }
  /** Here `seq` numbers the reply's deltas, not the chat's changes. */
  | { type: "message.delta"; chat_id: Id; seq: number; message_id: number; text: string }
  | { type: "message.completed"; chat_id: Id; seq: number; message: Message }
  | ({ type: "message.failed"; chat_id: Id; seq: number } & ReplyFailure);

export type UserWatchPath = "/api/users/{user_id}/chats/{chat_id}/ws";
export type TenantWatchPath = "/api/v1/chats/{chat_id}/ws";
export type WatchPath = UserWatchPath | TenantWatchPath;

/** The user route's frames have integer chat ids and user-API chats; the tenant route's, uuids. */
export type FrameOf<P extends WatchPath> = P extends UserWatchPath
  ? LiveFrame<number, components["schemas"]["ChatView"]>
  : LiveFrame<string, components["schemas"]["TenantChatView"]>;

export interface Watch {
  /** Resolves when the socket is open; rejects when it could not be opened (a refused upgrade). */
  ready: Promise<void>;
  /** Closes the socket (1000). */
  close(): void;
}

export interface WatchHandlers<Frame> {
  onFrame(frame: Frame): void;
  /** The socket closed: 1000 after `chat.deleted`, 4001 when the credential was revoked, ... */
  onClose?(code: number, reason: string): void;
}

/** Opens the socket and wires its events to the handlers. */
export function openWatch<Frame>(
  WebSocketImpl: WebSocketClass,
  url: string,
  headers: Record<string, string>,
  handlers: WatchHandlers<Frame>,
): Watch {
  const socket = (
    Object.keys(headers).length > 0 ? new WebSocketImpl(url, [], { headers }) : new WebSocketImpl(url)
  ) as SocketLike;
  let opened = false;
  const ready = new Promise<void>((resolve, reject) => {
    socket.onopen = () => {
      opened = true;
      resolve();
    };
    socket.onclose = (event) => {
      if (!opened) reject(new Error(`WebSocket ${url} could not be opened (close code ${event.code})`));
      handlers.onClose?.(event.code, event.reason);
    };
  });
  // A caller that never looks at `ready` must not get an unhandled rejection.
  ready.catch(() => undefined);
  // Errors are followed by a close event, which reports them.
  socket.onerror = () => undefined;
  socket.onmessage = (event) => {
    if (typeof event.data !== "string") return; // confab sends text frames only
    handlers.onFrame(JSON.parse(event.data) as Frame);
  };
  return { ready, close: () => socket.close(1000) };
}
