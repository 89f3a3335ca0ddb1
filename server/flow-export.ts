/**
 * Exported flows that run anywhere: the document with the connections its nodes use (the stored ones
 * copied in), every secret replaced by an `${env:NAME}` placeholder (a URL's password by a placeholder
 * inside the URL), and every file path under the server's first file root made relative to it. The
 * variables to set are returned beside the document; the document itself never holds a secret.
 *
 * Placeholder names start with SLUICE_FLOW_ (runtime/flow/env.ts DEFAULT_ENV_PREFIX), so a server that
 * imports the file resolves them under its default env policy, as `sluice run` does:
 * `SLUICE_FLOW_<CONNECTION>_<FIELD>` (`shop` + `password` → SLUICE_FLOW_SHOP_PASSWORD), and
 * `SLUICE_FLOW_<CONNECTION>_<FIELD>_PASSWORD` for the password inside a URL field (SLUICE_FLOW_SHOP_URL_PASSWORD);
 * a node's own secret field (an inline `url`) is `SLUICE_FLOW_NODE_<NODE ID>_<FIELD>[_PASSWORD]`.
 */
import { isAbsolute, relative, sep } from 'node:path';
import type { z } from 'zod';
import { DEFAULT_ENV_PREFIX, FileRoots, getPath, type HostPolicy, isPlainObject, markedFields, type NodeRegistry, onlyPlaceholders, placeholderNames, rawUrlPassword, realPathOf, type SecretFields, secretFieldsOf, type SecretOwner, secretVariableName, setPath, withUrlPassword } from '../runtime/host.js';
import { connectionsUsedBy, secretFieldsOfType } from './connections.js';
import type { Doc } from './flow-format.js';
import type { StoredConnection } from './store/control-store.js';

/** one variable an exported flow needs: its name, and which connection (or node) field takes it */
export interface ExportVariable {
  name: string;
  /** the connection whose secret it is */
  connection?: string;
  /** or the node whose own config field holds it (a node's inline `url` with a password) */
  node?: string;
  /** the field path (`password`, `tls.passphrase`), or `url` for the password inside that URL */
  field: string;
}

export { secretVariableName, type SecretOwner };

/**
 * A connection entry with each secret as a placeholder (values that are placeholders already are kept),
 * and the variables it then needs.
 */
export function withSecretPlaceholders(owner: SecretOwner, entry: Record<string, unknown>, fields: SecretFields): { entry: Record<string, unknown>; variables: ExportVariable[] } {
  let out = entry;
  const variables: ExportVariable[] = [];
  const need = (name: string, field: string) => variables.push({ name, ...owner, field });
  for (const p of fields.paths) {
    const v = getPath(out, p);
    if (typeof v !== 'string' || v === '') continue;
    if (onlyPlaceholders(v)) {
      for (const n of placeholderNames(v)) need(n, p);
      continue;
    }
    const name = secretVariableName(owner, p);
    out = setPath(out, p, `\${env:${name}}`);
    need(name, p);
  }
  for (const p of fields.urlPaths) {
    const v = getPath(out, p);
    if (typeof v !== 'string') continue;
    const raw = rawUrlPassword(v);
    if (raw === undefined || raw === '') continue;
    if (onlyPlaceholders(raw)) {
      for (const n of placeholderNames(raw)) need(n, p);
      continue;
    }
    const name = secretVariableName(owner, p, true);
    out = setPath(out, p, withUrlPassword(v, `\${env:${name}}`));
    need(name, p);
  }
  return { entry: out, variables };
}

/** `path` relative to the first file root when it is absolute and inside it; else unchanged */
function relativeToRoot(path: string, roots: FileRoots): string {
  if (!isAbsolute(path)) return path;
  let real: string;
  try {
    real = realPathOf(path);
  } catch {
    return path;
  }
  const r = relative(roots.base, real);
  return r !== '' && !r.startsWith(`..${sep}`) && r !== '..' && !isAbsolute(r) ? r : path;
}

/** every path field (marked `.meta({ file })`) of `value` under `schema`, made relative to the first root */
function relativePaths(schema: z.ZodType, value: Record<string, unknown>, roots: FileRoots | undefined): Record<string, unknown> {
  if (!roots) return value;
  let out = value;
  for (const f of markedFields(schema, value, 'file')) {
    if (typeof f.value !== 'string' || f.value.includes('-----BEGIN') || f.path.some((k) => typeof k !== 'string')) continue;
    const rel = relativeToRoot(f.value, roots);
    if (rel !== f.value) out = setPath(out, f.path.join('.'), rel);
  }
  return out;
}

/**
 * The document to export: `connections:` holds the entries its nodes use (its own, else the stored
 * one of that name), secrets as placeholders; unused stored connections are not included.
 */
export function exportDocument(doc: Doc, stored: StoredConnection[], registry: NodeRegistry, policy: HostPolicy): { document: Doc; variables: ExportVariable[] } {
  const roots = policy.files instanceof FileRoots ? policy.files : undefined;
  const inline = isPlainObject(doc.connections) ? doc.connections : {};
  const connections: Record<string, unknown> = {};
  const variables: ExportVariable[] = [];
  const names = [...new Set([...Object.keys(inline), ...connectionsUsedBy(doc, registry)])];
  for (const name of names) {
    const own = inline[name];
    const found = own === undefined ? stored.find((c) => c.id === name) : undefined;
    const entry = isPlainObject(own) ? own : found ? { type: found.type, ...found.config } : undefined;
    if (!entry) {
      if (own !== undefined) connections[name] = own;
      continue; // used but defined nowhere: the file says so when it runs, as the server does
    }
    const type = typeof entry.type === 'string' ? entry.type : '';
    const placed = withSecretPlaceholders({ connection: name }, entry, secretFieldsOfType(registry, type));
    const connector = registry.connector(type);
    connections[name] = connector ? relativePaths(connector.entrySchema, placed.entry, roots) : placed.entry;
    variables.push(...placed.variables);
  }
  const nodes = Array.isArray(doc.nodes)
    ? doc.nodes.map((n) => {
        const type = isPlainObject(n) && typeof n.type === 'string' ? registry.get(n.type) : undefined;
        if (!type || !isPlainObject(n) || !isPlainObject(n.config)) return n;
        // a node's own secrets (an inline `url` with a password) travel as placeholders too
        const placed = withSecretPlaceholders({ node: String(n.id) }, n.config, secretFieldsOf(type.configSchema));
        variables.push(...placed.variables);
        return { ...n, config: relativePaths(type.configSchema, placed.entry, roots) };
      })
    : doc.nodes;
  const out: Doc = { ...doc, nodes };
  if (Object.keys(connections).length > 0) out.connections = connections;
  const unique = variables.filter((v, i) => variables.findIndex((w) => w.name === v.name) === i);
  return { document: out, variables: unique };
}
