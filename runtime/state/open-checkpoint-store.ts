/**
 * The checkpoint store of a location, for code in runtime/ that cannot reach server/store/open-stores.ts
 * (which opens it the same way, with the control store beside it):
 *
 *   openCheckpointStore('postgres://…?schema=NAME', { agent })   → PgCheckpointStore (loaded only then)
 *   openCheckpointStore('./data/sluice-state.db')                 → SqliteCheckpointStore
 */
import type { CheckpointStore } from './checkpoint-store.js';

export interface OpenCheckpointStoreOptions {
  /** PostgreSQL: the schema (overrides the URL's `?schema=`); default `sluice` */
  schema?: string;
  /** PostgreSQL: who commits, written to `checkpoint_commits` (the agent's name); default host:pid */
  agent?: string;
  /** PostgreSQL: false to not append each commit to `checkpoint_commits` (default true) */
  commitLog?: boolean;
}

/** true for a PostgreSQL URL */
export const isPostgresLocation = (location: string) => /^postgres(ql)?:\/\//i.test(location.trim());

/** a PostgreSQL URL's `schema` parameter taken out (pg does not know it) */
export function withoutSchemaParam(url: string): { url: string; schema?: string } {
  const u = new URL(url.trim());
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { url: u.toString(), schema };
}

/** a PostgreSQL URL, or the path of a SQLite file */
export async function openCheckpointStore(location: string, options: OpenCheckpointStoreOptions = {}): Promise<CheckpointStore> {
  if (isPostgresLocation(location)) {
    const { url, schema } = withoutSchemaParam(location);
    const { PgCheckpointStore } = await import('./pg-checkpoint-store.js');
    return PgCheckpointStore.open(url, { schema: options.schema ?? schema, agent: options.agent, commitLog: options.commitLog });
  }
  const { SqliteCheckpointStore } = await import('./sqlite-checkpoint-store.js');
  return new SqliteCheckpointStore(location);
}
