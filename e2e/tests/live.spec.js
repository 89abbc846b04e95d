// 8. A message sent in one tab appears, with its streamed reply, in another tab of the
// same chat without a reload; a Stop in one tab ends the reply in both.
const { test, expect } = require('./fixtures');
const { button, chatList, replies, questions, signUp, newChat, send, expectCompleteReply, countWords, firstWords } =
  require('./helpers');

test('a message sent in one tab shows up live in another tab of the chat', async ({ context, page }) => {
  await signUp(page);
  await newChat(page);
  await send(page, 'Hello from the first tab', 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);

  const other = await context.newPage();
  await other.goto(page.url());
  await expect(questions(other)).toHaveCount(1);
  // A mark that a reload or a navigation would wipe out.
  await other.evaluate(() => (window.stillTheSamePage = true));
  let loads = 0;
  other.on('load', () => (loads += 1));

  await page.bringToFront();
  // 10 s long: it is still being written when the other tab is looked at, and stopped.
  await send(page, 'And hello again', 'count-200-50');
  await expect(questions(other)).toHaveCount(2);
  await expect(questions(other).last()).toContainText('And hello again');
  // The reply streams into the other tab as it is written.
  await expect(replies(other)).toHaveCount(2);
  await expect.poll(async () => (await countWords(replies(other).last())).length).toBeGreaterThan(0);
  await expect(replies(other).last()).toContainText('Writing…');
  // Stopped here, it ends there too, with the same words.
  await button(page, 'Stop').click();
  await expect(replies(page).last()).toContainText('Stopped');
  const kept = await countWords(replies(page).last());
  expect(kept).toEqual(firstWords(kept.length));
  await expect(replies(other).last()).toContainText('Stopped');
  await expect.poll(() => countWords(replies(other).last())).toEqual(kept);
  await expect(button(other, 'Stop')).toBeHidden();

  // A rename in one tab shows in the other's header and list.
  await page.getByRole('group', { name: 'Chat actions' }).getByRole('button', { name: 'Rename' }).click();
  const rename = page.getByRole('dialog', { name: 'Rename chat' });
  await rename.getByLabel('Name', { exact: true }).fill('Greetings');
  await rename.getByRole('button', { name: 'Save' }).click();
  await expect(other.getByRole('heading', { name: 'Greetings', level: 2 })).toBeVisible();
  await expect(chatList(other).getByRole('link', { name: 'Greetings' })).toBeVisible();

  expect(loads).toBe(0);
  expect(await other.evaluate(() => window.stillTheSamePage)).toBe(true);
});
