/**
 * copyOut (nodes/postgres/copy-out.ts) reads COPY TO's rows straight off the connection: every byte
 * of every row however the socket's reads cut the messages, errors reported, and the connection handed
 * back to pg in a state that runs the next query.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyOut } from '../../nodes/postgres/copy-out.js';
import { probePostgres, service } from '../helpers/services.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

describe.skipIf(!PG.available)('postgres: COPY TO read off the connection', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: PG.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  it('every row byte for byte: rows of every length (messages cut anywhere by the reads), multi-byte text, tabs escaped', async () => {
    const n = 40_000;
    const sql = `COPY (SELECT g, repeat('é', g % 97), repeat('x', (g * 7) % 301) || E'\\t' FROM generate_series(1, ${n}) g) TO STDOUT`;
    const text = (await copyOut(client, sql)).toString('utf8');
    const expected: string[] = [];
    for (let g = 1; g <= n; g++) expected.push(`${g}\t${'é'.repeat(g % 97)}\t${'x'.repeat((g * 7) % 301)}\\t\n`);
    expect(text.length).toBe(expected.join('').length);
    expect(text === expected.join('')).toBe(true);
    // the connection is pg's again
    expect((await client.query('SELECT 41 + 1 AS v')).rows[0].v).toBe(42);
  });

  it('no rows: an empty buffer', async () => {
    const bytes = await copyOut(client, 'COPY (SELECT 1 WHERE false) TO STDOUT');
    expect(bytes.length).toBe(0);
    expect((await client.query('SELECT 1 AS v')).rows[0].v).toBe(1);
  });

  it('an error after rows were sent rejects with the server error, and the connection goes on', async () => {
    await expect(copyOut(client, 'COPY (SELECT 1 / (g - 30000), repeat($$y$$, 200) FROM generate_series(1, 40000) g) TO STDOUT')).rejects.toThrow(/division by zero/);
    expect((await client.query('SELECT 2 AS v')).rows[0].v).toBe(2);
    // inside a transaction too: the error aborts it as any statement's would
    await client.query('BEGIN');
    await expect(copyOut(client, 'COPY (SELECT * FROM no_such_table_here) TO STDOUT')).rejects.toThrow(/no_such_table_here/);
    await expect(client.query('SELECT 1')).rejects.toThrow(/current transaction is aborted/);
    await client.query('ROLLBACK');
    expect((await client.query('SELECT 3 AS v')).rows[0].v).toBe(3);
  });

  it('queries queued behind it run after it, in order', async () => {
    const a = copyOut(client, "COPY (SELECT 'a' FROM generate_series(1, 3)) TO STDOUT");
    const b = client.query('SELECT 5 AS v');
    const c = copyOut(client, "COPY (SELECT 'c') TO STDOUT");
    expect((await a).toString()).toBe('a\na\na\n');
    expect((await b).rows[0].v).toBe(5);
    expect((await c).toString()).toBe('c\n');
  });
});
