/**
 * Secrets written out in a flow document: a node config field declared secret (runtime/secrets.ts) that
 * holds a literal rather than one `${env:NAME}` placeholder, a URL field whose password is a literal, and
 * the same in the document's own `connections:` entries (a PEM field holding a file path is no secret). The server refuses them (HostPolicy
 * `inlineSecrets: 'refuse'`): anyone who can read a flow would read them. Messages never hold the value.
 */
import type { z } from 'zod';
import type { NodeRegistry } from '../registry.js';
import { rawUrlPassword } from '../redact.js';
import { getPath, isPlainObject, secretFieldsOf, secretVariableName, type SecretFields, type SecretOwner } from '../secrets.js';
import { onlyPlaceholders } from './env.js';
import { markedFields } from './schema-marks.js';

export interface InlineSecret {
  /** `['nodes', 2, 'config', 'url']`, `['connections', 'shop', 'password']` */
  path: (string | number)[];
  message: string;
  /** the node it is in, if in a node */
  nodeId?: string;
}

/** a value written out: not empty and not wholly placeholders */
const isLiteral = (text: string) => text !== '' && !onlyPlaceholders(text);

/** a PEM field (`.meta({ file: 'pem' })`, e.g. `tls.key`) holds either a file path (no secret) or the PEM text */
const isPemText = (text: string) => text.includes('-----BEGIN');

function literalSecrets(schema: z.ZodType, config: Record<string, unknown>, fields: SecretFields): { field: string; url: boolean }[] {
  const out: { field: string; url: boolean }[] = [];
  const pemPaths = new Set(markedFields(schema, config, 'file').filter((f) => f.meta.file === 'pem').map((f) => f.path.join('.')));
  for (const p of fields.paths) {
    const v = getPath(config, p);
    const written = typeof v === 'string' ? isLiteral(v) && (!pemPaths.has(p) || isPemText(v)) : v !== undefined && v !== null;
    if (written) out.push({ field: p, url: false });
  }
  for (const p of fields.urlPaths) {
    const v = getPath(config, p);
    const pw = typeof v === 'string' ? rawUrlPassword(v) : undefined;
    if (pw !== undefined && isLiteral(pw)) out.push({ field: p, url: true });
  }
  return out;
}

function message(owner: SecretOwner, field: string, url: boolean): string {
  const what = url ? 'a password written in the flow' : 'a secret written in the flow';
  const placeholder = `\${env:${secretVariableName(owner, field, url)}}`;
  const instead = 'node' in owner ? 'use a stored connection (connection: NAME)' : 'store it as a connection (the editor\'s Connections, or POST /api/connections) and name it in the node';
  return `${what} is refused by the server (anyone who can read the flow would see it): ${instead} or a placeholder such as ${placeholder}`;
}

/** every secret written out in the raw (unresolved) document's nodes and `connections:` */
export function inlineSecrets(raw: Record<string, unknown>, registry: NodeRegistry): InlineSecret[] {
  const out: InlineSecret[] = [];
  const nodes = Array.isArray(raw.nodes) ? (raw.nodes as unknown[]) : [];
  nodes.forEach((node, i) => {
    if (!isPlainObject(node) || typeof node.type !== 'string' || !isPlainObject(node.config)) return;
    const type = registry.get(node.type);
    if (!type) return;
    const nodeId = typeof node.id === 'string' ? node.id : undefined;
    for (const s of literalSecrets(type.configSchema, node.config, secretFieldsOf(type.configSchema))) {
      out.push({ path: ['nodes', i, 'config', ...s.field.split('.')], message: message({ node: nodeId ?? String(i) }, s.field, s.url), nodeId });
    }
  });
  const connections = isPlainObject(raw.connections) ? raw.connections : {};
  for (const [name, entry] of Object.entries(connections)) {
    if (!isPlainObject(entry) || typeof entry.type !== 'string') continue;
    const connector = registry.connector(entry.type);
    if (!connector) continue;
    for (const s of literalSecrets(connector.entrySchema, entry, secretFieldsOf(connector.entrySchema))) {
      out.push({ path: ['connections', name, ...s.field.split('.')], message: message({ connection: name }, s.field, s.url) });
    }
  }
  return out;
}
