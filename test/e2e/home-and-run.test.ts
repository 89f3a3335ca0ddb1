/**
 * The home page, a deployed flow's canvas, and what a test run shows, in a real Chromium against a real
 * server: the editor lands on the list of flows (deployment state, records/s, errors; search, open,
 * duplicate, delete with confirmation); a deployed flow opens read-only with a marker saying where it
 * runs until Edit; a sink says it would create a table that does not exist yet; a transform's input
 * and output side by side; `value.` completes with the fields of the last test run.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, ensureEditorBuilt, launchChromium } from '../helpers/browser.js';
import { signInBrowser } from '../helpers/auth.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

const flow = (name: string, table: string, extra: { count?: number; rate?: number; description?: string } = {}) => ({
  apiVersion: 'sluice/v1',
  name,
  ...(extra.description ? { description: extra.description } : {}),
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count: extra.count ?? 20, ...(extra.rate ? { rate: extra.rate } : {}) }, position: { x: 80, y: 200 } },
    { id: 'shape', type: 'core.map', config: { code: '(value) => ({ id: value.id, total: value.amount })' }, position: { x: 340, y: 200 } },
    { id: 'out', type: 'sqlite.sink', config: { path: 'home-e2e.db', table, keys: ['id'] }, position: { x: 600, y: 200 } },
  ],
  edges: [
    { from: 'gen', to: 'shape' },
    { from: 'shape', to: 'out' },
  ],
});

describe.skipIf(!chromium.available)('home page, deployed canvas and test-run views (Chromium + real server)', () => {
  let server: ServerProcess;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  const post = async (path: string, body: unknown) => {
    const res = await server.fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status, `${path}: ${await res.clone().text()}`).toBeLessThan(300);
    return res;
  };

  beforeAll(async () => {
    ensureEditorBuilt();
    server = await startServer();
    await post('/api/flows', flow('alpha-orders', 'alpha_totals', { description: 'orders into alpha' }));
    await post('/api/flows', flow('beta-stream', 'beta_totals', { count: 1_000_000, rate: 200 }));
    await post('/api/flows/beta-stream/deploy', {});
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    await signInBrowser(context, server.url);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.setDefaultTimeout(15_000);
  }, 180_000);

  afterAll(async () => {
    await server?.fetch('/api/flows/beta-stream/stop', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).catch(() => undefined);
    await browser?.close();
    await server?.stop();
    if (server) rmSync(server.cwd, { recursive: true, force: true });
  });

  it('lands on the home page: every flow with its deployment state, records/s and errors', async () => {
    await page.goto(`${server.url}/`);
    await page.getByTestId('home-page').waitFor();
    for (const name of ['alpha-orders', 'beta-stream', 'orders-demo']) await page.getByTestId(`home-row-${name}`).waitFor();
    expect(await page.getByTestId('home-state-alpha-orders').textContent()).toBe('not deployed');
    await expect.poll(() => page.getByTestId('home-state-beta-stream').textContent(), { timeout: 10_000 }).toMatch(/running v1 on this server|running v1/);
    // the rate arrives with the status; it is refreshed every 2 s
    await expect.poll(async () => Number((await page.getByTestId('home-rate-beta-stream').textContent())!.replace(/,/g, '')), { timeout: 15_000 }).toBeGreaterThan(0);
    expect(await page.getByTestId('home-errors-beta-stream').textContent()).toBe('0');
    expect(await page.getByTestId('home-rate-alpha-orders').textContent()).toBe('—');
    expect(await axeProblems(page)).toEqual([]);
  });

  it('the Cluster page says the server runs without --cluster', async () => {
    await page.getByTestId('nav-cluster').click();
    expect(await page.getByTestId('cluster-single').textContent()).toContain('started without --cluster');
    await page.getByTestId('nav-home').click();
    await page.getByTestId('home-row-beta-stream').waitFor();
  });

  it('searches by name or description', async () => {
    await page.getByTestId('home-search').fill('into alpha');
    await page.getByTestId('home-row-beta-stream').waitFor({ state: 'detached' });
    expect(await page.locator('[data-testid^="home-row-"]').count()).toBe(1);
    await page.getByTestId('home-search').fill('');
    await page.getByTestId('home-row-beta-stream').waitFor();
  });

  it('duplicates a flow under a new name, and deletes one after confirmation', async () => {
    await page.getByTestId('home-duplicate-alpha-orders').click();
    await page.getByTestId('home-row-alpha-orders-copy').waitFor();
    const copy = (await (await server.fetch('/api/flows/alpha-orders-copy')).json()) as { document: { nodes: { id: string }[] } };
    expect(copy.document.nodes.map((n) => n.id)).toEqual(['gen', 'shape', 'out']);

    await page.getByTestId('home-delete-alpha-orders-copy').click();
    const dialog = page.getByTestId('confirm-delete');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain('cannot be undone');
    expect(await axeProblems(page)).toEqual([]);
    await page.keyboard.press('Escape'); // cancelled: nothing deleted
    await dialog.waitFor({ state: 'detached' });
    expect((await server.fetch('/api/flows/alpha-orders-copy')).status).toBe(200);

    await page.getByTestId('home-delete-alpha-orders-copy').click();
    await page.getByTestId('btn-confirm-delete').click();
    await page.getByTestId('home-row-alpha-orders-copy').waitFor({ state: 'detached' });
    expect((await server.fetch('/api/flows/alpha-orders-copy')).status).toBe(404);
  });

  it('a deployed flow opens read-only, says where it runs, and unlocks on Edit', async () => {
    await page.getByTestId('home-open-beta-stream').click();
    await page.getByTestId('node-shape').waitFor();
    const banner = page.getByTestId('deployed-banner');
    await banner.waitFor();
    expect(await page.getByTestId('runs-on').textContent()).toBe('on this server');
    expect(await banner.textContent()).toContain('read-only');
    expect(await page.getByTestId('canvas').getAttribute('class')).toContain('read-only');
    await page.getByTestId('node-shape').click();
    const fieldsetDisabled = () => page.getByTestId('inspector').locator('fieldset.plain-fieldset').first().evaluate((el) => (el as unknown as { disabled: boolean }).disabled);
    expect(await fieldsetDisabled()).toBe(true);
    await page.getByTestId('deployed-note').waitFor();
    // no wiring "+" on a locked canvas; the palette adds nothing
    expect(await page.getByTestId('add-after-shape').count()).toBe(0);
    expect(await axeProblems(page)).toEqual([]);

    await page.getByTestId('btn-edit-deployed').click();
    await expect.poll(() => banner.textContent(), { timeout: 5000 }).toContain('deploy again');
    expect(await page.getByTestId('canvas').getAttribute('class')).not.toContain('read-only');
    expect(await fieldsetDisabled()).toBe(false);
    await page.getByTestId('add-after-shape').waitFor();
  });

  it('a sink says it would create a table that does not exist yet; once it exists, what it would write', async () => {
    await page.goto(`${server.url}/#/flow/alpha-orders`);
    await page.getByTestId('node-out').waitFor();
    for (let run = 0; run < 2; run++) {
      // twice: the first test run created nothing
      await page.getByTestId('btn-test-run').click();
      await expect.poll(() => page.getByTestId('preview-status').textContent(), { timeout: 20_000 }).toMatch(/finished/);
      await page.getByTestId('node-out').click();
      await page.getByTestId('records-tab-would').click();
      await expect.poll(() => page.getByTestId('would-write').textContent(), { timeout: 5000 }).toMatch(/^would create table alpha_totals and insert 20 rows/);
      await page.getByTestId('canvas').click({ position: { x: 700, y: 60 } });
    }
    // beta-stream has been writing beta_totals in the same file: that table exists
    await page.goto(`${server.url}/#/flow/beta-stream`);
    await page.getByTestId('node-out').waitFor();
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => page.getByTestId('preview-status').textContent(), { timeout: 20_000 }).toMatch(/finished/);
    await page.getByTestId('node-out').click();
    await page.getByTestId('records-tab-would').click();
    await expect.poll(() => page.getByTestId('would-write').textContent(), { timeout: 5000 }).toMatch(/^would write: \d+ inserts/);
  });

  it("shows a transform's input and output side by side", async () => {
    await page.goto(`${server.url}/#/flow/alpha-orders`);
    await page.getByTestId('node-shape').waitFor();
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => page.getByTestId('preview-status').textContent(), { timeout: 20_000 }).toMatch(/finished/);
    await page.getByTestId('node-shape').click();
    await page.getByTestId('records-tab-side').click();
    const input = page.getByTestId('records-side-in');
    const output = page.getByTestId('records-side-out');
    await input.getByTestId('preview-row').first().waitFor();
    await output.getByTestId('preview-row').first().waitFor();
    // the input has the generated fields, the output the mapped ones
    expect(await input.locator('.t-head').textContent()).toContain('customer_id');
    expect(await output.locator('.t-head').textContent()).toContain('total');
    expect(await output.locator('.t-head').textContent()).not.toContain('customer_id');
    const a = await input.boundingBox();
    const b = await output.boundingBox();
    expect(Math.abs(a!.y - b!.y)).toBeLessThan(2); // beside, not below
    expect(b!.x).toBeGreaterThan(a!.x + a!.width - 2);
    expect(await axeProblems(page)).toEqual([]);
  });

  it('the code editor completes value. with the fields of the last test run', async () => {
    // the map node is selected and the test run above reached it
    const code = page.locator('[data-testid="code-field"] .cm-content');
    await code.click();
    await page.keyboard.press('Control+End');
    await page.keyboard.type(' // value.cust');
    const tooltip = page.locator('.cm-tooltip-autocomplete');
    await tooltip.waitFor();
    expect(await tooltip.textContent()).toContain('customer_id');
    await tooltip.getByRole('option', { name: /customer_id/ }).click();
    await expect.poll(() => code.textContent(), { timeout: 5000 }).toContain('// value.customer_id');
    // only after value.: a plain word offers nothing
    await page.keyboard.type(' amou');
    await page.waitForTimeout(300);
    expect(await tooltip.count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
