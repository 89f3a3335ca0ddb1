/**
 * How a connector node says where its server is, the same in every family (postgres, mysql, mongodb;
 * a new one — Kafka, NATS, HTTP — builds on the same pieces):
 *
 * - config fields: `connectionFieldsFor(type, urlExample)` gives `connection` (a name from the flow's
 *   `connections:` map, so the flow holds no secret) or `url`, and `tls`; `oneConnectionFor` is the zod
 *   check that exactly one of the first two is set. A family's `connections:` entry schema uses
 *   `entryUrlField`, `passwordField` and `tlsSchema`.
 * - resolving: `connectionSource(ctx, config, family)` looks the named entry up and parses it (or takes
 *   the node's `url`), and says which field to blame and which TLS settings apply (the node's `tls` over
 *   the entry's). The family turns that into its driver's options: `serverUrl` reads a
 *   `scheme://user:password@host:port/database` URL, `tlsMaterial` reads the PEM files.
 * - testing: `resolveForTest` resolves a connection entry the user is testing and turns a config error
 *   into a one-line message.
 *
 * Every error is a ConfigError naming the field (`connection`, `url`, `tls.ca`, `connection.ca`).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { CONNECTION_MARK, ConfigError, errorMessage, fileAccess, fileMark, secret, unconfinedFiles, urlWithPassword, type FileAccess } from '../../runtime/index.js';

export const tlsSchema = z
  .object({
    ca: z.string().min(1).optional().describe('CA certificate(s) to trust: a PEM file path (relative to the working directory; in the server, inside its file roots) or the PEM text').meta(fileMark('pem')),
    cert: z.string().min(1).optional().describe('client certificate for mutual TLS: a PEM file path or the PEM text').meta(fileMark('pem')),
    key: secret(z.string().min(1).optional().describe('private key of the client certificate: a PEM file path or the PEM text').meta(fileMark('pem'))),
    passphrase: secret(z.string().min(1).optional().describe('passphrase of an encrypted private key (`key`)')),
    rejectUnauthorized: z.boolean().default(true).describe('refuse a server whose certificate is not signed by a trusted CA (false only for testing)'),
    servername: z.string().min(1).optional().describe('host name to check the server certificate against, when it differs from the host connected to'),
  })
  .strict()
  .describe('connect over TLS; an empty object {} uses the system CAs');

export type TlsConfig = z.output<typeof tlsSchema>;

/** a `tls.ca` / `cert` / `key` value: the PEM text itself, or a file read through the host's file policy */
export function readPem(files: FileAccess, nodeId: string, field: string, v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v.includes('-----BEGIN')) return v;
  const path = files.resolve(field, v);
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(nodeId, field, `cannot read ${v}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
}

/** a connection entry's `url` field: `example` is the family's URL; its password is a declared secret */
export function entryUrlField(example: string) {
  return urlWithPassword(z.string().min(1).optional().describe(`${example}; or the fields below`));
}

/** a connection entry's `password` field: a declared secret */
export const passwordField = secret(z.string().optional().describe('password'));

/**
 * `connection`, `url` and `tls` for a family: `type` as in a connection entry (`postgres`), `urlExample`
 * a full URL with a password placeholder (`postgres://user:password@host:5432/database`).
 */
export function connectionFieldsFor(type: string, urlExample: string) {
  return {
    connection: z
      .string()
      .min(1)
      .describe(`name of a connection in the flow's \`connections:\` map (type ${type}): keeps hosts and passwords out of the flow`)
      .meta(CONNECTION_MARK)
      .optional(),
    url: urlWithPassword(z.string().min(1).optional().describe(`${urlExample} (use \${env:NAME} for secrets); instead of \`connection\``)),
    tls: tlsSchema.optional(),
  };
}

/** a zod refinement: exactly one of `connection` and `url` (`shortUrl` is the example the message gives) */
export function oneConnectionFor(shortUrl: string) {
  return (c: { connection?: string; url?: string }, ctx: z.RefinementCtx): void => {
    if (c.connection === undefined && c.url === undefined) {
      ctx.addIssue({ code: 'custom', path: ['connection'], message: `set \`connection\` (a name from the flow's connections) or \`url\` (${shortUrl})` });
    } else if (c.connection !== undefined && c.url !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'set either `connection` or `url`, not both' });
    }
  };
}

// ---- resolving ------------------------------------------------------------------------------------

/** What resolving needs from the node (a NodeContext has all three; a reference table passes its own). */
export interface ResolveContext {
  nodeId: string;
  /** named connections of the flow; absent outside a flow (testConnection) */
  connection?(name: string): Record<string, unknown> | undefined;
  /** TLS files are read through it */
  files: FileAccess;
}

/** The node config fields resolving reads (see connectionFieldsFor). */
export interface ConnectionConfig {
  connection?: string;
  url?: string;
  tls?: TlsConfig;
}

/** A family's `connections:` entry: its `type` for messages, its schema, and a URL example for the hint. */
export interface ConnectionFamily<E> {
  /** `postgres`: the type a connection entry of this family has */
  type: string;
  entrySchema: z.ZodType<E>;
  /** what to write as the entry's url in the "add it under connections:" hint: `${env:PG_URL}` */
  urlHint: string;
}

/** Where a node's server is described, before the family turns it into driver options. */
export interface ConnectionSource<E> {
  /** the parsed `connections:` entry, when the node names one */
  entry?: E;
  /** the URL to parse: the entry's `url` or the node's; absent when the entry gives fields only */
  url?: string;
  /** which config field to blame for the connection (and its URL): `connection` or `url` */
  field: 'connection' | 'url';
  /** `connection "shop"` or `url`: for messages */
  via: string;
  /** the TLS settings that apply: the node's `tls`, else the entry's */
  tls?: TlsConfig;
  /** the field those TLS settings came from, for messages about their files (`tls.ca`, `connection.ca`) */
  tlsField: 'tls' | 'connection';
}

/**
 * The node config's `connection` (looked up in the flow and parsed with the family's entry schema) or
 * `url`. Throws a ConfigError naming `connection` for a missing or invalid entry, and when neither is set.
 */
export function connectionSource<E extends { url?: string; tls?: TlsConfig }>(ctx: ResolveContext, config: ConnectionConfig, family: ConnectionFamily<E>): ConnectionSource<E> {
  const { nodeId } = ctx;
  if (config.connection !== undefined) {
    const name = JSON.stringify(config.connection);
    const raw = ctx.connection?.(config.connection);
    if (!raw) {
      throw new ConfigError(nodeId, 'connection', `the flow has no connection named ${name}: add it under \`connections:\` (type: ${family.type}, url: ${family.urlHint}) or set \`url\``);
    }
    const parsed = family.entrySchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ConfigError(nodeId, 'connection', `connection ${name}: ${issue.path.join('.') || 'entry'}: ${issue.message}`);
    }
    const entry = parsed.data;
    const tls = config.tls ?? entry.tls;
    return { entry, url: entry.url, field: 'connection', via: `connection ${name}`, tls, tlsField: config.tls ? 'tls' : 'connection' };
  }
  if (config.url === undefined) throw new ConfigError(nodeId, 'connection', 'set `connection` or `url`');
  return { url: config.url, field: 'url', via: 'url', tls: config.tls, tlsField: 'tls' };
}

/** What a family's URLs look like: its schemes (`postgres`, `postgresql`), an example, the defaults. */
export interface UrlSpec {
  schemes: readonly string[];
  /** `postgres://user:password@host:5432/database`: shown when the text is not a URL */
  example: string;
  port: number;
  user: string;
}

/** The parts of a server URL, decoded, with the family's defaults; `url` for the family's own parameters. */
export interface ServerUrl {
  url: URL;
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
}

/**
 * Reads `scheme://user:password@host:port/database` (an IPv6 host in brackets; host 127.0.0.1 when
 * empty). ConfigError naming `field` when the text is not a URL or has a scheme the family does not take.
 * Query parameters are left to the family (`url.searchParams`).
 */
export function serverUrl(nodeId: string, field: string, text: string, spec: UrlSpec): ServerUrl {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new ConfigError(nodeId, field, `not a URL: expected ${spec.example}`);
  }
  if (!spec.schemes.some((s) => u.protocol === `${s}:`)) {
    const others = spec.schemes.slice(1).map((s) => `${s}://`);
    throw new ConfigError(nodeId, field, `URL scheme must be ${spec.schemes[0]}://${others.length > 0 ? ` (or ${others.join(', ')})` : ''}, not ${u.protocol}//`);
  }
  const decode = (part: string, what: string): string => {
    try {
      return decodeURIComponent(part);
    } catch {
      throw new ConfigError(nodeId, field, `the ${what} in the URL has a broken %-escape: write % as %25`);
    }
  };
  return {
    url: u,
    host: decode(u.hostname.replace(/^\[(.*)\]$/, '$1'), 'host') || '127.0.0.1',
    port: u.port ? Number(u.port) : spec.port,
    user: u.username ? decode(u.username, 'user') : spec.user,
    password: u.password ? decode(u.password, 'password') : undefined,
    database: decode(u.pathname.replace(/^\//, ''), 'database') || undefined,
  };
}

/** TLS settings with the PEM files read: what Node's tls.connect takes (drivers take it as it is, or map it). */
export interface TlsMaterial {
  rejectUnauthorized: boolean;
  ca?: string;
  cert?: string;
  key?: string;
  passphrase?: string;
  servername?: string;
}

/** `tls` with `ca`, `cert` and `key` read (ConfigError naming `<field>.ca` and so on when one cannot be). */
export function tlsMaterial(files: FileAccess, nodeId: string, field: string, tls: Partial<TlsConfig>): TlsMaterial {
  const out: TlsMaterial = { rejectUnauthorized: tls.rejectUnauthorized ?? true };
  for (const name of ['ca', 'cert', 'key'] as const) {
    const v = readPem(files, nodeId, `${field}.${name}`, tls[name]);
    if (v !== undefined) out[name] = v;
  }
  if (tls.servername) out.servername = tls.servername;
  if (tls.passphrase) out.passphrase = tls.passphrase;
  return out;
}

/** the connection name a tested entry is resolved under */
const TEST = 'test';

/**
 * For a connection test: resolves `entry` (a `connections:` entry, or a node-style `{ url, tls }` with
 * the family's `type` added) as if a node named it. A config error comes back as `{ error }`, one line
 * without the node and field prefix. `resolve` is the family's resolveTarget, called with the
 * ResolveContext and `{ connection: 'test' }`.
 */
export function resolveForTest<T>(
  entry: Record<string, unknown>,
  files: FileAccess | undefined,
  resolve: (ctx: ResolveContext, config: { connection: string }) => T,
): { target: T; files: FileAccess } | { error: string } {
  const access = files ?? fileAccess(unconfinedFiles(), TEST);
  try {
    return { target: resolve({ nodeId: TEST, files: access, connection: () => entry }, { connection: TEST }), files: access };
  } catch (err) {
    return { error: errorMessage(err).replace(/^nodes\[test\]\.[\w.]+: (connection "test": )?/, '') };
  }
}
