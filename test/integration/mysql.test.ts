/**
 * mysql.source / mysql.sink against real servers (MariaDB 10.11 here, MySQL 8 in the same way):
 * MYSQL_URL for snapshot and sink tests, MYSQL_CDC_URL for binlog tests: unless given, the private
 * instances the global set-up starts (test/setup/global-services.ts; the binlog one also serves TLS and
 * may be shut down and restarted by the restart tests). Each server gets fresh databases for this file, dropped at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import mysql, { type Connection, type RowDataPacket } from 'mysql2/promise';
import { type ScratchDb, scratchMysql, service } from '../helpers/services.js';
import { runMariadb } from '../setup/servers.js';
import { create, readAll, rec, tempDir, writeAll } from '../helpers/node-harness.js';
import { startCli } from '../helpers/cli.js';
import { ConfigError, UserError } from '../../runtime/errors.js';
import type { SinkInstance, SourceInstance } from '../../runtime/node-api.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createRegistry } from '../../nodes/catalog.js';
import { mysqlSource } from '../../nodes/mysql/source.js';
import { mysqlSink } from '../../nodes/mysql/sink.js';
import { testConnection } from '../../nodes/mysql/connection.js';
import { denormalize } from '../../nodes/catalog.js';
import type { LookupTransform } from '../../nodes/core/denormalize/lookup.js';

const probe = async (url: string) => {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
  await c.end();
};
const main = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probe);
const cdc = await service('MySQL/MariaDB with binlog', 'MYSQL_CDC_URL', 'mysql://root@127.0.0.1:3307/mysql', probe);

const ROOT = resolve(import.meta.dirname, '../..');
const suffix = `${process.pid}_${Date.now().toString(36)}`;
const SRC = `sluice_my_src_${suffix}`;
const DST = `sluice_my_dst_${suffix}`;
const CDC = `sluice_my_cdc_${suffix}`;
const registry = createRegistry();

const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

async function admin(url: string): Promise<Connection> {
  const c = await mysql.createConnection({ uri: url, dateStrings: true, supportBigNumbers: true, bigNumberStrings: false, multipleStatements: true });
  await c.query("SET time_zone = '+00:00'");
  return c;
}

async function rows(c: Connection, sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  const [r] = await c.query<RowDataPacket[]>(sql, params);
  return r.map((x) => ({ ...x }));
}

/** polls `check` until it holds (a database reaches a state: there is no event to await) */
async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function startFlow(doc: Record<string, unknown>, dir: string): { run: FlowRun; done: Promise<RunSummary>; store: SqliteCheckpointStore } {
  const store = new SqliteCheckpointStore(join(dir, 'state.db'));
  const plan = compileFlow({ apiVersion: 'sluice/v1', ...doc }, registry, { env: {} });
  const run = new FlowRun(plan, { store });
  const done = run.run().finally(() => store.close());
  return { run, done, store };
}

const source = (config: Record<string, unknown>, overrides: Record<string, unknown> = {}) => create<SourceInstance>(mysqlSource, config, overrides);
const sink = (config: Record<string, unknown>) => create<SinkInstance>(mysqlSink, config);

/** opens a source, expects open() to fail, returns the error */
async function openError(config: Record<string, unknown>): Promise<Error> {
  const s = await source(config);
  const err = await s.open(undefined).then(
    () => undefined,
    (e: Error) => e,
  );
  await s.close();
  if (!err) throw new Error('open() succeeded');
  return err;
}

describe.skipIf(!main.available)('mysql nodes on MYSQL_URL', () => {
  let db: Connection;
  const srcUrl = () => withDb(main.url, SRC);
  const dstUrl = () => withDb(main.url, DST);

  const scratches: ScratchDb[] = [];
  beforeAll(async () => {
    scratches.push(await scratchMysql(main.url, SRC), await scratchMysql(main.url, DST));
    db = await admin(main.url);
    await db.query(`CREATE TABLE ${SRC}.types (
      id BIGINT UNSIGNED PRIMARY KEY, d DECIMAL(30,10), j JSON, dt DATETIME(6), dt0 DATETIME, ts TIMESTAMP(3) NULL,
      da DATE, ti TIME(2), y YEAR, b BLOB, vb VARBINARY(10), tx TEXT, vc VARCHAR(20), f FLOAT, db DOUBLE,
      bi BIGINT, bit8 BIT(8), e ENUM('a','b'), s SET('x','y','z'), tiny TINYINT(1), u INT UNSIGNED)`);
    await db.query(`INSERT INTO ${SRC}.types VALUES
      (18446744073709551615, -12345678901234567890.1234500000, '{"a":[1,2,{"b":"c"}]}', '2024-02-03 04:05:06.123456',
       '2024-02-03 04:05:06', '2024-02-03 04:05:06.789', '2024-02-03', '-12:34:56.78', 2024, x'00ff10', x'0102', 'héllo',
       'wörld', 1.1, 2.2, -9007199254740993, b'10100101', 'b', 'x,z', 1, 4294967295),
      (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 42, NULL, NULL, NULL, NULL, NULL)`);
    await db.query(`CREATE TABLE ${SRC}.items (o INT, line INT, sku VARCHAR(10), qty INT, PRIMARY KEY (o, line))`);
    const items: unknown[][] = [];
    for (let o = 1; o <= 5; o++) for (let l = 1; l <= 4; l++) items.push([o, l, `s${o}${l}`, o * l]);
    await db.query(`INSERT INTO ${SRC}.items VALUES ?`, [items]);
    await db.query(`CREATE TABLE ${SRC}.nokey (a INT, b INT)`);
  });

  afterAll(async () => {
    await db?.end();
    for (const d of scratches.splice(0)) await d.drop();
  });

  it('snapshot maps every type: DECIMAL string, JSON object, ISO datetimes, BLOB { $base64 }, big BIGINT string', async () => {
    const { records } = await readAll(await source({ url: srcUrl(), tables: ['types'] }));
    expect(records.map((r) => r.key)).toEqual([{ id: 1 }, { id: '18446744073709551615' }]);
    expect(records[1]).toMatchObject({ op: 'r', meta: { source: 'n1', table: `${SRC}.types` } });
    expect(records[1].value).toEqual({
      id: '18446744073709551615',
      d: '-12345678901234567890.1234500000',
      j: { a: [1, 2, { b: 'c' }] },
      dt: '2024-02-03T04:05:06.123456',
      dt0: '2024-02-03T04:05:06',
      ts: '2024-02-03T04:05:06.789Z',
      da: '2024-02-03',
      ti: '-12:34:56.78',
      y: 2024,
      b: { $base64: Buffer.from([0, 255, 16]).toString('base64') },
      vb: { $base64: Buffer.from([1, 2]).toString('base64') },
      tx: 'héllo',
      vc: 'wörld',
      f: 1.1,
      db: 2.2,
      bi: '-9007199254740993',
      bit8: 0b10100101,
      e: 'b',
      s: 'x,z',
      tiny: 1,
      u: 4294967295,
    });
    expect(records[0].value).toMatchObject({ id: 1, bi: 42, j: null, dt: null, b: null });
  });

  it('snapshot pages a composite key in chunks and resumes mid-table from a committed position', async () => {
    const all = await readAll(await source({ url: srcUrl(), tables: [`${SRC}.items`], chunkSize: 3 }));
    expect(all.records.map((r) => `${(r.key as { o: number }).o}.${(r.key as { line: number }).line}`)).toEqual(
      Array.from({ length: 20 }, (_, i) => `${Math.floor(i / 4) + 1}.${(i % 4) + 1}`),
    );
    expect(all.positions).toHaveLength(7);
    // positions carry the rows read so far, so a resumed run's progress goes on from them
    expect(all.positions[0]).toEqual({ phase: 'snapshot', done: [], table: `${SRC}.items`, after: [1, 3], rows: { [`${SRC}.items`]: 3 } });
    expect(all.positions.at(-1)).toEqual({ phase: 'snapshot', done: [`${SRC}.items`], rows: { [`${SRC}.items`]: 20 } });
    // resume after the third chunk (key (3,1)): exactly the rest, nothing twice
    const rest = await readAll(await source({ url: srcUrl(), tables: [`${SRC}.items`], chunkSize: 3 }), all.positions[2]);
    expect(rest.records.map((r) => r.key)).toEqual(all.records.slice(9).map((r) => r.key));
    // a finished snapshot reads nothing again
    expect((await readAll(await source({ url: srcUrl(), tables: [`${SRC}.items`] }), all.positions.at(-1))).records).toEqual([]);
  });

  it('tables: patterns like db.* read every table in name order; a keyless one by LIMIT/OFFSET, keyed by keys when given; keys on a table with a key is an error', async () => {
    await db.query(`INSERT INTO ${SRC}.nokey VALUES (1, 10), (2, 20), (3, 30), (4, 40), (5, 50)`);
    try {
      const all = await readAll(await source({ url: srcUrl(), tables: [`${SRC}.*`], chunkSize: 2 }));
      const nokey = all.records.filter((r) => r.meta.table === `${SRC}.nokey`);
      expect(nokey.map((r) => [r.key, r.value])).toEqual([1, 2, 3, 4, 5].map((a) => [{}, { a, b: a * 10 }]));
      // its resume point is the number of rows read: resuming after 3 reads the last 2
      const third = nokey[2].meta.position as { table: string; after: unknown[] };
      expect(third).toMatchObject({ table: `${SRC}.nokey`, after: [3] });
      const keyed = await readAll(await source({ url: srcUrl(), tables: [`${SRC}.nokey`], keys: { [`${SRC}.nokey`]: ['a'] }, chunkSize: 2 }), { ...third, done: [] });
      expect(keyed.records.map((r) => r.key)).toEqual([{ a: 4 }, { a: 5 }]);
      expect((await openError({ url: srcUrl(), tables: [`${SRC}.*`], keys: { [`${SRC}.items`]: ['id'] } })).message).toMatch(/nodes\[n1\]\.keys\..*items: table .*items has a primary key/);
    } finally {
      await db.query(`DELETE FROM ${SRC}.nokey`);
    }
    const { records } = await readAll(await source({ url: main.url, tables: [`${SRC}.i*`, `${SRC}.ty?es`] }));
    expect([...new Set(records.map((r) => r.meta.table))]).toEqual([`${SRC}.items`, `${SRC}.types`]);
  });

  it('clear errors: missing table, missing database, wrong password, binlog off, connection and url both set', async () => {
    const missing = await openError({ url: srcUrl(), tables: ['nope'] });
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toMatch(new RegExp(`nodes\\[n1\\]\\.tables\\[0\\]: table "${SRC}.nope" not found .*tables in ${SRC}: items, nokey, types`));
    expect((await openError({ url: main.url, tables: ['nodb_xyz.t'] })).message).toMatch(/database "nodb_xyz" does not exist/);
    const u = new URL(main.url);
    u.username = 'sluice_nobody';
    u.password = 'wrong';
    const denied = await openError({ url: u.toString(), tables: ['t'] });
    expect(denied).toBeInstanceOf(UserError);
    expect(denied.message).toMatch(/nodes\[n1\]\.url: access denied for user "sluice_nobody" .*check the user name and password/);
    const [{ logBin }] = await rows(db, 'SELECT @@log_bin AS logBin');
    if (!Number(logBin)) {
      const off = await openError({ url: srcUrl(), tables: ['items'], mode: 'cdc' });
      expect(off).toBeInstanceOf(ConfigError);
      expect(off.message).toMatch(/nodes\[n1\]\.mode: .*log_bin=OFF.*--log-bin.*binlog_format=ROW/);
    }
    expect(() => mysqlSource.configSchema.parse({ url: srcUrl(), connection: 'x', tables: ['t'] })).toThrow(/either `connection` or `url`/);
    expect(() => mysqlSource.configSchema.parse({ tables: ['t'] })).toThrow(/set `connection`/);
  });

  it('connection by name from the flow document; unknown names and TLS refused by the server are explained', async () => {
    const named = await readAll(
      await source({ connection: 'shop', tables: ['items'] }, { connection: (n: string) => (n === 'shop' ? { type: 'mysql', url: srcUrl() } : undefined) }),
    );
    expect(named.records).toHaveLength(20);
    const unknown = await source({ connection: 'other', tables: ['items'] });
    await expect(unknown.open(undefined)).rejects.toThrow(/nodes\[n1\]\.connection: the flow has no connection named "other"/);
    const [[ssl]] = (await db.query("SHOW VARIABLES LIKE 'have_ssl'")) as unknown as [{ Value: string }[]];
    if (ssl?.Value !== 'YES') {
      expect((await openError({ url: srcUrl(), tls: {}, tables: ['items'] })).message).toMatch(/nodes\[n1\]\.tls: .*does not support TLS/);
    }
  });

  it('testConnection says what it reached and whether CDC would work', async () => {
    const ok = await testConnection({ url: main.url });
    expect(ok).toMatchObject({ ok: true, flavor: expect.stringMatching(/mysql|mariadb/) });
    expect(ok.message).toMatch(/^connected to (MariaDB|MySQL) /);
    const refused = await testConnection({ host: '127.0.0.1', port: 1, user: 'root' });
    expect(refused.ok).toBe(false);
    expect(refused.message).toMatch(/connection refused/);
    const [{ logBin }] = await rows(db, 'SELECT @@log_bin AS logBin');
    if (!Number(logBin)) expect(ok.cdc).toEqual({ ready: false, problems: [expect.stringMatching(/log_bin=OFF/)] });
  });

  it('sink: upserts and deletes in batch order, one transaction per batch, keys from config', async () => {
    await db.query(`CREATE TABLE ${DST}.kv (k VARCHAR(10), n INT, v INT NOT NULL, note VARCHAR(20), PRIMARY KEY (k, n))`);
    const s = await sink({ url: dstUrl(), table: 'kv', keys: ['k', 'n'] });
    await s.open();
    await s.write([
      rec({ k: 'a', n: 1, v: 1, note: 'x' }),
      rec({ k: 'b', n: 1, v: 2 }),
      { key: { k: 'a', n: 1 }, value: null, op: 'd', before: null, meta: {} },
      rec({ k: 'a', n: 1, v: 3 }, 'u'),
      rec({ k: 'b', n: 1, v: 4 }, 'u'),
      { key: { k: 'c', n: 9 }, value: null, op: 'd', meta: {} },
    ]);
    expect(await rows(db, `SELECT * FROM ${DST}.kv ORDER BY k`)).toEqual([
      { k: 'a', n: 1, v: 3, note: null },
      { k: 'b', n: 1, v: 4, note: null },
    ]);
    // a batch that fails half-way leaves nothing of itself
    await expect(s.write([rec({ k: 'c', n: 1, v: 5 }), rec({ k: 'd', n: 1, v: null })])).rejects.toThrow(/nodes|node n1: .*kv/);
    expect(await rows(db, `SELECT k FROM ${DST}.kv ORDER BY k`)).toEqual([{ k: 'a' }, { k: 'b' }]);
    await expect(s.write([rec({ k: 'e', v: 1 })])).rejects.toThrow(/no value for key column "n"/);
    await s.close();
    const wrongKeys = await sink({ url: dstUrl(), table: 'kv', keys: ['k'] });
    await expect(wrongKeys.open()).rejects.toThrow(/nodes\[n1\]\.keys: table .*kv has no PRIMARY KEY or UNIQUE index on \(k\)/);
    const noTable = await sink({ url: dstUrl(), table: 'nope', keys: ['id'], createTable: false });
    await expect(noTable.open()).rejects.toThrow(/nodes\[n1\]\.table: table .*nope not found .*createTable is false; tables: kv/);
  });

  it('sink createTable maps types (documented in sink.ts) and adds columns for new fields', async () => {
    const s = await sink({ url: dstUrl(), table: `${DST}.made`, keys: ['id'] });
    const batch1: SluiceRecord[] = [
      rec({ id: 'k1', n: 5, x: 1.5, ok: true, day: '2024-05-06', at: '2024-05-06T07:08:09.123456Z', doc: { a: [1] }, bin: { $base64: 'AAEC' }, text: '12.50', none: null }),
    ];
    await writeAll(s, [batch1, [rec({ id: 'k2', n: 6, extra: 'new' })]]);
    const types = await rows(
      db,
      `SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'made' ORDER BY ORDINAL_POSITION`,
      [DST],
    );
    const byName = Object.fromEntries(types.map((r) => [r.c, String(r.t).toLowerCase()]));
    expect(byName).toMatchObject({
      id: 'varchar(255)',
      n: expect.stringMatching(/^bigint/),
      x: 'double',
      ok: expect.stringMatching(/^tinyint\(1\)/),
      day: 'date',
      at: 'datetime(6)',
      bin: 'longblob',
      text: 'longtext',
      none: 'longtext',
      extra: 'longtext',
    });
    expect(['json', 'longtext']).toContain(byName.doc);
    const [k1] = await rows(db, `SELECT id, at, day, HEX(bin) AS bin, doc, text FROM ${DST}.made WHERE id = 'k1'`);
    expect(k1).toMatchObject({ at: '2024-05-06 07:08:09.123456', day: '2024-05-06', bin: '000102', text: '12.50' });
    expect(typeof k1.doc === 'string' ? JSON.parse(k1.doc) : k1.doc).toEqual({ a: [1] });
  });

  it('core.denormalize looks rows up in a mysql reference table (one IN query per batch), errors under from.*', async () => {
    const lookup = (from: Record<string, unknown>, foreignKey = 'o') =>
      create<LookupTransform>(denormalize, { mode: 'lookup', as: 'lines', from: { type: 'mysql', ...from }, localKey: 'order', foreignKey, many: true });
    const t = await lookup({ url: srcUrl(), table: 'items' });
    await t.open();
    const out = await t.process([rec({ id: 'a', order: 2 }), rec({ id: 'b', order: '3' }), rec({ id: 'c', order: 99 })], 'in');
    expect(out.out.map((r) => (r.value!.lines as { o: number; line: number }[]).map((l) => `${l.o}.${l.line}`))).toEqual([
      ['2.1', '2.2', '2.3', '2.4'],
      ['3.1', '3.2', '3.3', '3.4'],
      [],
    ]);
    expect((out.out[0].value!.lines as unknown[])[0]).toEqual({ o: 2, line: 1, sku: 's21', qty: 2 });
    expect(t.stats().queries).toBe(1);
    await t.close();
    const missing = await lookup({ url: srcUrl(), table: 'nope' });
    await expect(missing.open()).rejects.toThrow(/nodes\[n1\]\.from\.table: table .*nope not found .*tables: items/);
    const badColumn = await lookup({ url: srcUrl(), table: 'items' }, 'zzz');
    await expect(badColumn.open()).rejects.toThrow(/nodes\[n1\]\.foreignKey: .*no column "zzz"/);
  });

  it('snapshot through the executor into mysql.sink: the target equals the source row for row', async () => {
    await db.query(`CREATE TABLE ${DST}.types LIKE ${SRC}.types`);
    const dir = tempDir();
    const { done } = startFlow(
      {
        name: 'my-snap',
        settings: { batchSize: 1 },
        connections: { src: { type: 'mysql', url: srcUrl() } },
        nodes: [
          { id: 'src', type: 'mysql.source', config: { connection: 'src', tables: ['types'] } },
          { id: 'dst', type: 'mysql.sink', config: { url: dstUrl(), table: 'types', keys: ['id'], createTable: false } },
        ],
        edges: [{ from: 'src', to: 'dst' }],
      },
      dir,
    );
    const summary = await done;
    expect(summary.status, summary.error).toBe('completed');
    const read = async (d: string) => rows(db, `SELECT *, HEX(b) AS hb, HEX(bit8) AS hbit FROM ${d}.types ORDER BY id`);
    expect(await read(DST)).toEqual(await read(SRC));
  });

  it('conversion mode: several tables into mysql.sink {table} with createTable get the declared types mapped; stop and rerun copy row for row', async () => {
    await db.query(`CREATE TABLE ${SRC}.conv_a (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(20,6) NOT NULL, at DATETIME(6), doc JSON, img BLOB,
      name VARCHAR(40) NOT NULL, ts TIMESTAMP(3) NULL, flag TINYINT(1), f FLOAT, small SMALLINT, big BIGINT)`);
    await db.query(`CREATE TABLE ${SRC}.conv_b (o INT, line INT, sku CHAR(8), qty INT UNSIGNED, price DECIMAL(10,2), placed DATE, dur TIME(2), bin VARBINARY(16), PRIMARY KEY (o, line))`);
    await db.query(`CREATE TABLE ${SRC}.conv_c (code VARCHAR(20) PRIMARY KEY, note TEXT, e ENUM('x','y'))`);
    const a: unknown[][] = [];
    for (let id = 1; id <= 3000; id++) {
      a.push([id, `${id % 7}.${String(id).padStart(6, '0').slice(-6)}`, `2024-02-03 04:05:06.${String(id).padStart(6, '0')}`, JSON.stringify({ id, tags: ['t', id % 3] }),
        Buffer.from([id % 256, 0, 255]), `name ${id}`, id % 5 ? `2024-03-04 05:06:07.${String(id % 1000).padStart(3, '0')}` : null, id % 2, 1.1, id % 30000, -9007199254740993]);
    }
    a.push(['18446744073709551615', '99999999999999.999999', '9999-12-31 23:59:59.999999', '[1, "two", null]', Buffer.alloc(0), 'max', null, 0, -3.25e-5, -32768, null]);
    for (let i = 0; i < a.length; i += 1000) await db.query(`INSERT INTO ${SRC}.conv_a VALUES ?`, [a.slice(i, i + 1000)]);
    const b: unknown[][] = [];
    for (let o = 1; o <= 300; o++) for (let l = 1; l <= 3; l++) b.push([o, l, `s${o}-${l}`, 4294967295 - l, `${o}.${l}0`, '2024-05-06', `-${l}:02:03.45`, Buffer.from([o % 256, l])]);
    await db.query(`INSERT INTO ${SRC}.conv_b VALUES ?`, [b]);
    await db.query(`INSERT INTO ${SRC}.conv_c VALUES ('k1', 'héllo', 'x'), ('k2', NULL, 'y'), ('k3', '', NULL)`);

    const dir = tempDir();
    const doc = {
      name: 'my-convert',
      settings: { batchSize: 50 },
      nodes: [
        { id: 'src', type: 'mysql.source', config: { url: srcUrl(), tables: ['conv_*'] } },
        { id: 'dst', type: 'mysql.sink', config: { url: dstUrl(), table: `${DST}.{table}`, createTable: true } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const count = async (t: string) => Number((await rows(db, `SELECT count(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, [DST, t]))[0].n) ? Number((await rows(db, `SELECT count(*) AS n FROM ${DST}.${t}`))[0].n) : 0;
    const first = startFlow(doc, dir);
    await eventually(async () => (await count('conv_a')) >= 500, 'part of conv_a to be copied');
    first.run.stop();
    const stopped = await first.done;
    expect(stopped.status, stopped.error).toBe('stopped');
    expect(await count('conv_a')).toBeLessThan(a.length);
    expect(await count('conv_c')).toBe(0);

    const second = await startFlow(doc, dir).done;
    expect(second.status, second.error).toBe('completed');
    expect(second.progress?.src.tables?.map((t) => [t.name, t.phase])).toEqual([
      [`${SRC}.conv_a`, 'done'],
      [`${SRC}.conv_b`, 'done'],
      [`${SRC}.conv_c`, 'done'],
    ]);

    const columns = async (d: string, t: string) =>
      (await rows(db, `SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, IS_NULLABLE AS n, COLUMN_KEY AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [d, t])).map(
        // integer display widths (MariaDB prints them, MySQL 8 does not) left out
        (r) => `${r.c} ${String(r.t).replace(/^(bigint|int|mediumint|smallint)\(\d+\)/, '$1')}${r.n === 'NO' ? ' not null' : ''}${r.k === 'PRI' ? ' pk' : ''}`,
      );
    // the declared types, mapped (MariaDB prints JSON as longtext; ENUM and TEXT become LONGTEXT)
    expect(await columns(DST, 'conv_a')).toEqual([
      'id bigint unsigned not null pk',
      'amount decimal(20,6)', // a declared NOT NULL is kept on key columns only
      'at datetime(6)',
      'doc longtext',
      'img longblob',
      'name varchar(40)',
      'ts timestamp(3)',
      'flag tinyint(1)',
      'f float',
      'small smallint',
      'big bigint',
    ]);
    expect(await columns(DST, 'conv_b')).toEqual([
      'o int not null pk',
      'line int not null pk',
      'sku char(8)',
      'qty int unsigned',
      'price decimal(10,2)',
      'placed date',
      'dur time(2)',
      'bin varbinary(16)',
    ]);
    expect(await columns(DST, 'conv_c')).toEqual(['code varchar(20) not null pk', 'note longtext', 'e longtext']);

    const read = async (d: string, t: string, order: string) =>
      (await rows(db, `SELECT * FROM ${d}.${t} ORDER BY ${order}`)).map((r) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r)) out[k] = Buffer.isBuffer(v) ? v.toString('hex') : k === 'doc' && typeof v === 'string' ? JSON.parse(v) : v;
        return out;
      });
    const srcA = await read(SRC, 'conv_a', 'id');
    expect(srcA).toHaveLength(a.length);
    expect(await read(DST, 'conv_a', 'id')).toEqual(srcA);
    expect(await read(DST, 'conv_b', 'o, line')).toEqual(await read(SRC, 'conv_b', 'o, line'));
    expect(await read(DST, 'conv_c', 'code')).toEqual(await read(SRC, 'conv_c', 'code'));
  });

  it('conversion mode into sqlite.sink: declared types give INTEGER / REAL / BLOB / TEXT columns and the key, values exact', async () => {
    await db.query(`CREATE TABLE ${SRC}.sq_a (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(12,2) NOT NULL, f DOUBLE, n INT, img BLOB, flag TINYINT(1),
      name VARCHAR(10) NOT NULL, code VARCHAR(10), d DATE)`);
    const values: unknown[][] = [['18446744073709551615', '12.30', 2, null, Buffer.from([0, 255]), 1, 'max', '00123', '2024-05-06']];
    for (let id = 1; id <= 120; id++) values.push([id, `${id}.50`, id % 2 ? 3 : 3.5, id > 100 ? id : null, null, id % 2, `n${id}`, `0${id}`, null]);
    await db.query(`INSERT INTO ${SRC}.sq_a VALUES ?`, [values]);
    const target = join(tempDir(), 'copy.db');
    const summary = await startFlow(
      {
        name: 'my-to-sqlite',
        settings: { batchSize: 50 },
        nodes: [
          { id: 'src', type: 'mysql.source', config: { url: srcUrl(), tables: ['sq_a'] } },
          { id: 'dst', type: 'sqlite.sink', config: { path: target, table: '{table}' } },
        ],
        edges: [{ from: 'src', to: 'dst' }],
      },
      tempDir(),
    ).done;
    expect(summary.status, summary.error).toBe('completed');
    const out = new Database(target, { readonly: true });
    try {
      const cols = (out.prepare("SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info('sq_a') ORDER BY cid").all() as { name: string; type: string; nn: number; pk: number }[]).map(
        (c) => `${c.name} ${c.type || '(none)'}${c.nn ? ' not null' : ''}${c.pk ? ' pk' : ''}`,
      );
      // without the declared types: id INTEGER (the biggest id would become a REAL), f INTEGER (its first value is whole), n TEXT (null in the first batch)
      expect(cols).toEqual(['id (none) pk', 'amount TEXT', 'f REAL', 'n INTEGER', 'img BLOB', 'flag INTEGER', 'name TEXT', 'code TEXT', 'd TEXT']);
      const got = out.prepare('SELECT id, typeof(id) AS tid, amount, f, typeof(f) AS tf, n, typeof(n) AS tn, hex(img) AS img, code FROM sq_a ORDER BY rowid').all() as Record<string, unknown>[];
      expect(got).toHaveLength(values.length);
      const byId = new Map(got.map((r) => [String(r.id), r]));
      expect(byId.get('18446744073709551615')).toMatchObject({ tid: 'text', amount: '12.30', f: 2, tf: 'real', n: null, img: '00FF', code: '00123' });
      expect(byId.get('7')).toMatchObject({ tid: 'integer', amount: '7.50', f: 3, tf: 'real', tn: 'null', code: '07' });
      expect(byId.get('120')).toMatchObject({ tid: 'integer', amount: '120.50', f: 3.5, n: 120, tn: 'integer', code: '0120' });
    } finally {
      out.close();
    }
  });
});

// ---- binlog ----------------------------------------------------------------------------------------

/** the private instance the CI script starts: the only one a test may restart */
/** the private instance of the global set-up (its directory), which the restart test may shut down and start */
const CDC_DIR = process.env.SLUICE_MARIADB_CDC_DIR;
const restartable = () => {
  const u = new URL(cdc.url);
  return ['127.0.0.1', 'localhost'].includes(u.hostname) && CDC_DIR !== undefined && existsSync(join(CDC_DIR, 'data'));
};

describe.skipIf(!cdc.available)('mysql.source binlog CDC on MYSQL_CDC_URL', () => {
  let db: Connection;
  const cdcUrl = () => withDb(cdc.url, CDC);
  const ORDERS = `CREATE TABLE %s (id INT PRIMARY KEY, customer VARCHAR(40) NOT NULL, amount DECIMAL(12,2), doc JSON, placed DATETIME(3), note TEXT)`;

  let scratch: ScratchDb | undefined;
  beforeAll(async () => {
    scratch = await scratchMysql(cdc.url, CDC);
    db = await admin(cdc.url);
    await db.query(`CREATE USER IF NOT EXISTS 'sluice_norepl'@'%' IDENTIFIED BY 'pw'; GRANT SELECT ON *.* TO 'sluice_norepl'@'%'`);
  });

  afterAll(async () => {
    const c = await admin(cdc.url).catch(() => undefined);
    await scratch?.drop();
    await c?.query(`DROP USER IF EXISTS 'sluice_norepl'@'%'`);
    await c?.end();
    await db?.end().catch(() => undefined);
  });

  const insertOrders = async (c: Connection, table: string, from: number, to: number, tag = 'n') => {
    for (let start = from; start <= to; start += 2000) {
      const values: unknown[][] = [];
      for (let id = start; id <= Math.min(to, start + 1999); id++) {
        values.push([id, `c${id % 97}`, `${id}.${String(id % 100).padStart(2, '0')}`, JSON.stringify({ id, tag, tags: [tag] }), `2024-01-02 03:04:05.${String(id % 1000).padStart(3, '0')}`, id % 3 ? null : `note ${id}`]);
      }
      await c.query(`INSERT INTO ${table} VALUES ?`, [values]);
    }
  };

  it('binlog records: c, u with before, d with before; key = { pk }; meta { table, position file:pos, ts }', async () => {
    await db.query(ORDERS.replace('%s', `${CDC}.rec`));
    const s = await source({ url: cdcUrl(), tables: ['rec'], mode: 'cdc' });
    await s.open(undefined);
    await db.query(`INSERT INTO ${CDC}.rec VALUES (1, 'ann', 9.50, '{"x":1}', '2024-01-02 03:04:05.600', NULL), (2, 'bob', NULL, '"123"', NULL, NULL)`);
    await db.query(`UPDATE ${CDC}.rec SET amount = 10.25 WHERE id = 1`);
    await db.query(`DELETE FROM ${CDC}.rec WHERE id = 1`);
    const got: SluiceRecord[] = [];
    while (got.length < 4) got.push(...(await s.read())!.records);
    await s.close();
    const snap = await readAll(await source({ url: cdcUrl(), tables: ['rec'] }));
    expect(snap.records.map((r) => r.value)).toEqual([got[1].value]); // id 2: the JSON string "123" read alike
    expect(got[1].value).toMatchObject({ id: 2, doc: '123' });
    got.splice(1, 1);
    const row = { id: 1, customer: 'ann', amount: '9.50', doc: { x: 1 }, placed: '2024-01-02T03:04:05.600', note: null };
    expect(got.map((r) => [r.op, r.key])).toEqual([
      ['c', { id: 1 }],
      ['u', { id: 1 }],
      ['d', { id: 1 }],
    ]);
    expect(got[0].value).toEqual(row);
    expect(got[1].before).toEqual(row);
    expect(got[1].value).toEqual({ ...row, amount: '10.25' });
    expect(got[2]).toMatchObject({ value: null, before: { ...row, amount: '10.25' } });
    const meta = got[0].meta as { table: string; ts: number; position: { phase: string; binlog: { file: string; pos: number; skip: number } } };
    expect(meta.table).toBe(`${CDC}.rec`);
    expect(Math.abs(meta.ts - Date.now())).toBeLessThan(60_000);
    expect(meta.position).toMatchObject({ phase: 'cdc', binlog: { file: expect.stringMatching(/binlog\.\d+/), pos: expect.any(Number), skip: 1 } });
  });

  it('a batch ending inside a big transaction resumes exactly: file:pos of the transaction + rows to skip', async () => {
    await db.query(ORDERS.replace('%s', `${CDC}.big`));
    const first = await source({ url: cdcUrl(), tables: ['big'], mode: 'cdc', chunkSize: 1000 });
    await first.open(undefined);
    await db.beginTransaction();
    await insertOrders(db, `${CDC}.big`, 1, 2500);
    await db.commit();
    // a batch holds at most chunkSize rows, fewer when the stream is slower than the source's wait for a
    // full batch (a loaded machine): either way it ends inside the transaction of 2,500 rows
    const b1 = (await first.read())!;
    const n = b1.records.length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(1000);
    expect(b1.records.map((r) => (r.key as { id: number }).id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    await first.close();
    expect(b1.position).toMatchObject({ phase: 'cdc', binlog: { skip: n } });
    const again = await source({ url: cdcUrl(), tables: ['big'], mode: 'cdc', chunkSize: 1000 });
    await again.open(b1.position);
    const ids: number[] = [];
    while (ids.length < 2500 - n) ids.push(...(await again.read())!.records.map((r) => (r.key as { id: number }).id));
    await again.close();
    expect(ids).toEqual(Array.from({ length: 2500 - n }, (_, i) => i + n + 1));
  });

  it('snapshot+cdc handoff loses nothing: changes made while the snapshot runs arrive from the binlog', async () => {
    const table = `${CDC}.handoff`;
    await db.query(ORDERS.replace('%s', table));
    await insertOrders(db, table, 1, 100);
    const s = await source({ url: cdcUrl(), tables: ['handoff'], mode: 'snapshot+cdc', chunkSize: 10 });
    await s.open(undefined);
    const state = new Map<number, unknown>();
    const seen: SluiceRecord[] = [];
    const apply = (records: SluiceRecord[]) => {
      for (const r of records) {
        seen.push(r);
        const id = (r.key as { id: number }).id;
        if (r.op === 'd') state.delete(id);
        else state.set(id, r.value);
      }
    };
    apply((await s.read())!.records); // ids 1-10: the snapshot transaction and its binlog position exist now
    await db.query(`UPDATE ${table} SET customer = 'changed' WHERE id IN (5, 50)`);
    await db.query(`DELETE FROM ${table} WHERE id IN (7, 60)`);
    await insertOrders(db, table, 101, 105);
    await insertOrders(db, table, 999, 999); // the last change: read until it arrives
    while (!seen.some((r) => (r.key as { id: number }).id === 999)) apply((await s.read())!.records);
    await s.close();
    // the snapshot saw the table as it was when it started; the binlog brought every change after
    expect(seen.find((r) => r.op === 'r' && (r.key as { id: number }).id === 50)?.value).toMatchObject({ customer: 'c50' });
    expect(seen.filter((r) => r.op !== 'r').map((r) => `${r.op}${(r.key as { id: number }).id}`)).toEqual(['u5', 'u50', 'd7', 'd60', 'c101', 'c102', 'c103', 'c104', 'c105', 'c999']);
    const now = await readAll(await source({ url: cdcUrl(), tables: ['handoff'] }));
    expect(new Map(now.records.map((r) => [(r.key as { id: number }).id, r.value]))).toEqual(state);
  });

  it('snapshot+cdc with parallelTables: the rows of every table from the lanes, then every change made while they read, from the binlog', async () => {
    const tables = ['lane_a', 'lane_b', 'lane_c'];
    for (const t of tables) {
      await db.query(ORDERS.replace('%s', `${CDC}.${t}`));
      await insertOrders(db, `${CDC}.${t}`, 1, 60);
    }
    const s = await source({ url: cdcUrl(), tables: tables.map((t) => `${CDC}.${t}`), mode: 'snapshot+cdc', chunkSize: 10, parallelTables: 2 });
    await s.open(undefined);
    const state = new Map<string, unknown>();
    const seen: SluiceRecord[] = [];
    const apply = (records: SluiceRecord[]) => {
      for (const r of records) {
        seen.push(r);
        const id = `${String(r.meta.table)}#${(r.key as { id: number }).id}`;
        if (r.op === 'd') state.delete(id);
        else state.set(id, r.value);
      }
    };
    apply((await s.read())!.records); // the lanes' snapshot transactions and the binlog position exist now
    for (const t of tables) {
      await db.query(`UPDATE ${CDC}.${t} SET customer = 'changed' WHERE id IN (5, 50)`);
      await db.query(`DELETE FROM ${CDC}.${t} WHERE id = 7`);
      await insertOrders(db, `${CDC}.${t}`, 101, 102);
    }
    await insertOrders(db, `${CDC}.lane_c`, 999, 999); // the last change: read until it arrives
    while (!seen.some((r) => r.op === 'c' && (r.key as { id: number }).id === 999)) apply((await s.read())!.records);
    await s.close();
    const snapshotTables = new Set(seen.filter((r) => r.op === 'r').map((r) => r.meta.table));
    expect([...snapshotTables].sort()).toEqual(tables.map((t) => `${CDC}.${t}`));
    const now = await readAll(await source({ url: cdcUrl(), tables: tables.map((t) => `${CDC}.${t}`) }));
    expect(new Map(now.records.map((r) => [`${String(r.meta.table)}#${(r.key as { id: number }).id}`, r.value]))).toEqual(state);
  });

  it('TLS: tls.ca trusts the server (binlog stream included); an untrusted certificate says to set tls.ca', async () => {
    const ca = join(CDC_DIR ?? '/nonexistent', 'tls/ca.pem');
    if (!restartable() || !existsSync(ca)) {
      process.stderr.write('\n\x1b[33m!!! SKIPPING the TLS test: MYSQL_CDC_URL is not the private instance of the global set-up (no CA)\x1b[0m\n');
      return;
    }
    await db.query(ORDERS.replace('%s', `${CDC}.tls`));
    await db.query(`CREATE USER IF NOT EXISTS 'sluice_tls'@'%' IDENTIFIED BY 'pw' REQUIRE SSL; GRANT SELECT, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'sluice_tls'@'%'`);
    try {
      const u = new URL(cdcUrl());
      u.username = 'sluice_tls';
      u.password = 'pw';
      expect((await testConnection({ url: u.toString() })).message).toMatch(/access denied/); // REQUIRE SSL: plain refused
      expect(await testConnection({ url: u.toString(), tls: { ca } })).toMatchObject({ ok: true, cdc: { ready: true } });
      const untrusted = await testConnection({ url: u.toString(), tls: {} });
      expect(untrusted.ok).toBe(false);
      expect(untrusted.message).toMatch(/TLS to .* failed: .*Set tls\.ca/);
      const s = await source({ url: u.toString(), tls: { ca }, tables: ['tls'], mode: 'cdc' });
      await s.open(undefined);
      await insertOrders(db, `${CDC}.tls`, 1, 1);
      const batch = await s.read();
      await s.close();
      expect(batch!.records.map((r) => [r.op, r.key])).toEqual([['c', { id: 1 }]]);
    } finally {
      await db.query("DROP USER IF EXISTS 'sluice_tls'@'%'");
    }
  });

  it('CDC errors name the fix: binlog_format not ROW, missing REPLICATION privileges', async () => {
    await db.query(ORDERS.replace('%s', `${CDC}.err`));
    await db.query("SET GLOBAL binlog_format = 'STATEMENT'");
    let err: Error;
    try {
      err = await openError({ url: cdcUrl(), tables: ['err'], mode: 'snapshot+cdc' });
    } finally {
      await db.query("SET GLOBAL binlog_format = 'ROW'");
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/nodes\[n1\]\.mode: .*binlog_format is STATEMENT, not ROW.*SET GLOBAL binlog_format = 'ROW'/);
    const u = new URL(cdcUrl());
    u.username = 'sluice_norepl';
    u.password = 'pw';
    const priv = await openError({ url: u.toString(), tables: ['err'], mode: 'cdc' });
    expect(priv).toBeInstanceOf(ConfigError);
    expect(priv.message).toMatch(/nodes\[n1\]\.mode: .*may not read the binlog: it lacks REPLICATION SLAVE and (BINLOG MONITOR|REPLICATION CLIENT).*GRANT REPLICATION SLAVE/);
    const t = await testConnection({ url: cdcUrl() });
    expect(t.cdc).toEqual({ ready: true, problems: [] });
  });

  it('snapshot+cdc through the executor into sqlite.sink survives a restart of the database in the middle', async () => {
    if (!restartable()) {
      process.stderr.write('\n\x1b[33m!!! SKIPPING the database restart test: MYSQL_CDC_URL is not the private instance of the global set-up\x1b[0m\n');
      return;
    }
    const table = `${CDC}.restart`;
    await db.query(ORDERS.replace('%s', table));
    await insertOrders(db, table, 1, 300);
    const dir = tempDir();
    const out = join(dir, 'out.db');
    const { run, done } = startFlow(
      {
        name: 'my-restart',
        settings: { batchSize: 200, retry: { attempts: 30, backoffMs: 100, maxBackoffMs: 500 } },
        nodes: [
          { id: 'src', type: 'mysql.source', config: { url: cdcUrl(), tables: ['restart'], mode: 'snapshot+cdc' } },
          { id: 'out', type: 'sqlite.sink', config: { path: out, table: 'orders', keys: ['id'] } },
        ],
        edges: [{ from: 'src', to: 'out' }],
      },
      dir,
    );
    const count = () => {
      if (!existsSync(out)) return 0;
      const d = new Database(out, { readonly: true });
      try {
        return (d.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name = 'orders'").get() as { n: number }).n ? (d.prepare('SELECT count(*) AS n FROM orders').get() as { n: number }).n : 0;
      } finally {
        d.close();
      }
    };
    try {
      await eventually(() => count() === 300, 'the snapshot');
      await insertOrders(db, table, 301, 350);
      await db.query(`UPDATE ${table} SET customer = 'updated', doc = JSON_OBJECT('u', 1) WHERE id <= 20`);
      await db.query(`DELETE FROM ${table} WHERE id BETWEEN 21 AND 30`);
      await db.beginTransaction();
      await insertOrders(db, table, 1001, 21000, 'big');
      await db.commit();
      await eventually(() => count() > 1000, 'the big transaction to start arriving');
      // restart the server while the stream runs
      await db.query('SHUTDOWN');
      await db.end().catch(() => undefined);
      await eventually(async () => !(await probe(cdc.url).then(() => true, () => false)), 'the server to stop');
      await runMariadb(CDC_DIR!, Number(new URL(cdc.url).port));
      db = await admin(cdc.url);
      await db.query(`UPDATE ${table} SET note = 'after restart' WHERE id BETWEEN 1001 AND 1100`);
      await db.query(`DELETE FROM ${table} WHERE id > 20900`);
      await insertOrders(db, table, 30001, 30010, 'late');
      const expected = async () =>
        (await rows(db, `SELECT * FROM ${table} ORDER BY id`)).map((r) => ({ ...r, doc: JSON.stringify(r.doc), placed: String(r.placed).replace(' ', 'T') }));
      const actual = () => {
        const d = new Database(out, { readonly: true });
        try {
          return (d.prepare('SELECT * FROM orders ORDER BY id').all() as Record<string, unknown>[]).map((r) => ({ ...r, doc: JSON.stringify(JSON.parse(String(r.doc))) }));
        } finally {
          d.close();
        }
      };
      const want = await expected();
      expect(want).toHaveLength(300 + 50 - 10 + 19900 + 10);
      await eventually(() => count() === want.length && JSON.stringify(actual()) === JSON.stringify(want), 'the target to equal the source', 45_000);
    } finally {
      run.stop();
    }
    const summary = await done;
    expect(summary.status, summary.error).toBe('stopped');
  });

  it('CLI: snapshot+cdc into mysql.sink, SIGKILL in the middle of a big transaction and restart: target equals source', async () => {
    if (!main.available) return;
    // the CLI runs dist/ (built by `npm test`'s pretest); rebuilt when this connector changed since
    // (type errors elsewhere in the tree do not stop tsc from emitting)
    const dist = join(ROOT, 'dist/nodes/mysql/source.js');
    const newest = Math.max(...['nodes/mysql', 'runtime/executor'].flatMap((d) => readdirSync(join(ROOT, d)).filter((f) => f.endsWith('.ts')).map((f) => statSync(join(ROOT, d, f)).mtimeMs)));
    if (!existsSync(dist) || statSync(dist).mtimeMs < newest) spawnSync('npx', ['tsc', '-p', ROOT], { cwd: ROOT, stdio: 'ignore' });
    const table = `${CDC}.killed`;
    await db.query(ORDERS.replace('%s', table));
    await insertOrders(db, table, 1, 500);
    const dstDb = `sluice_my_kill_${suffix}`;
    const scratchDst = await scratchMysql(main.url, dstDb);
    const target = await admin(main.url);
    try {
      await target.query(ORDERS.replace('%s', `${dstDb}.orders`));
      const dir = tempDir();
      const file = join(dir, 'flow.yaml');
      writeFileSync(
        file,
        [
          'apiVersion: sluice/v1',
          'name: my-kill',
          'settings: { batchSize: 100 }',
          'connections:',
          '  src: { type: mysql, url: "${env:SRC_URL}" }',
          '  dst: { type: mysql, url: "${env:DST_URL}" }',
          'nodes:',
          '  - { id: src, type: mysql.source, config: { connection: src, tables: [killed], mode: snapshot+cdc } }',
          '  - { id: dst, type: mysql.sink, config: { connection: dst, table: orders, keys: [id], createTable: false } }',
          'edges:',
          '  - { from: src, to: dst }',
        ].join('\n'),
      );
      const env = { SRC_URL: cdcUrl(), DST_URL: withDb(main.url, dstDb) };
      const args = ['run', file, '--state', join(dir, 'state.db'), '--quiet'];
      let cli = startCli(args, { env });
      let stderr = '';
      const watch = (c: typeof cli) => c.child.stderr!.on('data', (d) => (stderr += d));
      watch(cli);
      const count = async () => {
        if (cli.child.exitCode !== null) throw new Error(`sluice exited with ${cli.child.exitCode}: ${stderr}`);
        return Number((await rows(target, `SELECT count(*) AS n FROM ${dstDb}.orders`))[0].n);
      };
      await eventually(async () => (await count()) === 500, 'the snapshot');
      await db.beginTransaction();
      await insertOrders(db, table, 1001, 21000, 'big');
      await db.commit();
      await eventually(async () => (await count()) > 1500, 'the big transaction to start arriving');
      cli.child.kill('SIGKILL');
      const killed = await cli.done;
      expect(killed.signal).toBe('SIGKILL');
      // changes while the flow is down
      await db.query(`UPDATE ${table} SET amount = amount + 1, note = 'while down' WHERE id % 50 = 0`);
      await db.query(`DELETE FROM ${table} WHERE id BETWEEN 2000 AND 2099`);
      cli = startCli(args, { env });
      watch(cli);
      const source = async () => rows(db, `SELECT * FROM ${table} ORDER BY id`);
      const copy = async () => rows(target, `SELECT * FROM ${dstDb}.orders ORDER BY id`);
      const want = await source();
      expect(want).toHaveLength(500 + 20000 - 100);
      await eventually(async () => (await count()) === want.length && JSON.stringify(await copy()) === JSON.stringify(want), 'the target to equal the source', 45_000);
      cli.child.kill('SIGTERM');
      const end = await cli.done;
      expect(end.code, end.stderr).toBe(0);
    } finally {
      await target.end();
      await scratchDst.drop();
    }
  }, 120_000);
});
