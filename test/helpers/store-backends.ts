/**
 * The store back-ends the store tests run against, each giving fresh, empty locations for
 * server/store/open-stores.ts: SQLite (a new data directory) and PostgreSQL (a new schema of the
 * server at the URL the test file passes; every schema made is dropped by `cleanup`).
 *
 *   const pg = await service('PostgreSQL', 'PG_URL', …, probePostgres);   // the literal name starts the server
 *   const backends = storeBackends(pg);
 *   describe.each(backends)('$name', (b) => { it.skipIf(!b.available)('…', async () => { b.location() … }) })
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { tempDir } from './node-harness.js';
import type { Service } from './services.js';

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  available: boolean;
  /** a new, empty location: a data directory, or the URL with `?schema=` a schema not yet made */
  location(): string;
  /** one SQL statement on the store at `location`, outside of it (to look at what is stored at rest) */
  raw<T = Record<string, unknown>>(location: string, sql: string, args?: unknown[]): Promise<T[]>;
  /** drops what was made (PostgreSQL schemas) */
  cleanup(): Promise<void>;
}

function sqliteBackend(): StoreBackend {
  return {
    name: 'sqlite',
    available: true,
    location: () => join(tempDir(), 'data'),
    async raw<T>(location: string, sql: string, args: unknown[] = []) {
      // the checkpoint tables live in sluice-state.db, the rest in sluice.db
      const file = /checkpoint|dead_letters|fences/.test(sql) ? 'sluice-state.db' : 'sluice.db';
      const db = new Database(join(location, file));
      try {
        const stmt = db.prepare(sql.replace(/\$\d+/g, '?'));
        return (stmt.reader ? stmt.all(...args) : (stmt.run(...args), [])) as T[];
      } finally {
        db.close();
      }
    },
    async cleanup() {},
  };
}

function postgresBackend(service: Service): StoreBackend {
  const made: string[] = [];
  const prefix = `t_${process.pid}_${Date.now().toString(36)}`;
  const schemaOf = (location: string) => new URL(location).searchParams.get('schema')!;
  const withClient = async <T>(fn: (c: pg.Client) => Promise<T>) => {
    const c = new pg.Client({ connectionString: service.url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };
  return {
    name: 'postgres',
    available: service.available,
    location() {
      const schema = `${prefix}_${made.length}`;
      made.push(schema);
      const u = new URL(service.url);
      u.searchParams.set('schema', schema);
      return u.toString();
    },
    async raw<T>(location: string, sql: string, args: unknown[] = []) {
      return withClient(async (c) => {
        await c.query(`SET search_path TO ${pg.escapeIdentifier(schemaOf(location))}`);
        return (await c.query(sql, args)).rows as T[];
      });
    },
    async cleanup() {
      if (!service.available || made.length === 0) return;
      await withClient(async (c) => {
        for (const s of made.splice(0)) await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(s)} CASCADE`);
      });
    },
  };
}

/** SQLite, and PostgreSQL at the service's URL (its tests skipped, or failed under CI, when it cannot be reached) */
export function storeBackends(postgres: Service): StoreBackend[] {
  return [sqliteBackend(), postgresBackend(postgres)];
}
