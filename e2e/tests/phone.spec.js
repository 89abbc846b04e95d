// 10. At a phone's width the chat list and the composer are usable, by keyboard too;
// Enter sends, Shift+Enter starts a new line.
const { test, expect } = require('./fixtures');
const { button, chatList, field, replies, questions, signUp, expectCompleteReply, snap } = require('./helpers');

test.use({ viewport: { width: 375, height: 740 }, hasTouch: true, isMobile: true });

/** Nothing sticks out sideways: the page never scrolls horizontally. */
async function expectNoSidewaysScroll(page) {
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    width: document.documentElement.clientWidth,
  }));
  expect(scroll).toBeLessThanOrEqual(width);
}

test('at 375 px the chat list opens behind a button and the composer sends with Enter', async ({ page }) => {
  await page.goto('/');
  await expect(field(page, 'Email')).toBeInViewport();
  await expectNoSidewaysScroll(page);
  await signUp(page);

  // On the home screen the chat list is the page; New chat by keyboard.
  await expect(button(page, 'New chat')).toBeInViewport();
  await expect(field(page, 'Search')).toBeInViewport();
  await expectNoSidewaysScroll(page);
  await button(page, 'New chat').focus();
  await page.keyboard.press('Enter');

  // The new chat fills the screen, the composer has focus.
  await expect(page).toHaveURL(/#\/chat\/\d+$/);
  const message = field(page, 'Message');
  await expect(message).toBeInViewport();
  await expect(message).toBeFocused();
  // In a chat the list is tucked away behind the Chats button.
  const menu = button(page, 'Chats');
  await expect(menu).toBeInViewport();
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
  await expect(button(page, 'New chat')).not.toBeInViewport();
  await field(page, 'Model').fill('count-6-20');
  await message.focus();
  await page.keyboard.type('First line');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second line');
  await expect(message).toHaveValue('First line\nsecond line');
  await expect(questions(page)).toHaveCount(0);
  await page.keyboard.press('Enter');
  await expect(questions(page)).toContainText('First line');
  await expect(questions(page)).toContainText('second line');
  await expect(message).toHaveValue('');
  await expectCompleteReply(page, replies(page), 6);
  await expect(button(page, 'Send')).toBeInViewport();
  await snap(page, 'phone-chat');
  await expectNoSidewaysScroll(page);

  // The list again, by keyboard: the chat is in it, and Escape closes it.
  await menu.focus();
  await page.keyboard.press('Enter');
  await expect(chatList(page).getByRole('link', { name: /First line/ })).toBeInViewport();
  await expect(menu).toHaveAttribute('aria-expanded', 'true');
  // Wholly in view: it has finished sliding in.
  await expect(page.getByRole('navigation', { name: 'Chats' })).toBeInViewport({ ratio: 1 });
  await snap(page, 'phone-chat-list');
  await expect(button(page, 'New chat')).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(button(page, 'New chat')).not.toBeInViewport();
  await expect(menu).toBeFocused();
  await expect(menu).toHaveAttribute('aria-expanded', 'false');
});
