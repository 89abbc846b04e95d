// 5. Editing a user message makes a new branch, the arrows move between branches, and
// regenerating a reply makes a sibling of it.
const { test, expect } = require('./fixtures');
const { button, field, replies, questions, signUp, newChat, send, expectCompleteReply } = require('./helpers');

test('edit makes a branch, arrows flip between branches, regenerate makes a sibling', async ({ page }) => {
  await signUp(page);
  await newChat(page);
  await send(page, 'the first question', 'count-3-20');
  await expectCompleteReply(page, replies(page), 3);

  // Edit the question: a second version of it, answered anew.
  await questions(page).getByRole('button', { name: 'Edit', exact: true }).click();
  await field(page, 'Edit message').fill('the second question');
  await field(page, 'Model').fill('count-5-20');
  await button(page, 'Save and send').click();
  await expect(questions(page)).toHaveCount(1);
  await expect(questions(page)).toContainText('the second question');
  await expectCompleteReply(page, replies(page), 5);
  const versions = questions(page).getByRole('group', { name: /^Version/ });
  await expect(versions).toContainText('2/2');
  await expect(replies(page).getByRole('group', { name: /^Version/ })).toHaveCount(0);

  // Back to the first branch: its question and its own reply.
  await questions(page).getByRole('button', { name: 'Previous version' }).click();
  await expect(versions).toContainText('1/2');
  await expect(questions(page)).toContainText('the first question');
  await expectCompleteReply(page, replies(page), 3);

  // Regenerate that reply: a sibling, now shown, numbered 2/2; the old one is 1/2.
  await field(page, 'Model').fill('count-4-20');
  await replies(page).getByRole('button', { name: 'Regenerate', exact: true }).click();
  await expectCompleteReply(page, replies(page), 4);
  const replyVersions = replies(page).getByRole('group', { name: /^Version/ });
  await expect(replyVersions).toContainText('2/2');
  await expect(questions(page)).toContainText('the first question');
  await replies(page).getByRole('button', { name: 'Previous version' }).click();
  await expect(replyVersions).toContainText('1/2');
  await expectCompleteReply(page, replies(page), 3);

  // The branches are the server's: a reload shows the branch left current.
  await page.reload();
  await expect(questions(page)).toContainText('the first question');
  await expect(replies(page).getByRole('group', { name: /^Version/ })).toContainText('1/2');
  await questions(page).getByRole('button', { name: 'Next version' }).click();
  await expect(questions(page)).toContainText('the second question');
  await expectCompleteReply(page, replies(page), 5);
});
