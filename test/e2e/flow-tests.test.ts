/**
 * Flow tests in the editor, real Chromium against a real server: a test run saved as a test ("Save as
 * test") passes when run; after the map code is changed and saved it fails, the Tests tab names the
 * sink, the record and the field, and the sink that differs is marked on the canvas with the first
 * difference in its tooltip; a passing run clears the mark. axe-core finds nothing critical or serious.
 * The exported flow and its FLOW.tests.yaml imported together through the Import dialog open on the
 * Tests tab with the test, which passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

const GOOD = '(v) => ({ n: v.n, twice: v.n * 2 })';
const CHANGED = '(v) => ({ n: v.n, twice: v.n === 3 ? 7 : v.n * 2 })';

const flow = {
  apiVersion: 'sluice/v1',
  name: 'tested',
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 5 }, position: { x: 0, y: 0 } },
    { id: 'fn', type: 'core.map', config: { code: GOOD }, position: { x: 300, y: 0 } },
    { id: 'out', type: 'file.sink', config: { path: './out-tested.jsonl' }, position: { x: 600, y: 0 } },
  ],
  edges: [
    { from: 'gen', to: 'fn' },
    { from: 'fn', to: 'out' },
  ],
};

const text = async (l: ReturnType<Page['getByTestId']>) => (await l.textContent()) ?? '';

describe.skipIf(!chromium.available)('flow tests in the editor (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;

  beforeAll(async () => {
    editor = await openEditor({ waitFor: false });
    ({ server, page } = editor);
    const res = await server.fetch('/api/flows', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(flow) });
    expect(res.status).toBe(201);
  }, 180_000);

  afterAll(() => editor?.close());

  it('saves a test run as a test, and it passes', async () => {
    await page.goto(`${server.url}/#/flow/tested`);
    await page.getByTestId('node-fn').waitFor();
    await page.getByTestId('tab-tests').click();
    // nothing to save before a test run
    expect(await page.getByTestId('test-save').isDisabled()).toBe(true);
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => text(page.getByTestId('preview-status')), { timeout: 30_000 }).toContain('finished');
    await page.getByTestId('tab-tests').click();
    await page.getByTestId('test-name').fill('doubles');
    await page.getByTestId('test-save').click();
    const row = page.getByTestId('test-row-doubles');
    await row.waitFor();
    expect(await text(row)).toContain('gen 5');
    expect(await text(row)).toContain('out 5');
    await page.getByTestId('test-run-doubles').click();
    await expect.poll(() => text(row), { timeout: 30_000 }).toContain('passed');
    expect(await page.locator('.flow-node.test-failed').count()).toBe(0);
  });

  it('fails after the map code changed: names the sink, record and field, and marks the node', async () => {
    await page.getByTestId('node-fn').click();
    const code = page.locator('[data-testid="code-field"] .cm-content');
    await code.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(CHANGED);
    await expect.poll(() => code.textContent()).toBe(CHANGED);
    await page.getByTestId('btn-save').click();
    await expect.poll(() => text(page.getByTestId('flow-version'))).toBe('v2');

    await page.getByTestId('tab-tests').click();
    await page.getByTestId('test-run-doubles').click();
    const result = page.getByTestId('test-result-doubles');
    await result.waitFor({ timeout: 30_000 });
    const diff = await text(result);
    expect(diff).toContain('failed');
    expect(diff).toContain('sink out: 1 difference');
    expect(diff).toMatch(/record n=3: field twice: expected 6, got 7/);

    // the sink that differs is outlined, its tooltip says the first difference; the others are not
    await expect.poll(() => page.getByTestId('node-out').getAttribute('class')).toContain('test-failed');
    expect(await page.getByTestId('node-fn').getAttribute('class')).not.toContain('test-failed');
    const mark = page.getByTestId('node-test-out');
    expect(await mark.getAttribute('aria-label')).toMatch(/test doubles: record n=3: field twice: expected 6, got 7/);
    await mark.hover();
    await expect.poll(() => mark.locator('[role="tooltip"]').isVisible()).toBe(true);
    expect(await axeProblems(page)).toEqual([]);
  });

  it('a passing run clears the mark', async () => {
    await page.getByTestId('node-fn').click();
    const code = page.locator('[data-testid="code-field"] .cm-content');
    await code.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(GOOD);
    await page.getByTestId('btn-save').click();
    await expect.poll(() => text(page.getByTestId('flow-version'))).toBe('v3');
    await page.getByTestId('tab-tests').click();
    await page.getByTestId('tests-run-all').click();
    await expect.poll(() => text(page.getByTestId('test-row-doubles')), { timeout: 30_000 }).toContain('passed');
    await expect.poll(() => page.locator('.flow-node.test-failed').count()).toBe(0);
  });

  it('imports the exported flow with its tests file: the Tests tab opens on the test, and it passes', async () => {
    const exported = (await (await server.fetch('/api/flows/tested/export')).text()).replace(/^name: tested$/m, 'name: tested-copy');
    const tests = await (await server.fetch('/api/flows/tested/tests?format=yaml')).text();
    await page.getByTestId('tab-preview').click();
    await page.getByTestId('btn-import').click();
    await page.getByTestId('import-text').fill(exported);
    await page.getByTestId('import-dialog').getByText('Tests (optional)').click();
    await page.getByTestId('import-tests-text').fill(tests);
    await page.getByTestId('import-submit').click();
    await expect.poll(() => text(page.getByTestId('flow-name'))).toBe('tested-copy');
    const row = page.getByTestId('test-row-doubles');
    await row.waitFor();
    await page.getByTestId('test-run-doubles').click();
    await expect.poll(() => text(row), { timeout: 30_000 }).toContain('passed');
  });
});
