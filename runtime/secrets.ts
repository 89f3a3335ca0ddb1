/**
 * Which config fields hold secrets, declared once in the zod schema (`secret(...)`, `urlWithPassword(...)`)
 * and read back from its JSON Schema (`"x-secret": true, "writeOnly": true`; `"x-url-password": true`).
 * The server's redaction and encryption, the editor's form and the docs all read this declaration;
 * nothing decides by a field's name.
 */
import { z } from 'zod';
import { DEFAULT_ENV_PREFIX } from './flow/env.js';
import { rawUrlPassword, urlPassword } from './redact.js';

/** JSON Schema keyword of a field whose whole value is secret */
export const SECRET_KEYWORD = 'x-secret';
/** JSON Schema keyword of a URL field whose password (`scheme://user:password@host`) is secret */
export const URL_PASSWORD_KEYWORD = 'x-url-password';

/** marks a field secret: write-only in the server, encrypted at rest, a password input in the editor */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ [SECRET_KEYWORD]: true, writeOnly: true }) as T;
}

/** marks a URL field that may carry a password: the password is a secret, the rest of the URL is not */
export function urlWithPassword<T extends z.ZodType>(schema: T): T {
  return schema.meta({ [URL_PASSWORD_KEYWORD]: true }) as T;
}

/** where the secrets of a config are: dotted field paths (`password`, `tls.passphrase`) */
export interface SecretFields {
  /** fields whose whole value is secret */
  paths: string[];
  /** URL fields whose password is secret (`url`): the URL may hold a password */
  urlPaths: string[];
}

type JsonSchema = Record<string, unknown>;

/** the declaration as a JSON Schema carries it (e.g. a connector's `configSchema` from /api/connection-types) */
export function secretFieldsOfJsonSchema(schema: unknown): SecretFields {
  const out: SecretFields = { paths: [], urlPaths: [] };
  const walk = (s: unknown, prefix: string) => {
    if (!s || typeof s !== 'object') return;
    const js = s as JsonSchema;
    for (const k of ['anyOf', 'oneOf', 'allOf'] as const) if (Array.isArray(js[k])) for (const sub of js[k] as unknown[]) walk(sub, prefix);
    const props = js.properties as Record<string, JsonSchema> | undefined;
    if (!props || typeof props !== 'object') return;
    for (const [name, p] of Object.entries(props)) {
      const path = prefix ? `${prefix}.${name}` : name;
      if (p?.[SECRET_KEYWORD] === true) add(out.paths, path);
      else if (p?.[URL_PASSWORD_KEYWORD] === true) add(out.urlPaths, path);
      else walk(p, path);
    }
  };
  walk(schema, '');
  return out;
}

const add = (list: string[], path: string) => {
  if (!list.includes(path)) list.push(path);
};

const cache = new WeakMap<z.ZodType, SecretFields>();

/** the secret fields a zod schema declares, nested objects included */
export function secretFieldsOf(schema: z.ZodType): SecretFields {
  let found = cache.get(schema);
  if (!found) {
    found = secretFieldsOfJsonSchema(z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }));
    cache.set(schema, found);
  }
  return found;
}

// ---- reading and writing a config by dotted path ----------------------------------------------------

export const isPlainObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** the value at `a.b.c`, or undefined */
export function getPath(obj: Record<string, unknown>, path: string): unknown {
  let cur: unknown = obj;
  for (const k of path.split('.')) {
    if (!isPlainObject(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

/** a copy of `obj` with `a.b.c` set to `value` (removed when undefined); objects on the way are copied */
export function setPath(obj: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  const out = { ...obj };
  if (rest.length === 0) {
    if (value === undefined) delete out[head];
    else out[head] = value;
    return out;
  }
  const inner = out[head];
  if (!isPlainObject(inner)) {
    if (value === undefined) return out;
    out[head] = setPath({}, rest.join('.'), value);
  } else out[head] = setPath(inner, rest.join('.'), value);
  return out;
}

/**
 * The secret values a config holds by its declaration (each secret field's text, each URL's password,
 * raw and decoded), for masking them in free text (redactText's `known`).
 */
export function secretValues(config: Record<string, unknown>, fields: SecretFields): string[] {
  const out: string[] = [];
  for (const p of fields.paths) {
    const v = getPath(config, p);
    if (typeof v === 'string' && v !== '') out.push(v);
  }
  for (const p of fields.urlPaths) {
    const v = getPath(config, p);
    if (typeof v !== 'string') continue;
    const raw = rawUrlPassword(v);
    if (raw) out.push(raw, urlPassword(v) ?? raw);
  }
  return out;
}

/** whose secret: a connection's (`SLUICE_FLOW_SHOP_…`) or a node's own (`SLUICE_FLOW_NODE_SRC_…`) */
export type SecretOwner = { connection: string } | { node: string };

const part = (s: string) => s.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '');

/** the placeholder name of a secret field (`urlPassword`: the password inside that URL field) */
export function secretVariableName(owner: SecretOwner, field: string, urlPassword = false): string {
  const who = 'connection' in owner ? part(owner.connection) : `NODE_${part(owner.node)}`;
  return `${DEFAULT_ENV_PREFIX}${who}_${part(field)}${urlPassword ? '_PASSWORD' : ''}`;
}
