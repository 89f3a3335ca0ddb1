/**
 * The stores a cluster shares, from `--store LOCATION`: a PostgreSQL URL (the cluster's shared stores,
 * server/store/open-stores.ts), or a data directory that every process on one machine opens (SQLite
 * files: for trying a cluster out on one machine, and for the tests). `file:///DIR` and `sqlite:DIR` name
 * a directory too.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserError, type NodeRegistry } from '../../runtime/host.js';
import { isPostgresUrl, openStores, type Stores } from '../store/open-stores.js';

export type SharedStores = Stores & { dataDir: string };

/** a PostgreSQL URL as it is; `DIR`, `file:///DIR` or `sqlite:DIR` as the directory's absolute path */
export function storeLocation(location: string): string {
  if (isPostgresUrl(location)) return location;
  if (location.startsWith('file:')) return fileURLToPath(location);
  if (location.startsWith('sqlite:')) return resolve(location.slice('sqlite:'.length));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) throw new UserError(`--store ${location}: not a store this build opens (postgres://…, a data directory, or file:///DIR)`);
  return resolve(location);
}

/**
 * Opens the shared stores. `dataDir` is the directory of a SQLite location, or `fallbackDir` (the
 * process's own `--data`, where the default file root lives) for PostgreSQL.
 */
export async function openSharedStores(location: string, registry: NodeRegistry, fallbackDir: string, agent?: string): Promise<SharedStores> {
  const stores = await openStores(storeLocation(location), { registry, agent });
  return Object.assign(stores, { dataDir: stores.dataDir ?? resolve(fallbackDir) });
}
