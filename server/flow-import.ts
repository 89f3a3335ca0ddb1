/**
 * Importing an exported flow into this server: the `connections:` of the file become stored connections
 * (server/flow-export.ts writes them). An entry whose name a stored connection of the same type has is
 * matched to it (the stored settings are used, nothing is changed); any other is created, its secret
 * placeholders (`${env:NAME}`) filled from the `secrets` sent with the import. A placeholder left
 * unfilled stays in the stored connection: it resolves if the server's environment has the variable,
 * else the connection is incomplete (server/connections.ts missingSecrets) and flows that use it cannot
 * be deployed until it is completed.
 */
import { flowNameSchema, getPath, isPlainObject, type NodeRegistry, onlyPlaceholders, placeholderNames, rawUrlPassword, type SecretFields, secretFieldsOf, setPath, withUrlPassword } from '../runtime/host.js';
import { connectionIssues, knownTypes, missingSecrets, secretFieldsOfType, type MissingSecret } from './connections.js';
import type { AppContext } from './context.js';
import type { Doc } from './flow-format.js';
import { badRequest, conflict, forbidden } from './http-errors.js';
import { roleAtLeast, type Role } from './store/auth-store.js';

export interface ImportedConnection {
  name: string;
  type: string;
  /** matched: a stored connection of that name and type is used as it is; created: stored from the file */
  action: 'matched' | 'created';
  /** the secrets it still lacks (the connection is incomplete while this is not empty) */
  missing: MissingSecret[];
}

interface Planned {
  name: string;
  type: string;
  config?: Record<string, unknown>; // to create; undefined when matched
}

/** the file's connection entries as they will be stored (secrets filled in), checked; nothing is written yet */
export async function planConnections(ctx: Pick<AppContext, 'registry' | 'store'>, entries: Record<string, unknown>, secrets: Record<string, string>, used = new Set<string>()): Promise<Planned[]> {
  const planned: Planned[] = [];
  for (const [name, entry] of Object.entries(entries)) {
    const at = `connections.${name}`;
    if (!isPlainObject(entry) || typeof entry.type !== 'string') throw badRequest(`cannot import: ${at}: must be an object with a type`, [{ path: at, message: 'must have a type' }]);
    const type = entry.type;
    const named = flowNameSchema.safeParse(name);
    if (!named.success) {
      const message = named.error.issues[0].message;
      throw badRequest(`cannot import: ${at}: the name of a stored connection ${message}`, [{ path: at, message }]);
    }
    if (!ctx.registry.connector(type)) throw badRequest(`cannot import: ${at}.type: no connector for type ${type} (known: ${knownTypes(ctx.registry)})`, [{ path: `${at}.type`, message: 'unknown type' }]);
    const stored = await ctx.store.getConnection(name);
    if (stored) {
      if (stored.type !== type) {
        throw conflict(`cannot import: ${at} is a ${type} connection, but the stored connection ${name} is ${stored.type}: rename it in the file, or change the stored one`);
      }
      planned.push({ name, type });
      continue;
    }
    const { type: _type, ...rest } = entry;
    const config = fillSecrets(secretFieldsOfType(ctx.registry, type), rest, secrets, used);
    const issues = connectionIssues(ctx.registry, type, config).map((i) => ({ path: `${at}.${i.path.replace(/^config\./, '')}`, message: i.message }));
    if (issues.length > 0) throw badRequest(`cannot import: ${issues[0].path}: ${issues[0].message}`, issues);
    planned.push({ name, type, config });
  }
  const unused = Object.keys(secrets).filter((k) => !used.has(k));
  if (unused.length > 0) {
    throw badRequest(`cannot import: secrets.${unused[0]}: no secret field of a connection to create or of a node holds \${env:${unused[0]}}`, unused.map((k) => ({ path: `secrets.${k}`, message: 'not a secret placeholder of a node or of a connection this import creates' })));
  }
  return planned;
}

/** each secret field (and URL password) that is one placeholder with a value in `secrets` gets that value */
function fillSecrets(fields: SecretFields, config: Record<string, unknown>, secrets: Record<string, string>, used: Set<string>): Record<string, unknown> {
  let out = config;
  const valueFor = (text: string) => {
    const names = placeholderNames(text);
    if (!onlyPlaceholders(text) || names.length !== 1 || !(names[0] in secrets)) return undefined;
    used.add(names[0]);
    return secrets[names[0]];
  };
  for (const p of fields.paths) {
    const v = getPath(out, p);
    const value = typeof v === 'string' ? valueFor(v) : undefined;
    if (value !== undefined) out = setPath(out, p, value);
  }
  for (const p of fields.urlPaths) {
    const v = getPath(out, p);
    const raw = typeof v === 'string' ? rawUrlPassword(v) : undefined;
    const value = raw === undefined ? undefined : valueFor(raw);
    if (value !== undefined) out = setPath(out, p, withUrlPassword(v as string, encodeURIComponent(value)));
  }
  return out;
}

/**
 * Creating a stored connection is for admins (server/auth/policy.ts: POST /api/connections), through an
 * import too: otherwise an editor could take a connection name before an admin creates it and redirect
 * every flow that uses that name. Matching a stored connection (used as it is) is for editors as well.
 */
export function requireRoleToCreate(planned: Planned[], role: Role | undefined): void {
  const creates = planned.filter((p) => p.config).map((p) => p.name);
  if (creates.length === 0 || (role !== undefined && roleAtLeast(role, 'admin'))) return;
  const list = creates.join(', ');
  throw forbidden(
    `cannot import: it would create the stored connection${creates.length > 1 ? 's' : ''} ${list}, and only an admin may create connections: an admin must import it, or create ${creates.length > 1 ? 'them' : 'it'} first (the import then uses ${creates.length > 1 ? 'them' : 'it'} as stored)`,
    { connections: creates },
  );
}

/** stores the planned connections and says what each is now */
export async function storeConnections(ctx: Pick<AppContext, 'registry' | 'store' | 'env' | 'policy'>, planned: Planned[]): Promise<ImportedConnection[]> {
  const out: ImportedConnection[] = [];
  for (const p of planned) {
    const stored = p.config ? await ctx.store.createConnection(p.name, p.type, p.config) : (await ctx.store.getConnection(p.name))!;
    const missing = missingSecrets(stored.config, secretFieldsOfType(ctx.registry, p.type), ctx.env, ctx.policy.env);
    out.push({ name: p.name, type: p.type, action: p.config ? 'created' : 'matched', missing });
  }
  return out;
}

/**
 * The document with the nodes' own secret placeholders (SLUICE_FLOW_NODE_…, an exported node's inline
 * `url` password) filled from `secrets`, as the flow held them where it was exported; `used` collects
 * the names taken. The server's validation then refuses the written-out secret (a flow never holds one:
 * runtime/flow/inline-secrets.ts), naming the node and field, rather than dropping the value silently.
 */
export function fillNodeSecrets(registry: NodeRegistry, doc: Doc, secrets: Record<string, string>, used: Set<string>): Doc {
  if (!Array.isArray(doc.nodes) || Object.keys(secrets).length === 0) return doc;
  const nodes = doc.nodes.map((n) => {
    const type = isPlainObject(n) && typeof n.type === 'string' ? registry.get(n.type) : undefined;
    if (!type || !isPlainObject(n) || !isPlainObject(n.config)) return n;
    return { ...n, config: fillSecrets(secretFieldsOf(type.configSchema), n.config, secrets, used) };
  });
  return { ...doc, nodes };
}

/** the document without its `connections:` (they are stored) and those entries */
export function splitConnections(doc: Doc): { document: Doc; connections: Record<string, unknown> } {
  const { connections, ...document } = doc;
  return { document, connections: isPlainObject(connections) ? connections : {} };
}
