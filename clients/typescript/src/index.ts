/** @confab/client: a typed client for confab's user API and tenant API. */
export { Confab } from "./client.js";
export type { ConfabOptions, GenerateInit, GeneratePath, ResumeInit, ResumePath, WatchInit } from "./client.js";
export { ConfabError } from "./errors.js";
export type { CallInit, CommonInit, Operation, PathsWith, RawBody, RequestBody, ResponseBody } from "./operation-types.js";
export type { Delta, Message, ReplyFailure, StreamEvent } from "./reply-stream.js";
export type { components, operations, paths } from "./schema.js";
export { SseParser } from "./sse.js";
export type { SseEvent } from "./sse.js";
export type { FrameOf, LiveFrame, TenantWatchPath, UserWatchPath, Watch, WatchPath, WebSocketClass } from "./watch.js";
