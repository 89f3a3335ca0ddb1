/**
 * Signing in, in a real Chromium against a real server started without users: the one-time setup link
 * → the first admin's password → the editor, which runs under the server's Content-Security-Policy
 * (no violation while it loads, opens a node's form and test-runs); sign out → the sign-in page → in again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import { until } from '../helpers/cli.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

describe.skipIf(!chromium.available)('sign-in in the editor (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    editor = await openEditor({
      server: { admin: false },
      signIn: false,
      waitFor: false,
      // every Content-Security-Policy violation of the page, kept where the test can read it
      prepare: async (p) => {
        await p.addInitScript({
          content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
        });
        p.on('pageerror', (e) => pageErrors.push(e.message));
      },
    });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  const violations = () => page.evaluate('window.__csp') as Promise<string[]>;

  it('takes the setup link to the first admin’s password, then to the editor’s home page, signed in', async () => {
    await until(() => /setup\?token=/.test(server.output()), 5000, 'the setup link');
    const link = /(http:\/\/localhost:\d+\/setup\?token=[\w-]+)/.exec(server.output())![1];
    await page.goto(link);
    await page.getByTestId('setup-page').waitFor();
    await page.getByTestId('setup-password').fill('first-admin-pw');
    await page.getByTestId('setup-confirm').fill('first-admin-pw');
    await page.getByTestId('setup-submit').click();
    await page.getByTestId('home-page').waitFor(); // the editor lands on its home page
    expect(new URL(page.url()).pathname).toBe('/');
    expect(await page.getByTestId('current-user').textContent()).toBe('admin');
    // the link worked once
    const again = await fetch(`${server.url}/api/auth/setup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: new URL(link).searchParams.get('token'), password: 'another-password' }) });
    expect(again.status).toBe(409);
  });

  it('runs under the Content-Security-Policy: a node’s form opens and a test run shows records, no violation', async () => {
    await page.goto(`${new URL(page.url()).origin}/?open#/flow/orders-demo`);
    await page.getByTestId('node-add_tax').click();
    await page.getByTestId('inspector').locator('.cm-content, input').first().waitFor();
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => page.getByTestId('preview-status').textContent(), { timeout: 20_000 }).toMatch(/finished/); // 1.3–2.3 s on a loaded machine
    expect(await violations()).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it('changes the password from the toolbar, and stays signed in', async () => {
    await page.getByTestId('btn-password').click();
    await page.getByTestId('pw-current').fill('wrong-password');
    await page.getByTestId('pw-new').fill('second-admin-pw');
    await page.getByTestId('pw-confirm').fill('second-admin-pw');
    await page.getByTestId('pw-submit').click();
    expect(await page.getByTestId('pw-error').textContent()).toMatch(/wrong password/);
    await page.getByTestId('pw-current').fill('first-admin-pw');
    await page.getByTestId('pw-submit').click();
    await page.getByTestId('password-dialog').waitFor({ state: 'detached' });
    // the new session's CSRF token is in use: a write from the editor still works
    await page.getByTestId('btn-save').click();
    await expect.poll(() => page.getByTestId('notice').textContent()).toMatch(/Saved orders-demo as version 2/);
  });

  it('signs out to the sign-in page, refuses a wrong password, and signs in again', async () => {
    await page.getByTestId('btn-signout').click();
    await page.getByTestId('signin-page').waitFor();
    expect((await page.context().cookies()).filter((c) => c.name === 'sluice_session')).toEqual([]);
    await page.getByTestId('signin-user').fill('admin');
    await page.getByTestId('signin-password').fill('not-the-password');
    await page.getByTestId('signin-submit').click();
    expect(await page.getByTestId('signin-error').textContent()).toBe('wrong user name or password');
    await page.getByTestId('signin-password').fill('second-admin-pw');
    await page.getByTestId('signin-submit').click();
    await page.getByTestId('palette-core.generate').waitFor();
    expect(await violations()).toEqual([]);
  });
});
