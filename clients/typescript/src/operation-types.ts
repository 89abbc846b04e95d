/**
 * Types that read each route's parameters, body and answer out of the generated
 * `paths`, so a call like `client.get("/api/users/{user_id}/chats", { path: { user_id } })`
 * is checked against the OpenAPI document.
 */
import type { paths } from "./schema.js";

export type Method = "get" | "post" | "put" | "patch" | "delete";

/** The routes (keys of `paths`) that have method `M`. */
export type PathsWith<M extends Method> = {
  [P in keyof paths]: paths[P][M] extends undefined ? never : P;
}[keyof paths];

/** The generated operation of route `P` and method `M`. */
export type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;

type OperationParameters<Op> = Op extends { parameters: infer X } ? X : never;

/** The path parameters of an operation, `never` when it has none. */
export type PathParams<Op> = OperationParameters<Op> extends { path: infer X } ? X : never;

/** The query parameters of an operation, `never` when it has none. */
export type QueryParams<Op> = OperationParameters<Op> extends { query?: infer X } ? NonNullable<X> : never;

type BodyContent<Op> = Op extends { requestBody?: infer RB }
  ? NonNullable<RB> extends { content: infer C }
    ? C
    : never
  : never;

/** What `body` takes: the JSON body's type, or raw bytes for a route that reads a file. */
export type RequestBody<Op> =
  BodyContent<Op> extends { "application/json": infer B } ? B : RawBody;

/** Bodies sent as they are, not as JSON (the import route's file). */
export type RawBody = string | Blob | ArrayBuffer | ArrayBufferView;

type PathPart<Op> = [PathParams<Op>] extends [never] ? { path?: undefined } : { path: PathParams<Op> };
type QueryPart<Op> = [QueryParams<Op>] extends [never] ? { query?: undefined } : { query?: QueryParams<Op> };
type BodyPart<Op> = [BodyContent<Op>] extends [never]
  ? { body?: undefined }
  : undefined extends (Op extends { requestBody?: infer RB } ? RB : never)
    ? { body?: RequestBody<Op> }
    : { body: RequestBody<Op> };

/** Options every request takes besides its parameters and body. */
export interface CommonInit {
  /** Extra request headers; they win over the client's own (`X-API-Key`, `Cookie`, `Content-Type`). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** The second argument of `get`, `post`, ...: path parameters, query, body, headers, signal. */
export type CallInit<Op> = PathPart<Op> & QueryPart<Op> & BodyPart<Op> & CommonInit;

/** The argument list after the path: optional when nothing in it is required. */
export type InitArgs<Op> = {} extends CallInit<Op> ? [init?: CallInit<Op>] : [init: CallInit<Op>];

type SuccessContent<Op> = Op extends { responses: infer R }
  ? (R extends { 200: { content: infer C } } ? C : never) | (R extends { 201: { content: infer C } } ? C : never)
  : never;

/** The body a content map decodes to: its JSON type, and text for any other media type. */
type Decoded<C> = C extends unknown
  ? (C extends { "application/json": infer J } ? J : never) |
    ([Exclude<keyof C, "application/json">] extends [never] ? never : string)
  : never;

/** What a request resolves to: the 200/201 JSON body (text for other media types). */
export type ResponseBody<Op> = [SuccessContent<Op>] extends [never] ? undefined : Decoded<SuccessContent<Op>>;
