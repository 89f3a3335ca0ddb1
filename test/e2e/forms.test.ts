/**
 * The inspector's forms as a newcomer meets them, in a real Chromium against a real server: every node
 * type's form renders from its schema's UI hints without a number / string type picker and without a
 * problem shown before any input; the aggregate shows only the fields of the chosen window type and
 * measure function; problems appear once a field was touched or a save was asked for, in words, with the
 * raw path in the tooltip; a field name can be picked from the data of the last test run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

/** draws a wire from a node's output handle to another node's input handle, with the mouse */
async function wire(page: Page, from: string, to: string): Promise<void> {
  const a = await page.locator(`[data-testid="node-${from}"] .react-flow__handle.source[data-handleid="out"]`).boundingBox();
  const b = await page.locator(`[data-testid="node-${to}"] .react-flow__handle.target`).first().boundingBox();
  if (!a || !b) throw new Error(`handles of ${from} → ${to} not found`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 12 });
  await page.mouse.up();
}

/** option labels that name a JSON type rather than a choice the user understands */
const TYPE_WORDS = /^(integer|number|string|boolean|object|array|settings|Option \d+)$/i;

describe.skipIf(!chromium.available)('inspector forms from UI hints (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  /** the flow document the editor last sent for validation: what it holds, as the server sees it */
  let lastDoc: { nodes: { id: string; config: Record<string, unknown> }[]; edges: unknown[] } | null = null;
  const configOf = (id: string) => () => lastDoc?.nodes.find((n) => n.id === id)?.config;

  const inspector = () => page.getByTestId('inspector');
  const form = () => inspector().locator('form');
  /** adds a node from the palette (Enter on the item) and selects it */
  const add = async (type: string) => {
    await page.getByTestId(`palette-${type}`).press('Enter');
    await form().or(inspector().getByText('This node has no settings.')).first().waitFor();
  };

  beforeAll(async () => {
    editor = await openEditor({
      waitFor: 'core.aggregate',
      prepare: (p) => {
        p.on('request', (r) => {
          if (r.method() === 'POST' && r.url().endsWith('/api/flows/validate')) lastDoc = r.postDataJSON();
        });
      },
    });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('every node type: no type picker, no problem shown before input, every control named', async () => {
    const types = await page.locator('[data-testid^="palette-"][role="button"]').evaluateAll((els) => els.map((e) => e.getAttribute('data-testid')!.slice('palette-'.length)));
    expect(types.length).toBeGreaterThanOrEqual(10);
    for (const type of types) {
      await add(type);
      const options = await inspector().locator('select option').allTextContents();
      expect(options.filter((o) => TYPE_WORDS.test(o.trim())), `${type}: a type picker`).toEqual([]);
      expect(await inspector().locator('.field-error').count(), `${type}: a problem shown before any input`).toBe(0);
      const unnamed = await inspector()
        .locator('input:not([type=hidden]), select, textarea')
        .evaluateAll((els) => els.filter((el) => !(el as unknown as { labels?: { length: number } }).labels?.length && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')).map((el) => el.id));
      expect(unnamed, `${type}: controls without a name`).toEqual([]);
    }
    // back to an empty canvas
    await page.getByTestId('canvas').click({ position: { x: 600, y: 40 } });
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Delete');
    await expect.poll(() => page.locator('.react-flow__node').count()).toBe(0);
  });

  it('aggregate: the window type decides which durations show; a duration is one text box', async () => {
    await add('core.aggregate');
    const f = form();
    const id = (await page.locator('.react-flow__node.selected').getAttribute('data-id'))!;
    const size = f.locator(`#cfg_${id}_window_size`);
    expect(await size.count()).toBe(0);
    expect(await f.locator(`#cfg_${id}_window_time`).count()).toBe(0);
    await f.locator(`select#cfg_${id}_window_type`).selectOption('tumbling');
    await size.waitFor();
    expect(await f.locator(`#cfg_${id}_window_slide, #cfg_${id}_window_gap`).count()).toBe(0);
    await size.fill('30s');
    await f.locator(`select#cfg_${id}_window_type`).selectOption('hopping');
    await f.locator(`#cfg_${id}_window_slide`).fill('10000');
    // the document holds what was typed: text stays text, digits become a number
    const config = configOf(id);
    await expect.poll(config).toMatchObject({ window: { type: 'hopping', size: '30s', slide: 10000 } });
    // back to none: the durations go from the form and from the document
    await f.locator(`select#cfg_${id}_window_type`).selectOption('none');
    await expect.poll(() => size.count()).toBe(0);
    await expect.poll(() => (config() as { window?: Record<string, unknown> } | undefined)?.window).toEqual({ type: 'none' });
  });

  it('aggregate: the measure function decides its fields; problems wait for a touch or a save, in words', async () => {
    const id = (await page.locator('.react-flow__node.selected').getAttribute('data-id'))!;
    const f = form();
    // the first measure is there, empty, and says nothing yet although name and fn are required
    await f.locator(`#cfg_${id}_measures_0_name`).waitFor();
    await expect.poll(() => page.getByTestId(`node-issues-${id}`).count()).toBe(1);
    expect(await inspector().locator('.field-error').count()).toBe(0);
    const fn = f.locator(`select#cfg_${id}_measures_0_fn`);
    await fn.selectOption('custom');
    for (const k of ['add', 'remove', 'result']) await f.locator(`#cfg_${id}_measures_0_${k}`).waitFor();
    expect(await f.locator(`#cfg_${id}_measures_0_field`).count()).toBe(0);
    await fn.selectOption('sum');
    await f.locator(`#cfg_${id}_measures_0_field`).waitFor();
    expect(await f.locator(`#cfg_${id}_measures_0_add`).count()).toBe(0);
    // fn was touched, name was not: only a save shows the name's problem, in words, the raw path on hover
    expect(await inspector().locator('.field-error').allTextContents()).not.toContain(expect.stringContaining('Name'));
    await page.getByTestId('btn-save').click();
    const err = inspector().locator('.field-error', { hasText: 'Name is required' });
    await err.waitFor();
    expect(await err.getAttribute('title')).toBe(`nodes[${id}].config.measures[0].name`);
    expect(await inspector().locator('.field-error').allTextContents()).not.toContain(expect.stringMatching(/^required$|Invalid input/));
  });

  it('a field name is offered from the data that reached the node in the test run', async () => {
    const id = (await page.locator('.react-flow__node.selected').getAttribute('data-id'))!;
    await page.getByTestId('palette-core.generate').press('Enter');
    const gen = (await page.locator('.react-flow__node.selected').getAttribute('data-id'))!;
    await wire(page, gen, id);
    await page.getByTestId(`node-${id}`).click();
    await form().locator(`#cfg_${id}_measures_0_name`).fill('total');
    await form().locator(`select#cfg_${id}_measures_0_fn`).selectOption('count');
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => page.getByTestId('preview-status').textContent()).toContain('finished');
    await page.getByTestId(`node-${id}`).click();
    const input = form().locator(`#cfg_${id}_measures_0_field`);
    await input.waitFor();
    const offered = await form().locator(`datalist#cfg_${id}_measures_0_field__fields option`).evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value));
    expect(offered).toEqual(expect.arrayContaining(['amount', 'country', 'customer_id']));
    await input.fill('amount');
    await expect.poll(() => (configOf(id)() as { measures: { field?: string }[] } | undefined)?.measures[0].field).toBe('amount');
  });
});
