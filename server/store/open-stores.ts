/**
 * One way to open Sluice's stores from where they live, for `sluice serve`, `sluice agent` and the CLI
 * commands that manage users, keys and secrets:
 *
 *   openStores(location, { registry })        → { control, checkpoints, close() }
 *   openControlStoreAt(location, { registry }) → the control store alone (users, keys, secrets)
 *
 * `location` is either a PostgreSQL URL (`postgres://…` or `postgresql://…`: the cluster's shared
 * stores, in the schema named by `?schema=NAME` or `options.schema`, default `sluice`, created on open)
 * or a data directory (the embedded default: `DIR/sluice.db` and `DIR/sluice-state.db` on SQLite).
 * The PostgreSQL modules (and pg) are loaded only when a URL is opened: the embedded path stays as it was.
 *
 * Secrets: a data directory seals them with SLUICE_SECRET_KEY or its key file (open-control-store.ts);
 * PostgreSQL has no directory to keep a key file in, so SLUICE_SECRET_KEY is required there, the same
 * on the server and every agent.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError, redactUrl, type CheckpointStore, type NodeRegistry, type SecretFields } from '../../runtime/host.js';
import type { ControlStore } from './control-store.js';
import { CONTROL_DB, STATE_DB, prepareDataDir, restrictDataFiles } from './data-files.js';
import { KEY_ENV, SecretBox, parseKey } from './secret-box.js';

export interface OpenStoresOptions {
  /** the node types: their connectors declare which connection fields are secret (needed unless `secrets: false`) */
  registry?: NodeRegistry;
  /** where SLUICE_SECRET_KEY is read (default process.env) */
  env?: Record<string, string | undefined>;
  /** PostgreSQL: the schema (overrides the URL's `?schema=`); default `sluice` */
  schema?: string;
  /** PostgreSQL: the name written with each checkpoint commit (the cluster's agent name); default host:pid */
  agent?: string;
  /**
   * false: connection secrets are neither sealed nor opened, so no key is needed (the user and API key
   * commands, which never touch connections). Default true.
   */
  secrets?: boolean;
  /** refuse (UserError) a location that holds no control store yet, instead of creating one */
  mustExist?: boolean;
}

export interface Stores {
  control: ControlStore;
  checkpoints: CheckpointStore;
  kind: StoreKind;
  /** the data directory (SQLite) or the URL with its password masked (PostgreSQL), for messages */
  location: string;
  /** the data directory, when the stores live in one */
  dataDir?: string;
  /** closes both (and the PostgreSQL pool) */
  close(): Promise<void>;
}

export type StoreKind = 'sqlite' | 'postgres';

export const DEFAULT_PG_SCHEMA = 'sluice';

/** true for a PostgreSQL URL; anything else is a data directory */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location.trim());
}

export function storeKind(location: string): StoreKind {
  return isPostgresUrl(location) ? 'postgres' : 'sqlite';
}

/** the URL without `schema` (pg does not know it) and the schema it names */
export function splitSchema(url: string): { url: string; schema?: string } {
  let u: URL;
  try {
    u = new URL(url.trim());
  } catch {
    throw new UserError(`--store ${redactUrl(url)} is not a valid URL (such as postgres://user:password@host:5432/db)`);
  }
  const schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  return { url: u.toString(), schema };
}

/** the key that seals connection secrets in a PostgreSQL store: SLUICE_SECRET_KEY, required */
export function secretBoxFromEnv(env: Record<string, string | undefined>, url: string): SecretBox {
  const text = env[KEY_ENV];
  if (!text) {
    throw new UserError(
      `the store ${redactUrl(url)} keeps connection secrets encrypted, and a PostgreSQL store has no data directory for a key file: set ${KEY_ENV} (32 bytes: openssl rand -base64 32), the same on the server and every agent`,
    );
  }
  return new SecretBox(parseKey(text, KEY_ENV), KEY_ENV);
}

/** the connectors' declaration of their secret fields, when there is a registry to ask */
async function secretFieldsOf(registry: NodeRegistry | undefined): Promise<((type: string) => SecretFields) | undefined> {
  if (!registry) return undefined;
  const { secretFieldsOfType } = await import('../connections.js');
  return (type) => secretFieldsOfType(registry, type);
}

/**
 * The data directory's control store without its key: for the user and API key commands, which never
 * read connections. `mustExist`: a directory without sluice.db is a UserError, not a new store.
 */
async function openKeylessControlStore(dataDir: string, mustExist: boolean, secretFields?: (type: string) => SecretFields): Promise<ControlStore> {
  const file = join(dataDir, CONTROL_DB);
  if (mustExist && !existsSync(file)) throw new UserError(`no sluice.db in ${dataDir} (start the server once, or pass --data DIR)`);
  prepareDataDir(dataDir);
  const { SqliteControlStore } = await import('./sqlite-control-store.js');
  const store = new SqliteControlStore(file, { secretFields });
  restrictDataFiles(dataDir);
  return store;
}

function registryOf(options: OpenStoresOptions): NodeRegistry {
  if (!options.registry) throw new Error('openStores: a registry is needed to seal connection secrets (or pass secrets: false)');
  return options.registry;
}

/** the control store alone (users, API keys, connections, flows), from a URL or a data directory */
export async function openControlStoreAt(location: string, options: OpenStoresOptions): Promise<ControlStore> {
  const env = options.env ?? process.env;
  // loaded here, not at import: the user and key commands (no key, no registry) start without the connectors' code
  const secretFields = await secretFieldsOf(options.registry);
  if (!isPostgresUrl(location)) {
    if (options.secrets === false) return openKeylessControlStore(resolve(location), options.mustExist === true, secretFields);
    const { openControlStore } = await import('./open-control-store.js');
    return openControlStore(resolve(location), registryOf(options), env);
  }
  const { url, schema } = splitSchema(location);
  const { PgControlStore } = await import('./pg-control-store.js');
  return PgControlStore.open(url, {
    schema: options.schema ?? schema ?? DEFAULT_PG_SCHEMA,
    mustExist: options.mustExist,
    secretFields,
    secretBox: options.secrets === false ? undefined : () => secretBoxFromEnv(env, url),
  });
}

/** the control store and the checkpoint store (positions, state, dead letters) of one location */
export async function openStores(location: string, options: OpenStoresOptions): Promise<Stores> {
  if (!isPostgresUrl(location)) {
    const dataDir = resolve(location);
    // first: it makes the data directory 0700 before anything else creates it
    const control = await openControlStoreAt(dataDir, options);
    const { SqliteCheckpointStore } = await import('../../runtime/host.js');
    const checkpoints = new SqliteCheckpointStore(join(dataDir, STATE_DB));
    restrictDataFiles(dataDir);
    return {
      control,
      checkpoints,
      kind: 'sqlite',
      location: dataDir,
      dataDir,
      async close() {
        await checkpoints.close();
        await control.close();
      },
    };
  }
  const { url, schema: fromUrl } = splitSchema(location);
  const schema = options.schema ?? fromUrl ?? DEFAULT_PG_SCHEMA;
  const secretFields = await secretFieldsOf(registryOf(options));
  const { PgControlStore } = await import('./pg-control-store.js');
  const { PgCheckpointStore } = await import('../../runtime/host-postgres.js');
  const control = await PgControlStore.open(url, {
    schema,
    mustExist: options.mustExist,
    secretFields,
    secretBox: options.secrets === false ? undefined : () => secretBoxFromEnv(options.env ?? process.env, url),
  });
  let checkpoints: CheckpointStore;
  try {
    checkpoints = await PgCheckpointStore.open(url, { schema, agent: options.agent });
  } catch (err) {
    await control.close();
    throw err;
  }
  return {
    control,
    checkpoints,
    kind: 'postgres',
    location: control.location,
    async close() {
      await checkpoints.close();
      await control.close();
    },
  };
}
