/**
 * An in-process Sluice server on real SQLite stores in a temporary directory, started before a test
 * file's tests and closed after them: the HTTP tests that need the server's objects as well as its URL
 * (a spawned `sluice serve` is test/helpers/server-process.ts).
 */
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { secretFieldsOfType } from '../../server/connections.js';
import type { ServerLog } from '../../server/log.js';
import { createSluiceServer, type SluiceServer } from '../../server/server.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { keyFor } from './auth.js';
import { tempDir } from './node-harness.js';

export interface InProcessServer {
  readonly server: SluiceServer;
  readonly store: SqliteControlStore;
  readonly checkpoints: SqliteCheckpointStore;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** the server's working directory (flows' relative paths resolve here) */
  readonly dir: string;
  /** the headers of an admin's API key */
  readonly admin: Record<string, string>;
}

/**
 * Registers the file's beforeAll (start) and afterAll (close); the fields are there once it started.
 * `secretFields`: the store knows which connection fields are secret, as `sluice serve` opens it.
 */
export function inProcessServerForFile(opts: { log?: ServerLog; secretFields?: boolean } = {}): InProcessServer {
  const s = {} as { -readonly [K in keyof InProcessServer]: InProcessServer[K] };
  beforeAll(async () => {
    const registry = createRegistry();
    s.dir = tempDir();
    s.store = new SqliteControlStore(join(s.dir, 'sluice.db'), opts.secretFields ? { secretFields: (type) => secretFieldsOfType(registry, type) } : {});
    s.checkpoints = new SqliteCheckpointStore(join(s.dir, 'state.db'));
    s.server = createSluiceServer({ registry, store: s.store, manager: new DeploymentManager({ store: s.checkpoints, cwd: s.dir }), cwd: s.dir, env: {}, log: opts.log });
    s.url = `http://127.0.0.1:${(await s.server.listen(0, '127.0.0.1')).port}`;
    s.admin = (await keyFor(s.server, 'admin', 'admin')).headers;
  }, 60_000);
  afterAll(async () => {
    await s.server?.close();
    await s.checkpoints?.close();
    s.store?.close();
  });
  return s;
}
