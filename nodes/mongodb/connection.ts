/**
 * What every mongodb.* node (and the mongodb reference table of core.denormalize) shares about reaching
 * a server: the `connection` / `url` / `tls` / `timeoutMs` config fields, resolving them to driver
 * options, one pooled MongoClient per distinct server and options in the process (shared by every node
 * that uses it, closed when the last one lets go), and errors that say what to fix.
 *
 * A node names EITHER `connection` (an entry of the flow document's `connections:` map, so the flow holds
 * no secret: `{ type: mongodb, url: ${env:SHOP_MONGO_URL} }`, or host/port/user/password/database fields)
 * OR `url` (`mongodb://user:password@host:27017/database?replicaSet=rs0`, `mongodb+srv://…`, `?tls=true`).
 * `tls` in the node config overrides the connection's. The database is the node's `database` field,
 * else the connection's, else the one in the URL path.
 */
import type { MongoClient, Document, MongoClientOptions } from 'mongodb';
import { mongo } from './driver.js';
import { z } from 'zod';
import { connectionFieldsFor, connectionSource, entryUrlField, oneConnectionFor, passwordField, resolveForTest, tlsMaterial, tlsSchema, type ConnectionConfig as SharedConnectionConfig, type ResolveContext, type TlsConfig } from '../shared/connection-config.js';
import { ConfigError, NodeError, UserError, errorMessage, type FileAccess } from '../../runtime/index.js';

// ---- config fields ---------------------------------------------------------------------------------

export { tlsSchema, type ResolveContext, type TlsConfig };

/** The fields every mongodb.* node config has; check them with `oneConnection`. */
export const connectionFields = {
  ...connectionFieldsFor('mongodb', 'mongodb://user:password@host:27017/database'),
  timeoutMs: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(10_000)
    .describe('how long to wait for a server to answer when connecting (server selection), ms'),
};

/** The node config fields resolveTarget reads: the shared ones and `timeoutMs`. */
export interface ConnectionConfig extends SharedConnectionConfig {
  timeoutMs: number;
}

/** zod check: exactly one of `connection` and `url` */
export const oneConnection = oneConnectionFor('mongodb://host:27017/db');

/** An entry of the flow's `connections:` map for MongoDB (other fields are ignored). */
export const connectionEntrySchema = z.object({
  type: z.literal('mongodb').describe('mongodb'),
  url: entryUrlField('mongodb://user:password@host:27017/database?replicaSet=rs0'),
  host: z.string().min(1).optional().describe('server host name or address (default 127.0.0.1)'),
  port: z.number().int().min(1).max(65535).optional().describe('server port (default 27017)'),
  user: z.string().min(1).optional().describe('user name'),
  password: passwordField,
  database: z.string().min(1).optional().describe('default database'),
  authSource: z.string().min(1).optional().describe('database the user is defined in (default: admin)'),
  tls: tlsSchema.optional(),
});

const FAMILY = { type: 'mongodb', entrySchema: connectionEntrySchema, urlHint: '...' };

// ---- resolving -----------------------------------------------------------------------------------

export interface Target {
  url: string;
  options: MongoClientOptions;
  /** the URL without the password: for messages */
  label: string;
  /** the database named by the connection or URL, if any */
  database?: string;
  user?: string;
  /** which config field to blame: `connection` or `url` */
  field: 'connection' | 'url';
  /** `connection "shop"` or `url`: for messages */
  via: string;
}

const SCHEME = /^mongodb(\+srv)?:\/\//;

/** The node config's `connection` / `url` / `tls` / `timeoutMs` as a driver URL and options. Throws ConfigError naming the field. */
export function resolveTarget(ctx: ResolveContext, config: ConnectionConfig): Target {
  const { nodeId } = ctx;
  const options: MongoClientOptions = {
    appName: 'sluice',
    serverSelectionTimeoutMS: config.timeoutMs,
    connectTimeoutMS: config.timeoutMs,
    ignoreUndefined: true,
  };
  const src = connectionSource(ctx, config, FAMILY);
  const e = src.entry;
  let url: string;
  if (src.url !== undefined) {
    url = checkUrl(nodeId, src.field, src.url);
    if (e && (e.host !== undefined || e.port !== undefined)) {
      throw new ConfigError(nodeId, 'connection', `connection ${JSON.stringify(config.connection)}: give either url or host/port, not both`);
    }
  } else {
    const host = e?.host ?? '127.0.0.1';
    url = `mongodb://${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${e?.port ?? 27017}/`;
  }
  if (e?.user !== undefined) options.auth = { username: e.user, password: e.password };
  if (e?.authSource !== undefined) options.authSource = e.authSource;
  const database = e?.database ?? urlDatabase(url);
  if (src.tls) Object.assign(options, tlsOptions(nodeId, src.tlsField, src.tls, ctx));
  const user = options.auth?.username ?? urlUser(url);
  return { url, options, label: redact(url, options.auth?.username), database, user, field: src.field, via: src.via };
}

function checkUrl(nodeId: string, field: string, url: string): string {
  if (!SCHEME.test(url)) {
    const scheme = /^([a-z0-9+.-]+):/i.exec(url)?.[1];
    throw new ConfigError(nodeId, field, scheme ? `URL scheme must be mongodb:// or mongodb+srv://, not ${scheme}://` : 'not a URL: expected mongodb://user:password@host:27017/database');
  }
  return url;
}

/** the database in the URL path (`mongodb://h/db?x` → db), if any */
function urlDatabase(url: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/?]*\/([^?]*)/.exec(url);
  const db = m?.[1] ? decodeURIComponent(m[1]) : '';
  return db || undefined;
}

function urlUser(url: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/([^@/?]*)@/.exec(url);
  return m ? decodeURIComponent(m[1].split(':')[0]) : undefined;
}

/** the URL without its password; `user@` added when the user came from the connection's fields */
function redact(url: string, optionUser?: string): string {
  const m = /^(mongodb(?:\+srv)?:\/\/)(?:([^@/?]*)@)?(.*)$/.exec(url);
  if (!m) return url;
  const [, scheme, cred, rest] = m;
  const user = cred !== undefined ? cred.split(':')[0] : optionUser !== undefined ? encodeURIComponent(optionUser) : undefined;
  return `${scheme}${user !== undefined ? `${user}@` : ''}${rest}`;
}

function tlsOptions(nodeId: string, field: string, tls: TlsConfig, ctx: ResolveContext): MongoClientOptions {
  const { rejectUnauthorized, ...material } = tlsMaterial(ctx.files, nodeId, field, tls);
  const options: MongoClientOptions = { tls: true, ...material };
  if (!rejectUnauthorized) options.tlsAllowInvalidCertificates = true;
  return options;
}

/** The database a node works in: its own `database` field, else the connection's or the URL's. */
export function databaseOf(nodeId: string, target: Target, configured: string | undefined): string {
  const db = configured ?? target.database;
  if (!db) {
    throw new ConfigError(nodeId, 'database', `no database: set \`database\`, or name one in the ${target.field === 'url' ? 'URL path (mongodb://host:27017/shop)' : `${target.via} (database: shop)`}`);
  }
  return db;
}

// ---- pooled clients --------------------------------------------------------------------------------

interface PoolEntry {
  client: Promise<MongoClient>;
  users: number;
}

const pool = new Map<string, PoolEntry>();

export interface ClientLease {
  client: MongoClient;
  /** lets go of the client: the last user closes it */
  release(): Promise<void>;
}

/**
 * A connected client for `target`, shared with every other node of the process that reaches the same
 * server with the same options (the driver pools connections inside it). Checks the server with one
 * `ping`, so an unreachable server or wrong credentials fail here, as a ConfigError naming the field.
 */
export async function acquireClient(nodeId: string, target: Target): Promise<ClientLease> {
  const key = JSON.stringify([target.url, target.options]);
  let entry = pool.get(key);
  if (!entry) {
    const client = new mongo.MongoClient(target.url, target.options);
    const connected = client
      .connect()
      .then(async () => {
        await client.db('admin').command({ ping: 1 });
        return client;
      })
      .catch(async (err) => {
        if (pool.get(key) === entry) pool.delete(key);
        await client.close().catch(() => undefined);
        throw err;
      });
    entry = { client: connected, users: 0 };
    pool.set(key, entry);
  }
  entry.users++;
  const mine = entry;
  let client: MongoClient;
  try {
    client = await mine.client;
  } catch (err) {
    mine.users--;
    throw connectError(nodeId, target, err, true);
  }
  let released = false;
  return {
    client,
    async release() {
      if (released) return;
      released = true;
      if (--mine.users > 0) return;
      if (pool.get(key) === mine) pool.delete(key);
      await client.close().catch(() => undefined);
    },
  };
}

// ---- server facts ----------------------------------------------------------------------------------

export interface ServerInfo {
  version: string;
  topology: 'standalone' | 'replicaSet' | 'sharded';
  /** set when the server is mongo-java-server (the test server, see test/servers/mongo/Main.java) */
  mongoJavaServer?: string;
}

export async function serverInfo(client: MongoClient): Promise<ServerInfo> {
  const admin = client.db('admin');
  const build = await admin.command({ buildInfo: 1 });
  // `hello` since MongoDB 4.4.2 (and 4.2.10); `isMaster` before (and on mongo-java-server)
  const hello: Document = await admin.command({ hello: 1 }).catch(() => admin.command({ isMaster: 1 }));
  const topology = hello.msg === 'isdbgrid' ? 'sharded' : hello.setName ? 'replicaSet' : 'standalone';
  const info: ServerInfo = { version: String(build.version), topology };
  if (typeof build.mongoJavaServer === 'string') info.mongoJavaServer = build.mongoJavaServer;
  return info;
}

/** why change streams cannot work on this server, or undefined when they can */
export function changeStreamProblem(server: ServerInfo): string | undefined {
  if (server.topology !== 'standalone' || server.mongoJavaServer) return undefined;
  return CHANGE_STREAMS_NEED_RS;
}

export const CHANGE_STREAMS_NEED_RS = 'change streams need a replica set: start mongod with --replSet and rs.initiate()';

// ---- errors --------------------------------------------------------------------------------------

/** server error codes that retrying will not fix: the user has to change something */
const PERMANENT_CODES = new Set([
  13, // Unauthorized
  18, // AuthenticationFailed
  26, // NamespaceNotFound
  73, // InvalidNamespace
  121, // DocumentValidationFailure
  40573, // $changeStream only on replica sets
  280, // ChangeStreamFatalError (resume point no longer in the oplog)
  286, // ChangeStreamHistoryLost
]);

export function isPermanent(err: unknown): boolean {
  return err instanceof UserError || (err instanceof mongo.MongoServerError && PERMANENT_CODES.has(Number(err.code)));
}

/**
 * A failure to connect (or of the first command) as an error that says what to fix. `atOpen`: an
 * unreachable server is a ConfigError at open (the flow cannot start), a transient NodeError later.
 */
export function connectError(nodeId: string, target: Target, err: unknown, atOpen: boolean): Error {
  if (err instanceof UserError || err instanceof NodeError) return err;
  const where = `${target.label} (${target.via})`;
  const field = target.field;
  if (err instanceof mongo.MongoServerError) {
    const auth = err.code === 18 || (err.code === 59 && /sasl|authenticate/i.test(err.message));
    if (auth) {
      const detail = err.code === 59 ? ` (the server does not support authentication: ${err.message})` : '';
      return new ConfigError(nodeId, field, `authentication failed for user ${JSON.stringify(target.user ?? '')} at ${where}${detail}: check the user name, the password and authSource (the database the user is defined in)`);
    }
    if (err.code === 13) return new ConfigError(nodeId, field, `not authorized at ${where}: ${err.message}. Grant the user the roles it needs (read on the source database, readWrite on the sink's)`);
    return new NodeError(nodeId, `${where}: ${err.message}`, { cause: err });
  }
  if (err instanceof mongo.MongoServerSelectionError) {
    const causes = [...(err.reason?.servers.values() ?? [])].map((s) => s.error).filter((e) => e !== null && e !== undefined);
    const cause = causes[0] as (Error & { cause?: { code?: string } }) | undefined;
    const code = (cause?.cause as { code?: string } | undefined)?.code ?? '';
    const text = `${cause?.message ?? ''} ${err.message}`;
    let message: string;
    let tlsProblem = false;
    if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(text)) {
      message = `cannot connect to ${where}: connection refused. Is mongod running and listening on that host and port?`;
    } else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || /ENOTFOUND|EAI_AGAIN/.test(text)) {
      message = `cannot connect to ${where}: host not found (${cause?.message ?? err.message})`;
    } else if (/certificate|self[- ]signed|SSL|TLS|EPROTO|wrong version number/i.test(text)) {
      tlsProblem = true;
      message = `TLS to ${where} failed: ${cause?.message ?? err.message}. Set tls.ca to the server's CA certificate (or tls.rejectUnauthorized: false for testing), or remove \`tls\` if the server does not use TLS`;
    } else if (/closed/i.test(cause?.message ?? '') && !target.options.tls && !/[?&](tls|ssl)=true/i.test(target.url)) {
      message = `the server at ${where} closed the connection during the handshake: if it accepts TLS only, set \`tls\` (or ?tls=true in the URL)`;
    } else {
      message =
        `no server answered at ${where} within ${target.options.serverSelectionTimeoutMS} ms (${cause?.message ?? err.message}). ` +
        'Check the host and port, the replicaSet name in the URL (or add directConnection=true for a single server), and any firewall';
    }
    if (tlsProblem) return new ConfigError(nodeId, 'tls', message);
    return atOpen ? new ConfigError(nodeId, field, message) : new NodeError(nodeId, message, { cause: err });
  }
  return new NodeError(nodeId, `${where}: ${errorMessage(err)}`, { cause: err });
}

/**
 * A failed command on a connected client: ConfigError for what retrying will not fix (privileges, a
 * missing namespace, validation), NodeError otherwise (the executor retries those).
 */
export function commandError(nodeId: string, field: string, target: Target, err: unknown, what: string): Error {
  if (err instanceof UserError || err instanceof NodeError) return err;
  if (err instanceof mongo.MongoServerSelectionError) return connectError(nodeId, target, err, false);
  const text = `${what}: ${errorMessage(err)}`;
  if (err instanceof mongo.MongoServerError && err.code === 13) {
    return new ConfigError(nodeId, field, `${text} (user ${JSON.stringify(target.user ?? '')} at ${target.label}): grant the user the missing role`);
  }
  if (isPermanent(err)) return new ConfigError(nodeId, field, `${text} (${target.label})`);
  return new NodeError(nodeId, `${text} (${target.label})`, { cause: err });
}

// ---- testConnection ------------------------------------------------------------------------------

export interface ConnectionTestResult {
  ok: boolean;
  /** one line: what was reached, or what is wrong and how to fix it */
  message: string;
  server?: string;
  topology?: ServerInfo['topology'];
  /** CDC readiness (mode cdc / snapshot+cdc): change streams need a replica set or a sharded cluster */
  changeStreams?: { ready: boolean; problems: string[] };
  /** databases the user can list (when it may) */
  databases?: string[];
}

/**
 * Checks a connection entry (`{ type: mongodb, url | host, port, user, password, database, tls }`) or a
 * node-style `{ url, tls }`: connects, reads the server version and topology and whether change streams
 * would work. Never throws for a connection problem: `ok: false` and a message that says what to fix.
 */
export async function testConnection(
  config: Record<string, unknown>,
  options: { files?: FileAccess; timeoutMs?: number } = {},
): Promise<ConnectionTestResult> {
  const { tls, timeoutMs, ...rest } = config as { tls?: unknown; timeoutMs?: number };
  let entry: Record<string, unknown>;
  try {
    entry = { ...rest, type: 'mongodb', ...(tls !== undefined ? { tls: tlsSchema.parse(tls) } : {}) };
  } catch (err) {
    return { ok: false, message: errorMessage(err) };
  }
  const timeout = timeoutMs ?? options.timeoutMs ?? 10_000;
  const resolved = resolveForTest(entry, options.files, (ctx, c) => resolveTarget(ctx, { ...c, timeoutMs: timeout }));
  if ('error' in resolved) return { ok: false, message: resolved.error };
  const { target } = resolved;
  let lease: ClientLease | undefined;
  try {
    lease = await acquireClient('test', target);
    const server = await serverInfo(lease.client);
    const problem = changeStreamProblem(server);
    const result: ConnectionTestResult = {
      ok: true,
      message: `connected to ${server.mongoJavaServer ? `mongo-java-server ${server.mongoJavaServer} (reports MongoDB ${server.version})` : `MongoDB ${server.version}`} (${server.topology}) at ${target.label}`,
      server: server.version,
      topology: server.topology,
      changeStreams: { ready: problem === undefined, problems: problem ? [problem] : [] },
    };
    const dbs = await lease.client.db('admin').admin().listDatabases({ nameOnly: true }).catch(() => undefined);
    if (dbs) result.databases = dbs.databases.map((d) => d.name).sort();
    return result;
  } catch (err) {
    return { ok: false, message: errorMessage(connectError('test', target, err, true)).replace(/^nodes\[test\]\.\w+: /, '') };
  } finally {
    await lease?.release();
  }
}
