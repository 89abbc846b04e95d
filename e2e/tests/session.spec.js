// 11. A whole session in the app: no console errors (CSP violations among them) and no
// request to any host but the server's.
const { test, expect } = require('./fixtures');
const fs = require('node:fs');
const {
  PASSWORD, button, field, replies, questions, signUp, newChat, send, submitCredentials, expectCompleteReply,
} = require('./helpers');

test('a whole session logs no console error and talks to no other host', async ({ context, page }) => {
  const server = new URL(process.env.CONFAB_URL);
  const foreign = [];
  const errors = [];
  const requests = [];
  const watch = (tab) => {
    tab.on('request', (request) => {
      const url = new URL(request.url());
      requests.push(request.url());
      // data: and blob: URLs name no host: they never leave the browser.
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.host !== server.host) foreign.push(request.url());
    });
    tab.on('websocket', (socket) => {
      if (new URL(socket.url()).host !== server.host) foreign.push(socket.url());
    });
    tab.on('console', (message) => {
      if (message.type() !== 'error') return;
      // Chromium logs every failed response; the login throttle's 429 (which the helper
      // waits out) is the server's doing, not the app's.
      const throttled = /status of 429/.test(message.text()) && /\/api\/auth\//.test(message.location().url);
      if (!throttled) errors.push(`${message.text()} (${message.location().url})`);
    });
  };
  watch(page);
  context.on('page', watch);

  const { email } = await signUp(page);
  await newChat(page);
  await send(page, 'Tell me about sessions', 'count-20-20');
  await expectCompleteReply(page, replies(page), 20);
  await send(page, 'And show some code', 'code');
  await expect(replies(page).last().getByRole('figure')).toBeVisible();
  await expect(button(page, 'Stop')).toBeHidden();

  // Branch, switch back, regenerate.
  await questions(page).first().getByRole('button', { name: 'Edit', exact: true }).click();
  await field(page, 'Edit message').fill('Tell me about cookies');
  await field(page, 'Model').fill('count-3-10');
  await button(page, 'Save and send').click();
  await expect(questions(page)).toHaveCount(1);
  await expectCompleteReply(page, replies(page), 3);
  await questions(page).getByRole('button', { name: 'Previous version' }).click();
  await expect(questions(page).first()).toContainText('Tell me about sessions');

  // Pin, tag, share, export.
  const actions = page.getByRole('group', { name: 'Chat actions' });
  await actions.getByRole('button', { name: 'Pin', exact: true }).click();
  await expect(actions.getByRole('button', { name: 'Unpin', exact: true })).toBeVisible();
  await actions.getByRole('button', { name: 'Tags', exact: true }).click();
  const tags = page.getByRole('dialog', { name: 'Tags' });
  await tags.getByLabel('Tags', { exact: true }).fill('work, e2e');
  await tags.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('list', { name: 'Tags' }).first()).toContainText('e2e');
  await actions.getByRole('button', { name: 'Share', exact: true }).click();
  const share = page.getByRole('dialog', { name: 'Share link' });
  const link = await share.getByRole('textbox').inputValue();
  expect(new URL(link).host).toBe(server.host);
  // The browser keeps the share's id (a read key of the chat) to offer Revoke.
  const sharesKept = () => page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('confab.shares.')));
  expect(await sharesKept()).toHaveLength(1);
  await share.getByRole('button', { name: 'Close' }).click();
  const download = page.waitForEvent('download');
  await page.getByRole('link', { name: 'Export' }).click();
  const exported = fs.readFileSync(await (await download).path(), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
  expect(exported.some((line) => line.chat?.name === 'Tell me about sessions')).toBe(true);

  // The share link opens the read-only view, without an account.
  const reader = await context.browser().newContext();
  const readerPage = await reader.newPage();
  watch(readerPage);
  await readerPage.goto(link);
  await expect(readerPage.getByText('Tell me about sessions').first()).toBeVisible();
  await reader.close();

  // Search, log out, log in.
  await field(page, 'Search').fill('sessions');
  await field(page, 'Search').press('Enter');
  await expect(page.getByRole('list', { name: 'Results' }).locator('mark').first()).toHaveText(/sessions/i);
  await button(page, 'Log out').click();
  await expect(field(page, 'Email')).toBeVisible();
  expect(await sharesKept(), 'share ids kept after logout').toEqual([]);
  const answer = await submitCredentials(page, 'Log in', email, PASSWORD);
  expect(answer.status()).toBe(200);
  await expect(button(page, 'Log out')).toBeVisible();

  expect(requests.length).toBeGreaterThan(10);
  expect(foreign, 'requests to other hosts').toEqual([]);
  expect(errors, 'console errors').toEqual([]);
});
