/**
 * What every mysql.* node shares about reaching a server: the `connection` / `url` / `tls` config
 * fields, resolving them to mysql2 options, pooled connections (mysql2/promise) with the session set up
 * the way the value mapping in types.ts expects, the binlog checks CDC needs, and errors that say what
 * to fix. MySQL 8 and MariaDB 10.11.
 *
 * A node names EITHER `connection` (an entry of the flow document's `connections:` map, so the flow
 * holds no secret: `{ type: mysql, url: ${env:SHOP_DB_URL} }` or host/port/user/password/database
 * fields) OR `url` (`mysql://user:password@host:3306/database`, `?tls=true` for TLS). `tls` in the node
 * config overrides the connection's.
 *
 * Every connection: utf8mb4, session time_zone '+00:00' (TIMESTAMP values read and written in UTC),
 * supportBigNumbers (BIGINT beyond 2^53 as strings), dateStrings (temporal values as text: no precision
 * or time-zone loss), DECIMAL as strings, JSON as text (parsed by types.ts).
 */
import type mysql from 'mysql2/promise';
import type { ConnectionOptions, Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { z } from 'zod';
import { connectionFieldsFor, connectionSource, entryUrlField, oneConnectionFor, passwordField, resolveForTest, serverUrl, tlsMaterial, tlsSchema, type ConnectionConfig, type ResolveContext, type ServerUrl, type TlsConfig } from '../shared/connection-config.js';
import { openOrClose } from '../shared/open.js';
import { lazyModule } from '../shared/lazy-module.js';
import { ConfigError, NodeError, UserError, errorMessage, type FileAccess } from '../../runtime/index.js';

/** mysql2, loaded when a mysql node first connects (shared/lazy-module.ts) */
const driver = lazyModule<typeof mysql>('mysql2/promise');

// ---- config fields ---------------------------------------------------------------------------------

export { tlsSchema, type ConnectionConfig, type ResolveContext, type TlsConfig };

/** The fields every mysql.* node config has; use with `oneConnection` below. */
export const connectionFields = connectionFieldsFor('mysql', 'mysql://user:password@host:3306/database');

/** zod check: exactly one of `connection` and `url` */
export const oneConnection = oneConnectionFor('mysql://user@host:3306/db');

/** An entry of the flow's `connections:` map for MySQL / MariaDB (other fields are ignored). */
export const connectionEntrySchema = z.object({
  type: z.enum(['mysql', 'mariadb']).describe('mysql (MySQL 8 or MariaDB)'),
  url: entryUrlField('mysql://user:password@host:3306/database'),
  host: z.string().min(1).optional().describe('server host name or address (default 127.0.0.1)'),
  port: z.number().int().min(1).max(65535).optional().describe('server port (default 3306)'),
  user: z.string().min(1).optional().describe('user name (default root)'),
  password: passwordField,
  database: z.string().min(1).optional().describe('default database: tables named without one are looked up here'),
  tls: tlsSchema.optional(),
});

export type ConnectionEntry = z.output<typeof connectionEntrySchema>;

const FAMILY = { type: 'mysql', entrySchema: connectionEntrySchema, urlHint: '...' };
const URL_SPEC = { schemes: ['mysql', 'mariadb'], example: 'mysql://user:password@host:3306/database', port: 3306, user: 'root' };

// ---- resolving -----------------------------------------------------------------------------------

export interface Target {
  /** mysql2 options: host, port, user, password, database, ssl and the fixed value options */
  options: ConnectionOptions;
  /** `user@host:port/db`, never the password: for messages */
  label: string;
  database?: string;
  user: string;
  /** which config field to blame: `connection` or `url` */
  field: 'connection' | 'url';
  /** `connection "shop"` or `url`: for messages */
  via: string;
}

/** Options every connection gets: how values are read (see the top of this file and types.ts). */
const VALUE_OPTIONS: ConnectionOptions = {
  charset: 'utf8mb4',
  supportBigNumbers: true,
  bigNumberStrings: false,
  dateStrings: true,
  decimalNumbers: false,
  // JSON as text from both the snapshot and the binlog: types.ts parses it, so a JSON string scalar
  // ('"123"') reads the same whichever way it came
  jsonStrings: true,
  // geometry as its raw bytes (SRID + WKB), which types.ts reads; mysql2 would parse it into {x, y} objects
  // and drop the SRID
  typeCast: (field, next) => (field.type === 'GEOMETRY' ? field.buffer() : next()),
  timezone: 'Z',
  connectTimeout: 10_000,
  // a dead peer (the binlog connection mostly waits) is noticed by TCP keep-alive
  enableKeepAlive: true,
  keepAliveInitialDelay: 10_000,
};

/** The node config's `connection` / `url` / `tls` as mysql2 options. Throws ConfigError naming the field. */
export function resolveTarget(ctx: ResolveContext, config: ConnectionConfig): Target {
  const { nodeId } = ctx;
  const src = connectionSource(ctx, config, FAMILY);
  const e = src.entry;
  const u = src.url !== undefined ? parseUrl(nodeId, src.field, src.url, ctx) : undefined;
  const options: ConnectionOptions = {
    ...VALUE_OPTIONS,
    host: e?.host ?? u?.host ?? '127.0.0.1',
    port: e?.port ?? u?.port ?? 3306,
    user: e?.user ?? u?.user ?? 'root',
    password: e?.password ?? u?.password,
    database: e?.database ?? u?.database,
  };
  if (src.tls) options.ssl = sslOptions(nodeId, src.tlsField, src.tls, ctx);
  else if (u?.ssl) options.ssl = u.ssl;
  return finish(options, src.field, src.via);
}

function finish(options: ConnectionOptions, field: 'connection' | 'url', via: string): Target {
  const user = options.user ?? 'root';
  const label = `${user}@${options.host}:${options.port}${options.database ? `/${options.database}` : ''}`;
  return { options, label, database: options.database, user, field, via };
}

interface ParsedUrl extends Omit<ServerUrl, 'url'> {
  ssl?: ConnectionOptions['ssl'];
}

function parseUrl(nodeId: string, field: string, text: string, ctx: ResolveContext): ParsedUrl {
  const { url: u, ...parts } = serverUrl(nodeId, field, text, URL_SPEC);
  const tlsParam = u.searchParams.get('tls') ?? u.searchParams.get('ssl');
  for (const k of u.searchParams.keys()) {
    if (k !== 'tls' && k !== 'ssl') throw new ConfigError(nodeId, field, `unknown URL parameter ${JSON.stringify(k)}: only ?tls=true is understood (use the \`tls\` field for certificates)`);
  }
  let ssl: ConnectionOptions['ssl'];
  if (tlsParam !== null && !['false', '0', 'off', 'disable'].includes(tlsParam)) {
    ssl = sslOptions(nodeId, field, { rejectUnauthorized: !['insecure', 'no-verify'].includes(tlsParam) }, ctx);
  }
  return { ...parts, ssl };
}

function sslOptions(nodeId: string, field: string, tls: Partial<TlsConfig>, ctx: ResolveContext): ConnectionOptions['ssl'] {
  return tlsMaterial(ctx.files, nodeId, field, tls);
}

// ---- pools ---------------------------------------------------------------------------------------

export interface ServerInfo {
  version: string;
  mariadb: boolean;
  major: number;
  minor: number;
  patch: number;
}

/**
 * A pool of `size` connections, checked by one round-trip (so wrong credentials, an unknown database or
 * an unreachable server fail here, as a ConfigError naming the field).
 */
export async function openPool(nodeId: string, target: Target, size: number): Promise<{ pool: Pool; server: ServerInfo }> {
  const pool = driver.createPool({ ...target.options, connectionLimit: size, maxIdle: size, waitForConnections: true, enableKeepAlive: true });
  pool.on('connection', (conn) => {
    // the core (callback) connection: queued before anything the caller sends on it
    (conn as unknown as { query(sql: string, cb: (err: unknown) => void): void }).query("SET time_zone = '+00:00'", () => undefined);
  });
  let server!: ServerInfo;
  await openOrClose(
    async () => (server = await serverInfo(pool)),
    () => pool.end(),
    (err) => connectError(nodeId, target, err, true),
  );
  return { pool, server };
}

export async function serverInfo(q: Pool | PoolConnection): Promise<ServerInfo> {
  const [rows] = await q.query<RowDataPacket[]>('SELECT VERSION() AS v');
  const version = String(rows[0].v);
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  return { version, mariadb: /mariadb/i.test(version), major: Number(m?.[1] ?? 0), minor: Number(m?.[2] ?? 0), patch: Number(m?.[3] ?? 0) };
}

// ---- errors --------------------------------------------------------------------------------------

interface MysqlErr {
  code?: string;
  errno?: number;
  sqlMessage?: string;
  message?: string;
}

/** errors that retrying will not fix: the user has to change something */
const PERMANENT = new Set([
  'ER_ACCESS_DENIED_ERROR',
  'ER_DBACCESS_DENIED_ERROR',
  'ER_BAD_DB_ERROR',
  'ER_NO_SUCH_TABLE',
  'ER_TABLEACCESS_DENIED_ERROR',
  'ER_COLUMNACCESS_DENIED_ERROR',
  'ER_SPECIFIC_ACCESS_DENIED_ERROR',
  'ER_NOT_SUPPORTED_AUTH_MODE',
  'HANDSHAKE_NO_SSL_SUPPORT',
  'ENOTFOUND',
]);

/**
 * A failure to connect (or of the first statements) as an error that says what to fix. `atOpen`: a
 * refused connection is a UserError at open (the flow cannot start), but transient later (a restart).
 */
export function connectError(nodeId: string, target: Target, err: unknown, atOpen: boolean): Error {
  const e = err as MysqlErr;
  const code = e.code ?? '';
  const where = `${target.label} (${target.via})`;
  let message: string;
  switch (code) {
    case 'ER_ACCESS_DENIED_ERROR':
      message = `access denied for user ${JSON.stringify(target.user)} at ${where}: check the user name and password`;
      break;
    case 'ER_DBACCESS_DENIED_ERROR':
      message = `user ${JSON.stringify(target.user)} may not use database ${JSON.stringify(target.database)} at ${where}: GRANT SELECT (and INSERT, UPDATE, DELETE, CREATE, ALTER for a sink) ON ${target.database}.* TO the user`;
      break;
    case 'ER_BAD_DB_ERROR':
      message = `database ${JSON.stringify(target.database)} does not exist at ${where}: create it (CREATE DATABASE ${target.database}) or fix the database in the ${target.field}`;
      break;
    case 'HANDSHAKE_NO_SSL_SUPPORT':
      message = `the server at ${where} does not support TLS: enable TLS on the server (ssl_cert, ssl_key) or remove \`tls\``;
      break;
    case 'ECONNREFUSED':
      message = `cannot connect to ${where}: connection refused. Is the server running and listening on that host and port?`;
      break;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      message = `cannot connect to ${where}: host ${JSON.stringify(target.options.host)} not found`;
      break;
    case 'ETIMEDOUT':
      message = `cannot connect to ${where}: timed out. Check the host, the port and any firewall`;
      break;
    default:
      if (/self[- ]signed|certificate|unable to verify/i.test(e.message ?? '')) {
        message = `TLS to ${where} failed: ${e.message}. Set tls.ca to the server's CA certificate (or tls.rejectUnauthorized: false for testing)`;
        return new ConfigError(nodeId, 'tls', message);
      }
      message = `${where}: ${e.sqlMessage ?? e.message ?? errorMessage(err)}`;
  }
  if (PERMANENT.has(code) || (atOpen && ['ECONNREFUSED', 'ETIMEDOUT', 'EAI_AGAIN'].includes(code))) {
    return new ConfigError(nodeId, code === 'HANDSHAKE_NO_SSL_SUPPORT' ? 'tls' : target.field, message);
  }
  return new NodeError(nodeId, message, { cause: err });
}

/** A failed statement: ConfigError for privileges / missing tables, NodeError otherwise. */
export function statementError(nodeId: string, field: string, target: Target, err: unknown, what: string): Error {
  if (err instanceof UserError || err instanceof NodeError) return err;
  const e = err as MysqlErr;
  const text = `${what}: ${e.sqlMessage ?? e.message ?? errorMessage(err)}`;
  switch (e.code) {
    case 'ER_TABLEACCESS_DENIED_ERROR':
    case 'ER_COLUMNACCESS_DENIED_ERROR':
    case 'ER_DBACCESS_DENIED_ERROR':
      return new ConfigError(nodeId, field, `${text} (user ${JSON.stringify(target.user)} at ${target.label}): GRANT the missing privilege to the user`);
    case 'ER_NO_SUCH_TABLE':
    case 'ER_BAD_DB_ERROR':
      return new ConfigError(nodeId, field, text);
    case 'ER_SPECIFIC_ACCESS_DENIED_ERROR':
      return new ConfigError(nodeId, field, `${text} (user ${JSON.stringify(target.user)} at ${target.label})`);
  }
  if (['ECONNREFUSED', 'ECONNRESET', 'PROTOCOL_CONNECTION_LOST', 'EPIPE', 'ETIMEDOUT'].includes(e.code ?? '')) return connectError(nodeId, target, err, false);
  return new NodeError(nodeId, `${text} (${target.label})`, { cause: err });
}

// ---- binlog checks -------------------------------------------------------------------------------

export interface BinlogPoint {
  file: string;
  pos: number;
}

export const REPLICATION_GRANT = (server: ServerInfo, user: string) =>
  server.mariadb
    ? `GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO '${user}'@'%'`
    : `GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO '${user}'@'%'`;

/**
 * What stops CDC on this server, as messages that name the setting and the fix (empty: ready).
 * Checks log_bin, binlog_format=ROW, binlog_row_image=FULL and the privilege to read the binlog status.
 */
export async function binlogProblems(q: Pool | PoolConnection, server: ServerInfo, user: string): Promise<string[]> {
  const [rows] = await q.query<RowDataPacket[]>('SELECT @@GLOBAL.log_bin AS logBin, @@GLOBAL.binlog_format AS format, @@GLOBAL.binlog_row_image AS image');
  const { logBin, format, image } = rows[0];
  const problems: string[] = [];
  if (!Number(logBin)) {
    problems.push(
      'binary logging is off (log_bin=OFF): CDC reads the row binlog. Start the server with log_bin enabled ' +
        '(--log-bin=<basename>), binlog_format=ROW and a unique server_id (server config or command line), or use mode: snapshot',
    );
    return problems;
  }
  if (String(format).toUpperCase() !== 'ROW') {
    problems.push(
      `binlog_format is ${format}, not ROW: CDC needs row images. Run SET GLOBAL binlog_format = 'ROW' and set binlog_format=ROW in the server config (changes already logged as statements cannot be read)`,
    );
  }
  if (String(image).toUpperCase() !== 'FULL') {
    problems.push(`binlog_row_image is ${image}, not FULL: updates and deletes would lack whole rows. Run SET GLOBAL binlog_row_image = 'FULL' and set it in the server config`);
  }
  // the privileges: reading the binlog position needs REPLICATION CLIENT (MariaDB: BINLOG MONITOR), the
  // stream itself REPLICATION SLAVE. The second only shows in SHOW GRANTS (roles are trusted, not checked)
  const missing: string[] = [];
  let denied = '';
  try {
    await binlogEnd(q, server);
  } catch (err) {
    const e = err as MysqlErr;
    if (e.code !== 'ER_SPECIFIC_ACCESS_DENIED_ERROR' && e.code !== 'ER_ACCESS_DENIED_ERROR' && e.errno !== 1227) throw err;
    missing.push(server.mariadb ? 'BINLOG MONITOR' : 'REPLICATION CLIENT');
    denied = ` (${e.sqlMessage ?? e.message})`;
  }
  const [grants] = await q.query<RowDataPacket[]>('SHOW GRANTS');
  const lines = grants.map((r) => String(Object.values(r)[0]).toUpperCase());
  const viaRole = lines.some((l) => /^GRANT\s+`[^`]*`(@`[^`]*`)?\s+TO\s/.test(l));
  const slave = lines.some((l) => / ON \*\.\* TO /.test(l) && /ALL PRIVILEGES|REPLICATION SLAVE/.test(l));
  if (!slave && !viaRole) missing.unshift('REPLICATION SLAVE');
  if (missing.length > 0) {
    problems.push(`user ${JSON.stringify(user)} may not read the binlog: it lacks ${missing.join(' and ')}${denied}. ${REPLICATION_GRANT(server, user)}`);
  }
  return problems;
}

/** the current end of the binlog (SHOW MASTER STATUS, or SHOW BINARY LOG STATUS on MySQL 8.2+) */
export async function binlogEnd(q: Pool | PoolConnection, server: ServerInfo): Promise<BinlogPoint> {
  const newSyntax = !server.mariadb && (server.major > 8 || (server.major === 8 && server.minor >= 2));
  const [rows] = await q.query<RowDataPacket[]>(newSyntax ? 'SHOW BINARY LOG STATUS' : 'SHOW MASTER STATUS');
  if (rows.length === 0) throw new UserError('the server reports no binlog position: binary logging is off (log_bin=OFF)');
  return { file: String(rows[0].File), pos: Number(rows[0].Position) };
}

// ---- testConnection ------------------------------------------------------------------------------

export interface ConnectionTestResult {
  ok: boolean;
  /** one line: what was reached, or what is wrong and how to fix it */
  message: string;
  server?: string;
  flavor?: 'mysql' | 'mariadb';
  /** CDC readiness: problems that stop mode cdc / snapshot+cdc (empty when ready) */
  cdc?: { ready: boolean; problems: string[] };
}

/**
 * Checks a connection entry (`{ type: mysql, url | host, port, user, password, database, tls }`) or a
 * node-style `{ url, tls }`: connects, reads the server version and whether CDC would work. Never
 * throws for a connection problem: `ok: false` and a message that says what to fix.
 */
export async function testConnection(config: Record<string, unknown>, options: { files?: FileAccess } = {}): Promise<ConnectionTestResult> {
  const resolved = resolveForTest({ type: 'mysql', ...config }, options.files, resolveTarget);
  if ('error' in resolved) return { ok: false, message: resolved.error };
  const { target } = resolved;
  let conn: Awaited<ReturnType<typeof mysql.createConnection>> | undefined;
  try {
    conn = await driver.createConnection(target.options);
    const server = await serverInfo(conn as unknown as Pool);
    let problems: string[];
    try {
      problems = await binlogProblems(conn as unknown as Pool, server, target.user);
    } catch (err) {
      problems = [errorMessage(err)];
    }
    return {
      ok: true,
      message: `connected to ${server.mariadb ? 'MariaDB' : 'MySQL'} ${server.version} at ${target.label}`,
      server: server.version,
      flavor: server.mariadb ? 'mariadb' : 'mysql',
      cdc: { ready: problems.length === 0, problems },
    };
  } catch (err) {
    return { ok: false, message: errorMessage(connectError('test', target, err, true)).replace(/^nodes\[test\]\.\w+: /, '') };
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/** `a`b` → `` `a``b` `` */
export function quoteIdent(name: string): string {
  return `\`${name.replaceAll('`', '``')}\``;
}

export function qualified(db: string, table: string): string {
  return `${quoteIdent(db)}.${quoteIdent(table)}`;
}
