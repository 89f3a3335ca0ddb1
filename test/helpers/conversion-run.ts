/**
 * What the conversion tests share: a database URL with another database name, a flow run on a
 * SQLite checkpoint store that a condition can stop midway (a user's Stop), as a resume test needs, and
 * the scratch databases of a describe block (made before its tests, dropped after).
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { type ScratchDb, scratchMysql, scratchPostgres, withDb } from './services.js';
import { testRegistry } from './test-nodes.js';

export { withDb };

/** runs a flow; `stopWhen` resolving true stops it */
export async function runFlow(doc: Record<string, unknown>, state: string, env: Record<string, string>, stopWhen?: () => Promise<boolean>): Promise<RunSummary> {
  const store = new SqliteCheckpointStore(state);
  const run = new FlowRun(compileFlow({ apiVersion: 'sluice/v1', ...doc }, testRegistry(), { env }), { store });
  const done = run.run().finally(() => store.close());
  if (stopWhen) {
    for (;;) {
      if ((await Promise.race([done.then(() => 'done' as const), new Promise<'wait'>((r) => setTimeout(() => r('wait'), 5))])) === 'done') break;
      if (await stopWhen().catch(() => false)) {
        run.stop();
        break;
      }
    }
  }
  return done;
}

/** a scratch PostgreSQL database of a describe block and a client on it: made before its tests, then `setup` */
export interface PgScratch {
  /** the database's URL */
  readonly url: string;
  /** the client on it (set once the block's set-up ran) */
  readonly db: pg.Client;
  /** runs SQL on it, the rows */
  q(sql: string): Promise<any[]>;
}

/** registers the block's beforeAll (create `name` on the server at `serverUrl`, connect, `setup`) and afterAll (disconnect, drop) */
export function scratchPgBlock(serverUrl: string, name: string, setup?: (q: PgScratch['q']) => Promise<unknown>): PgScratch {
  let scratch: ScratchDb | undefined;
  let db: pg.Client | undefined;
  const url = withDb(serverUrl, name);
  const block: PgScratch = {
    url,
    get db() {
      return db!;
    },
    q: async (sql) => (await db!.query(sql)).rows,
  };
  beforeAll(async () => {
    scratch = await scratchPostgres(serverUrl, name);
    db = new pg.Client({ connectionString: url });
    await db.connect();
    await setup?.(block.q);
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await scratch?.drop();
  });
  return block;
}

/** a scratch MySQL/MariaDB database of a describe block and a connection to the server (multiple statements on) */
export interface MysqlScratch {
  readonly db: mysql.Connection;
}

/** registers the block's beforeAll (create `name`, connect with `options`, `setup`) and afterAll (disconnect, drop) */
export function scratchMysqlBlock(serverUrl: string, name: string, setup?: (db: mysql.Connection) => Promise<unknown>, options: Omit<mysql.ConnectionOptions, 'uri'> = {}): MysqlScratch {
  let scratch: ScratchDb | undefined;
  let db: mysql.Connection | undefined;
  beforeAll(async () => {
    scratch = await scratchMysql(serverUrl, name);
    db = await mysql.createConnection({ uri: serverUrl, multipleStatements: true, ...options });
    await setup?.(db);
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await scratch?.drop();
  });
  return {
    get db() {
      return db!;
    },
  };
}
