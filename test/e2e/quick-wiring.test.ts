/**
 * Quick wiring in a real Chromium against a real server: generate → map → filter → aggregate → SQLite
 * sink built with the "+" on each output and the node picker, every click, key press and typing session
 * counted (target: at most 15); a wire dropped on empty canvas opens the picker and the chosen node is
 * added there, wired; adding from the palette with a node selected wires it after the selection; W
 * wires the selected node to the next with the keyboard; nodes added without a position never overlap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

type Doc = { nodes: { id: string; type: string; position?: { x: number; y: number } }[]; edges: { from: string; to: string; fromPort?: string; toPort?: string }[] };

describe.skipIf(!chromium.available)('quick wiring (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  /** the flow document the editor last sent for validation */
  let lastDoc: Doc | null = null;
  /** user interactions: each click, key press and typing session */
  let interactions = 0;

  const click = async (testId: string) => {
    interactions++;
    await page.getByTestId(testId).click();
  };
  const dblclick = async (testId: string) => {
    interactions++;
    await page.getByTestId(testId).dblclick();
  };
  const press = async (key: string) => {
    interactions++;
    await page.keyboard.press(key);
  };
  const type = async (text: string) => {
    interactions++;
    await page.keyboard.insertText(text);
  };
  const chain = () => (lastDoc?.edges ?? []).map((e) => `${e.from}→${e.to}`);
  const overlapping = async () =>
    page.locator('.react-flow__node').evaluateAll((els) => {
      const boxes = els.map((e) => e.getBoundingClientRect());
      let n = 0;
      for (let i = 0; i < boxes.length; i++)
        for (let j = i + 1; j < boxes.length; j++) {
          const a = boxes[i];
          const b = boxes[j];
          if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) n++;
        }
      return n;
    });

  beforeAll(async () => {
    editor = await openEditor({
      prepare: (p) => {
        p.on('request', (r) => {
          if (r.method() === 'POST' && r.url().endsWith('/api/flows/validate')) lastDoc = r.postDataJSON();
        });
      },
    });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('builds generate → map → filter → aggregate → SQLite sink in at most 15 interactions', async () => {
    await dblclick('palette-core.generate');
    await page.getByTestId('node-generate_1').waitFor();
    // the "+" on the output, then the node in the picker: two interactions per node, wired and placed
    await click('add-after-generate_1');
    await click('pick-core.map');
    await page.getByTestId('node-map_1').waitFor();
    await click('add-after-map_1');
    await click('pick-core.filter');
    await page.getByTestId('node-filter_1').waitFor();
    // the picker by keyboard: N on the selected node, type to filter, Enter
    await press('n');
    await page.getByTestId('node-picker-search').waitFor();
    await type('aggreg');
    await press('Enter');
    await page.getByTestId('node-aggregate_1').waitFor();
    await click('add-after-aggregate_1');
    await click('pick-sqlite.sink');
    await page.getByTestId('node-sqlite_sink_1').waitFor();

    await expect.poll(chain).toEqual(['generate_1→map_1', 'map_1→filter_1', 'filter_1→aggregate_1', 'aggregate_1→sqlite_sink_1']);
    expect(await page.locator('.react-flow__edge').count()).toBe(4);
    // placed left to right, none on top of another
    const xs = ['generate_1', 'map_1', 'filter_1', 'aggregate_1', 'sqlite_sink_1'].map((id) => lastDoc!.nodes.find((n) => n.id === id)!.position!.x);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
    expect(await overlapping()).toBe(0);
    expect(interactions).toBeLessThanOrEqual(15);
  });

  it('a wire dropped on empty canvas opens the picker; the chosen node is added there, wired', async () => {
    await page.getByTestId('btn-fit').click();
    // the fit is animated: the handle is where it stays once two reads agree
    const handle = page.locator('[data-testid="node-generate_1"] .react-flow__handle.source');
    let before = '';
    await expect.poll(async () => {
      const now = JSON.stringify(await handle.boundingBox());
      const same = now === before;
      before = now;
      return same;
    }).toBe(true);
    const a = (await handle.boundingBox())!;
    await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
    await page.mouse.down();
    await page.mouse.move(a.x + 120, a.y + 260, { steps: 10 });
    await page.mouse.up();
    await page.getByTestId('node-picker').waitFor();
    await page.keyboard.insertText('select');
    await page.keyboard.press('Enter');
    await page.getByTestId('node-select_1').waitFor();
    await expect.poll(chain).toContain('generate_1→select_1');
    const box = await page.getByTestId('node-select_1').boundingBox();
    expect(box!.y).toBeGreaterThan(a.y + 150);
  });

  it('with a node selected, the palette adds after it; W wires the selected node to the next', async () => {
    await page.getByTestId('node-select_1').click();
    await page.getByTestId('palette-file.sink').dblclick();
    await page.getByTestId('node-file_sink_1').waitFor();
    await expect.poll(chain).toContain('select_1→file_sink_1');
    // an unwired map, to the right of the selected select node: W wires it
    await page.getByTestId('node-file_sink_1').click();
    await page.keyboard.press('Delete');
    await expect.poll(chain).not.toContain('select_1→file_sink_1');
    await page.getByTestId('canvas').click({ position: { x: 700, y: 30 } });
    await page.getByTestId('palette-core.map').dblclick();
    await page.getByTestId('node-map_2').waitFor();
    await expect.poll(() => lastDoc?.nodes.some((n) => n.id === 'map_2')).toBe(true);
    const selectX = lastDoc!.nodes.find((n) => n.id === 'select_1')!.position!.x;
    const map2X = lastDoc!.nodes.find((n) => n.id === 'map_2')!.position!.x;
    // the map landed in the middle of the view: move the select to its left if needed is not our business —
    // select both and W wires the left one to the right one
    const [left, right] = selectX < map2X ? ['select_1', 'map_2'] : ['map_2', 'select_1'];
    await page.getByTestId('node-select_1').click({ modifiers: ['Control'] });
    await page.keyboard.press('w');
    await expect.poll(chain).toContain(`${left}→${right}`);
    expect(await overlapping()).toBe(0);
  });
});
