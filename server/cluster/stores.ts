/**
 * The stores a cluster shares, from `--store LOCATION`. Today a shared data directory (SQLite files that
 * every process on one machine opens: for trying a cluster out and for the tests); PostgreSQL
 * (`postgres://…`) comes with the PostgreSQL stores.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError } from '../../runtime/errors.js';
import type { NodeRegistry } from '../../runtime/registry.js';
import type { CheckpointStore } from '../../runtime/state/checkpoint-store.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import type { ControlStore } from '../store/control-store.js';
import { STATE_DB } from '../store/data-files.js';
import { openControlStore } from '../store/open-control-store.js';

export interface SharedStores {
  control: ControlStore;
  checkpoints: CheckpointStore;
  /** the data directory (file roots default under it; flows never reach it) */
  dataDir: string;
  close(): Promise<void>;
}

/** `DIR`, `file:///DIR` or `sqlite:DIR`: the shared data directory */
export function storeDirectory(location: string): string {
  if (/^postgres(ql)?:\/\//i.test(location)) {
    throw new UserError(`--store ${location.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')}: PostgreSQL stores are not in this build yet; give a data directory shared by the server and the agents`);
  }
  if (location.startsWith('file:')) return fileURLToPath(location);
  if (location.startsWith('sqlite:')) return resolve(location.slice('sqlite:'.length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new UserError(`--store ${location}: not a store this build opens (a data directory, or file:///DIR)`);
  return resolve(location);
}

export function openSharedStores(location: string, registry: NodeRegistry): SharedStores {
  const dataDir = storeDirectory(location);
  const control = openControlStore(dataDir, registry);
  const checkpoints = new SqliteCheckpointStore(join(dataDir, STATE_DB));
  return {
    control,
    checkpoints,
    dataDir,
    async close() {
      await checkpoints.close();
      control.close();
    },
  };
}
