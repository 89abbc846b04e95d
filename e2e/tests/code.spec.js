// 9. A reply with a code block shows it as a highlighted code file with a Copy button.
const { test, expect } = require('./fixtures');
const { button, replies, signUp, newChat, send, expectCompleteReply, countWords, snap } = require('./helpers');

test('a code reply shows a highlighted file that Copy puts on the clipboard', async ({ context, page }) => {
  await context.grantPermissions(['clipboard-read', 'clipboard-write']);
  await signUp(page);
  await newChat(page);
  await send(page, 'Count to twelve', 'count-12-30');
  await expectCompleteReply(page, replies(page), 12);
  await send(page, 'Show me some Python', 'code');

  const reply = replies(page).last();
  await expect(reply).toContainText('Here you go:');
  await expect(reply).toContainText('Done.');
  await expect(button(page, 'Stop')).toBeHidden();
  const file = reply.getByRole('figure');
  await expect(file).toHaveCount(1);
  await expect(file).toContainText('snippet-1.py');
  await expect(file).toContainText('python');
  const code = file.locator('pre');
  await expect(code).toHaveText("print('hi')");
  // Highlighted: the string is drawn in another colour than the code around it.
  const string = code.locator('span', { hasText: "'hi'" });
  await expect(string).toHaveCount(1);
  const colours = await string.evaluate((span) => [getComputedStyle(span).color, getComputedStyle(span.closest('pre')).color]);
  expect(colours[0]).not.toBe(colours[1]);
  await snap(page, 'chat-with-code');

  const copy = file.getByRole('button', { name: 'Copy' });
  await expect(copy).toBeVisible();
  await copy.click();
  await expect(page.getByRole('status')).toContainText('Copied');
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe("print('hi')\n");
  expect(await countWords(replies(page).first())).toHaveLength(12);
});
