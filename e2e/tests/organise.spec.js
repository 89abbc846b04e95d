// The chat list's own tools (SPEC §11): pinned first, tags and the tag filter, the
// Archived view, and deleting the last exchange of a chat.
const { test, expect } = require('./fixtures');
const { button, chatList, field, replies, questions, signUp, newChat, send, expectCompleteReply, snap } = require('./helpers');

async function chatWith(page, text) {
  await newChat(page);
  await send(page, text, 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);
}

const names = (page) => chatList(page).getByRole('listitem').filter({ has: page.getByRole('link') }).getByRole('link');

test('pin, tag, filter by tag, archive and unarchive chats in the list', async ({ page }) => {
  await signUp(page);
  await chatWith(page, 'Alpha plans');
  await chatWith(page, 'Beta notes');
  await chatWith(page, 'Gamma list');
  await expect(names(page)).toHaveText(['Gamma list', 'Beta notes', 'Alpha plans']);

  // Pinned first.
  await chatList(page).getByRole('button', { name: 'Pin Alpha plans' }).click();
  await expect(names(page)).toHaveText([/Alpha plans/, 'Gamma list', 'Beta notes']);
  await expect(chatList(page).getByRole('button', { name: 'Unpin Alpha plans' })).toBeVisible();

  // Tags, and the filter by tag.
  await chatList(page).getByRole('button', { name: 'Tags Beta notes' }).click();
  const tags = page.getByRole('dialog', { name: 'Tags' });
  await tags.getByRole('textbox').fill('work, later');
  await tags.getByRole('button', { name: 'Save' }).click();
  await expect(tags).toBeHidden();
  const betaItem = chatList(page).getByRole('listitem').filter({ has: page.getByRole('link', { name: 'Beta notes' }) });
  await expect(betaItem.getByRole('list', { name: 'Tags' })).toContainText('work');
  await page.getByRole('combobox', { name: 'Tag' }).selectOption('work');
  await expect(names(page)).toHaveText(['Beta notes']);
  await page.getByRole('combobox', { name: 'Tag' }).selectOption('');
  await expect(names(page)).toHaveCount(3);

  // Archived chats leave the list for the Archived view, and come back.
  await chatList(page).getByRole('button', { name: 'Archive Gamma list' }).click();
  await expect(names(page)).toHaveText([/Alpha plans/, 'Beta notes']);
  await button(page, 'Archived').click();
  await expect(names(page)).toHaveText(['Gamma list']);
  await chatList(page).getByRole('button', { name: 'Unarchive Gamma list' }).click();
  await expect(names(page)).toHaveCount(0);
  await button(page, 'Active').click();
  await expect(names(page)).toHaveText([/Alpha plans/, 'Gamma list', 'Beta notes']);

  // All of it is the server's: a reload shows the same.
  await page.reload();
  await expect(names(page)).toHaveText([/Alpha plans/, 'Gamma list', 'Beta notes']);
  await expect(betaItem.getByRole('list', { name: 'Tags' })).toContainText('later');
  await page.getByRole('link', { name: 'confab', exact: true }).click();
  await expect(page.getByText('Pick a chat from the list')).toBeVisible();
  await snap(page, 'chat-list');
});

test('delete last exchange removes the last question and its answer', async ({ page }) => {
  await signUp(page);
  await chatWith(page, 'Keep this question');
  await send(page, 'Drop this question', 'count-3-10');
  await expect(questions(page)).toHaveCount(2);
  await expectCompleteReply(page, replies(page).last(), 3);

  await button(page, 'Delete last exchange').click();
  await page.getByRole('dialog', { name: 'Delete last exchange' }).getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(questions(page)).toHaveCount(1);
  await expect(questions(page)).toContainText('Keep this question');
  await expectCompleteReply(page, replies(page), 2);
  await page.reload();
  await expect(questions(page)).toHaveCount(1);
  await expect(replies(page)).toHaveCount(1);
  await expect(field(page, 'Message')).toBeVisible();
});
