// Shared steps of the end-to-end tests: a fresh user per test, the app's controls by
// their accessible names (SPEC §11), and waits on what the user sees.
const path = require('node:path');
const crypto = require('node:crypto');
const { expect } = require('@playwright/test');

const PASSWORD = 'correct horse battery';
// docs/screenshots by default (run-local.sh refreshes them); CI's runs, one per
// database at once, write elsewhere so the committed pictures stay as they are.
const SCREENSHOTS = process.env.E2E_SCREENSHOTS_DIR || path.join(__dirname, '..', '..', 'docs', 'screenshots');

function uniqueEmail(prefix = 'ann') {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}@example.com`;
}

const field = (page, name) => page.getByLabel(name, { exact: true });
const button = (page, name) => page.getByRole('button', { name, exact: true });
/** The open chat's messages: list items headed by who wrote them. */
const messagesBy = (page, who) =>
  page.getByRole('main').getByRole('listitem').filter({ has: page.getByRole('heading', { name: who, exact: true, level: 3 }) });
const allMessages = (page) => messagesBy(page, /^(You|Assistant)$/);
const replies = (page) => messagesBy(page, 'Assistant');
const questions = (page) => messagesBy(page, 'You');
const chatList = (page) => page.getByRole('list', { name: 'Chat list', exact: true });

/** Fills the login form and presses `Sign up` or `Log in`; answers the server's answer.
 * The server allows a client address 10 attempts a minute (`--auth-ip-attempts`) and a
 * whole suite makes about twenty: on a 429 it presses again when `Retry-After` says. */
async function submitCredentials(page, action, email, password) {
  await field(page, 'Email').fill(email);
  await field(page, 'Password').fill(password);
  const route = action === 'Sign up' ? '/api/auth/sign-up' : '/api/auth/login';
  for (let attempt = 1; ; attempt += 1) {
    const answer = page.waitForResponse((r) => r.url().endsWith(route) && r.request().method() === 'POST');
    await button(page, action).click();
    const response = await answer;
    if (response.status() !== 429 || attempt === 3) return response;
    const seconds = Number(response.headers()['retry-after'] ?? 1);
    await page.waitForTimeout(seconds * 1000 + 100);
    // The form keeps the email; the password is asked for again after a failure.
    await field(page, 'Password').fill(password);
  }
}

/** Signs a new user up through the form; answers the email and the user's id. */
async function signUp(page, email = uniqueEmail()) {
  await page.goto('/');
  const answer = await submitCredentials(page, 'Sign up', email, PASSWORD);
  expect(answer.status()).toBe(201);
  const { user } = await answer.json();
  await expect(button(page, 'Log out')).toBeVisible();
  return { email, userId: user.id };
}

const chatIdOf = (page) => Number(new URL(page.url()).hash.match(/^#\/chat\/(\d+)/)?.[1]);

/** Presses `New chat`; answers the new chat's id once its view is shown. The address
 * changes a moment before the view does: until the list marks the new chat as the open
 * one, the composer on screen is still the previous chat's. */
async function newChat(page) {
  const before = page.url();
  await button(page, 'New chat').click();
  await expect(page).not.toHaveURL(before);
  await expect(page).toHaveURL(/#\/chat\/\d+$/);
  const id = chatIdOf(page);
  await expect(chatList(page).locator(`a[href="#/chat/${id}"]`)).toHaveAttribute('aria-current', 'page');
  await expect(page.getByText('No messages yet.')).toBeVisible();
  await expect(field(page, 'Message')).toBeVisible();
  return id;
}

/** Writes a message with the given model (the double answers by model name) and sends it. */
async function send(page, text, model) {
  await field(page, 'Model').fill(model);
  await field(page, 'Message').fill(text);
  await button(page, 'Send').click();
}

/** The double's `count-N-D` words (w1, w2, ...) a message shows, in order. */
async function countWords(item) {
  return (await item.innerText()).match(/\bw\d+\b/g) ?? [];
}

const firstWords = (n) => Array.from({ length: n }, (_, i) => `w${i + 1}`);

/** Waits until the reply shows exactly w1..wN and is no longer being written; a long
 * reply needs a `timeout` (ms) longer than expect's. */
async function expectCompleteReply(page, reply, n, { timeout } = {}) {
  await expect.poll(() => countWords(reply), { timeout }).toEqual(firstWords(n));
  await expect(reply).not.toContainText(/Writing…|Stopped|Failed|Interrupted/);
  await expect(button(page, 'Stop')).toBeHidden();
  await expect(button(page, 'Send')).toBeEnabled();
}

async function snap(page, name) {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

module.exports = {
  PASSWORD,
  uniqueEmail,
  field,
  button,
  allMessages,
  replies,
  questions,
  chatList,
  submitCredentials,
  signUp,
  chatIdOf,
  newChat,
  send,
  countWords,
  firstWords,
  expectCompleteReply,
  snap,
};
