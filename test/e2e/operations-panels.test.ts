/**
 * The Positions and Dead letters tabs in a real Chromium against a real server. Positions: a completed
 * deployment's source position in words; a rewind typed, reviewed (what it replays) and applied; the
 * history names who did it; a running flow's positions cannot be changed. Dead letters: filtered,
 * replayed after the fix, discarded. axe-core finds nothing critical or serious.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import { callJson, type ServerProcess } from '../helpers/server-process.js';
import { TEST_ADMIN } from '../helpers/auth.js';

const chromium = chromiumAvailable();

const flow = (name: string, gen: Record<string, unknown>, code?: string) => ({
  apiVersion: 'sluice/v1',
  name,
  settings: { batchSize: 20 },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', ...gen }, position: { x: 0, y: 0 } },
    ...(code ? [{ id: 'fn', type: 'core.map', config: { code }, position: { x: 300, y: 0 } }] : []),
    { id: 'out', type: 'file.sink', config: { path: `./out-${name}.jsonl` }, position: { x: 600, y: 0 } },
  ],
  edges: code
    ? [
        { from: 'gen', to: 'fn' },
        { from: 'fn', to: 'out' },
      ]
    : [{ from: 'gen', to: 'out' }],
});

describe.skipIf(!chromium.available)('the Positions and Dead letters tabs (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  const api = async (method: string, path: string, body?: unknown): Promise<any> => (await callJson(server, method, path, body)).json;

  beforeAll(async () => {
    editor = await openEditor({ waitFor: false });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('shows where the source resumes, and rewinds it after a review that says what is read again', async () => {
    await api('POST', '/api/flows', flow('rew', { count: 120 }));
    await api('POST', '/api/flows/rew/deploy', {});
    await expect.poll(async () => (await api('GET', '/api/flows/rew/status')).status, { timeout: 30_000 }).toBe('completed');
    await page.goto(`${server.url}/#/flow/rew`);
    await page.getByTestId('tab-positions').click();
    const row = page.getByTestId('position-gen');
    await expect.poll(() => row.textContent()).toContain('after record 120');

    await page.getByTestId('position-input-gen').fill('after record 100');
    await page.getByTestId('positions-review').click();
    const confirm = page.getByTestId('positions-confirm');
    await confirm.waitFor();
    expect(await confirm.textContent()).toMatch(/gen: after record 120 → after record 100\. rewind: the records after the new position, up to the old one, are read again/);
    expect(await axeProblems(page)).toEqual([]);
    // the review changed nothing
    expect((await api('GET', '/api/flows/rew/positions')).sources[0].position).toBe(120);

    await page.getByTestId('positions-apply').click();
    await expect.poll(() => row.textContent()).toContain('after record 100');
    expect((await api('GET', '/api/flows/rew/positions')).sources[0].position).toBe(100);
    await page.getByTestId('positions-history').locator('summary').click();
    expect(await page.getByTestId('positions-history').textContent()).toContain(`set by ${TEST_ADMIN.user}: gen → after record 100`);
  });

  it('a bad position is answered in words, and a running flow cannot be changed', async () => {
    await page.getByTestId('position-input-gen').fill('soon');
    await page.getByTestId('positions-review').click();
    await expect.poll(() => page.getByTestId('positions-error').textContent()).toMatch(/positions\.gen: "soon" is not a core\.generate position/);

    await api('POST', '/api/flows', flow('live', { count: 1_000_000, rate: 200 }));
    await api('POST', '/api/flows/live/deploy', {});
    await page.goto(`${server.url}/#/flow/live`);
    await page.getByTestId('tab-positions').click();
    await expect.poll(() => page.getByTestId('position-input-gen').isDisabled()).toBe(true);
    expect(await page.getByTestId('positions-panel').textContent()).toContain('Pause or stop the flow to change its positions.');
    await api('POST', '/api/flows/live/stop', {});
  });

  it('dead letters: filtered by error, the fixed ones replayed, one discarded', async () => {
    await api('POST', '/api/flows', flow('dl', { count: 40 }, "(v) => { if (v.n % 10 === 0) throw new Error('tens ' + v.n); return v }"));
    await api('POST', '/api/flows/dl/deploy', {});
    await expect.poll(async () => (await api('GET', '/api/flows/dl/status')).status, { timeout: 30_000 }).toBe('completed');
    const v = (await api('GET', '/api/flows/dl')).version;
    await api('PUT', '/api/flows/dl', { baseVersion: v, document: flow('dl', { count: 40 }, '(v) => ({ ...v, fixed: true })') });
    await api('POST', '/api/flows/dl/deploy', {});
    await expect.poll(async () => (await api('GET', '/api/flows/dl/status')).version, { timeout: 30_000 }).toBe(v + 1);
    const letters: { id: number; record: { value: { n: number } } }[] = await api('GET', '/api/flows/dl/dead-letters');
    const id = (n: number) => letters.find((l) => l.record.value.n === n)!.id;

    await page.goto(`${server.url}/#/flow/dl`);
    await page.getByTestId('tab-dead-letters').click();
    const panel = page.getByTestId('dead-letters-panel');
    await expect.poll(() => panel.locator('tbody tr').count()).toBe(4);
    await page.getByTestId('dl-filter-error').fill('TENS 2');
    await expect.poll(() => panel.locator('tbody tr').count()).toBe(1);
    expect(await panel.locator('tbody').textContent()).toContain('{"n":20}');
    await page.getByTestId('dl-filter-error').fill('');
    await expect.poll(() => panel.locator('tbody tr').count()).toBe(4);
    expect(await axeProblems(page)).toEqual([]);

    await page.getByTestId(`dl-check-${id(10)}`).check();
    await page.getByTestId(`dl-check-${id(20)}`).check();
    await page.getByTestId('dl-replay').click();
    await expect.poll(() => page.getByTestId('dl-result').textContent()).toBe('Replayed 2: 2 went through.');
    await expect.poll(() => panel.locator('tbody tr').count()).toBe(2);
    await page.getByTestId(`dl-check-${id(30)}`).check();
    await page.getByTestId('dl-discard').click();
    await expect.poll(() => page.getByTestId('dl-result').textContent()).toBe('Discarded 1.');
    expect((await api('GET', '/api/flows/dl/dead-letters')).map((l: { record: { value: { n: number } } }) => l.record.value.n)).toEqual([40]);
  });

  it('schedule: the next start times and the runs with their counts', async () => {
    const doc = { ...flow('sched', { count: 7 }), settings: { batchSize: 20, schedule: { cron: '*/2 * * * * *', timezone: 'UTC' } } };
    await api('POST', '/api/flows', doc);
    await page.goto(`${server.url}/#/flow/sched`);
    await page.getByTestId('tab-schedule').click();
    await expect.poll(() => page.getByTestId('schedule-none').textContent()).toContain('is not deployed on a schedule');
    await api('POST', '/api/flows/sched/deploy', {});
    const runs = page.getByTestId('schedule-runs');
    await expect.poll(() => runs.locator('tbody tr').count(), { timeout: 20_000 }).toBeGreaterThanOrEqual(2);
    expect(await page.getByTestId('schedule-panel').textContent()).toContain('*/2 * * * * * in UTC, each run reading every source from its beginning');
    expect((await page.getByTestId('schedule-next').textContent())!.split('·').length).toBe(5);
    await expect.poll(() => runs.locator('tbody tr').last().textContent()).toMatch(/completed\s*7\s*0$/);
    expect(await axeProblems(page)).toEqual([]);
    await api('POST', '/api/flows/sched/stop', {});
  });
});
