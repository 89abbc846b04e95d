/**
 * An answer outside 2xx from either API, or a reply stream that reported an `error`
 * event. Both APIs' error shapes end up in the same three fields.
 */
export class ConfabError extends Error {
  /** The HTTP status (for a stream's `error` event: the stream's own status, 200). */
  readonly status: number;
  /**
   * The tenant API's stable snake_case code (`chat_not_found`, ...), or a stream
   * `error` event's code. `null` for the user API, whose error bodies carry none.
   */
  readonly code: string | null;
  /** The error body as sent: parsed JSON, or the text when it was not JSON. */
  readonly body: unknown;

  constructor(status: number, code: string | null, message: string, body: unknown) {
    super(message);
    this.name = "ConfabError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Reads `message` and `code` out of either API's error body:
 * tenant `{"success": false, "error": {"code", "message"}}`,
 * user `{"statusCode", "statusMessage", "data": {"message"}}` (delete-last on an empty
 * chat sends `data` as a plain string). Anything else, such as a proxy's HTML page,
 * gets the status line as its message.
 */
export function errorFromBody(status: number, statusText: string, body: unknown): ConfabError {
  if (isObject(body) && isObject(body.error) && typeof body.error.message === "string") {
    const code = typeof body.error.code === "string" ? body.error.code : null;
    return new ConfabError(status, code, body.error.message, body);
  }
  if (isObject(body) && "statusCode" in body) {
    const data = body.data;
    if (typeof data === "string") return new ConfabError(status, null, data, body);
    if (isObject(data) && typeof data.message === "string") {
      return new ConfabError(status, null, data.message, body);
    }
    if (typeof body.statusMessage === "string") {
      return new ConfabError(status, null, body.statusMessage, body);
    }
  }
  return new ConfabError(status, null, `HTTP ${status} ${statusText}`.trim(), body);
}

/** The `ConfabError` for a response outside 2xx; reads its body. */
export async function errorFromResponse(response: Response): Promise<ConfabError> {
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON (a proxy's page, an empty body): keep the text as the body.
  }
  return errorFromBody(response.status, response.statusText, body);
}
