/**
 * The admin pages and the viewer's read-only editor, in a real Chromium against a real server (started
 * with an admin): the admin adds a viewer and an editor, creates an API key (the key shown once works
 * with `Authorization: Bearer`, and answers 401 once revoked), cannot remove the last admin (the
 * server's message is shown); the Audit page lists these actions and filters by user and action; a
 * viewer cannot change the flow (a drop from the palette, Delete, Save: the flow on the server stays
 * as it was) and sees no Users/Audit; an editor sees no Users/Audit either. Every input of the new pages
 * has an accessible name.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import { signIn, signInBrowser } from '../helpers/auth.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();
const VIEWER = { user: 'vera', password: 'vera-password-1' };
const EDITOR = { user: 'ed', password: 'ed-password-12' };

/** the inputs, selects and textareas of the page that have no accessible name (label or aria-label) */
const unnamedControls = (page: Page) =>
  page.evaluate(`[...document.querySelectorAll('input, select, textarea')]
    .filter((el) => !el.labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby'))
    .map((el) => el.outerHTML.slice(0, 120))`) as Promise<string[]>;

describe.skipIf(!chromium.available)('Users & API keys, Audit, the viewer’s read-only editor (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let browser: Browser;
  let admin: Page;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];

  /** every page of this file keeps its Content-Security-Policy violations and errors where the test can read them, and says yes to confirmations (remove, revoke) */
  const watch = async (page: Page) => {
    await page.addInitScript({
      content: "window.__csp = []; document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));",
    });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => void d.accept());
  };

  const newPage = async (user?: { user: string; password: string }) => {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    contexts.push(context);
    await signInBrowser(context, server.url, user?.user, user?.password);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    await watch(page);
    return page;
  };

  beforeAll(async () => {
    editor = await openEditor({ prepare: watch });
    ({ server, browser, page: admin } = editor);
  }, 180_000);

  afterAll(async () => {
    for (const c of contexts) await c.close();
    await editor?.close();
  });

  it('adds a viewer and an editor from the Users page, and changes a role', async () => {
    await admin.getByTestId('btn-users').click();
    await admin.getByTestId('users-page').waitFor();
    await admin.getByTestId('user-admin').waitFor();
    const form = admin.getByRole('form', { name: 'Add a user' });
    const add = async (u: { user: string; password: string }, role: string) => {
      await form.getByLabel('Name').fill(u.user);
      await form.getByLabel('Role').selectOption(role);
      await form.getByLabel('Initial password').fill(u.password);
      await form.getByRole('button', { name: 'Add user' }).click();
      await admin.getByTestId(`user-${u.user}`).waitFor();
    };
    await add(VIEWER, 'viewer');
    await add(EDITOR, 'viewer');
    // ed becomes an editor from the list
    await admin.getByLabel(`Role of ${EDITOR.user}`).selectOption('editor');
    await admin.getByRole('button', { name: `Make ${EDITOR.user} an editor` }).click();
    await expect.poll(() => admin.getByTestId('users-message').textContent()).toMatch(/ed is now an editor/);
    const users = (await (await server.fetch('/api/users')).json()) as { name: string; role: string }[];
    expect(Object.fromEntries(users.map((u) => [u.name, u.role]))).toEqual({ admin: 'admin', vera: 'viewer', ed: 'editor' });
    expect(await unnamedControls(admin)).toEqual([]);
  });

  it('refuses removing or demoting the last admin and shows the server’s message', async () => {
    await admin.getByTestId('user-remove-admin').click();
    await expect.poll(() => admin.getByTestId('users-message').textContent()).toMatch(/only admin/i);
    expect(await admin.getByTestId('users-message').getAttribute('role')).toBe('alert');
    expect(((await (await server.fetch('/api/users')).json()) as { name: string }[]).map((u) => u.name)).toContain('admin');
    await admin.getByTestId('user-admin').waitFor();
    // nor demoting it: the list shows the role it kept
    await admin.getByLabel('Role of admin').selectOption('viewer');
    await admin.getByRole('button', { name: 'Make admin a viewer' }).click();
    await expect.poll(() => admin.getByTestId('users-message').textContent()).toMatch(/only admin/i);
    await expect.poll(() => admin.getByLabel('Role of admin').inputValue()).toBe('admin');
  });

  it('creates an API key shown once that works with Bearer, then revokes it (401)', async () => {
    const form = admin.getByRole('form', { name: 'Create an API key' });
    await form.getByLabel('For user').selectOption(VIEWER.user);
    await form.getByLabel('Label').fill('nightly export');
    await form.getByRole('button', { name: 'Create key' }).click();
    const field = admin.getByLabel(/The new key of vera/);
    await field.waitFor();
    const key = await field.inputValue();
    expect(key).toMatch(/^sluice_/);
    expect(await admin.getByTestId('new-key').textContent()).toMatch(/you will not see it again/);
    const bearer = { authorization: `Bearer ${key}` };
    expect((await fetch(`${server.url}/api/flows`, { headers: bearer })).status).toBe(200);
    // the list shows the key (without its secret), used just now
    const keys = (await (await server.fetch('/api/api-keys')).json()) as { id: string; user: string; label: string }[];
    const made = keys.find((k) => k.label === 'nightly export')!;
    expect(made.user).toBe(VIEWER.user);
    await admin.reload();
    await admin.getByTestId(`key-${made.id}`).waitFor();
    expect(await admin.getByTestId('users-page').textContent()).not.toContain(key); // shown once only
    await admin.getByTestId(`key-revoke-${made.id}`).click();
    await expect.poll(() => admin.getByTestId(`key-revoke-${made.id}`).count()).toBe(0);
    expect((await fetch(`${server.url}/api/flows`, { headers: bearer })).status).toBe(401);
    expect(await unnamedControls(admin)).toEqual([]);
  });

  it('lists these actions on the Audit page, newest first, and filters by user and action', async () => {
    await signIn(server.url, VIEWER.user, VIEWER.password); // an entry by vera herself
    await admin.goto(`${server.url}/#/`);
    await admin.getByTestId('btn-audit').click();
    await admin.getByTestId('audit-page').waitFor();
    const rows = async () =>
      admin.getByTestId('audit-row').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent ?? '')));
    await expect.poll(async () => (await rows()).length).toBeGreaterThan(3);
    const all = await rows();
    const actions = all.map((r) => `${r[2]} ${r[3]}`);
    for (const a of ['user.create vera', 'user.create ed', 'user.update ed', 'key.create', 'key.revoke', 'auth.signin vera']) expect(actions.some((x) => x.startsWith(a))).toBe(true);
    // newest first: vera's sign-in came last
    expect(actions[0]).toBe('auth.signin vera');
    const times = (await admin.getByTestId('audit-row').evaluateAll((trs) => trs.map((tr) => tr.querySelector('td')!.getAttribute('title')!))).map(Date.parse);
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    await admin.getByLabel('User').fill(VIEWER.user);
    await admin.getByTestId('audit-apply').click();
    await expect.poll(async () => (await rows()).every((r) => r[1] === VIEWER.user)).toBe(true);
    expect((await rows()).map((r) => r[2])).toContain('auth.signin');

    await admin.getByLabel('User').fill('admin');
    await admin.getByLabel('Action').fill('key');
    await admin.getByTestId('audit-apply').click();
    await expect.poll(async () => (await rows()).map((r) => r[2]).sort()).toEqual(['key.create', 'key.create', 'key.revoke']);
    // a time range after everything: nothing
    await admin.getByLabel('From').fill('2999-01-01T00:00:00');
    await admin.getByTestId('audit-apply').click();
    await expect.poll(async () => (await rows()).length).toBe(0);
    expect(await unnamedControls(admin)).toEqual([]);
    expect(await admin.evaluate('window.__csp')).toEqual([]);
  });

  it('shows 200 entries at a time, rendering only those in view, and older ones on demand', async () => {
    // 200 role changes: 200 more entries (ends as an editor again)
    for (let i = 0; i < 200; i++) {
      const res = await server.fetch(`/api/users/${EDITOR.user}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: i % 2 ? 'editor' : 'viewer' }) });
      expect(res.status).toBe(200);
    }
    await admin.getByRole('button', { name: 'Clear' }).click();
    await expect.poll(() => admin.getByTestId('audit-page').textContent()).toMatch(/200 entries/);
    const rendered = await admin.getByTestId('audit-row').count();
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(100); // virtualized
    await admin.getByTestId('audit-more').click();
    await expect.poll(() => admin.getByTestId('audit-page').textContent()).toMatch(/2\d\d entries/);
    expect(await admin.getByTestId('audit-more').count()).toBe(0); // everything is shown
  });

  it('shows a viewer the flow read-only: no drop, no delete, no save; no Users/Audit entries', async () => {
    const before = (await (await server.fetch('/api/flows/orders-demo')).json()) as { version: number; document: { nodes: unknown[] } };
    const viewer = await newPage(VIEWER);
    // the editor asks a viewer's server for nothing it would refuse (no validation, no connections)
    const refused: string[] = [];
    viewer.on('response', (r) => r.status() >= 400 && refused.push(`${r.status()} ${r.request().method()} ${r.url()}`));
    await viewer.goto(`${server.url}/#/flow/orders-demo`);
    await viewer.getByTestId('node-add_tax').waitFor();
    const nodes = () => viewer.locator('.react-flow__node').count();
    const count = await nodes();
    expect(await viewer.getByTestId('btn-users').count()).toBe(0);
    expect(await viewer.getByTestId('btn-audit').count()).toBe(0);
    expect(await viewer.getByTestId('btn-connections').count()).toBe(0);
    for (const id of ['btn-save', 'btn-deploy', 'btn-test-run', 'btn-import', 'btn-stop']) {
      expect(await viewer.getByTestId(id).isDisabled()).toBe(true);
      expect(await viewer.getByTestId(id).getAttribute('title')).toBe('Viewers cannot change flows');
    }

    // a drag from the palette adds nothing
    await viewer.getByTestId('palette-core.map').dragTo(viewer.getByTestId('canvas'), { targetPosition: { x: 300, y: 300 } });
    // a node dragged does not move (the drag pans the view instead): its place in the flow stays
    const placeOf = () => viewer.locator('.react-flow__node[data-id="add_tax"]').evaluate((el) => (el as unknown as { style: { transform: string } }).style.transform);
    const place = await placeOf();
    expect(place).toMatch(/translate/);
    const box = (await viewer.getByTestId('node-add_tax').boundingBox())!;
    await viewer.mouse.move(box.x + box.width / 2, box.y + 12);
    await viewer.mouse.down();
    await viewer.mouse.move(box.x + box.width / 2 + 150, box.y + 150, { steps: 8 });
    await viewer.mouse.up();
    expect(await placeOf()).toBe(place);
    // selected, its settings are shown disabled; Delete removes nothing
    await viewer.getByTestId('node-add_tax').click();
    await viewer.getByTestId('read-only-note').waitFor();
    expect(await viewer.getByTestId('node-id-input').isDisabled()).toBe(true);
    await viewer.keyboard.press('Delete');
    await viewer.keyboard.press('Control+s');
    await viewer.waitForTimeout(300);
    expect(await nodes()).toBe(count);
    expect(await viewer.getByTestId('node-add_tax').count()).toBe(1);
    expect(await viewer.getByTestId('dirty').count()).toBe(0);

    expect(refused).toEqual([]);
    const after = (await (await server.fetch('/api/flows/orders-demo')).json()) as typeof before;
    expect(after.version).toBe(before.version);
    expect(after.document).toEqual(before.document);
    // the pages themselves say they are for admins
    await viewer.goto(`${server.url}/#/users`);
    await viewer.getByTestId('admin-only').waitFor();
    expect(await viewer.getByTestId('users-page').count()).toBe(0);
  });

  it('shows an editor no Users/Audit entries, and leaves the flow editable', async () => {
    const editor = await newPage(EDITOR);
    await editor.goto(`${server.url}/#/flow/orders-demo`);
    await editor.getByTestId('node-add_tax').waitFor();
    expect(await editor.getByTestId('btn-users').count()).toBe(0);
    expect(await editor.getByTestId('btn-audit').count()).toBe(0);
    expect(await editor.getByTestId('btn-save').isDisabled()).toBe(false);
    await editor.getByTestId('node-add_tax').click();
    expect(await editor.getByTestId('node-id-input').isDisabled()).toBe(false);
    expect(pageErrors).toEqual([]);
  });
});
