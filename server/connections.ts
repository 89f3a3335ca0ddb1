/**
 * Connection secrets are write-only: a response replaces each secret field (as the connector's schema
 * declares them, runtime/secrets.ts) with `has<Field>: true` and masks a URL's password, and a save that
 * leaves a secret out keeps the stored one. Connection tests are the connectors' own
 * (the registry's ConnectorType.test, nodes/connectors.ts), run here with a time limit.
 */
import { z } from 'zod';
import { type ConnectionTestResult, type EnvPolicy, envRefusal, errorMessage, fileAccess, type FilePolicy, getPath, isPlainObject, LIMITS, markedFields, MASK, type NodeRegistry, placeholderNames, rawUrlPassword, redactUrl, type SecretFields, secretFieldsOf, setPath, UserError, withUrlPassword } from '../runtime/host.js';
import type { StoredConnection } from './store/control-store.js';

/** the secret fields a connection type declares in its connector's schema (none for an unknown type) */
export function secretFieldsOfType(registry: NodeRegistry, type: string): SecretFields {
  const connector = registry.connector(type);
  return connector ? secretFieldsOf(connector.entrySchema) : { paths: [], urlPaths: [] };
}

/** `password` → `hasPassword`; `tls.passphrase` → `tls.hasPassphrase` */
export function flagPath(path: string): string {
  const i = path.lastIndexOf('.');
  const field = path.slice(i + 1);
  return `${path.slice(0, i + 1)}has${field.charAt(0).toUpperCase()}${field.slice(1)}`;
}

/**
 * The config as responses show it: each declared secret replaced by its `has<Field>: true` flag (in
 * nested objects too), and the password of each URL field masked (`postgres://user:***@host/db`).
 */
export function redact(config: Record<string, unknown>, fields: SecretFields): Record<string, unknown> {
  let out = config;
  for (const p of fields.paths) {
    const v = getPath(out, p);
    if (v === undefined) continue;
    out = setPath(out, p, undefined);
    if (v !== null && v !== '') out = setPath(out, flagPath(p), true);
  }
  for (const p of fields.urlPaths) {
    const v = getPath(out, p);
    if (typeof v === 'string') out = setPath(out, p, redactUrl(v));
  }
  return out;
}

/**
 * The config to store from an incoming one. A secret left out (or sent as "") keeps the stored value,
 * `null` removes it; a nested secret is kept when its object (`tls`) is sent. `has<Field>` flags echoed
 * back from a response are dropped. A URL sent back with its password masked (`user:***@`) keeps the
 * stored password.
 */
export function mergeSecrets(incoming: Record<string, unknown>, stored: Record<string, unknown> | undefined, fields: SecretFields): Record<string, unknown> {
  let out = incoming;
  for (const p of fields.paths) {
    if (getPath(out, flagPath(p)) !== undefined) out = setPath(out, flagPath(p), undefined);
    const v = getPath(out, p);
    const parent = p.includes('.') ? getPath(out, p.slice(0, p.lastIndexOf('.'))) : out;
    const before = stored ? getPath(stored, p) : undefined;
    if (v === null) out = setPath(out, p, undefined);
    else if ((v === undefined || v === '') && isPlainObject(parent)) out = setPath(out, p, before);
  }
  for (const p of fields.urlPaths) {
    const v = getPath(out, p);
    const before = stored ? getPath(stored, p) : undefined;
    if (typeof v !== 'string' || rawUrlPassword(v) !== MASK) continue;
    const kept = typeof before === 'string' ? rawUrlPassword(before) : undefined;
    if (kept === undefined) {
      throw new UserError(`${p}: the URL's password is ${MASK}, the mask a response shows, and no password is stored to keep: send the password`);
    }
    out = setPath(out, p, withUrlPassword(v, kept));
  }
  return out;
}

/**
 * A connection's config checked against its connector's schema, as it will be stored (secrets merged
 * in); a field the schema does not know is refused too. Issues as `config.<path>` details.
 */
export function connectionIssues(registry: NodeRegistry, type: string, config: Record<string, unknown>): { path: string; message: string }[] {
  const connector = registry.connector(type);
  if (!connector) return [];
  const schema = connector.entrySchema instanceof z.ZodObject ? connector.entrySchema.strict() : connector.entrySchema;
  const parsed = schema.safeParse({ ...config, type });
  if (parsed.success) return [];
  const where = (path: PropertyKey[]) => (path.length === 1 && path[0] === 'type' ? 'type' : ['config', ...path.map(String)].join('.'));
  return parsed.error.issues.flatMap((i) =>
    i.code === 'unrecognized_keys'
      ? i.keys.map((k) => ({ path: where([...i.path, k]), message: `unknown field: the ${type} connector has no ${JSON.stringify(k)}` }))
      : [{ path: where(i.path), message: i.message }],
  );
}

/**
 * The document to run: its `connections:` map completed with the stored connections it does not
 * define itself, so a node's `connection: shop-pg` finds the store's settings (through
 * NodeContext.connection). Secrets included: for compiling and running only, never stored or exported.
 */
export function withStoredConnections(doc: Record<string, unknown>, stored: StoredConnection[]): Record<string, unknown> {
  if (stored.length === 0) return doc;
  const inline = (doc.connections ?? {}) as Record<string, unknown>;
  const connections: Record<string, unknown> = {};
  // a name stored before names were limited (runtime/flow/limits.ts) cannot be referenced: left out, so it
  // neither fails every flow's validation nor slows it
  for (const c of stored) if (c.id.length <= LIMITS.nameLength) connections[c.id] = { ...c.config, type: c.type };
  return { ...doc, connections: { ...connections, ...inline } };
}

/** a secret field of a stored connection whose value is still an `${env:NAME}` placeholder the server cannot resolve */
export interface MissingSecret {
  field: string;
  variable: string;
}

/**
 * The secrets an imported connection still lacks: secret fields (and URL passwords) that hold a
 * placeholder whose variable is unset in the server's environment or refused by its env policy. Such a
 * connection is incomplete: flows that use it cannot be deployed until it is completed (a PUT with the
 * secret, or the variable set where the server starts).
 */
export function missingSecrets(config: Record<string, unknown>, fields: SecretFields, env: Record<string, string | undefined>, policy?: EnvPolicy): MissingSecret[] {
  const out: MissingSecret[] = [];
  const check = (field: string, text: string | undefined) => {
    if (text === undefined) return;
    for (const variable of placeholderNames(text)) {
      if (env[variable] === undefined || (policy && envRefusal(policy, variable))) out.push({ field, variable });
    }
  };
  for (const p of fields.paths) {
    const v = getPath(config, p);
    if (typeof v === 'string') check(p, v);
  }
  for (const p of fields.urlPaths) {
    const v = getPath(config, p);
    if (typeof v === 'string') check(p, rawUrlPassword(v));
  }
  return out;
}

/**
 * The stored connections a document's nodes use (not overridden by its own `connections:`) that are
 * incomplete, each with the ids of the nodes that use it.
 */
export function incompleteConnections(
  doc: Record<string, unknown>,
  lookup: (name: string) => StoredConnection | undefined,
  registry: NodeRegistry,
  env: Record<string, string | undefined>,
  policy?: EnvPolicy,
): { name: string; missing: MissingSecret[]; nodes: string[] }[] {
  const inline = isPlainObject(doc.connections) ? doc.connections : {};
  const out: { name: string; missing: MissingSecret[]; nodes: string[] }[] = [];
  for (const [name, nodes] of connectionUsers(doc, registry)) {
    if (name in inline) continue;
    const c = lookup(name);
    const missing = c ? missingSecrets(c.config, secretFieldsOfType(registry, c.type), env, policy) : [];
    if (missing.length > 0) out.push({ name, missing, nodes });
  }
  return out;
}

/** "shop (password needs SLUICE_FLOW_SHOP_PASSWORD)" */
export function describeMissing(name: string, missing: MissingSecret[]): string {
  return `${name} (${missing.map((m) => `${m.field} needs ${m.variable}`).join(', ')})`;
}

/** each connection name a document's nodes use (config fields marked `.meta({ connection })`), with those nodes' ids */
function connectionUsers(doc: Record<string, unknown>, registry: NodeRegistry): Map<string, string[]> {
  const used = new Map<string, string[]>();
  for (const node of Array.isArray(doc.nodes) ? doc.nodes : []) {
    if (!isPlainObject(node) || typeof node.type !== 'string') continue;
    const type = registry.get(node.type);
    if (!type) continue;
    for (const f of markedFields(type.configSchema, node.config, 'connection')) {
      if (typeof f.value === 'string') used.set(f.value, [...(used.get(f.value) ?? []), String(node.id)]);
    }
  }
  return used;
}

/** the connection names a document's nodes use */
export function connectionsUsedBy(doc: Record<string, unknown>, registry: NodeRegistry): string[] {
  return [...connectionUsers(doc, registry).keys()];
}

/** the connection types the registry knows, for messages */
export function knownTypes(registry: NodeRegistry): string {
  return registry.connectors().flatMap((c) => [c.type, ...c.aliases]).join(', ');
}

/** runs the type's connection test (secrets included) with its files under `files`, with a time limit; a type without a connector says so */
export async function testConnection(
  registry: NodeRegistry,
  type: string,
  config: Record<string, unknown>,
  files: FilePolicy,
  timeoutMs = 10_000,
): Promise<ConnectionTestResult> {
  const connector = registry.connector(type);
  if (!connector) return { ok: false, error: `no connector for type ${type} (known: ${knownTypes(registry)})` };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ConnectionTestResult>((res) => {
    timer = setTimeout(
      () => res({ ok: false, error: `the test did not finish within ${timeoutMs / 1000} s`, hint: 'check the host and port, and that a firewall lets the server through' }),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([connector.test(config, { files: fileAccess(files, undefined), timeoutMs: Math.max(1000, timeoutMs - 500) }), timeout]);
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}
