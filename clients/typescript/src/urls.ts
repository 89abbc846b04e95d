/** Building request URLs from a route template, its parameters and a base URL. */

/** Puts each `{name}` of the template's parameters in, URL-encoded. */
export function fillPath(template: string, params: unknown): string {
  const values = (params ?? {}) as Record<string, unknown>;
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined || value === null) {
      throw new TypeError(`${template}: path parameter "${name}" is missing`);
    }
    return encodeURIComponent(String(value));
  });
}

/** `?a=1&b=2` from the query's defined values (undefined and null are left out), or "". */
export function queryString(query: unknown): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries((query ?? {}) as Record<string, unknown>)) {
    if (value !== undefined && value !== null) search.append(name, String(value));
  }
  const text = search.toString();
  return text === "" ? "" : `?${text}`;
}

/** The base URL without trailing slashes, so `base + "/api/..."` has one. */
export function trimBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}

/**
 * The WebSocket URL of an HTTP URL: `http:` becomes `ws:`, `https:` `wss:`. A relative
 * URL (base URL "") is resolved against the page's location first, so in a browser it
 * means the page's own origin.
 */
export function webSocketUrl(httpUrl: string): string {
  const location = (globalThis as { location?: { href: string } }).location;
  if (!/^https?:\/\//i.test(httpUrl) && location === undefined) {
    throw new TypeError(`cannot open a WebSocket to ${httpUrl}: outside a browser, give the client a baseUrl`);
  }
  const url = new URL(httpUrl, location?.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
