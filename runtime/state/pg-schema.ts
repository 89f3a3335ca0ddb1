/**
 * What the PostgreSQL stores share: a pool for a URL, the schema's quoted name, and the creation of
 * their tables on open, idempotent and safe when several processes open the same schema at once (the
 * DDL runs in one transaction under an advisory lock on the schema's name).
 */
import pg from 'pg';
import { redactUrl } from '../redact.js';

export type Queryable = Pick<pg.Pool, 'query'>;

/** a pool for `url`; an idle connection that drops is replaced on the next query, never an uncaught error */
export function createPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 10_000 });
  pool.on('error', () => {
    // an idle client lost its connection (server restart, network): the pool drops it and the next
    // query opens a new one, whose failure reaches the caller
  });
  return pool;
}

/** `"name"`, quoted for SQL; a name PostgreSQL could not hold is refused */
export function quoteSchema(name: string): string {
  if (name.length === 0 || name.length > 63 || name.includes('\0')) throw new Error(`schema name ${JSON.stringify(name)}: must be 1-63 characters`);
  return pg.escapeIdentifier(name);
}

/** the store's URL with its password masked, for messages */
export const describeUrl = (url: string, schema: string) => `${redactUrl(url)} (schema ${schema})`;

/**
 * Runs `ddl` (statements that use `${S}` for the quoted schema) once the schema exists, in one
 * transaction holding an advisory lock on the schema's name: concurrent opens wait for each other
 * instead of racing on CREATE … IF NOT EXISTS. Returns whether `probeTable` was missing before.
 */
export async function ensureSchema(pool: pg.Pool, schema: string, probeTable: string, ddl: string): Promise<boolean> {
  const S = quoteSchema(schema);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice-schema:${schema}`]);
    const before = await client.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${S}.${pg.escapeIdentifier(probeTable)}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${S}`);
    await client.query(ddl.replaceAll('${S}', S));
    await client.query('COMMIT');
    return before.rows[0].t === null;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** runs `fn` in a transaction on one client of the pool: committed when it resolves, rolled back when it throws */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const out = await fn(client);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** a bigint column (ms since the epoch, ids) as pg returns it (a string), as a number */
export const num = (v: string | number): number => (typeof v === 'number' ? v : Number(v));
