/**
 * Connection secrets are write-only: a response replaces each secret field with `has<Field>: true`, and
 * a save that leaves a secret out keeps the stored one. Connection tests are the connectors' own
 * (the registry's ConnectorType.test, nodes/connectors.ts), run here with a time limit.
 */
import { errorMessage } from '../runtime/errors.js';
import { LIMITS } from '../runtime/flow/limits.js';
import { fileAccess, type FilePolicy } from '../runtime/files.js';
import type { ConnectionTestResult } from '../runtime/node-api.js';
import type { NodeRegistry } from '../runtime/registry.js';
import type { StoredConnection } from './store/control-store.js';

/** fields that are secret in every connection type (case-insensitive; also as a suffix: `clientSecret`, `sslPassword`) */
export const SECRET_FIELDS = ['password', 'secret', 'token', 'apiKey', 'key', 'privateKey'] as const;
const SECRET_SUFFIXES = ['password', 'secret', 'token', 'apikey', 'privatekey'];

/** type → extra field names that type marks secret */
export type SecretFieldsByType = Record<string, readonly string[]>;

export function isSecretField(field: string, typeSecrets: readonly string[] = []): boolean {
  const f = field.toLowerCase();
  if (typeSecrets.some((s) => s.toLowerCase() === f)) return true;
  if (SECRET_FIELDS.some((s) => s.toLowerCase() === f)) return true;
  return SECRET_SUFFIXES.some((s) => f.endsWith(s));
}

/** `password` → `hasPassword` */
export function flagName(field: string): string {
  return `has${field.charAt(0).toUpperCase()}${field.slice(1)}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** the config as responses show it: every secret replaced by its `has<Field>: true` flag (nested objects too) */
export function redact(config: Record<string, unknown>, typeSecrets: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (isSecretField(k, typeSecrets)) {
      if (v !== undefined && v !== null && v !== '') out[flagName(k)] = true;
    } else out[k] = isObject(v) ? redact(v, typeSecrets) : v;
  }
  return out;
}

/**
 * The config to store from an incoming one: a secret left out (or sent empty) keeps the stored value,
 * `null` removes it; `has<Field>` flags echoed back from a response are dropped.
 */
export function mergeSecrets(
  incoming: Record<string, unknown>,
  stored: Record<string, unknown> | undefined,
  typeSecrets: readonly string[] = [],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(incoming)) {
    if (isFlag(k, typeSecrets)) continue; // checked first: `hasPassword` also ends like a secret
    if (isSecretField(k, typeSecrets)) {
      if (v === null) continue;
      const value = v === '' ? stored?.[k] : v;
      if (value !== undefined) out[k] = value;
    } else {
      const before = stored?.[k];
      out[k] = isObject(v) ? mergeSecrets(v, isObject(before) ? before : undefined, typeSecrets) : v;
    }
  }
  for (const [k, v] of Object.entries(stored ?? {})) {
    if (isSecretField(k, typeSecrets) && !(k in incoming)) out[k] = v;
  }
  return out;
}

/** `hasPassword` is the flag of the secret `password` */
function isFlag(key: string, typeSecrets: readonly string[]): boolean {
  if (!/^has[A-Z]/.test(key)) return false;
  const field = key.charAt(3).toLowerCase() + key.slice(4);
  return isSecretField(field, typeSecrets);
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
