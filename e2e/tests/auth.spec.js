// 1. Sign up, log out, log in again; a wrong password shows an error. Another tab's
// logout, or login as someone else, is followed in every tab.
const { test, expect } = require('./fixtures');
const { PASSWORD, field, button, signUp, submitCredentials, snap, uniqueEmail } = require('./helpers');

test('sign up, log out, a wrong password is refused, log in again', async ({ page }) => {
  await page.goto('/');
  await expect(field(page, 'Email')).toBeVisible();
  await expect(button(page, 'Log in')).toBeVisible();
  await expect(button(page, 'Sign up')).toBeVisible();
  await snap(page, 'login');

  const { email } = await signUp(page);
  await expect(page.getByText(email, { exact: true })).toBeVisible();
  await expect(button(page, 'New chat')).toBeVisible();

  // The session outlives a reload.
  await page.reload();
  await expect(button(page, 'Log out')).toBeVisible();

  await button(page, 'Log out').click();
  await expect(field(page, 'Email')).toBeVisible();
  await expect(button(page, 'New chat')).toBeHidden();
  // Logged out for real: a reload does not bring the chats back.
  await page.reload();
  await expect(field(page, 'Email')).toBeVisible();
  await expect(button(page, 'Log out')).toBeHidden();

  const refused = await submitCredentials(page, 'Log in', email, 'not the password');
  expect(refused.status()).toBe(401);
  await expect(page.getByRole('alert').filter({ hasText: 'Invalid email or password' })).toBeVisible();
  await expect(button(page, 'Log out')).toBeHidden();

  const accepted = await submitCredentials(page, 'Log in', email, PASSWORD);
  expect(accepted.status()).toBe(200);
  await expect(button(page, 'Log out')).toBeVisible();
  await expect(page.getByText(email, { exact: true })).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: 'Invalid email or password' })).toBeHidden();
});

test('signing up twice with one email says the email is taken', async ({ page }) => {
  const { email } = await signUp(page);
  await button(page, 'Log out').click();
  const answer = await submitCredentials(page, 'Sign up', email, PASSWORD);
  expect(answer.status()).toBe(409);
  await expect(page.getByRole('alert').filter({ hasText: /taken|already/i })).toBeVisible();
});

test('a logout and a login as someone else in another tab are followed here', async ({ context, page }) => {
  const { email } = await signUp(page);
  const other = await context.newPage();
  await other.goto('/');
  await expect(other.getByText(email, { exact: true })).toBeVisible();

  await button(other, 'Log out').click();
  await expect(field(other, 'Email')).toBeVisible();
  await expect(field(page, 'Email')).toBeVisible();
  await expect(button(page, 'Log out')).toBeHidden();

  const someoneElse = uniqueEmail('bob');
  const answer = await submitCredentials(other, 'Sign up', someoneElse, PASSWORD);
  expect(answer.status()).toBe(201);
  await expect(other.getByText(someoneElse, { exact: true })).toBeVisible();
  // This tab is theirs now too (the session cookie is shared): it shows who.
  await expect(page.getByText(someoneElse, { exact: true })).toBeVisible();
  await expect(page.getByText(email, { exact: true })).toBeHidden();
  await expect(button(page, 'Log out')).toBeVisible();
});
