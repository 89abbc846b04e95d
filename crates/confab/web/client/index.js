/** @confab/client: a typed client for confab's user API and tenant API. */
export { Confab } from "./client.js";
export { ConfabError } from "./errors.js";
export { SseParser } from "./sse.js";
