// 7. Deleting a chat: at once when no other tab has it open; explained and confirmed
// when another tab does (the server's 409), and that tab is told. Cancelled, the chat
// stays live, with what changed while the question was asked.
const { test, expect } = require('./fixtures');
const { button, chatList, replies, questions, signUp, newChat, send, expectCompleteReply, snap } = require('./helpers');

const dialog = (page, name) => page.getByRole('dialog', { name, exact: true });

test('a chat open nowhere else is deleted and leaves the list', async ({ page }) => {
  await signUp(page);
  await newChat(page);
  await send(page, 'Short-lived chat', 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);
  await newChat(page);
  await send(page, 'The chat that stays', 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);
  await chatList(page).getByRole('link', { name: 'Short-lived chat' }).click();
  await expect(questions(page)).toContainText('Short-lived chat');

  await button(page, 'Delete chat').click();
  await dialog(page, 'Delete chat').getByRole('button', { name: 'Delete chat' }).click();
  await expect(page.getByRole('status')).toContainText('Deleted');
  // Deleted at the first answer: no other tab had it open, so nothing to explain.
  await expect(dialog(page, 'This chat is in use')).toHaveCount(0);
  await expect(chatList(page).getByRole('link', { name: 'Short-lived chat' })).toHaveCount(0);
  await expect(chatList(page).getByRole('link', { name: 'The chat that stays' })).toBeVisible();
  await expect(page).not.toHaveURL(/#\/chat\//);

  // Gone on the server too.
  await page.reload();
  await expect(chatList(page).getByRole('link', { name: 'The chat that stays' })).toBeVisible();
  await expect(chatList(page).getByRole('link', { name: 'Short-lived chat' })).toHaveCount(0);
});

test('a chat open in another tab: the 409 is explained, cancelling keeps it, confirming deletes it, the other tab is told', async ({
  context,
  page,
}) => {
  const { userId } = await signUp(page);
  const chatId = await newChat(page);
  await send(page, 'Open in two tabs', 'count-2-10');
  await expectCompleteReply(page, replies(page), 2);

  const other = await context.newPage();
  await other.goto(page.url());
  await expect(questions(other)).toContainText('Open in two tabs');
  // Back to the first tab (a tab in the background runs no animation frames). The other
  // tab's live connection is up once it sees a change made here.
  await page.bringToFront();
  await send(page, 'Are you there?', 'count-2-10');
  await expect(questions(other)).toHaveCount(2);
  await expectCompleteReply(page, replies(page).last(), 2);

  // Cancelled at the second question: this tab watches the chat again and shows what was
  // posted while it was asked (its own live connection was closed meanwhile).
  const inUse = dialog(page, 'This chat is in use');
  await button(page, 'Delete chat').click();
  await dialog(page, 'Delete chat').getByRole('button', { name: 'Delete chat' }).click();
  await expect(inUse).toBeVisible();
  const posted = await page.request.post(`/api/users/${userId}/chats/${chatId}/messages`, {
    data: { messages: [{ role: 'user', content: 'Posted while asking' }] },
  });
  expect(posted.status()).toBe(200);
  await expect(questions(other)).toHaveCount(3);
  await inUse.getByRole('button', { name: 'Cancel' }).click();
  await expect(inUse).toBeHidden();
  await expect(questions(page)).toHaveCount(3);
  await expect(questions(page).last()).toContainText('Posted while asking');

  await button(page, 'Delete chat').click();
  await dialog(page, 'Delete chat').getByRole('button', { name: 'Delete chat' }).click();
  await expect(inUse).toBeVisible();
  await expect(inUse).toContainText('This chat is open in another tab or a reply is being written. Delete it anyway?');
  await snap(page, 'delete-chat-in-use');
  // Nothing is deleted before the second answer.
  const listed = await (await page.request.get(`/api/users/${userId}/chats`)).json();
  expect(listed.chats.map((chat) => chat.id)).toContain(chatId);

  await inUse.getByRole('button', { name: 'Delete anyway' }).click();
  await expect(inUse).toBeHidden();
  await expect(chatList(page).getByRole('link', { name: 'Open in two tabs' })).toHaveCount(0);
  await expect(other.getByRole('alert')).toContainText('was deleted in another tab or on another device');
  await expect(other).not.toHaveURL(/#\/chat\//);
  await expect(chatList(other).getByRole('link', { name: 'Open in two tabs' })).toHaveCount(0);
});
