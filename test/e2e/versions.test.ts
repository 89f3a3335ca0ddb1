/**
 * Versions from the flow's own page, in a real Chromium against a real server: a save keeps the message
 * typed beside Save and the signed-in user; the version badge opens the open flow's versions with who
 * saved each, why and the exact time; two versions compare node by node; an old one is restored as a
 * new version that says so; the home page shows the last change and by whom.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';

const chromium = chromiumAvailable();
const NAME = 'versions-e2e-editor';

const flow = (count: number) => ({
  apiVersion: 'sluice/v1',
  name: NAME,
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count }, position: { x: 80, y: 200 } },
    { id: 'keep', type: 'core.filter', config: { code: '(value) => true' }, position: { x: 340, y: 200 } },
  ],
  edges: [{ from: 'gen', to: 'keep' }],
});

describe.skipIf(!chromium.available)('versions with author and message (Chromium + real server)', () => {
  let s: EditorSession;

  beforeAll(async () => {
    s = await openEditor();
    const json = { 'content-type': 'application/json' };
    expect((await s.server.fetch('/api/flows', { method: 'POST', headers: json, body: JSON.stringify(flow(10)) })).status).toBe(201);
    const put = await s.server.fetch(`/api/flows/${NAME}`, { method: 'PUT', headers: json, body: JSON.stringify({ baseVersion: 1, document: flow(25), message: 'more orders' }) });
    expect(put.status, await put.clone().text()).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await s?.close();
  });

  it('saves with a message, lists who saved each version, why and when, compares and restores from the flow page', async () => {
    const { page } = s;
    await page.goto(`${s.server.url}/#/flow/${NAME}`);
    await page.getByTestId('node-gen').waitFor();
    expect(await page.getByTestId('flow-version').textContent()).toBe('v2');
    // nothing in the toolbar covers the name, the version or the state (the toolbar is full at 1440 px)
    const covered = (await page.evaluate(`['flow-name', 'flow-version', 'save-message', 'btn-save'].filter((id) => {
      const el = document.querySelector('[data-testid="' + id + '"]');
      const r = el.getBoundingClientRect();
      const top = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
      return !top || !el.contains(top);
    })`)) as string[];
    expect(covered).toEqual([]);

    await page.getByTestId('save-message').fill('checked the filter');
    await page.getByTestId('btn-save').click();
    await expect.poll(() => page.getByTestId('flow-version').textContent(), { timeout: 10_000 }).toBe('v3');
    expect(await page.getByTestId('save-message').inputValue()).toBe(''); // used once, then cleared

    await page.getByTestId('flow-version').click();
    const dialog = page.getByTestId('flow-versions');
    await dialog.waitFor();
    await page.getByTestId('version-3').waitFor();
    expect(await page.getByTestId('version-author-3').textContent()).toBe('admin');
    expect(await page.getByTestId('version-message-3').textContent()).toBe('checked the filter');
    expect(await page.getByTestId('version-message-2').textContent()).toBe('more orders');
    expect(await page.getByTestId('version-message-1').textContent()).toBe('—');
    // the exact time: to the second on screen, to the millisecond in the tooltip
    expect(await page.getByTestId('version-time-3').textContent()).toMatch(/\d{2}:\d{2}:\d{2}/);
    expect(await page.getByTestId('version-time-3').getAttribute('title')).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    // only this flow's versions: no list of flows beside them
    expect(await dialog.getByTestId('btn-new-flow').isVisible()).toBe(false);
    expect(await axeProblems(page)).toEqual([]);

    await page.getByLabel('pick version 1').check();
    await page.getByLabel('pick version 2').check();
    await page.getByTestId('btn-compare').click();
    await page.getByTestId('diff-node-gen').waitFor();
    expect(await page.getByTestId('diff-node-gen').textContent()).toContain('count');

    await page.getByTestId('restore-1').click();
    await expect.poll(() => page.getByTestId('flow-version').textContent(), { timeout: 10_000 }).toBe('v4');
    const versions = (await (await s.server.fetch(`/api/flows/${NAME}/versions`)).json()) as { version: number; author: string; message: string }[];
    expect(versions[0]).toMatchObject({ version: 4, author: 'admin', message: 'restored version 1' });
    const v4 = (await (await s.server.fetch(`/api/flows/${NAME}`)).json()) as { document: { nodes: { config: { count?: number } }[] } };
    expect(v4.document.nodes[0].config.count).toBe(10);
  });

  it('the home page shows the last change and by whom', async () => {
    const { page } = s;
    await page.goto(`${s.server.url}/#/home`);
    await page.getByTestId(`home-row-${NAME}`).waitFor();
    expect(await page.getByTestId(`home-changed-${NAME}`).textContent()).toMatch(/by admin$/);
  });
});
