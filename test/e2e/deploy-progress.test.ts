/**
 * A deployed multi-table copy in the editor: the source node shows "tables done / tables · %" and,
 * selected, the inspector lists each table with its phase, rows read / estimated and rows/s, and a total (the
 * deployment status the server pushes over socket.io). Real server, real Chromium.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';

const chromium = chromiumAvailable();

describe.skipIf(!chromium.available)('deployment progress in the editor (Chromium + real server)', () => {
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;

  beforeAll(async () => {
    editor = await openEditor({ waitFor: false });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(() => editor?.close());

  it('shows per-table progress on the source node and in the inspector', async () => {
    const src = join(server.dataDir, 'files', 'shop.db'); // the server's file root: flows reach nothing else
    const db = new Database(src);
    db.exec('CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT)');
    db.prepare("INSERT INTO items (id, v) SELECT value, 'x' FROM json_each(?)").run(JSON.stringify(Array.from({ length: 3000 }, (_, i) => i + 1)));
    db.close();
    const doc = {
      apiVersion: 'sluice/v1',
      name: 'copy-items',
      nodes: [
        { id: 'src', type: 'sqlite.source', config: { path: src, table: 'items', chunkSize: 500 }, position: { x: 100, y: 100 } },
        { id: 'dst', type: 'sqlite.sink', config: { path: 'copy.db', table: '{table}' }, position: { x: 400, y: 100 } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const created = await server.fetch('/api/flows', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    expect(created.status).toBe(201);

    await page.goto(`${server.url}/#/flow/copy-items`);
    await page.getByTestId('node-src').waitFor();
    await page.getByTestId('btn-deploy').click();
    await expect.poll(() => page.getByTestId('node-progress-src').textContent(), { timeout: 15_000 }).toBe('1/1 tables · 100%');
    await page.getByTestId('node-src').click();
    const row = page.getByTestId('source-progress').getByTestId('progress-row');
    await expect.poll(() => row.locator('td').allTextContents()).toEqual(['items', 'done', '3,000 / ~3,000', '100', expect.any(String)]);
    // and all tables together: tables done, rows read, rows/s
    await expect.poll(() => page.getByTestId('source-progress').getByTestId('progress-total').locator('td').allTextContents()).toEqual(['all', '1/1 done', '3,000', '', expect.stringMatching(/^[\d,.]+[kM]?$/)]);
  });
});
