/** What every test needs: the server under test and fresh accounts on it. */
import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { Confab, type ConfabOptions } from "../src/index.js";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set ${name} (the server under test and a tenant API key of it)`);
  return value;
}

export const baseUrl = required("CONFAB_URL");
export const apiKey = required("CONFAB_API_KEY");

/** A client of the server under test, with the `ws` package for WebSockets. */
export function client(options: ConfabOptions = {}): Confab {
  return new Confab({ baseUrl, WebSocket, ...options });
}

/** A tenant-API client (the API key of the run's fresh tenant). */
export function tenantClient(): Confab {
  return client({ apiKey });
}

export const password = "correct horse battery";

export function uniqueEmail(): string {
  return `ts-client-${randomUUID()}@example.com`;
}

/** A client signed in as a new user (one sign-up: the server allows 10 per minute per address). */
export async function signedUpClient(): Promise<{ confab: Confab; userId: number; email: string }> {
  const confab = client();
  const email = uniqueEmail();
  const { user } = await confab.post("/api/auth/sign-up", { body: { email, password } });
  return { confab, userId: user.id, email };
}

/** Resolves with the first value `check` returns that is not undefined, polling; fails after `ms`. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
