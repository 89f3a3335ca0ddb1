/**
 * Tests that need a real server read its URL from the environment: the global set-up
 * (test/setup/global-services.ts) sets it to a private server started for the run unless it was given. When it
 * cannot be reached they fail under CI=true and are skipped with a loud notice otherwise, so `npm test`
 * passes on a laptop and proves everything in CI.
 *
 *   const pg = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
 *   describe.skipIf(!pg.available)('...', () => { ... });
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { Redis } from 'ioredis';

/** `service`'s probe for PostgreSQL: connects and disconnects within 3 s */
export async function probePostgres(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
}

/** `service`'s probe for MySQL/MariaDB: connects and disconnects within 3 s */
export async function probeMysql(url: string): Promise<void> {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
  await c.end();
}

/** `service`'s probe for Redis: connects and disconnects within 3 s */
export async function probeRedis(url: string): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, connectTimeout: 3000, maxRetriesPerRequest: 0 });
  await r.connect();
  await r.quit();
}

export interface Service {
  name: string;
  url: string;
  available: boolean;
  reason?: string;
}

export async function service(name: string, envVar: string, defaultUrl: string, probe: (url: string) => Promise<unknown>): Promise<Service> {
  const url = process.env[envVar] ?? defaultUrl;
  // set when the global set-up (test/setup/global-services.ts) could not start this run's private server
  const notStarted = process.env[`SLUICE_NO_${envVar}`];
  try {
    if (notStarted) throw new Error(notStarted);
    await probe(url);
    return { name, url, available: true };
  } catch (err) {
    const reason = notStarted ?? `${name} is not reachable at ${url} (${envVar}): ${(err as Error).message}`;
    if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${reason}. Under CI=true this is a failure, not a skip.`);
    process.stderr.write(`\n\x1b[33m!!! SKIPPING ${name} tests: ${reason}\x1b[0m\n\n`);
    return { name, url, available: false, reason };
  }
}

/** `url` with its database (path) replaced by `db` */
export const withDb = (url: string, db: string): string => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

/** a database of a test file's or benchmark case's own: its name, a URL that reaches it, and how to drop it */
export interface ScratchDb {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * Creates the PostgreSQL database `name` on the server of `serverUrl` (one left over from a killed run
 * is dropped first). drop() removes it with its connections (WITH (FORCE)) and its replication slots
 * (their walsenders ended first), and never throws.
 */
export async function scratchPostgres(serverUrl: string, name: string): Promise<ScratchDb> {
  const drop = async () => {
    const c = new pg.Client({ connectionString: serverUrl });
    await c.connect();
    try {
      await c.query('SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL', [name]);
      // a terminated walsender releases its slot a moment later
      for (let i = 0; i < 100; i++) {
        const { rows } = await c.query('SELECT slot_name, active FROM pg_replication_slots WHERE database = $1', [name]);
        for (const r of rows) if (!r.active) await c.query('SELECT pg_drop_replication_slot($1)', [r.slot_name]).catch(() => undefined);
        if (rows.length === 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } finally {
      await c.end();
    }
  };
  await drop();
  const c = new pg.Client({ connectionString: serverUrl });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${name}`);
  } finally {
    await c.end();
  }
  return { name, url: withDb(serverUrl, name), drop: () => drop().catch(() => undefined) };
}

/**
 * Creates the MySQL/MariaDB database `name` on the server of `serverUrl` (one left over from a killed run
 * is dropped first). drop() removes it and never throws.
 */
export async function scratchMysql(serverUrl: string, name: string): Promise<ScratchDb> {
  const admin = async (sql: string) => {
    const c = await mysql.createConnection({ uri: serverUrl });
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`DROP DATABASE IF EXISTS ${name}`);
  await admin(`CREATE DATABASE ${name}`);
  return { name, url: withDb(serverUrl, name), drop: () => admin(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined) };
}
