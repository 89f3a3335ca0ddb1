/**
 * axe-core on every page and panel of the editor, in a real Chromium against a real server: no critical
 * and no serious violation on the sign-in page, the empty editor, the inspector of every node type, the
 * node picker, the preview, logs and problems panels after a test run, the flows dialog, and the
 * connections, users, audit, home and cluster pages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

describe.skipIf(!chromium.available)('accessibility: axe-core on every page and panel (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    editor = await openEditor({ waitFor: false });
    ({ server, browser, context, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('the sign-in page', async () => {
    const anonymous = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const p = await anonymous.newPage();
    await p.goto(`${server.url}/`);
    await p.locator('form').first().waitFor();
    expect(await axeProblems(p)).toEqual([]);
    await anonymous.close();
  });

  it('the empty editor', async () => {
    await page.goto(`${server.url}/#/`);
    await page.getByTestId('palette-core.generate').waitFor();
    expect(await axeProblems(page)).toEqual([]);
  });

  it('the inspector of every node type', async () => {
    const types = await page.locator('[data-testid^="palette-"][role="button"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('palette-'.length)));
    const problems: Record<string, unknown> = {};
    for (const type of types) {
      await page.getByTestId('canvas').click({ position: { x: 700, y: 30 } });
      await page.getByTestId(`palette-${type}`).press('Enter');
      await page.getByTestId('inspector').locator('form').or(page.getByTestId('inspector').getByText('This node has no settings.')).first().waitFor();
      const found = await axeProblems(page, '[data-testid="inspector"]');
      if (found.length) problems[type] = found;
    }
    expect(problems).toEqual({});
  });

  it('the canvas with nodes, the node picker, and the panels after a test run', async () => {
    await page.goto(`${server.url}/#/`);
    await page.reload();
    await page.getByTestId('palette-core.generate').dblclick();
    await page.getByTestId('add-after-generate_1').click();
    await page.getByTestId('node-picker').waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await page.getByTestId('pick-core.select').click();
    await page.getByTestId('btn-test-run').click();
    await page.getByTestId('preview-row').first().waitFor();
    expect(await axeProblems(page)).toEqual([]);
    for (const tab of ['tab-logs', 'tab-problems', 'tab-tests']) {
      await page.getByTestId(tab).click();
      expect(await axeProblems(page), tab).toEqual([]);
    }
  });

  it('the flows dialog', async () => {
    await page.getByTestId('btn-flows').click();
    await page.getByTestId('flow-list').waitFor();
    expect(await axeProblems(page)).toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('the connections, users, audit, home and cluster pages', async () => {
    for (const [route, testId] of [
      ['connections', 'connections-page'],
      ['users', 'users-page'],
      ['audit', 'audit-page'],
      ['home', 'home-page'],
      ['cluster', 'cluster-page'],
    ]) {
      await page.goto(`${server.url}/#/${route}`);
      await page.getByTestId(testId).waitFor();
      expect(await axeProblems(page), route).toEqual([]);
    }
  });
});
