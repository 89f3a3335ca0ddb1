/**
 * core.aggregate and core.denormalize in the editor's inspector: their forms come from the node types'
 * JSON Schemas, so this checks the schemas render into usable controls in a real Chromium — enums as
 * dropdowns, `measures` as a list the user can add to, the denormalize `mode` switching the fields and
 * the node's input ports (lookup: `in`; nest: `parent` and `child`).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

/** draws a wire from a node's output handle to another node's input handle, with the mouse */
async function wire(page: Page, from: string, to: string, port = 'out'): Promise<void> {
  const a = await page.locator(`[data-testid="node-${from}"] .react-flow__handle.source[data-handleid="${port}"]`).boundingBox();
  const b = await page.locator(`[data-testid="node-${to}"] .react-flow__handle.target`).first().boundingBox();
  if (!a || !b) throw new Error(`handles of ${from} → ${to} not found`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

async function dropFromPalette(page: Page, type: string, x: number, y: number): Promise<void> {
  await page.getByTestId(`palette-${type}`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
}

describe.skipIf(!chromium.available)('inspector forms of the stateful nodes (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;

  beforeAll(async () => {
    editor = await openEditor({ waitFor: 'core.aggregate' });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('aggregate: groupBy and measures are editable lists, fn a dropdown; the configured node test-runs', async () => {
    await dropFromPalette(page, 'core.generate', 150, 200);
    await dropFromPalette(page, 'core.aggregate', 500, 200);
    await page.getByTestId('node-aggregate_1').waitFor();
    await wire(page, 'generate_1', 'aggregate_1');
    await page.getByTestId('node-generate_1').click();
    await page.getByTestId('inspector').getByRole('spinbutton', { name: /^count$/i }).fill('50');

    await page.getByTestId('node-aggregate_1').click();
    const form = page.getByTestId('inspector').locator('form');
    // groupBy: an empty list with an Add button
    await form.locator('#cfg_aggregate_1_groupBy > .add-btn').click();
    await form.locator('#cfg_aggregate_1_groupBy_0').fill('country');
    // measures: the first item is there; fn is a dropdown of every function
    const fn = form.locator('select#cfg_aggregate_1_measures_0_fn');
    expect(await fn.locator('option').allTextContents()).toEqual(['', 'count', 'sum', 'avg', 'min', 'max', 'first', 'last', 'countDistinct', 'collect', 'custom']);
    await form.locator('#cfg_aggregate_1_measures_0_name').fill('total');
    await fn.selectOption({ label: 'sum' });
    await form.locator('#cfg_aggregate_1_measures_0_field').fill('amount');
    await form.locator('#cfg_aggregate_1_measures > .add-btn').click();
    await form.locator('#cfg_aggregate_1_measures_1_name').fill('orders');
    await form.locator('select#cfg_aggregate_1_measures_1_fn').selectOption({ label: 'count' });
    // the window type is a dropdown too
    expect(await form.locator('select#cfg_aggregate_1_window_type option').allTextContents()).toEqual(['none', 'tumbling', 'hopping', 'session']);

    // the form's values reach the flow: a test run groups by country with both measures
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => page.getByTestId('preview-status').textContent()).toContain('finished');
    await page.getByTestId('node-aggregate_1').click();
    await page.getByTestId('preview-row').first().waitFor();
    const headers = await page.locator('[data-testid="preview-table"] .t-head .t-cell').allTextContents();
    expect(headers).toEqual(expect.arrayContaining(['country', 'total', 'orders']));
    const col = headers.indexOf('orders');
    const rows = await page.getByTestId('preview-row').count();
    let counted = 0;
    for (let i = 0; i < rows; i++) counted += Number(await page.getByTestId('preview-row').nth(i).locator('.t-cell').nth(col).textContent());
    expect(counted).toBe(50);
  });

  it('denormalize: mode is a dropdown that switches the fields and the input handles (lookup: in; nest: parent, child)', async () => {
    await dropFromPalette(page, 'core.denormalize', 600, 450);
    await page.getByTestId('node-denormalize_1').click();
    const form = page.getByTestId('inspector').locator('form');
    const mode = form.locator('select#cfg_denormalize_1__oneof_select');
    expect(await mode.locator('option').allTextContents()).toEqual(['lookup', 'nest']);
    expect(await form.locator('select#cfg_denormalize_1_onMissing option').allTextContents()).toEqual(['keep', 'drop', 'error']);
    expect(await form.locator('select#cfg_denormalize_1_from__oneof_select option').allTextContents()).toEqual(['sqlite', 'mysql', 'postgres', 'mongodb']);
    const handles = () => page.locator('[data-testid="node-denormalize_1"] .react-flow__handle.target').evaluateAll((els) => els.map((e) => e.getAttribute('data-handleid')));
    await expect.poll(handles).toEqual(['in']);
    await mode.selectOption({ label: 'nest' });
    await expect.poll(handles).toEqual(['parent', 'child']);
    await form.locator('#cfg_denormalize_1_parentKey').fill('id');
    await form.locator('#cfg_denormalize_1_childKey').fill('order_id');
    expect(await form.locator('#cfg_denormalize_1_onMissing').count()).toBe(0);
  });
});
