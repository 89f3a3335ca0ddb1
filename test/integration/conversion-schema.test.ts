/**
 * `schema: full` (issue 17 item 3), MariaDB → PostgreSQL: a small source schema with NOT NULL, defaults
 * (portable and not), a unique constraint, a secondary index, a foreign key between two tables, CHECKs
 * (portable and not), an ENUM and comments. What the target was created with is read from PostgreSQL's
 * catalog, and the run summary's conversion report must say the same; `schema: keys` (the default)
 * creates none of it. Real servers (test/setup).
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/node-harness.js';
import { probeMysql, probePostgres, type ScratchDb, scratchMysql, scratchPostgres, service } from '../helpers/services.js';
import { runFlow, withDb } from '../helpers/conversion-run.js';
import { testRegistry } from '../helpers/test-nodes.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { Preview } from '../../runtime/deploy/preview.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);

const suffix = randomBytes(4).toString('hex');

describe.skipIf(!PG.available || !MY.available)('schema: full, MariaDB → PostgreSQL', () => {
  const SRC = `sluice_schf_${suffix}`;
  const DST = `sluice_schf_${suffix}`;
  let src: ScratchDb | undefined;
  let dst: ScratchDb | undefined;
  let target: pg.Client;
  const q = async (sql: string, params: unknown[] = []) => (await target.query(sql, params)).rows;

  beforeAll(async () => {
    src = await scratchMysql(MY.url, SRC);
    dst = await scratchPostgres(PG.url, DST);
    const my = await mysql.createConnection({ uri: withDb(MY.url, SRC), multipleStatements: true });
    await my.query(`
      CREATE TABLE customers (
        id INT PRIMARY KEY,
        email VARCHAR(100) NOT NULL,
        name VARCHAR(50) NOT NULL DEFAULT 'anon' COMMENT 'shown on invoices',
        tier ENUM('bronze','silver','gold') NOT NULL DEFAULT 'bronze',
        created DATETIME DEFAULT CURRENT_TIMESTAMP,
        token VARCHAR(36) DEFAULT (uuid()),
        flags TINYINT,
        UNIQUE KEY u_email (email),
        KEY i_name (name)
      ) COMMENT 'who buys';
      CREATE TABLE orders (
        id INT AUTO_INCREMENT PRIMARY KEY,
        customer_id INT NOT NULL,
        qty INT NOT NULL DEFAULT 1,
        note VARCHAR(20),
        CONSTRAINT qty_positive CHECK (qty > 0 AND qty <= 1000),
        CONSTRAINT note_upper CHECK (note IS NULL OR upper(note) = note),
        CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE
      );
      INSERT INTO customers (id, email, name, tier) VALUES (1, 'a@x', 'Ann', 'gold'), (2, 'b@x', 'Bob', 'silver');
      INSERT INTO orders (id, customer_id, qty, note) VALUES (10, 1, 3, 'FIRST'), (11, 2, 1, NULL);
    `);
    await my.end();
    target = new pg.Client({ connectionString: dst.url });
    await target.connect();
    await q('CREATE SCHEMA full_copy; CREATE SCHEMA keys_copy');
  });

  afterAll(async () => {
    await target?.end().catch(() => undefined);
    await src?.drop();
    await dst?.drop();
  });

  const flow = (schema: 'keys' | 'full', into: string) => ({
    name: `schema-${schema}`,
    nodes: [
      { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables: [`${SRC}.*`], schema } },
      { id: 'dst', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: `${into}.{table}` } },
    ],
    edges: [{ from: 'src', to: 'dst' }],
  });
  const env = () => ({ MY_URL: withDb(MY.url, SRC), PG_URL: dst!.url });

  it('creates NOT NULL, portable defaults, the unique constraint, the index, the enum type, the portable check, comments and (after the data) the foreign key; reports the rest left out', async () => {
    const s = await runFlow(flow('full', 'full_copy'), join(tempDir(), 'state.db'), env());
    expect(s.status, s.error).toBe('completed');

    const cols = await q(
      `SELECT column_name AS c, is_nullable AS n, column_default AS d, udt_name AS t FROM information_schema.columns WHERE table_schema = 'full_copy' AND table_name = 'customers' ORDER BY ordinal_position`,
    );
    const col = (name: string) => cols.find((r) => r.c === name)!;
    expect(col('email').n).toBe('NO');
    expect(col('name').n).toBe('NO');
    expect(col('created').n).toBe('YES');
    expect(col('name').d).toMatch(/^'anon'/);
    expect(col('tier').d).toMatch(/^'bronze'/);
    expect(col('created').d).toMatch(/CURRENT_TIMESTAMP/i);
    expect(col('token').d).toBeNull(); // uuid() is not portable: left out
    expect(col('tier').t).toBe('customers_tier');
    expect((await q(`SELECT enum_range(NULL::full_copy.customers_tier)::text AS r`))[0].r).toBe('{bronze,silver,gold}');
    expect((await q(`SELECT tier::text AS t FROM full_copy.customers WHERE id = 1`))[0].t).toBe('gold');

    const cons = await q(`SELECT conname AS n, contype AS t, pg_get_constraintdef(oid) AS def, conrelid::regclass::text AS rel FROM pg_constraint WHERE connamespace = 'full_copy'::regnamespace`);
    const con = (name: string) => cons.find((c) => c.n === name);
    expect(con('customers_u_email')?.t).toBe('u');
    expect(con('orders_qty_positive')?.t).toBe('c');
    expect(con('orders_qty_positive')?.def).toMatch(/qty > 0.*qty <= 1000/);
    expect(con('orders_note_upper')).toBeUndefined();
    expect(con('orders_fk_customer')?.t).toBe('f');
    expect(con('orders_fk_customer')?.def).toMatch(/REFERENCES full_copy\.customers\(id\).*ON DELETE CASCADE/);
    const idx = await q(`SELECT indexname AS n, indexdef AS d FROM pg_indexes WHERE schemaname = 'full_copy' AND tablename = 'customers'`);
    expect(idx.find((i) => i.n === 'customers_i_name')?.d).toMatch(/\(name\)/);
    expect((await q(`SELECT obj_description('full_copy.customers'::regclass) AS c`))[0].c).toBe('who buys');
    expect((await q(`SELECT col_description('full_copy.customers'::regclass, 3) AS c`))[0].c).toBe('shown on invoices');
    // the data came over under the constraints
    expect((await q('SELECT count(*)::int AS n FROM full_copy.orders'))[0].n).toBe(2);
    // AUTO_INCREMENT became serial, numbering on after the copied rows
    expect((await q(`INSERT INTO full_copy.orders (customer_id) VALUES (1) RETURNING id`))[0].id).toBe(12);

    // the report says the same
    const reports = s.reports!.dst;
    const customers = reports.find((r) => r.table === 'full_copy.customers')!;
    const orders = reports.find((r) => r.table === 'full_copy.orders')!;
    expect(customers.source).toBe(`${SRC}.customers`);
    expect(customers.created).toEqual(
      expect.arrayContaining([
        'NOT NULL on email',
        expect.stringMatching(/^enum type customers_tier/),
        "default 'anon' on name",
        'default CURRENT_TIMESTAMP on created',
        'unique constraint u_email (email)',
        'index i_name (name)',
        'comment on the table',
        'comment on column name',
      ]),
    );
    expect(customers.leftOut).toEqual([expect.stringMatching(/^default of token: the expression .*uuid\(\)/)]);
    expect(orders.created).toEqual(
      expect.arrayContaining(['serial on id (its sequence goes on after the copied rows)', expect.stringMatching(/^check qty_positive/), 'foreign key fk_customer (customer_id) → customers (id)']),
    );
    expect(orders.leftOut).toEqual([expect.stringMatching(/^check note_upper .*functions or operators/)]);
    // the lossy mappings of docs/type-mapping.md: TINYINT widens; the ENUM became an enum type, so it is not lossy
    expect(customers.lossy).toEqual([expect.stringMatching(/^column flags \(tinyint.*\): smallint \(PostgreSQL has no 8-bit integer\)$/)]);
  });

  it('a test run plans the same report the copy then gives, and creates nothing', async () => {
    const doc = { apiVersion: 'sluice/v1', ...flow('full', 'plan_copy') };
    const planned = await new Preview(compileFlow(doc, testRegistry(), { env: env() }), { limit: 100 }).start();
    expect(planned.status, planned.error).toBe('completed');
    expect(planned.reports?.dst.map((r) => r.table).sort()).toEqual(['plan_copy.customers', 'plan_copy.orders']);
    expect((await q(`SELECT count(*)::int AS n FROM pg_namespace WHERE nspname = 'plan_copy'`))[0].n, 'the test run created nothing').toBe(0);
    const s = await runFlow(flow('full', 'plan_copy'), join(tempDir(), 'state.db'), env());
    expect(s.status, s.error).toBe('completed');
    const byTable = (r: NonNullable<typeof s.reports>) => Object.fromEntries(r.dst.map((t) => [t.table, t]));
    expect(byTable(planned.reports!)).toEqual(byTable(s.reports!));
  });

  it('schema: keys (the default) creates only the key NOT NULL, as before, and reports nothing', async () => {
    const doc = flow('keys', 'keys_copy');
    delete (doc.nodes[0].config as Record<string, unknown>).schema;
    const s = await runFlow(doc, join(tempDir(), 'state.db'), env());
    expect(s.status, s.error).toBe('completed');
    expect(s.reports).toBeUndefined();
    const notNull = await q(`SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'keys_copy' AND table_name = 'customers' AND is_nullable = 'NO'`);
    expect(notNull.map((r) => r.c)).toEqual(['id']);
    const cons = await q(`SELECT contype AS t FROM pg_constraint WHERE connamespace = 'keys_copy'::regnamespace`);
    expect(cons.map((c) => c.t).sort()).toEqual(['p', 'p']);
  });
});
