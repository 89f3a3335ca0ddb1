/**
 * What every postgres.* node shares about reaching a server: the `connection` / `url` / `tls` config
 * fields, resolving them to pg options, pooled connections with the session set up the way types.ts
 * expects, identifier quoting, table names, and errors that say what to fix (wrong credentials, missing
 * database or table, missing REPLICATION privilege, wal_level not logical, no free slot).
 *
 * A node names EITHER `connection` (an entry of the flow document's `connections:` map, so the flow
 * holds no secret: `{ type: postgres, url: ${env:PG_URL} }` or host/port/user/password/database fields)
 * OR `url` (`postgres://user:password@host:5432/database`, `?sslmode=require` for TLS). `tls` in the
 * node config overrides the connection's.
 *
 * Every session: TimeZone UTC, DateStyle ISO, IntervalStyle postgres, bytea_output hex (the text forms
 * types.ts parses), application_name `sluice:<flow>:<node>` (visible in pg_stat_activity).
 */
import type pg from 'pg';
import type { ClientConfig, PoolConfig } from 'pg';
import { z } from 'zod';
import { connectionFieldsFor, connectionSource, entryUrlField, oneConnectionFor, passwordField, resolveForTest, serverUrl, tlsMaterial, tlsSchema, type ConnectionConfig, type ResolveContext, type ServerUrl, type TlsConfig } from '../shared/connection-config.js';
import { openOrClose } from '../shared/open.js';
import { lazyModule } from '../shared/lazy-module.js';
import { ConfigError, NodeError, UserError, errorMessage, type FileAccess } from '../../runtime/index.js';

/** the pg driver, loaded when a postgres node first connects (shared/lazy-module.ts) */
export const driver = lazyModule<typeof import('pg')>('pg');

// ---- config fields ---------------------------------------------------------------------------------

export { tlsSchema, type ConnectionConfig, type ResolveContext, type TlsConfig };

/** The fields every postgres.* node config has; use with `oneConnection` below. */
export const connectionFields = connectionFieldsFor('postgres', 'postgres://user:password@host:5432/database');

/** zod check: exactly one of `connection` and `url` */
export const oneConnection = oneConnectionFor('postgres://user@host:5432/db');

/** An entry of the flow's `connections:` map for PostgreSQL (other fields are ignored). */
export const connectionEntrySchema = z.object({
  type: z.enum(['postgres', 'postgresql']).describe('postgres'),
  url: entryUrlField('postgres://user:password@host:5432/database'),
  host: z.string().min(1).optional().describe('server host name, address or Unix socket directory (default 127.0.0.1)'),
  port: z.number().int().min(1).max(65535).optional().describe('server port (default 5432)'),
  user: z.string().min(1).optional().describe('user name (default postgres)'),
  password: passwordField,
  database: z.string().min(1).optional().describe('database (default: the user name)'),
  tls: tlsSchema.optional(),
});

const FAMILY = { type: 'postgres', entrySchema: connectionEntrySchema, urlHint: '${env:PG_URL}' };
const URL_SPEC = { schemes: ['postgres', 'postgresql'], example: 'postgres://user:password@host:5432/database', port: 5432, user: 'postgres' };

// ---- resolving -----------------------------------------------------------------------------------

export interface Target {
  /** pg client options: host, port, user, password, database, ssl */
  options: ClientConfig;
  /** `user@host:port/db`, never the password: for messages */
  label: string;
  user: string;
  database: string;
  /** which config field to blame: `connection` or `url` */
  field: 'connection' | 'url';
  /** `connection "shop"` or `url`: for messages */
  via: string;
}

const URL_PARAMS = new Set(['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'host', 'port', 'user', 'password', 'dbname', 'connect_timeout', 'application_name']);

/** The node config's `connection` / `url` / `tls` as pg options. Throws ConfigError naming the field. */
export function resolveTarget(ctx: ResolveContext, config: ConnectionConfig): Target {
  const { nodeId } = ctx;
  const src = connectionSource(ctx, config, FAMILY);
  const e = src.entry;
  const u = src.url !== undefined ? parseUrl(nodeId, src.field, src.url, ctx) : undefined;
  const options: ClientConfig = {
    host: e?.host ?? u?.host ?? '127.0.0.1',
    port: e?.port ?? u?.port ?? 5432,
    user: e?.user ?? u?.user ?? 'postgres',
    password: e?.password ?? u?.password,
    database: e?.database ?? u?.database,
    connectionTimeoutMillis: u?.connectionTimeoutMillis ?? 10_000,
  };
  if (src.tls) options.ssl = sslOptions(nodeId, src.tlsField, src.tls, ctx);
  else if (u?.ssl !== undefined) options.ssl = u.ssl;
  return finish(options, src.field, src.via);
}

function finish(options: ClientConfig, field: 'connection' | 'url', via: string): Target {
  const user = options.user ?? 'postgres';
  const database = options.database ?? user;
  options.database = database;
  return { options, label: `${user}@${options.host}:${options.port}/${database}`, user, database, field, via };
}

interface ParsedUrl extends Omit<ServerUrl, 'url'> {
  ssl?: ClientConfig['ssl'];
  connectionTimeoutMillis?: number;
}

function parseUrl(nodeId: string, field: string, text: string, ctx: ResolveContext): ParsedUrl {
  const base = serverUrl(nodeId, field, text, URL_SPEC);
  const u = base.url;
  for (const k of u.searchParams.keys()) {
    if (!URL_PARAMS.has(k)) {
      throw new ConfigError(nodeId, field, `unknown URL parameter ${JSON.stringify(k)}: understood are ${[...URL_PARAMS].join(', ')} (use the \`tls\` field for certificates)`);
    }
  }
  const q = (k: string) => u.searchParams.get(k) ?? undefined;
  const port = q('port');
  const out: ParsedUrl = {
    host: q('host') ?? base.host,
    port: port !== undefined ? Number(port) : base.port,
    user: q('user') ?? base.user,
    password: q('password') ?? base.password,
    database: q('dbname') ?? base.database,
  };
  const timeout = q('connect_timeout');
  if (timeout !== undefined) out.connectionTimeoutMillis = Number(timeout) * 1000;
  const mode = q('sslmode');
  if (mode !== undefined || q('sslrootcert') || q('sslcert') || q('sslkey')) {
    switch (mode ?? 'verify-full') {
      case 'disable':
        out.ssl = false;
        break;
      case 'allow':
      case 'prefer':
      case 'require':
      case 'no-verify':
        out.ssl = sslOptions(nodeId, field, { rejectUnauthorized: false, ca: q('sslrootcert'), cert: q('sslcert'), key: q('sslkey') }, ctx);
        break;
      case 'verify-ca':
      case 'verify-full':
        out.ssl = sslOptions(nodeId, field, { rejectUnauthorized: true, ca: q('sslrootcert'), cert: q('sslcert'), key: q('sslkey') }, ctx);
        if (mode === 'verify-ca') (out.ssl as Record<string, unknown>).checkServerIdentity = () => undefined;
        break;
      default:
        throw new ConfigError(nodeId, field, `sslmode ${JSON.stringify(mode)} is not one of disable, prefer, require, verify-ca, verify-full`);
    }
  }
  return out;
}

function sslOptions(nodeId: string, field: string, tls: Partial<TlsConfig>, ctx: ResolveContext): ClientConfig['ssl'] {
  return tlsMaterial(ctx.files, nodeId, field, tls);
}

// ---- sessions and pools ----------------------------------------------------------------------------

/** startup options every session gets: the text forms types.ts parses */
const SESSION_OPTIONS = '-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c bytea_output=hex -c extra_float_digits=1';

export interface SessionOptions {
  flowName: string;
  nodeId: string;
  /** result parsers (the source's TypeMapper); default: pg's own */
  types?: ClientConfig['types'];
}

/** pg client options for one session of a node (also for the replication connection). */
export function clientOptions(target: Target, s: SessionOptions): ClientConfig {
  const name = `sluice:${s.flowName}:${s.nodeId}`.slice(0, 63);
  return { ...target.options, options: SESSION_OPTIONS, application_name: name, types: s.types, keepAlive: true };
}

/**
 * A pool of at most `max` connections, checked by one round-trip so that wrong credentials, an unknown
 * database or an unreachable server fail here with an error that says what to fix.
 */
export async function openPool(target: Target, s: SessionOptions & { max: number }): Promise<pg.Pool> {
  const config: PoolConfig = { ...clientOptions(target, s), max: s.max, idleTimeoutMillis: 30_000 };
  const pool = new driver.Pool(config);
  // a session the server ended (restart, pg_terminate_backend) emits 'error': idle ones on the pool, which
  // discards them, checked-out ones on the client, whose next query then fails. Neither may crash the process.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  await openOrClose(() => pool.query('SELECT 1'), () => pool.end(), (err) => pgError(s.nodeId, target, err, { atOpen: true }));
  return pool;
}

// ---- names -----------------------------------------------------------------------------------------

/** `a"b` → `"a""b"` */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export interface TableName {
  schema: string;
  name: string;
}

export const qualified = (t: TableName) => `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
/** `public.orders`, for messages and meta.table */
export const display = (t: TableName) => `${t.schema}.${t.name}`;

/**
 * Splits `schema.table` (each part optionally "double-quoted", which keeps dots and case as written);
 * without a schema, `public`. Unquoted names are taken as written (not lowercased).
 */
export function splitName(text: string): TableName | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i <= text.length) {
    if (text[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= text.length) return undefined;
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += text[i++];
      }
      parts.push(s);
    } else {
      const end = text.indexOf('.', i);
      const part = text.slice(i, end < 0 ? text.length : end);
      parts.push(part);
      i = end < 0 ? text.length : end;
    }
    if (i >= text.length) break;
    if (text[i] !== '.') return undefined;
    i++;
  }
  if (parts.length === 1) parts.unshift('public');
  if (parts.length !== 2 || parts.some((p) => p === '')) return undefined;
  return { schema: parts[0], name: parts[1] };
}

// ---- errors ------------------------------------------------------------------------------------------

interface PgErr {
  code?: string;
  message?: string;
  detail?: string;
  hint?: string;
}

const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

/** true for failures that may pass by themselves: connection loss, restarts, deadlocks, serialization */
export function isTransient(err: unknown): boolean {
  if (err instanceof UserError) return false;
  const code = (err as PgErr).code ?? '';
  if (NETWORK.has(code)) return true;
  if (/^(08|40|53|57|58)/.test(code)) return true;
  return /Connection terminated|terminating connection|timeout|socket|closed/i.test(errorMessage(err));
}

export const replicationGrant = (user: string) => `ALTER ROLE ${quoteIdent(user)} WITH REPLICATION`;

export function walLevelMessage(level: string): string {
  return (
    `logical replication needs wal_level = logical, but the server runs with wal_level = ${level}: ` +
    'run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL; or use mode: snapshot'
  );
}

/** A problem and its fix, from a pg error; `user`: the user must change something (no retry helps). */
export interface Explained {
  error: string;
  hint?: string;
  user: boolean;
  field?: string;
}

export function explain(target: Target, err: unknown, atOpen = false): Explained {
  const e = err as PgErr;
  const code = e.code ?? '';
  const msg = e.message ?? errorMessage(err);
  const where = `${target.label} (${target.via})`;
  const field = target.field;
  if (code === '28P01' || (code === '28000' && /password|authentication/i.test(msg))) {
    return { error: `cannot log in to ${where}: ${msg}`, hint: `check the user and password of the ${field}`, user: true, field };
  }
  if (code === '28000' && /role .* does not exist/i.test(msg)) {
    return { error: `cannot log in to ${where}: ${msg}`, hint: `fix the user of the ${field}, or CREATE ROLE ${quoteIdent(target.user)} LOGIN`, user: true, field };
  }
  if (code === '28000' || code === '28P01') {
    return { error: `the server refused ${where}: ${msg}`, hint: 'allow this user and host in pg_hba.conf, then reload PostgreSQL', user: true, field };
  }
  if (code === '3D000') {
    return { error: `database ${JSON.stringify(target.database)} does not exist at ${where}`, hint: `create it (CREATE DATABASE ${quoteIdent(target.database)}) or fix the database of the ${field}`, user: true, field };
  }
  if (code === '42501' && /replication|walsender/i.test(msg)) {
    return { error: `user ${JSON.stringify(target.user)} lacks the REPLICATION privilege at ${where} (${msg})`, hint: `as a superuser run ${replicationGrant(target.user)}; or use mode: snapshot`, user: true, field: 'mode' };
  }
  if (code === '42501') {
    return { error: `permission denied for user ${JSON.stringify(target.user)} at ${where}: ${msg}`, hint: 'GRANT the missing privilege to the user (SELECT for a source; INSERT, UPDATE, DELETE, CREATE for a sink)', user: true };
  }
  if (code === '55000' && /wal_level/i.test(msg)) {
    return { error: msg, hint: 'run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL; or use mode: snapshot', user: true, field: 'mode' };
  }
  if (code === '53400' && /replication slot/i.test(msg)) {
    return { error: `${msg} at ${where}`, hint: 'drop slots that are no longer used (SELECT pg_drop_replication_slot(name)) or raise max_replication_slots and restart PostgreSQL', user: true, field: 'mode' };
  }
  if (/does not support SSL|server does not support SSL/i.test(msg)) {
    return { error: `the server at ${where} does not support TLS`, hint: 'enable ssl on the server, or remove `tls` / sslmode from the connection', user: true, field: 'tls' };
  }
  if (/self[- ]signed|certificate|unable to verify|altnames/i.test(msg)) {
    return { error: `TLS to ${where} failed: ${msg}`, hint: "set tls.ca to the server's CA certificate (or tls.rejectUnauthorized: false for testing)", user: true, field: 'tls' };
  }
  if (code === 'ECONNREFUSED') {
    return { error: `cannot connect to ${where}: connection refused`, hint: 'is PostgreSQL running and listening on that host and port?', user: atOpen, field };
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return { error: `cannot connect to ${where}: host ${JSON.stringify(target.options.host)} not found`, hint: 'check the host name', user: atOpen, field };
  }
  if (/timeout/i.test(msg) && atOpen) {
    return { error: `cannot connect to ${where}: ${msg}`, hint: 'check the host, the port and any firewall', user: true, field };
  }
  return { error: `${where}: ${msg}${e.detail ? ` (${e.detail})` : ''}`, hint: e.hint, user: false };
}

/**
 * A pg failure as the error a node throws: ConfigError (no retry; names the field and the fix) for what
 * the user must change, NodeError (retried by the executor) for the rest.
 */
export function pgError(nodeId: string, target: Target, err: unknown, opts: { atOpen?: boolean; field?: string; what?: string } = {}): Error {
  if (err instanceof UserError || err instanceof NodeError) return err;
  const x = explain(target, err, opts.atOpen);
  const text = `${opts.what ? `${opts.what}: ` : ''}${x.error}${x.hint ? `; ${x.hint}` : ''}`;
  if (x.user) return new ConfigError(nodeId, x.field ?? opts.field ?? target.field, text, x.hint);
  return new NodeError(nodeId, text, { cause: err });
}

// ---- testConnection ------------------------------------------------------------------------------

export type ConnectionTestResult =
  | { ok: true; message: string; server: string; cdc: { ready: boolean; problems: string[] } }
  | { ok: false; error: string; hint?: string };

/**
 * Checks a connection entry (`{ type: postgres, url | host, port, user, password, database, tls }`) or a
 * node-style `{ url, tls }`: connects, reads the server version, and whether CDC (modes cdc and
 * snapshot+cdc) would work: wal_level = logical and the REPLICATION privilege. Never throws for a
 * connection problem: `ok: false` with the error and a hint saying how to fix it.
 */
export async function testConnection(
  config: Record<string, unknown>,
  options: { files?: FileAccess; timeoutMs?: number } = {},
): Promise<ConnectionTestResult> {
  const resolved = resolveForTest({ type: 'postgres', ...config }, options.files, resolveTarget);
  if ('error' in resolved) return { ok: false, error: resolved.error };
  const { target } = resolved;
  const client = new driver.Client({ ...clientOptions(target, { flowName: 'test', nodeId: 'connection' }), connectionTimeoutMillis: options.timeoutMs ?? 5000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ version: string; wal_level: string; replication: boolean }>(
      "SELECT current_setting('server_version') AS version, current_setting('wal_level') AS wal_level, (rolreplication OR rolsuper) AS replication FROM pg_roles WHERE rolname = current_user",
    );
    const r = rows[0];
    const problems: string[] = [];
    if (r.wal_level !== 'logical') problems.push(walLevelMessage(r.wal_level));
    if (!r.replication) problems.push(`user ${JSON.stringify(target.user)} lacks the REPLICATION privilege: as a superuser run ${replicationGrant(target.user)}`);
    return {
      ok: true,
      message: `connected to PostgreSQL ${r.version} at ${target.label}; CDC ${problems.length === 0 ? 'ready' : `not ready: ${problems.join('; ')}`}`,
      server: r.version,
      cdc: { ready: problems.length === 0, problems },
    };
  } catch (err) {
    const x = explain(target, err, true);
    return { ok: false, error: x.error, hint: x.hint };
  } finally {
    await client.end().catch(() => undefined);
  }
}
