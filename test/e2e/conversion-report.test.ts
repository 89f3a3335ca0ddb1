/**
 * The conversion report in the editor (issue 17): a deployed MariaDB → PostgreSQL copy with `schema: full`;
 * the sink's inspector lists each table it created, what was created, what was mapped lossy and what was
 * left out, each with its reason, and marks the tables that need a look. Real server, real databases, real
 * Chromium; axe-clean like the other panels.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { axeProblems } from '../helpers/axe.js';
import { chromiumAvailable, openEditor, type EditorSession } from '../helpers/browser.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { probeMysql, probePostgres, type ScratchDb, scratchMysql, scratchPostgres, service, withDb } from '../helpers/services.js';

const chromium = chromiumAvailable();
const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);

describe.skipIf(!chromium.available || !PG.available || !MY.available)('the conversion report in the editor (Chromium + real server, MariaDB → PostgreSQL)', () => {
  const NAME = `sluice_convui_${randomBytes(4).toString('hex')}`;
  let editor: EditorSession | undefined;
  let server: ServerProcess;
  let page: Page;
  let src: ScratchDb | undefined;
  let dst: ScratchDb | undefined;

  beforeAll(async () => {
    src = await scratchMysql(MY.url, NAME);
    dst = await scratchPostgres(PG.url, NAME);
    const my = await mysql.createConnection({ uri: withDb(MY.url, NAME), multipleStatements: true });
    await my.query(`
      CREATE TABLE customers (
        id INT PRIMARY KEY,
        email VARCHAR(100) NOT NULL,
        token VARCHAR(36) DEFAULT (uuid()),
        flags TINYINT,
        UNIQUE KEY u_email (email)
      );
      CREATE TABLE notes (id INT PRIMARY KEY, body VARCHAR(20) NOT NULL);
      INSERT INTO customers (id, email, flags) VALUES (1, 'a@x', 3), (2, 'b@x', NULL);
      INSERT INTO notes VALUES (1, 'hello');
    `);
    await my.end();
    editor = await openEditor({ waitFor: false });
    ({ server, page } = editor);
  }, 180_000);

  afterAll(async () => {
    await editor?.close();
    await src?.drop();
    await dst?.drop();
  });

  it('a test run shows the planned report; the deployment lists each created table with what was created, mapped lossy and left out, reasons shown', async () => {
    const target = new pg.Client({ connectionString: dst!.url });
    await target.connect();
    const doc = {
      apiVersion: 'sluice/v1',
      name: 'convert-shop',
      nodes: [
        { id: 'src', type: 'mysql.source', config: { url: withDb(MY.url, NAME), tables: [`${NAME}.*`], schema: 'full' }, position: { x: 100, y: 100 } },
        { id: 'dst', type: 'postgres.sink', config: { url: dst!.url, table: 'public.{table}' }, position: { x: 420, y: 100 } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const created = await server.fetch('/api/flows', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc) });
    expect(created.status, await created.clone().text()).toBe(201);

    await page.goto(`${server.url}/#/flow/convert-shop`);
    await page.getByTestId('node-dst').waitFor();

    // a test run writes nothing: the report is planned, and says so
    await page.getByTestId('btn-test-run').click();
    await page.getByTestId('node-dst').click();
    const planned = page.getByTestId('conversion-report');
    await planned.getByTestId('report-planned').waitFor({ timeout: 30_000 });
    await expect.poll(() => planned.getByTestId('report-table').evaluateAll((els) => els.map((e) => e.getAttribute('data-table')).sort())).toEqual(['public.customers', 'public.notes']);
    const plannedCustomers = planned.locator('[data-testid="report-table"][data-table="public.customers"]');
    expect(await plannedCustomers.getByTestId('report-left-out').allTextContents()).toContainEqual(expect.stringMatching(/^left out default of token: the expression .*uuid\(\).* has no known PostgreSQL equivalent$/));
    expect(await plannedCustomers.getByTestId('report-created').allTextContents()).toEqual(expect.arrayContaining(['NOT NULL on email', 'unique constraint u_email (email)']));
    expect(await planned.getByTestId('report-total').textContent()).toMatch(/^2 tables to create · /);
    expect(await plannedCustomers.locator('summary').textContent()).toMatch(/ \d+ to create · 1 lossy · 1 left out$/);
    expect(await axeProblems(page, '[data-testid="inspector"]')).toEqual([]);
    expect((await target.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")).rows[0].n, 'a test run creates nothing').toBe(0);

    await page.getByTestId('btn-deploy').click();
    await expect.poll(() => page.getByTestId('node-progress-src').textContent(), { timeout: 30_000 }).toBe('2/2 tables · 100%');
    await page.getByTestId('node-dst').click();
    const report = page.getByTestId('conversion-report');
    await report.getByTestId('report-planned').waitFor({ state: 'detached' });
    await expect.poll(() => report.getByTestId('report-table').evaluateAll((els) => els.map((e) => e.getAttribute('data-table'))), { timeout: 15_000 }).toEqual(
      expect.arrayContaining(['public.customers', 'public.notes']),
    );
    await expect.poll(() => report.getByTestId('report-table').count()).toBe(2);

    const customers = report.locator('[data-testid="report-table"][data-table="public.customers"]');
    // a table with lossy or left-out items is open and marked; its reasons are read as they are
    expect(await customers.getAttribute('open')).not.toBeNull();
    expect(await customers.getAttribute('class')).toContain('attention');
    const leftOut = await customers.getByTestId('report-left-out').allTextContents();
    expect(leftOut).toContainEqual(expect.stringMatching(/^left out default of token: the expression .*uuid\(\).* has no known PostgreSQL equivalent$/));
    const lossy = await customers.getByTestId('report-lossy').allTextContents();
    expect(lossy).toContainEqual(expect.stringMatching(/^lossy column flags \(tinyint(\(4\))?\): smallint \(PostgreSQL has no 8-bit integer\)$/i));
    expect(await customers.getByTestId('report-created').allTextContents()).toEqual(expect.arrayContaining(['NOT NULL on email', 'unique constraint u_email (email)']));

    // a table that arrived whole stays folded, its summary says so
    const notes = report.locator('[data-testid="report-table"][data-table="public.notes"]');
    expect(await notes.getAttribute('open')).toBeNull();
    expect(await notes.locator('summary').textContent()).toBe(`public.notes from ${NAME}.notes ${await notes.getByTestId('report-created').count()} created`);
    expect(await notes.getByTestId('report-created').allTextContents()).toContain('NOT NULL on body');
    expect(await report.getByTestId('report-total').textContent()).toBe(`2 tables created · ${lossy.length} lossy · ${leftOut.length} left out`);

    expect(await axeProblems(page, '[data-testid="inspector"]')).toEqual([]);
    await target.end();
  });
});
