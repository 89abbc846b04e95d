// 6. The search box finds a message with its matched word highlighted, and the hit
// opens that chat at that message.
const { test, expect } = require('./fixtures');
const crypto = require('node:crypto');
const { field, replies, questions, allMessages, chatList, signUp, newChat, send, expectCompleteReply, snap } =
  require('./helpers');

test('search highlights the matched word and opens the chat at the message', async ({ page }) => {
  const { userId } = await signUp(page);
  const word = `zebra${crypto.randomBytes(3).toString('hex')}`;
  const other = `otter${crypto.randomBytes(3).toString('hex')}`;

  const first = await newChat(page);
  await send(page, `Where does the ${word} live?`, 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);
  // Enough messages after it that the chat opens scrolled away from it.
  const more = Array.from({ length: 16 }, (_, i) => ({
    role: i % 2 ? 'assistant' : 'user',
    content: `Filler message number ${i} with a few more words to take up some room.\n\nA second paragraph.`,
  }));
  const posted = await page.request.post(`/api/users/${userId}/chats/${first}/messages`, { data: { messages: more } });
  expect(posted.status()).toBe(200);

  await newChat(page);
  await send(page, `What does the ${other} eat?`, 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);

  await field(page, 'Search').fill(word);
  await field(page, 'Search').press('Enter');
  const results = page.getByRole('list', { name: 'Results' });
  const hits = results.getByRole('listitem');
  // The message, and the chat's name that was made from it; nothing of the other chat.
  await expect(hits.first()).toBeVisible();
  await expect(results).not.toContainText(other);
  const hit = hits.filter({ hasText: `Where does the ${word} live?` }).filter({ hasText: 'You' });
  await expect(hit).toHaveCount(1);
  await expect(hit.locator('mark')).toHaveText(word);
  await expect(hit.getByRole('link')).toHaveText(`Where does the ${word} live?`);
  await snap(page, 'search-results');

  await hit.getByRole('link').click();
  await expect(page).toHaveURL(new RegExp(`#/chat/${first}\\?m=\\d+$`));
  const target = questions(page).filter({ hasText: `Where does the ${word} live?` });
  await expect(target).toBeInViewport();
  await expect(target).toBeFocused();
  await expect(allMessages(page)).toHaveCount(18);
  // The last message is out of view: the chat was opened at the hit, not at its end.
  await expect(allMessages(page).last()).not.toBeInViewport();
  await expect(chatList(page).getByRole('link', { name: `Where does the ${word} live?` })).toHaveAttribute('aria-current', 'page');
});
