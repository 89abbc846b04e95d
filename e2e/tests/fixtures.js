// The test object every spec uses: Playwright's, with a guard that fails a test when
// any page of its browser context throws an uncaught error.
const base = require('@playwright/test');

const test = base.test.extend({
  context: async ({ context }, use) => {
    const thrown = [];
    const watch = (page) => page.on('pageerror', (error) => thrown.push(`${page.url()}: ${error.message}`));
    context.pages().forEach(watch);
    context.on('page', watch);
    await use(context);
    base.expect(thrown, 'uncaught errors in the page').toEqual([]);
  },
});

module.exports = { test, expect: base.expect };
