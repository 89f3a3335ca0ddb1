/**
 * The editor in a real headless Chromium against a real Sluice server: build a flow from the palette,
 * wire it, write the map's code, test-run it and read the records, save, export, re-import, deploy and
 * watch the counts move. Drives the editor only through its data-testid hooks (listed in editor/src/App.tsx).
 */
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { parse as parseYaml } from 'yaml';
import { ROOT, chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { probePostgres, service } from '../helpers/services.js';

const chromium = chromiumAvailable();
const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

const MAP_CODE = '(o) => ({ ...o, doubled: Math.round(o.amount * 200) / 100 })';

/** drags a palette item onto the canvas at (x, y) relative to the canvas' top-left corner */
async function dropFromPalette(page: Page, type: string, x: number, y: number): Promise<void> {
  await page.getByTestId(`palette-${type}`).dragTo(page.getByTestId('canvas'), { targetPosition: { x, y } });
}

/** draws a wire from a node's output handle to another node's input handle, with the mouse */
async function wire(page: Page, from: string, to: string, port = 'out'): Promise<void> {
  const a = await page.locator(`[data-testid="node-${from}"] .react-flow__handle.source[data-handleid="${port}"]`).boundingBox();
  const b = await page.locator(`[data-testid="node-${to}"] .react-flow__handle.target`).first().boundingBox();
  if (!a || !b) throw new Error(`handles of ${from} → ${to} not found`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2 + 20, { steps: 8 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 8 });
  await page.mouse.up();
}

/** the text of every cell of a preview row, by column name */
async function rowValues(page: Page, index: number): Promise<Record<string, string>> {
  const headers = await page.locator('[data-testid="preview-table"] .t-head .t-cell').allTextContents();
  const cells = await page.getByTestId('preview-row').nth(index).locator('.t-cell').allTextContents();
  return Object.fromEntries(headers.map((h, i) => [h, cells[i]]));
}

/** a config field in the inspector, by its label (the field's name in words: count → Count) */
const field = (page: Page, name: string) => {
  const label = new RegExp(`^${name}\\*?$`, 'i');
  return page.getByTestId('inspector').getByRole('textbox', { name: label }).or(page.getByTestId('inspector').getByRole('spinbutton', { name: label }));
};

const text = (l: Locator) => l.textContent().then((t) => (t ?? '').trim());

describe.skipIf(!chromium.available)('editor (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    editor = await openEditor({
      context: { acceptDownloads: true },
      prepare: (p) => {
        p.on('pageerror', (e) => pageErrors.push(e.message));
      },
    });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('builds generate → map → file sink from the palette and wires it', async () => {
    await expect(page.getByTestId('empty-canvas').isVisible()).resolves.toBe(true);
    await dropFromPalette(page, 'core.generate', 140, 160);
    await dropFromPalette(page, 'core.map', 440, 160);
    await dropFromPalette(page, 'file.sink', 740, 160);
    for (const id of ['generate_1', 'map_1', 'file_sink_1']) await page.getByTestId(`node-${id}`).waitFor();
    await wire(page, 'generate_1', 'map_1');
    await wire(page, 'map_1', 'file_sink_1');
    await page.locator('.react-flow__edge').nth(1).waitFor();
    // two wires with distinct ids (never source-target)
    const edgeIds = await page.locator('.react-flow__edge').evaluateAll((els) => els.map((e) => e.getAttribute('data-id')));
    expect(edgeIds).toEqual(['e1', 'e2']);
  });

  it('refuses a wire that would make a cycle, with a hint', async () => {
    // a second map, wired map_1 → map_2, then map_2 → map_1 closes a loop
    await dropFromPalette(page, 'core.map', 440, 340);
    await page.getByTestId('node-map_2').waitFor();
    await wire(page, 'map_1', 'map_2');
    await expect.poll(() => page.locator('.react-flow__edge').count()).toBe(3);
    await wire(page, 'map_2', 'map_1');
    await expect.poll(() => page.getByTestId('notice').textContent()).toContain('cycle');
    expect(await page.locator('.react-flow__edge').count()).toBe(3);
    // undo twice: the wire and the node are gone again
    await page.getByTestId('canvas').click({ position: { x: 600, y: 40 } });
    await page.keyboard.press('Control+z');
    await page.keyboard.press('Control+z');
    await expect.poll(() => page.getByTestId('node-map_2').count()).toBe(0);
    expect(await page.locator('.react-flow__edge').count()).toBe(2);
  });

  it('copies and pastes a node under a new id, and undoes it', async () => {
    await page.getByTestId('node-map_1').click();
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await page.getByTestId('node-map_2').waitFor();
    await page.keyboard.press('Control+z');
    await page.getByTestId('node-map_2').waitFor({ state: 'detached' });
    expect(await page.locator('.react-flow__node').count()).toBe(3);
  });

  it('shows validation problems on the node as they happen', async () => {
    // file.sink needs a path: the server's validation puts a badge on the node
    await page.getByTestId('node-issues-file_sink_1').waitFor();
    await page.getByTestId('node-file_sink_1').click();
    await field(page, 'path').fill(join(server.dataDir, 'files', 'out', 'e2e.jsonl'));
    await page.getByTestId('node-issues-file_sink_1').waitFor({ state: 'detached' });
  });

  it("sets the map's code and test-runs: records stream into the table", async () => {
    await page.getByTestId('node-generate_1').click();
    await field(page, 'count').fill('20000');
    await field(page, 'rate').fill('2000');
    await page.getByTestId('node-map_1').click();
    const code = page.locator('[data-testid="code-field"] .cm-content');
    await code.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(MAP_CODE);
    await expect.poll(() => code.textContent()).toBe(MAP_CODE);

    await page.getByTestId('btn-test-run').click();
    await page.getByTestId('preview-row').first().waitFor();
    await expect.poll(() => text(page.getByTestId('preview-status'))).toContain('finished');
    const first = await rowValues(page, 0);
    expect(Number(first.doubled)).toBeCloseTo(Number(first.amount) * 2, 2);
    // 100 records crossed each wire in the test run; the sink would write them all
    await expect.poll(() => text(page.getByTestId('edge-count-e1'))).toBe('100');
    expect(await text(page.getByTestId('edge-count-e2'))).toBe('100');
    expect(await text(page.getByTestId('node-count-file_sink_1'))).toContain('would write 100');
    // the JSON view holds the same records
    await page.getByTestId('view-json').click();
    const json = JSON.parse(((await page.getByTestId('preview-json').textContent()) ?? '').replace(/\n… \d+ more.*$/s, ''));
    expect(json[0].value.doubled).toBeCloseTo(json[0].value.amount * 2, 2);
    await page.getByTestId('view-table').click();
  });

  it('shows the error a record raised on the node and in the code field', async () => {
    await page.getByTestId('node-map_1').click();
    const code = page.locator('[data-testid="code-field"] .cm-content');
    await code.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText("(o) => { if (o.id === 3) throw new Error('bad order 3'); return o; }");
    await page.getByTestId('btn-test-run').click();
    await expect.poll(() => text(page.getByTestId('preview-status'))).toContain('finished');
    expect(await text(page.getByTestId('code-error'))).toContain('bad order 3');
    expect(await text(page.getByTestId('node-count-map_1'))).toContain('1 err');
    // back to the working code
    await code.click();
    await page.keyboard.press('Control+a');
    await page.keyboard.insertText(MAP_CODE);
  });

  it('saves, exports YAML and re-imports it unchanged', async () => {
    await page.getByTestId('flow-name').fill('e2e-demo');
    await page.getByTestId('btn-save').click();
    await expect.poll(() => text(page.getByTestId('flow-version'))).toBe('v1');
    expect(await page.getByTestId('dirty').count()).toBe(0);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('btn-export-yaml').click()]);
    const exported = readFileSync((await download.path())!, 'utf8');
    const doc = parseYaml(exported) as { name: string; nodes: { id: string; config: Record<string, unknown> }[]; edges: unknown[] };
    expect(doc.name).toBe('e2e-demo');
    expect(doc.nodes.map((n) => n.id)).toEqual(['generate_1', 'map_1', 'file_sink_1']);
    expect(doc.nodes[1].config.code).toBe(MAP_CODE);
    expect(doc.edges).toEqual([
      { from: 'generate_1', to: 'map_1' },
      { from: 'map_1', to: 'file_sink_1' },
    ]);

    // import the same document under another name: it opens, and exports to the same document
    await page.getByTestId('btn-import').click();
    await page.getByTestId('import-text').fill(exported.replace(/^name: e2e-demo$/m, 'name: e2e-copy'));
    await page.getByTestId('import-submit').click();
    await expect.poll(() => text(page.getByTestId('flow-name'))).toBe('e2e-copy');
    await page.getByTestId('node-map_1').waitFor();
    const again = await (await server.fetch(`/api/flows/e2e-copy/export?format=yaml`)).text();
    const strip = (d: Record<string, unknown>) => ({ ...d, name: undefined, version: undefined });
    expect(strip(parseYaml(again))).toEqual(strip(doc));
  });

  it('asks for the secrets of the connections an import created, warns on their nodes until set, and lists the variables on export', async () => {
    const file = [
      'apiVersion: sluice/v1',
      'name: e2e-imported',
      'connections:',
      '  e2e-pg:',
      '    type: postgres',
      '    host: 127.0.0.1',
      '    user: app',
      '    password: ${env:SLUICE_FLOW_E2E_PG_PASSWORD}',
      'nodes:',
      '  - { id: src, type: postgres.source, config: { connection: e2e-pg, tables: [orders] } }',
      'edges: []',
      '',
    ].join('\n');
    await page.getByTestId('btn-import').click();
    await page.getByTestId('import-text').fill(file);
    await page.getByTestId('import-submit').click();
    await page.getByTestId('import-secrets').waitFor();
    // the node on the incomplete connection carries the warning
    await expect.poll(() => page.getByTestId('node-issues-src').textContent()).toContain('connection e2e-pg (password needs SLUICE_FLOW_E2E_PG_PASSWORD) is incomplete');
    await page.getByTestId('import-secret-SLUICE_FLOW_E2E_PG_PASSWORD').fill('e2e-secret-Wq81');
    await page.getByTestId('import-secrets-save').click();
    await page.getByTestId('import-secrets').waitFor({ state: 'detached' });
    const conn = (await (await server.fetch('/api/connections/e2e-pg')).json()) as { config: Record<string, unknown>; incomplete?: unknown };
    expect(conn.incomplete).toBeUndefined();
    expect(conn.config).toMatchObject({ host: '127.0.0.1', user: 'app', hasPassword: true });

    await page.getByTestId('btn-export').click();
    await expect.poll(() => text(page.getByTestId('export-variables'))).toContain('SLUICE_FLOW_E2E_PG_PASSWORD');
    expect(await text(page.getByTestId('export-variables'))).toContain('connection e2e-pg, password');
    await page.keyboard.press('Escape');
  });

  it('tells of a save that someone else made in between, and reloads theirs', async () => {
    await page.goto(`${server.url}/#/flow/e2e-demo`);
    await page.getByTestId('node-map_1').waitFor();
    // another client saves version 2 with other code
    const theirs = (await (await server.fetch(`/api/flows/e2e-demo`)).json()) as { document: { nodes: { id: string; config: Record<string, unknown> }[] } };
    theirs.document.nodes[1].config.code = '(o) => ({ ...o, theirs: true })';
    const put = await server.fetch(`/api/flows/e2e-demo`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ baseVersion: 1, document: theirs.document }) });
    expect(put.status).toBe(200);
    // this editor still edits version 1
    await page.getByTestId('node-map_1').click();
    await page.getByTestId('inspector').getByLabel('label').fill('doubling');
    await page.getByTestId('btn-save').click();
    await page.getByTestId('conflict-dialog').waitFor();
    await page.getByTestId('btn-conflict-reload').click();
    await expect.poll(() => text(page.getByTestId('flow-version'))).toBe('v2');
    await page.getByTestId('node-map_1').click();
    await expect.poll(() => page.locator('[data-testid="code-field"] .cm-content').textContent()).toBe('(o) => ({ ...o, theirs: true })');
  });

  it('lists the versions, compares two node by node and restores the first', async () => {
    await page.getByTestId('btn-flows').click();
    await page.getByTestId('version-1').waitFor();
    await page.getByTestId('version-1').getByRole('checkbox').check();
    await page.getByTestId('version-2').getByRole('checkbox').check();
    await page.getByTestId('btn-compare').click();
    const changed = page.getByTestId('diff-node-map_1');
    await changed.waitFor();
    expect(await text(changed)).toContain('config.code');
    expect(await page.getByTestId('diff').locator('[data-testid^="diff-node-"]').count()).toBe(1);
    await page.getByTestId('restore-1').click();
    await expect.poll(() => text(page.getByTestId('flow-version'))).toBe('v3');
    const v3 = (await (await server.fetch(`/api/flows/e2e-demo`)).json()) as { document: { nodes: { config: Record<string, unknown> }[] } };
    expect(v3.document.nodes[1].config.code).toBe(MAP_CODE);
  });

  it('keeps connection secrets write-only and tests a connection', async () => {
    await page.getByTestId('btn-connections').click();
    await page.getByTestId('btn-new-connection').click();
    await page.getByTestId('conn-name').fill('local-db');
    // the type is a dropdown of the server's connectors; picking one lays out its fields
    expect(await page.getByTestId('conn-type').locator('option').allTextContents()).toEqual(expect.arrayContaining(['PostgreSQL', 'MySQL / MariaDB', 'MongoDB', 'SQLite file']));
    await page.getByTestId('conn-type').selectOption('postgres');
    const rows = page.locator('.conn-edit .kv-row');
    expect(await rows.locator('[aria-label="field"]').evaluateAll((els) => els.map((e) => (e as unknown as { value: string }).value))).toEqual(
      expect.arrayContaining(['url', 'host', 'port', 'user', 'password', 'database']),
    );
    await page.getByTestId('conn-type').selectOption('sqlite');
    expect(await rows.count()).toBe(1);
    expect(await rows.nth(0).getByLabel('field').inputValue()).toBe('path');
    // nothing typed yet: another type lays out its own fields; its declared secret is a password input
    await page.getByTestId('conn-type').selectOption('mysql');
    const form = page.locator('.conn-edit');
    expect(await form.getByLabel('password value').getAttribute('type')).toBe('password');
    expect(await form.getByLabel('user value').getAttribute('type')).toBe('text');
    await form.getByLabel('host value').fill('127.0.0.1');
    await form.getByLabel('port value').fill('1');
    await form.getByLabel('password value').fill('hunter2');
    await page.getByTestId('conn-save').click();
    await expect.poll(() => text(page.getByTestId('conn-message'))).toBe('Saved.');
    const listed = (await (await server.fetch(`/api/connections`)).json()) as { name: string; config: Record<string, unknown> }[];
    const conn = listed.find((c) => c.name === 'local-db')!;
    expect(conn.config.hasPassword).toBe(true);
    expect(JSON.stringify(conn)).not.toContain('hunter2');
    // the form shows the secret as stored, never its value
    expect(await form.getByLabel('password value').inputValue()).toBe('');
    expect(await form.getByLabel('password value').getAttribute('placeholder')).toContain('stored');
    await page.getByTestId('conn-test').click();
    await expect.poll(() => text(page.getByTestId('conn-message'))).toContain('connection refused');
    expect(await text(page.getByTestId('conn-message'))).not.toContain('hunter2');
    await page.goBack();
    await page.getByTestId('node-map_1').waitFor();
  });

  it('is served a production build of the editor, even when built under vitest (NODE_ENV=test)', () => {
    // scripts/build-editor.js forces production: with React's development build the 500-node flow renders twice as slowly
    expect(process.env.NODE_ENV).toBe('test');
    const assets = join(ROOT, 'dist', 'editor', 'assets');
    const entry = readdirSync(assets).find((f) => /^index-.*\.js$/.test(f))!;
    expect(readFileSync(join(assets, entry), 'utf8')).not.toContain('jsxDEV');
  });

  it.skipIf(!PG.available)('creates a postgres connection through the form and tests it: ok, then a wrong user with its hint', async () => {
    const u = new URL(PG.url);
    await page.goto(`${server.url}/#/connections`);
    await page.getByTestId('btn-new-connection').click();
    await page.getByTestId('conn-name').fill('form-pg');
    await page.getByTestId('conn-type').selectOption('postgres');
    const form = page.locator('.conn-edit');
    // the fields come from the connector's schema; the password is a write-only secret input
    expect(await form.getByLabel('password value').getAttribute('type')).toBe('password');
    await form.getByLabel('host value').fill(u.hostname);
    await form.getByLabel('port value').fill(u.port || '5432');
    await form.getByLabel('user value').fill(decodeURIComponent(u.username) || 'postgres');
    await form.getByLabel('database value').fill(u.pathname.replace(/^\//, '') || 'postgres');
    await form.getByLabel('password value').fill(decodeURIComponent(u.password) || 'not-needed-pw');
    await page.getByTestId('conn-save').click();
    await expect.poll(() => text(page.getByTestId('conn-message'))).toBe('Saved.');
    const saved = (await (await server.fetch(`/api/connections/form-pg`)).json()) as { type: string; config: Record<string, unknown> };
    expect(saved).toMatchObject({ type: 'postgres', config: { host: u.hostname, port: Number(u.port || 5432), hasPassword: true } });
    expect(saved.config.password).toBeUndefined();
    await page.getByTestId('conn-test').click();
    await expect.poll(() => text(page.getByTestId('conn-message')), { timeout: 15_000 }).toMatch(/^connected to PostgreSQL \d+/);
    expect(await page.getByTestId('conn-message').getAttribute('class')).toContain('ok');
    // a user the server does not know: the error and the connector's hint, shown under it
    await form.getByLabel('user value').fill('no_such_role_sluice');
    await page.getByTestId('conn-save').click();
    await expect.poll(() => text(page.getByTestId('conn-message'))).toBe('Saved.');
    await page.getByTestId('conn-test').click();
    await expect.poll(() => text(page.getByTestId('conn-message')), { timeout: 15_000 }).toContain('no_such_role_sluice');
    expect(await page.getByTestId('conn-message').getAttribute('class')).toContain('bad');
    expect(await page.getByTestId('conn-message').locator('.muted').textContent()).toMatch(/CREATE ROLE/);
    await page.goto(`${server.url}/#/flow/e2e-demo`);
    await page.getByTestId('node-map_1').waitFor();
  });

  it('deploys the saved flow and shows live counts moving', async () => {
    await page.goto(`${server.url}/#/flow/e2e-demo`);
    await page.getByTestId('node-generate_1').waitFor();
    await page.getByTestId('btn-deploy').click();
    await expect.poll(() => text(page.getByTestId('deploy-status')), { timeout: 10_000 }).toContain('running');
    const counter = page.getByTestId('node-count-generate_1');
    await counter.waitFor();
    const before = await text(counter);
    await expect.poll(() => text(counter), { timeout: 10_000 }).not.toBe(before);
    await page.getByTestId('btn-pause').click();
    await expect.poll(() => text(page.getByTestId('deploy-status'))).toContain('paused');
    await page.getByTestId('btn-resume').click();
    await expect.poll(() => text(page.getByTestId('deploy-status'))).toContain('running');
    await page.getByTestId('btn-stop').click();
    await expect.poll(() => text(page.getByTestId('deploy-status')), { timeout: 15_000 }).toContain('stopped');
    expect(pageErrors).toEqual([]);
  });

  it('renders the demo flow with a test run (screenshot for review)', async () => {
    await page.goto(`${server.url}/#/flow/orders-demo`);
    await page.getByTestId('node-add_tax').click();
    await page.getByTestId('btn-test-run').click();
    await page.getByTestId('preview-row').first().waitFor();
    await expect.poll(() => text(page.getByTestId('preview-status'))).toContain('finished');
    mkdirSync(join(ROOT, 'test-output'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-output', 'editor-demo.png') });
    expect(pageErrors).toEqual([]);
  });
});
