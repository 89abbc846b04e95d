// 2-4. A reply streams in, survives a reload in the middle, and can be stopped. The
// replies last 8-10 s, so that a slow machine still sees them being written; a refused
// message shows the server's reason.
const { test, expect } = require('./fixtures');
const {
  button, chatList, field, replies, questions, signUp, newChat, send, countWords, firstWords,
  expectCompleteReply,
} = require('./helpers');

/** Waits for the reply to show more words than before, `times` times in a row, and
 * answers the counts seen (it is still being written when the last one is read). */
async function watchGrow(reply, times) {
  const seen = [];
  for (let i = 0; i < times; i += 1) {
    const before = seen.at(-1) ?? 0;
    await expect.poll(async () => (await countWords(reply)).length, { intervals: [50] }).toBeGreaterThan(before);
    seen.push((await countWords(reply)).length);
  }
  return seen;
}

test('a sent message gets a reply that streams in and ends complete', async ({ page }) => {
  await signUp(page);
  await newChat(page);
  await send(page, 'Count to two hundred, slowly', 'count-200-40');

  await expect(questions(page)).toHaveText(/Count to two hundred, slowly/);
  const reply = replies(page);
  await expect(reply).toHaveCount(1);
  await expect(reply).toContainText('Writing…');
  await expect(button(page, 'Stop')).toBeVisible();
  const seen = await watchGrow(reply, 4);
  expect(seen.at(-1), `the reply grew (${seen}) while still being written`).toBeLessThan(200);
  await expect(reply).toContainText('Writing…');

  await expectCompleteReply(page, reply, 200, { timeout: 20_000 });
  // The chat took its name from the first message.
  await expect(chatList(page).getByRole('link', { name: 'Count to two hundred, slowly' })).toBeVisible();
});

test('a reload in the middle of a reply resumes it to the full text', async ({ page }) => {
  await signUp(page);
  await newChat(page);
  await send(page, 'Keep counting while I reload', 'count-200-50');
  await expect.poll(async () => (await countWords(replies(page))).length).toBeGreaterThanOrEqual(5);

  await page.reload();
  const reply = replies(page);
  await expect(reply).toHaveCount(1);
  // Still being written after the reload, and it goes on growing here.
  await expect(reply).toContainText('Writing…');
  const seen = await watchGrow(reply, 2);
  expect(seen.at(-1)).toBeLessThan(200);

  // Every word once, in order: no delta shown twice, none lost.
  await expectCompleteReply(page, reply, 200, { timeout: 20_000 });
  await expect(questions(page)).toHaveCount(1);
  await page.reload();
  await expectCompleteReply(page, replies(page), 200);
});

test('Stop ends a reply, keeps its text and marks it stopped', async ({ page }) => {
  await signUp(page);
  await newChat(page);
  await send(page, 'Count for a long time', 'count-200-50');
  const reply = replies(page);
  await expect.poll(async () => (await countWords(reply)).length).toBeGreaterThanOrEqual(3);

  await button(page, 'Stop').click();
  await expect(reply).toContainText('Stopped');
  await expect(button(page, 'Stop')).toBeHidden();
  await expect(button(page, 'Send')).toBeEnabled();
  const kept = await countWords(reply);
  expect(kept.length).toBeGreaterThanOrEqual(3);
  expect(kept.length).toBeLessThan(200);
  expect(kept).toEqual(firstWords(kept.length));

  // The server kept the same text and status: a reload shows them again.
  await page.reload();
  await expect(replies(page)).toContainText('Stopped');
  await expect.poll(() => countWords(replies(page))).toEqual(kept);
  await expect(button(page, 'Stop')).toBeHidden();
});

test('a message the server refuses keeps its text, and the reason stays shown', async ({ page }) => {
  await signUp(page);
  await newChat(page);
  // Over --max-message-bytes (512 KiB), under the body limit: the generate route's 400.
  const text = 'x'.repeat(600 * 1024);
  const refused = page.waitForResponse((r) => r.url().endsWith('/generate'));
  // The chat list is read again once the request is over; that must not hide the error.
  const listed = page.waitForResponse((r) => /\/chats\?/.test(r.url()) && r.request().method() === 'GET');
  await field(page, 'Model').fill('count-2-10');
  await field(page, 'Message').fill(text);
  await button(page, 'Send').click();
  expect((await refused).status()).toBe(400);
  await listed;
  await expect(page.getByRole('alert')).toContainText('message must be at most 524288 bytes');
  await expect(questions(page)).toHaveCount(0);
  expect(await field(page, 'Message').evaluate((area) => area.value.length)).toBe(text.length);
  await expect(button(page, 'Send')).toBeEnabled();
});
