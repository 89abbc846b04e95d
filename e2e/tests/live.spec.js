// 8. A message sent in one tab appears, with its streamed reply, in another tab of the
// same chat without a reload.
const { test, expect } = require('./fixtures');
const { chatList, replies, questions, signUp, newChat, send, expectCompleteReply, countWords } = require('./helpers');

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
  await send(page, 'And hello again', 'count-40-50');
  await expect(questions(other)).toHaveCount(2);
  await expect(questions(other).last()).toContainText('And hello again');
  // The reply streams into the other tab as it is written, then ends complete there.
  await expect(replies(other)).toHaveCount(2);
  await expect.poll(async () => (await countWords(replies(other).last())).length).toBeGreaterThan(0);
  await expect(replies(other).last()).toContainText('Writing…');
  await expectCompleteReply(page, replies(page).last(), 40);
  await expectCompleteReply(other, replies(other).last(), 40);

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
