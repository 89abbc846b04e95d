// End-to-end tests of the web app served at `/` by a real confab server.
// The server is never started here: CI (and run-local.sh) start it and pass its
// address in CONFAB_URL, with the LLM double as provider and
// `--llm-default-model count-30-40`.
const { defineConfig } = require('@playwright/test');

if (!process.env.CONFAB_URL) {
  throw new Error('CONFAB_URL is not set: start a server (or use ./run-local.sh) and set it');
}

module.exports = defineConfig({
  testDir: './tests',
  // One worker on a two-core CI machine; a flaky test is a bug, so no retries.
  workers: 1,
  retries: 0,
  fullyParallel: false,
  forbidOnly: true,
  timeout: 30_000,
  globalTimeout: 170_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  // Separate folders when several runs share this checkout (CI runs one per database).
  outputDir: process.env.E2E_OUTPUT_DIR || './test-results',
  use: {
    baseURL: process.env.CONFAB_URL,
    actionTimeout: 10_000,
    navigationTimeout: 15_000,
    trace: 'off',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
