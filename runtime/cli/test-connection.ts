/**
 * `sluice test-connection` and `sluice run --check`: each connection tested by its connector, what was
 * reached or what to fix printed with every secret of the entry masked (a driver's message may echo the
 * URL, password included). Also the flow's secret values, for masking run logs.
 */
import { FlowValidationError, UserError } from '../errors.js';
import { fileAccess, unconfinedFiles, type FilePolicy } from '../files.js';
import { validateFlowText } from '../flow/validate.js';
import type { ConnectionTestResult, ConnectorType } from '../node-api.js';
import { redactText, redactUrl } from '../redact.js';
import type { NodeRegistry } from '../registry.js';
import { secretFieldsOf, secretValues } from '../secrets.js';
import { readFlowFile } from './flow-file.js';

/** every secret value of the flow's connections, by their connectors' declarations */
export function flowSecrets(plan: { flow: { connections?: Record<string, unknown> } }, registry: NodeRegistry): string[] {
  return Object.values(plan.flow.connections ?? {}).flatMap((c) => {
    const entry = c as Record<string, unknown>;
    return secretValuesOf(entry, registry.connector(String(entry.type)));
  });
}

/** the secret values of a connection entry, by its connector's declaration */
function secretValuesOf(config: Record<string, unknown>, connector: ConnectorType | undefined): string[] {
  return connector ? secretValues(config, secretFieldsOf(connector.entrySchema)) : [];
}

export async function testConnectionCommand(target: string, name: string | undefined, opts: { json?: boolean; timeout: number }, registry: NodeRegistry): Promise<number> {
  const entries: { name: string; type: string; config: Record<string, unknown> }[] = [];
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
    const connector = registry.connectorForUrl(target);
    if (!connector) {
      const schemes = registry.connectors().flatMap((c) => c.schemes.map((s) => `${s}://`));
      throw new UserError(`no connector for ${target.split(':')[0]}:// URLs (known: ${schemes.join(', ')})`);
    }
    entries.push({ name: redactUrl(target), type: connector.type, config: { url: target } });
  } else {
    const result = validateFlowText(readFlowFile(target), registry, { fileName: target, env: process.env });
    const connections = result.flow?.connections ?? {};
    if (!result.flow) throw new FlowValidationError(result.issues, target);
    const names = name ? [name] : Object.keys(connections);
    if (names.length === 0) throw new UserError(`${target} has no connections: to test a server directly, pass its URL`);
    for (const n of names) {
      const c = connections[n] as Record<string, unknown> | undefined;
      if (!c) throw new UserError(`${target} has no connection named ${JSON.stringify(n)} (it has: ${Object.keys(connections).join(', ') || 'none'})`);
      entries.push({ name: n, type: String(c.type), config: c });
    }
  }
  return testEntries(entries, opts, registry, unconfinedFiles());
}

/** tests each connection entry with its connector's test(), prints each result, 0 when all reached, else 1 */
export async function testEntries(
  entries: { name: string; type: string; config: Record<string, unknown> }[],
  opts: { json?: boolean; timeout: number },
  registry: NodeRegistry,
  files: FilePolicy,
): Promise<number> {
  const results = [];
  for (const e of entries) {
    const connector = registry.connector(e.type);
    const r: ConnectionTestResult = connector
      ? await connector.test(e.config, { files: fileAccess(files, 'test'), timeoutMs: opts.timeout })
      : { ok: false, error: `no connector for type ${e.type} (known: ${registry.connectors().map((c) => c.type).join(', ')})` };
    // a driver's message may echo the URL, password included; the flow's own secret values are masked too
    const known = secretValuesOf(e.config, connector);
    const shown: ConnectionTestResult = r.ok ? { ...r, message: redactText(r.message, known) } : { ...r, error: redactText(r.error, known), hint: r.hint && redactText(r.hint, known) };
    if (!shown.ok && shown.hint === undefined) delete shown.hint;
    results.push({ name: e.name, type: e.type, ...shown });
    if (!opts.json) {
      if (shown.ok) process.stdout.write(`${e.name}: ok: ${shown.message}\n`);
      else process.stderr.write(`${e.name}: failed: ${shown.error}${shown.hint ? `\n  hint: ${shown.hint}` : ''}\n`);
    }
  }
  if (opts.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  return results.every((r) => r.ok) ? 0 : 1;
}
