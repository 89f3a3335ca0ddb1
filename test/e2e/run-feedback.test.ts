/**
 * Feedback on the canvas and in the status line, in a real Chromium against a real server: `?` opens
 * the shortcut sheet; a test run in which every record failed says so rather than "finished"; each node
 * shows a one-line summary of its config.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

describe.skipIf(!chromium.available)('run feedback, shortcut sheet and node summaries (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;

  beforeAll(async () => {
    editor = await openEditor();
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('? opens the shortcut sheet, Escape closes it', async () => {
    await page.getByTestId('canvas').click({ position: { x: 600, y: 40 } });
    await page.keyboard.press('?');
    const sheet = page.getByTestId('shortcut-sheet');
    await sheet.waitFor();
    expect(await sheet.textContent()).toContain('add a node after the selected one');
    expect(await axeProblems(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await sheet.waitFor({ state: 'detached' });
  });

  it('a test run where every record failed says so in the status line', async () => {
    await page.getByTestId('palette-core.generate').dblclick();
    await page.getByTestId('add-after-generate_1').click();
    await page.getByTestId('pick-core.map').click();
    const code = page.locator('[data-testid="code-field"] .cm-content');
    await code.click();
    await page.keyboard.insertText("(value) => { throw new Error('no ' + value.id) }");
    await page.getByTestId('btn-test-run').click();
    const line = page.getByTestId('run-failed-records');
    await line.waitFor();
    expect(await line.textContent()).toMatch(/records failed: map_1 100 of 100/);
    expect(await page.getByTestId('preview-status').textContent()).not.toMatch(/finished\. Nothing/);
  });

  it('each node shows a one-line summary of its config', async () => {
    await expect.poll(() => page.getByTestId('node-summary-generate_1').textContent()).toBe('dataset: orders');
    await page.getByTestId('node-map_1').click();
    await page.getByTestId('add-after-map_1').click();
    await page.getByTestId('pick-sqlite.sink').click();
    const form = page.getByTestId('inspector').locator('form');
    await form.locator('#cfg_sqlite_sink_1_table').fill('totals');
    await expect.poll(() => page.getByTestId('node-summary-sqlite_sink_1').textContent()).toBe('table: totals');
  });
});
