/**
 * The flow's settings form in a real Chromium against a real server: with no node selected, "Flow
 * settings" opens a form generated from GET /api/flow-settings; a batch size and a schedule typed there
 * are saved into the document, defaults left alone stay out of it, and a bad cron is refused on save
 * naming settings.schedule.cron. axe finds nothing critical or serious.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import { callJson, type ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

const flow = (name: string) => ({
  apiVersion: 'sluice/v1',
  name,
  settings: { batchSize: 20 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 10 }, position: { x: 0, y: 0 } },
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` }, position: { x: 300, y: 0 } },
  ],
  edges: [{ from: 'gen', to: 'out' }],
});

describe.skipIf(!chromium.available)('the flow settings form (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  const api = async (method: string, path: string, body?: unknown): Promise<any> => (await callJson(server, method, path, body)).json;

  beforeAll(async () => {
    editor = await openEditor({ waitFor: false });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('edits the batch size and adds a schedule; defaults stay out of the document', async () => {
    await api('POST', '/api/flows', flow('tuned'));
    await page.goto(`${server.url}/#/flow/tuned`);
    const panel = page.getByTestId('flow-settings');
    await panel.locator('summary').click();
    const batch = page.locator('#flow_settings_batchSize');
    await batch.waitFor();
    expect(await batch.inputValue()).toBe('20');
    await batch.fill('50');
    await page.locator('#flow_settings_schedule_cron').fill('*/5 * * * *');
    expect(await axeProblems(page)).toEqual([]);
    await page.keyboard.press('Control+s');
    await expect.poll(async () => (await api('GET', '/api/flows/tuned')).version, { timeout: 15_000 }).toBeGreaterThan(1);
    const saved = (await api('GET', '/api/flows/tuned')).document.settings;
    expect(saved).toEqual({ batchSize: 50, schedule: { cron: '*/5 * * * *' } });
  });

  it('a cron the server cannot read is refused on save, naming the field', async () => {
    await page.locator('#flow_settings_schedule_cron').fill('every hour');
    await page.keyboard.press('Control+s');
    await expect.poll(async () => (await page.locator('body').textContent()) ?? '', { timeout: 15_000 }).toMatch(/settings\.schedule\.cron/);
    expect((await api('GET', '/api/flows/tuned')).document.settings.schedule).toEqual({ cron: '*/5 * * * *' });
  });
});
