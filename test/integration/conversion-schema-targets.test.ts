/**
 * `schema: full` (issue 17 item 3) into MariaDB and into SQLite: a small MariaDB source schema with NOT
 * NULL, defaults (a literal, CURRENT_TIMESTAMP, an expression), a unique constraint, secondary indexes (one
 * over a TEXT column), a foreign key between two tables, CHECKs (portable and not), an ENUM and comments.
 * What each target was created with is read from its catalog (information_schema; sqlite_master and the
 * index_list / foreign_key_list pragmas), and the run summary's conversion report must say the same,
 * and what it left out and why. A test run from PostgreSQL into MariaDB plans the report the copy then
 * gives, its long keys shortened and hashed as MariaDB then does. Real servers (test/setup).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeMysql, probePostgres, type ScratchDb, scratchMysql, scratchPostgres, service } from '../helpers/services.js';
import { runFlow, withDb } from '../helpers/conversion-run.js';
import type { SinkInstance, SluiceRecord, TableReport } from '../../runtime/index.js';
import type { TableSchema } from '../../nodes/shared/columns.js';
import { mysqlSink } from '../../nodes/mysql/sink.js';
import { serverInfo } from '../../nodes/mysql/connection.js';
import { madeIndex, type KeyPart, type RefusedIndex } from '../../nodes/mysql/key-length.js';
import { sqliteSink } from '../../nodes/sqlite/sink.js';
import { create, tempDir } from '../helpers/node-harness.js';
import type { RunSummary } from '../../runtime/executor/run-summary.js';
import { testRegistry } from '../helpers/test-nodes.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { Preview } from '../../runtime/deploy/preview.js';

const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);
const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

const suffix = randomBytes(4).toString('hex');
const SRC = `sluice_scht_${suffix}`;
const DST = `sluice_scht_dst_${suffix}`;

const SOURCE_DDL = `
  CREATE TABLE customers (
    id INT PRIMARY KEY,
    email VARCHAR(100) NOT NULL,
    name VARCHAR(50) NOT NULL DEFAULT 'anon' COMMENT 'shown on invoices',
    tier ENUM('bronze','silver','gold') NOT NULL DEFAULT 'bronze',
    created DATETIME DEFAULT CURRENT_TIMESTAMP,
    token VARCHAR(36) DEFAULT (uuid()),
    bio TEXT,
    dir VARCHAR(20) DEFAULT 'C:\\\\temp',
    UNIQUE KEY u_email (email),
    KEY i_name (name),
    KEY i_bio (bio(100))
  ) COMMENT 'who buys';
  CREATE TABLE orders (
    id INT PRIMARY KEY,
    customer_id INT NOT NULL,
    qty INT NOT NULL DEFAULT 1,
    note VARCHAR(20),
    CONSTRAINT qty_positive CHECK (qty > 0 AND qty <= 1000),
    CONSTRAINT note_upper CHECK (note IS NULL OR upper(note) = note),
    CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE
  );
  INSERT INTO customers (id, email, name, tier, bio) VALUES (1, 'a@x', 'Ann', 'gold', REPEAT('long bio ', 200)), (2, 'b@x', 'Bob', 'silver', NULL);
  INSERT INTO orders (id, customer_id, qty, note) VALUES (10, 1, 3, 'FIRST'), (11, 2, 1, NULL);
`;

const reportOf = (reports: TableReport[] | undefined, table: string) => {
  const r = reports?.find((x) => x.table === table);
  if (!r) throw new Error(`no report for ${table}: ${JSON.stringify(reports)}`);
  return r;
};

describe.skipIf(!MY.available)('schema: full into MariaDB and SQLite', () => {
  let src: ScratchDb | undefined;
  let dst: ScratchDb | undefined;
  let target: mysql.Connection;
  const q = async (sql: string, params: unknown[] = []) => (await target.query(sql, params))[0] as Record<string, any>[];

  beforeAll(async () => {
    src = await scratchMysql(MY.url, SRC);
    dst = await scratchMysql(MY.url, DST);
    const my = await mysql.createConnection({ uri: withDb(MY.url, SRC), multipleStatements: true });
    await my.query(SOURCE_DDL);
    await my.end();
    target = await mysql.createConnection({ uri: dst.url });
  });

  afterAll(async () => {
    await target?.end().catch(() => undefined);
    await src?.drop();
    await dst?.drop();
  });

  const source = { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables: [`${SRC}.*`], schema: 'full' } };
  const env = () => ({ MY_URL: withDb(MY.url, SRC), DST_URL: dst!.url });

  it('MariaDB → MariaDB: NOT NULL, every default (the expression too), ENUM, unique, indexes (the TEXT one as a prefix), both checks, comments and the foreign key after the data', async () => {
    const s = await runFlow(
      {
        name: 'schema-full-mariadb',
        nodes: [source, { id: 'dst', type: 'mysql.sink', config: { url: '${env:DST_URL}', table: `${DST}.{table}` } }],
        edges: [{ from: 'src', to: 'dst' }],
      },
      join(tempDir(), 'state.db'),
      env(),
    );
    expect(s.status, s.error).toBe('completed');

    const cols = await q(
      'SELECT COLUMN_NAME AS c, IS_NULLABLE AS n, COLUMN_DEFAULT AS d, COLUMN_TYPE AS t, COLUMN_COMMENT AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
      [DST, 'customers'],
    );
    const col = (name: string) => cols.find((r) => r.c === name)!;
    expect(col('email').n).toBe('NO');
    expect(col('name').n).toBe('NO');
    expect(col('tier').n).toBe('NO');
    expect(col('created').n).toBe('YES');
    expect(col('name').d).toBe("'anon'");
    expect(col('tier').d).toBe("'bronze'");
    expect(col('tier').t).toBe("enum('bronze','silver','gold')");
    expect(col('created').d).toMatch(/^current_timestamp/i);
    expect(col('token').d).toBe('uuid()'); // same family: the expression means the same
    expect(col('name').k).toBe('shown on invoices');
    expect(col('dir').d).toBe("'C:\\\\temp'"); // as the source prints it: the backslash kept
    expect((await q('SELECT TABLE_COMMENT AS c FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [DST, 'customers']))[0].c).toBe('who buys');

    const stats = await q(
      'SELECT TABLE_NAME AS tb, INDEX_NAME AS i, COLUMN_NAME AS c, NON_UNIQUE AS nu, SUB_PART AS p FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX',
      [DST],
    );
    const idx = (name: string) => stats.find((r) => r.tb === 'customers' && r.i === name);
    expect(idx('u_email')).toMatchObject({ c: 'email', nu: 0 });
    expect(idx('i_name')).toMatchObject({ c: 'name', nu: 1 });
    expect(idx('i_bio')).toMatchObject({ c: 'bio', nu: 1, p: 100 }); // the source's prefix, kept

    const checks = await q('SELECT TABLE_NAME AS tb, CONSTRAINT_NAME AS n, CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ?', [DST]);
    const orderChecks = checks.filter((c) => c.tb === 'orders');
    expect(orderChecks.map((c) => c.n).sort()).toEqual(['note_upper', 'qty_positive']);
    const fks = await q(
      `SELECT k.CONSTRAINT_NAME AS n, k.COLUMN_NAME AS c, k.REFERENCED_TABLE_NAME AS rt, k.REFERENCED_COLUMN_NAME AS rc, r.DELETE_RULE AS del
         FROM information_schema.KEY_COLUMN_USAGE k JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
        WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = 'orders' AND k.REFERENCED_TABLE_NAME IS NOT NULL`,
      [DST],
    );
    expect(fks).toEqual([{ n: 'fk_customer', c: 'customer_id', rt: 'customers', rc: 'id', del: 'CASCADE' }]);
    // the data came over under the constraints, and the created ones hold
    expect((await q('SELECT count(*) AS n FROM orders'))[0].n).toBe(2);
    expect((await q('SELECT tier FROM customers WHERE id = 1'))[0].tier).toBe('gold');
    await expect(q('INSERT INTO orders (id, customer_id, qty) VALUES (12, 99, 1)')).rejects.toThrow(/foreign key/i);
    await expect(q('INSERT INTO orders (id, customer_id, qty) VALUES (13, 1, 0)')).rejects.toThrow(/qty_positive/);
    await expect(q("INSERT INTO customers (id, email) VALUES (3, 'a@x')")).rejects.toThrow(/Duplicate/);
    await q("INSERT INTO customers (id, email) VALUES (4, 'd@x')");
    const fresh = (await q('SELECT name, tier, created, token FROM customers WHERE id = 4'))[0];
    expect(fresh).toMatchObject({ name: 'anon', tier: 'bronze' });
    expect(fresh.created).not.toBeNull();
    expect(fresh.token).toMatch(/^[0-9a-f-]{36}$/);

    // the report says the same
    const customers = reportOf(s.reports?.dst, `${DST}.customers`);
    const orders = reportOf(s.reports?.dst, `${DST}.orders`);
    expect(customers.source).toBe(`${SRC}.customers`);
    expect(customers.created).toEqual(
      expect.arrayContaining([
        'NOT NULL on email',
        'NOT NULL on tier',
        "ENUM('bronze', 'silver', 'gold') for column tier",
        "default 'anon' on name",
        'default CURRENT_TIMESTAMP on created',
        'default uuid() on token',
        'unique constraint u_email (email)',
        'index i_name (name)',
        'index i_bio (bio(100))',
        'comment on the table',
        'comment on column name',
      ]),
    );
    expect(customers.leftOut).toEqual([]);
    expect(customers.lossy).toEqual(['column bio (text): LONGTEXT (a wider text type)']);
    expect(orders.created).toEqual(
      expect.arrayContaining(['NOT NULL on qty', "default '1' on qty", expect.stringMatching(/^check qty_positive/), expect.stringMatching(/^check note_upper/), 'foreign key fk_customer (customer_id) → customers (id)']),
    );
    expect(orders.leftOut).toEqual([]);
  });

  it('MariaDB → SQLite: NOT NULL, literal and CURRENT_TIMESTAMP defaults, enum as CHECK, the portable check and the foreign key in the CREATE TABLE, unique and indexes after the data; the rest reported left out', async () => {
    const path = join(tempDir(), 'copy.db');
    const s = await runFlow(
      {
        name: 'schema-full-sqlite',
        nodes: [source, { id: 'dst', type: 'sqlite.sink', config: { path, table: '{table}' } }],
        edges: [{ from: 'src', to: 'dst' }],
      },
      join(tempDir(), 'state.db'),
      env(),
    );
    expect(s.status, s.error).toBe('completed');
    const db = new Database(path);
    try {
      const info = (t: string) => db.prepare<[string], { name: string; notnull: number; dflt_value: string | null }>('SELECT name, "notnull", dflt_value FROM pragma_table_info(?)').all(t);
      const col = (t: string, name: string) => info(t).find((c) => c.name === name)!;
      expect(col('customers', 'email').notnull).toBe(1);
      expect(col('customers', 'tier').notnull).toBe(1);
      expect(col('customers', 'created').notnull).toBe(0);
      expect(col('customers', 'name').dflt_value).toBe("'anon'");
      expect(col('customers', 'created').dflt_value).toBe('CURRENT_TIMESTAMP');
      expect(col('customers', 'token').dflt_value).toBeNull(); // uuid() means nothing to SQLite
      expect(col('orders', 'qty').dflt_value).toBe("'1'");
      expect(col('customers', 'dir').dflt_value).toBe("'C:\\temp'");

      const indexes = db.prepare<[string], { name: string; unique: number; origin: string }>('SELECT name, "unique", origin FROM pragma_index_list(?)').all('customers');
      const byName = new Map(indexes.map((i) => [i.name, i]));
      expect(byName.get('customers_u_email')).toMatchObject({ unique: 1, origin: 'c' });
      expect(byName.get('customers_i_name')).toMatchObject({ unique: 0, origin: 'c' });
      expect(byName.get('customers_i_bio')).toMatchObject({ unique: 0, origin: 'c' });
      const indexCols = (name: string) => db.prepare<[string], { name: string }>('SELECT name FROM pragma_index_info(?)').all(name).map((c) => c.name);
      expect(indexCols('customers_i_bio')).toEqual(['bio']);

      const fks = db.prepare<[string], { table: string; from: string; to: string; on_delete: string }>('SELECT "table", "from", "to", on_delete FROM pragma_foreign_key_list(?)').all('orders');
      expect(fks).toEqual([{ table: 'customers', from: 'customer_id', to: 'id', on_delete: 'CASCADE' }]);
      const ddl = (t: string) => db.prepare<[string], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?").get(t)!.sql;
      expect(ddl('orders')).toMatch(/CONSTRAINT "qty_positive" CHECK \("qty" > 0 AND "qty" <= 1000\)/);
      expect(ddl('orders')).not.toMatch(/note_upper/);
      expect(ddl('customers')).toMatch(/"tier" TEXT NOT NULL DEFAULT 'bronze' CHECK \("tier" IN \('bronze', 'silver', 'gold'\)\)/);
      // the rows came over, and what was created holds
      expect(db.prepare('SELECT count(*) AS n FROM orders').get()).toEqual({ n: 2 });
      expect(() => db.prepare("INSERT INTO customers (id, email, tier) VALUES (5, 'e@x', 'platinum')").run()).toThrow(/CHECK/);
      expect(() => db.prepare("INSERT INTO customers (id, email) VALUES (6, 'a@x')").run()).toThrow(/UNIQUE/);
      expect(() => db.prepare('INSERT INTO orders (id, customer_id, qty) VALUES (14, 1, 0)').run()).toThrow(/CHECK/);
      db.pragma('foreign_keys = ON');
      expect(() => db.prepare('INSERT INTO orders (id, customer_id, qty) VALUES (12, 99, 1)').run()).toThrow(/FOREIGN KEY/);
      expect(db.pragma('foreign_key_check')).toEqual([]);
    } finally {
      db.close();
    }

    const customers = reportOf(s.reports?.dst, 'customers');
    const orders = reportOf(s.reports?.dst, 'orders');
    expect(customers.source).toBe(`${SRC}.customers`);
    expect(customers.created).toEqual(
      expect.arrayContaining([
        'NOT NULL on email',
        "default 'anon' on name",
        'default CURRENT_TIMESTAMP on created',
        "check tier IN ('bronze', 'silver', 'gold') for the enum column tier",
        'unique constraint u_email (email)',
        'index i_name (name)',
        'index i_bio (bio)',
      ]),
    );
    expect(customers.leftOut.sort()).toEqual([
      'comment on column name: SQLite has no comments',
      'comment on the table: SQLite has no comments',
      expect.stringMatching(/^default of token: the expression uuid\(\) has no known SQLite equivalent/),
    ]);
    expect(customers.lossy).toEqual([
      'column created (datetime): SQLite has no such type: a TEXT column (the value kept as text)',
      expect.stringMatching(/^default of created: SQLite's CURRENT_TIMESTAMP is UTC text/),
    ]);
    expect(orders.created).toEqual(expect.arrayContaining(['NOT NULL on customer_id', "default '1' on qty", 'check qty_positive ("qty" > 0 AND "qty" <= 1000)', 'foreign key fk_customer (customer_id) → customers (id)']));
    expect(orders.leftOut).toEqual([expect.stringMatching(/^check note_upper .*functions or operators that differ on SQLite/)]);
    expect(orders.lossy).toEqual([expect.stringMatching(/^foreign key fk_customer .*PRAGMA foreign_keys = ON/)]);
  });

  it('into MariaDB from another family: long keys shortened or hashed by MariaDB and reported; its check without the cast; expressions and a dangling foreign key left out with the reason', async () => {
    // what a PostgreSQL source with schema: full declares (written by hand: the sink reads only meta.schema)
    const schema: TableSchema = {
      table: 'public.posts',
      key: ['id'],
      columns: [
        { name: 'id', kind: 'integer', bits: 32, source: 'integer', nullable: false },
        { name: 'title', kind: 'string', source: 'text', nullable: false },
        { name: 'slug', kind: 'string', length: 1000, source: 'character varying(1000)', nullable: true },
        { name: 'made', kind: 'timestamp', fraction: 6, source: 'timestamp with time zone', nullable: false },
        { name: 'ref', kind: 'uuid', source: 'uuid', nullable: true },
        { name: 'author', kind: 'integer', bits: 32, source: 'integer', nullable: true },
        { name: 'seen', kind: 'timestamp', fraction: 3, source: 'timestamp(3) with time zone', nullable: false },
      ],
      full: {
        family: 'postgres',
        columns: [
          { name: 'id', notNull: true },
          { name: 'title', notNull: true },
          { name: 'slug', notNull: false },
          { name: 'made', notNull: true, default: { kind: 'now' } },
          { name: 'ref', notNull: false, default: { kind: 'expression', text: 'gen_random_uuid()' } },
          { name: 'author', notNull: false },
          { name: 'seen', notNull: true },
        ],
        indexes: [
          { name: 'i_title', columns: ['title'], unique: false },
          { name: 'u_title', columns: ['title'], unique: true },
          { name: 'i_slug', columns: ['slug'], unique: false },
          { name: 'i_lower', columns: [''], unique: false },
        ],
        foreignKeys: [{ name: 'fk_author', columns: ['author'], refTable: 'authors', refColumns: ['id'] }],
        checks: [{ name: 'title_set', clause: "(title <> ''::text)" }],
      },
    };
    const rows: SluiceRecord[] = [
      { key: 1, op: 'r', value: { id: 1, title: 'x'.repeat(3000), slug: 'a', made: '2024-01-01T00:00:00.000000Z', ref: null, author: 7, seen: '2024-01-02T00:00:00.000Z' }, meta: { table: 'public.posts', schema } },
    ];
    const sink = await create<SinkInstance>(mysqlSink, { url: dst!.url, table: `${DST}.posts` });
    await sink.open();
    await sink.write(rows);
    await sink.close();
    const report = sink.report!()[0];

    const cols = await q('SELECT COLUMN_NAME AS c, IS_NULLABLE AS n, COLUMN_DEFAULT AS d FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [DST, 'posts']);
    const col = (name: string) => cols.find((r) => r.c === name)!;
    expect(col('made')).toMatchObject({ n: 'NO', d: 'current_timestamp(6)' });
    expect(col('ref').d).toBe('NULL'); // MariaDB prints no default as NULL
    expect(col('seen')).toMatchObject({ n: 'NO', d: 'current_timestamp(3)' });
    expect((await q("SELECT EXTRA AS e FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'posts' AND COLUMN_NAME = 'seen'", [DST]))[0].e).not.toMatch(/on update/i);
    const stats = await q('SELECT INDEX_NAME AS i, SUB_PART AS p, INDEX_TYPE AS t FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [DST, 'posts']);
    const idx = (name: string) => stats.find((r) => r.i === name);
    expect(idx('i_title')).toMatchObject({ p: 768, t: 'BTREE' });
    expect(idx('u_title')).toMatchObject({ p: null, t: 'HASH' });
    expect(idx('i_slug')).toMatchObject({ p: 768 });
    expect(idx('i_lower')).toBeUndefined();
    // PostgreSQL's check, its text cast dropped, is MariaDB's
    expect(await q("SELECT CONSTRAINT_NAME AS n FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = 'posts'", [DST])).toEqual([{ n: 'title_set' }]);
    await expect(q(`INSERT INTO posts (id, title, made) VALUES (3, '', NOW())`)).rejects.toThrow(/title_set/);
    expect(await q("SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = 'posts'", [DST])).toEqual([]);
    // the unique hash holds: the same 3,000 characters again are refused
    await expect(q(`INSERT INTO posts (id, title, made) VALUES (2, REPEAT('x', 3000), NOW())`)).rejects.toThrow(/Duplicate/);

    expect(report).toMatchObject({ table: `${DST}.posts`, source: 'public.posts' });
    expect(report.created).toEqual(
      expect.arrayContaining(['NOT NULL on title', 'NOT NULL on made', 'default CURRENT_TIMESTAMP on made', 'index i_title (title(768))', 'unique constraint u_title (title) USING HASH', 'index i_slug (slug(768))', "check title_set ((`title` <> ''))"]),
    );
    expect(report.lossy).toEqual(
      expect.arrayContaining([
        "index i_title: only the first 768 characters of title are indexed (InnoDB's key length limit)",
        "index i_slug: only the first 768 characters of slug are indexed (InnoDB's key length limit)",
        expect.stringMatching(/^unique constraint u_title: kept as a hash/),
        expect.stringMatching(/^column seen: TIMESTAMP NOT NULL without a default at the source, DEFAULT CURRENT_TIMESTAMP here/),
      ]),
    );
    expect(report.leftOut.sort()).toEqual([
      'default of ref: the expression gen_random_uuid() has no known MariaDB/MySQL equivalent',
      `foreign key fk_author (author) → authors (id): the target has no table ${DST}.authors`,
      'index i_lower: it is over an expression',
    ]);
  });

  it("a test run's prediction of long keys (key-length.ts) is what MariaDB makes: prefixes, hashes and refusals, by the columns' sizes", async () => {
    const server = await serverInfo(target as unknown as Parameters<typeof serverInfo>[0]);
    const cases: [string, string, boolean, (string | number | null)[][]][] = [
      // columns (type, prefix), unique
      ['a', 'LONGTEXT', false, [['a', null]]],
      ['a', 'LONGTEXT', true, [['a', null]]],
      ['a', 'LONGTEXT', false, [['a', 1000]]],
      ['a', 'LONGTEXT', true, [['a', 1000]]],
      ['a', 'LONGTEXT', true, [['a', 100]]],
      ['a', 'VARCHAR(1000)', false, [['a', null]]],
      ['a', 'VARCHAR(1000)', true, [['a', null]]],
      ['a', 'VARCHAR(768)', false, [['a', null]]],
      ['a', 'VARBINARY(4000)', false, [['a', null]]],
      ['a', 'LONGBLOB', false, [['a', null]]],
      ['a', 'JSON', false, [['a', null]]],
      ['a', 'TINYTEXT', false, [['a', null]]],
      ['a, b', 'VARCHAR(500)', false, [['a', null], ['b', null]]],
      ['a, b', 'VARCHAR(500)', true, [['a', null], ['b', null]]],
      ['a, b', 'VARCHAR(500)', false, [['a', 384], ['b', 384]]],
      ['a, b', 'LONGTEXT', false, [['a', null], ['b', null]]],
      ['a, b', 'LONGTEXT', true, [['a', null], ['b', null]]],
      ['n, a', 'VARCHAR(1000)', false, [['n', null], ['a', null]]],
      ['n, a', 'VARCHAR(767)', false, [['n', null], ['a', null]]],
      ['n, a', 'VARCHAR(767)', true, [['n', null], ['a', null]]],
    ];
    // fixed sizes beside a VARBINARY that fills the key to 3,072 bytes less the size: made; one byte more: refused
    const fixed: [string, number][] = [['BIGINT UNSIGNED', 8], ['DECIMAL(65,30)', 30], ['DECIMAL(12,2)', 6], ['DATETIME(6)', 8], ['TIMESTAMP(3)', 6], ['TIME(6)', 6], ['DATE', 3], ['UUID', 16], ['CHAR(36)', 144], ["ENUM('x','y')", 1], ['DOUBLE', 8], ['MEDIUMINT', 3]];
    const predicted = (parts: KeyPart[], unique: boolean) => {
      try {
        return madeIndex(parts, unique, server);
      } catch (err) {
        return (err as RefusedIndex).errno;
      }
    };
    const made = async (types: string[], unique: boolean, parts: [string, number | null][]) => {
      await q('DROP TABLE IF EXISTS keys_probe');
      await q(`CREATE TABLE keys_probe (id INT PRIMARY KEY, n INT, ${types.map((t, i) => `c${i} ${t}`).join(', ')}) DEFAULT CHARSET = utf8mb4`);
      const list = parts.map(([c, p]) => (p === null ? c : `${c}(${p})`)).join(', ');
      try {
        await q(`ALTER TABLE keys_probe ADD ${unique ? 'UNIQUE ' : ''}INDEX k (${list})`);
      } catch (err) {
        return (err as { errno: number }).errno;
      }
      const rows = await q("SELECT COLUMN_NAME AS c, SUB_PART AS p, INDEX_TYPE AS t FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = 'keys_probe' AND INDEX_NAME = 'k' ORDER BY SEQ_IN_INDEX", [DST]);
      return { parts: rows.map((r) => ({ column: String(r.c), prefix: r.p === null ? null : Number(r.p) })), hash: rows.some((r) => r.t === 'HASH') };
    };
    for (const [cols, type, unique, parts] of cases) {
      const names = cols.split(', ').filter((c) => c !== 'n');
      const rename = (c: string) => (c === 'n' ? 'n' : `c${names.indexOf(c)}`);
      const asked = parts.map(([c, p]) => [rename(String(c)), p as number | null] as [string, number | null]);
      const keyParts = asked.map(([column, prefix]) => ({ column, type: column === 'n' ? 'INT' : type, prefix }));
      expect(predicted(keyParts, unique), `${unique ? 'unique ' : ''}(${cols}) over ${type}`).toEqual(await made(names.map(() => type), unique, asked));
    }
    for (const [type, bytes] of fixed) {
      for (const room of [bytes, bytes - 1]) {
        const types = [type, `VARBINARY(${3072 - room})`];
        const keyParts = [{ column: 'c0', type, prefix: null }, { column: 'c1', type: types[1], prefix: null }];
        expect(predicted(keyParts, false), `${type} beside ${types[1]}`).toEqual(await made(types, false, [['c0', null], ['c1', null]]));
      }
    }
    await q('DROP TABLE keys_probe');
  });

  it('into SQLite: a table whose foreign key is declared takes its rows before the referenced table has any (the sink writes it with PRAGMA foreign_keys off)', async () => {
    const schema: TableSchema = {
      table: 'shop.orders',
      key: ['id'],
      columns: [
        { name: 'id', kind: 'integer', bits: 32, source: 'int(11)', nullable: false },
        { name: 'customer_id', kind: 'integer', bits: 32, source: 'int(11)', nullable: false },
      ],
      full: {
        family: 'mysql',
        columns: [
          { name: 'id', notNull: true },
          { name: 'customer_id', notNull: true },
        ],
        indexes: [],
        foreignKeys: [{ name: 'fk_customer', columns: ['customer_id'], refTable: 'customers', refColumns: ['id'], onDelete: 'RESTRICT' }],
        checks: [],
      },
    };
    const path = join(tempDir(), 'orders-first.db');
    const sink = await create<SinkInstance>(sqliteSink, { path, table: 'orders' });
    await sink.open();
    await sink.write([{ key: 1, op: 'r', value: { id: 1, customer_id: 42 }, meta: { table: 'shop.orders', schema } }]);
    await sink.close();
    const db = new Database(path);
    try {
      expect(db.prepare('SELECT id, customer_id FROM orders').all()).toEqual([{ id: 1, customer_id: 42 }]);
      expect(db.prepare<[string], { table: string }>('SELECT "table" FROM pragma_foreign_key_list(?)').all('orders')).toEqual([{ table: 'customers' }]);
    } finally {
      db.close();
    }
    expect(sink.report!()[0].created).toEqual(['NOT NULL on id', 'NOT NULL on customer_id', 'foreign key fk_customer (customer_id) → customers (id)']);
    expect(sink.report!()[0].lossy).toEqual([
      expect.stringMatching(/^foreign key fk_customer .*PRAGMA foreign_keys = ON/),
      'foreign key fk_customer (customer_id) → customers (id): the database has no table customers, so it references nothing yet',
    ]);
  });
});

/**
 * PostgreSQL → MariaDB, planned: text and long varchar columns under plain and unique indexes, which
 * MariaDB shortens to prefixes and makes hashes of by itself (and one index of two long columns it
 * refuses, retried over prefixes), besides an enum, NOT NULL, defaults, a check, identity and a foreign key.
 */
describe.skipIf(!MY.available || !PG.available)('schema: full from PostgreSQL into MariaDB, planned by a test run', () => {
  const PG_DDL = `
    CREATE TYPE mood AS ENUM ('sad', 'ok');
    CREATE TABLE authors (
      id integer PRIMARY KEY,
      name text NOT NULL CONSTRAINT authors_name_key UNIQUE,
      bio varchar(1000),
      feeling mood NOT NULL DEFAULT 'ok'
    );
    CREATE INDEX authors_name_idx ON authors (name);
    CREATE INDEX authors_bio_idx ON authors (bio);
    CREATE INDEX authors_feeling_idx ON authors (feeling);
    CREATE TABLE articles (
      id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
      author_id integer NOT NULL REFERENCES authors (id) ON DELETE CASCADE,
      title text NOT NULL CONSTRAINT title_set CHECK (title <> ''),
      slug varchar(200) NOT NULL CONSTRAINT articles_slug_key UNIQUE,
      body text,
      made timestamptz NOT NULL DEFAULT now(),
      ref uuid DEFAULT gen_random_uuid()
    );
    CREATE INDEX articles_title_body_idx ON articles (title, body);
    CREATE UNIQUE INDEX articles_author_title_key ON articles (author_id, title);
    CREATE INDEX articles_author_body_idx ON articles (author_id, body);
    INSERT INTO authors (id, name, bio, feeling) VALUES (1, repeat('n', 3000), 'writes', 'sad'), (2, 'Bob', NULL, 'ok');
    INSERT INTO articles (author_id, title, slug, body) VALUES (1, repeat('t', 3000), 'first', repeat('b', 5000)), (2, 'Hi', 'hi', NULL);
  `;
  const SRC_PG = `sluice_schtp_src_${suffix}`;
  const PLAN = `sluice_schtp_dst_${suffix}`;
  let src: ScratchDb | undefined;
  let dst: ScratchDb | undefined;

  beforeAll(async () => {
    src = await scratchPostgres(PG.url, SRC_PG);
    dst = await scratchMysql(MY.url, PLAN);
    const c = new pg.Client({ connectionString: src.url });
    await c.connect();
    await c.query(PG_DDL);
    await c.end();
  });

  afterAll(async () => {
    await src?.drop();
    await dst?.drop();
  });

  it('a test run plans the same report the copy then gives, and creates nothing', async () => {
    const doc = {
      name: 'pg-schema-mariadb-plan',
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:SRC_URL}', tables: ['public.*'], schema: 'full' } },
        { id: 'dst', type: 'mysql.sink', config: { url: '${env:DST_URL}', table: `${PLAN}.{table}` } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const env = { SRC_URL: src!.url, DST_URL: dst!.url };
    const planned = await new Preview(compileFlow({ apiVersion: 'sluice/v1', ...doc }, testRegistry(), { env }), { limit: 100 }).start();
    expect(planned.status, planned.error).toBe('completed');
    const target = await mysql.createConnection({ uri: dst!.url });
    try {
      const [tables] = await target.query('SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [PLAN]);
      expect(tables, 'the test run created nothing').toEqual([]);
    } finally {
      await target.end();
    }
    const s = await runFlow(doc, join(tempDir(), 'state.db'), env);
    expect(s.status, s.error).toBe('completed');
    const byTable = (r: NonNullable<RunSummary['reports']>) => Object.fromEntries(r.dst.map((t) => [t.table, t]));
    const real = byTable(s.reports!);
    expect(Object.keys(byTable(planned.reports!)).sort()).toEqual([`${PLAN}.articles`, `${PLAN}.authors`]);
    // what only MariaDB's answer told the copy: long keys as prefixes and hashes, two long columns refused then prefixed
    expect(real[`${PLAN}.authors`].created).toEqual(
      expect.arrayContaining(['unique constraint authors_name_key (name) USING HASH', 'index authors_name_idx (name(768))', 'index authors_bio_idx (bio(768))', 'index authors_feeling_idx (feeling)']),
    );
    expect(real[`${PLAN}.articles`].created).toEqual(
      expect.arrayContaining(['unique constraint articles_slug_key (slug)', 'index articles_title_body_idx (title(384), body(384))', 'unique constraint articles_author_title_key (author_id, title) USING HASH',
        // MariaDB shortens body to 768 characters, then refuses the 4 + 3,072 bytes: retried with body(767) beside the integer
        'index articles_author_body_idx (author_id, body(767))',
      ]),
    );
    expect(real[`${PLAN}.articles`].lossy).toEqual(
      expect.arrayContaining([expect.stringMatching(/^unique constraint articles_author_title_key: kept as a hash/), 'index articles_author_body_idx: only the first 767 characters of body are indexed (InnoDB\'s key length limit)']),
    );
    expect(byTable(planned.reports!)).toEqual(real);
  });
});
