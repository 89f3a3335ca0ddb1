/**
 * The server's host policy: flows reach files only inside the file roots (`--files`, default
 * `<data>/files`, created on start) and never the data directory itself; `${env:NAME}` resolves only
 * names with an allowed prefix (default SLUICE_FLOW_) or listed with `--env-allow`, and never in code;
 * a secret written out in a flow (not an `${env:NAME}` placeholder) is refused.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEFAULT_ENV_PREFIX, errorMessage, FileRoots, type HostPolicy, UserError } from '../runtime/host.js';

export interface ServerPolicyOptions {
  /** the server's data directory: never reachable from a flow */
  dataDir: string;
  /** directories flows may use, as written (the first takes relative paths); default `<dataDir>/files` */
  files?: string[];
  /** default [SLUICE_FLOW_] */
  envPrefixes?: string[];
  envAllow?: string[];
  /** what relative roots are relative to (default: the working directory) */
  cwd?: string;
}

export function serverPolicy(o: ServerPolicyOptions): HostPolicy {
  const cwd = o.cwd ?? process.cwd();
  const roots = o.files?.length ? o.files : [`${o.dataDir.replace(/[\\/]+$/, '')}/files`];
  for (const r of roots) {
    try {
      mkdirSync(resolve(cwd, r), { recursive: true });
    } catch (err) {
      throw new UserError(`--files ${r}: cannot create the directory: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
  }
  return {
    files: new FileRoots({ roots, protect: [{ path: o.dataDir, label: "the server's data directory" }], cwd }),
    env: { prefixes: o.envPrefixes ?? [DEFAULT_ENV_PREFIX], allow: o.envAllow ?? [] },
    inlineSecrets: 'refuse',
  };
}

/**
 * The policy for compiling a document the server has merged its stored connections into
 * (withStoredConnections): their secrets are the server's own, not written in the flow. The document as
 * sent was checked for written-out secrets when it was saved (or, for a test run, before the merge).
 */
export function withStoredSecrets(policy: HostPolicy): HostPolicy {
  const { inlineSecrets: _checkedBefore, ...rest } = policy;
  return rest;
}
