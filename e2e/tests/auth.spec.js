// 1. Sign up, log out, log in again; a wrong password shows an error.
const { test, expect } = require('./fixtures');
const { PASSWORD, field, button, signUp, submitCredentials, snap } = require('./helpers');

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
