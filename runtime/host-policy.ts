/**
 * What a host (the server, or the CLI when asked) lets a flow reach, handed to validation and compile:
 * the files (FilePolicy: the server confines them to its file roots) and the environment (EnvPolicy:
 * the server resolves only allowed names, never inside code). Nothing set: everything, as `sluice run`
 * always did. The compiled plan carries it to the nodes (NodeContext.files).
 */
import type { FilePolicy } from './files.js';
import type { EnvPolicy } from './flow/env.js';

export interface HostPolicy {
  files?: FilePolicy;
  env?: EnvPolicy;
}
