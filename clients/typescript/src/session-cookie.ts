/**
 * The user API's session cookie, kept by the client itself where nothing else keeps it.
 *
 * Browsers store `neptun-session` on their own (requests go out with
 * `credentials: "include"`) and hide `Set-Cookie` from scripts, so there this class
 * never sees a cookie and never sends one. Node's `fetch` keeps no cookies: there the
 * client remembers the cookie from `Set-Cookie` and sends it back as `Cookie`, and
 * forgets it when the server clears it (logout answers `Max-Age=0`) or it expires.
 */
export const SESSION_COOKIE = "neptun-session";

export class SessionCookie {
  private value: string | null = null;
  private expiresAt = Infinity;

  /** The `Cookie` header value to send, or null when no session is held. */
  header(): string | null {
    if (this.value !== null && Date.now() >= this.expiresAt) this.forget();
    return this.value === null ? null : `${SESSION_COOKIE}=${this.value}`;
  }

  /** Takes the session cookie out of a response's `Set-Cookie` lines, if it has one. */
  update(headers: Headers): void {
    for (const line of setCookieLines(headers)) {
      const [pair = "", ...attributes] = line.split(";");
      const equals = pair.indexOf("=");
      if (equals < 0 || pair.slice(0, equals).trim() !== SESSION_COOKIE) continue;
      const value = pair.slice(equals + 1).trim();
      const lifetime = lifetimeMs(attributes);
      if (value === "" || lifetime <= 0) {
        this.forget();
      } else {
        this.value = value;
        this.expiresAt = Date.now() + lifetime;
      }
    }
  }

  private forget(): void {
    this.value = null;
    this.expiresAt = Infinity;
  }
}

function setCookieLines(headers: Headers): string[] {
  // getSetCookie keeps the lines apart; a fetch without it joins them with ", ",
  // which is still one line as long as the server sets one cookie, as confab does.
  if (typeof headers.getSetCookie === "function") return headers.getSetCookie();
  const joined = headers.get("set-cookie");
  return joined === null ? [] : [joined];
}

/** Milliseconds the cookie lives by its Max-Age (which wins) or Expires; Infinity without either. */
function lifetimeMs(attributes: string[]): number {
  let expires: number | null = null;
  for (const attribute of attributes) {
    const [rawName = "", ...rest] = attribute.split("=");
    const name = rawName.trim().toLowerCase();
    const value = rest.join("=").trim();
    if (name === "max-age" && /^-?\d+$/.test(value)) return Number(value) * 1000;
    if (name === "expires") {
      const time = Date.parse(value);
      if (!Number.isNaN(time)) expires = time - Date.now();
    }
  }
  return expires ?? Infinity;
}
