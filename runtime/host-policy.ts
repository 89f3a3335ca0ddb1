/**
 * What a host (the server, or the CLI when asked) lets a flow reach, handed to validation and compile:
 * the files (FilePolicy: the server confines them to its file roots) and the environment (EnvPolicy:
 * the server resolves only allowed names, never inside code) and secrets written in the flow (the server
 * refuses them). Nothing set: everything, as `sluice run`
 * always did. The compiled plan carries it to the nodes (NodeContext.files).
 */
import type { EnvPolicy } from './flow/env.js';

export type FileMode = 'read' | 'write';
export type FileCheck = { ok: true; path: string } | { ok: false; message: string };

/** runtime/files.ts has the two kinds: unconfinedFiles() and FileRoots */
export interface FilePolicy {
  /** the absolute path to open for `path` (symlinks resolved when confined), or why it may not be opened */
  check(path: string, mode: FileMode): FileCheck;
  /** one line for logs and docs: `confined to ./data/files` */
  readonly description: string;
}

/** What nodes get (NodeContext.files): the policy, bound to the node, throwing ConfigError on refusal. */
export interface FileAccess {
  /** the absolute path to open for the config field `field` (e.g. `path`, `from.path`); ConfigError naming it when refused */
  resolve(field: string, path: string, options?: { write?: boolean }): string;
}

export interface HostPolicy {
  files?: FilePolicy;
  env?: EnvPolicy;
  /**
   * 'refuse' (the server): a secret written out in the document (a node's or a `connections:` entry's
   * declared secret field, or a URL's password, that is not an `${env:NAME}` placeholder) is a
   * validation error (runtime/flow/inline-secrets.ts). Absent: accepted, as in a local file.
   */
  inlineSecrets?: 'refuse';
}
