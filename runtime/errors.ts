/**
 * Typed errors. A UserError is a mistake the user can fix (bad flow, missing file, bad flag):
 * the CLI prints its one-line message and exits 2, the server answers 400. Anything else is a bug
 * or a failure at run time.
 */
import { redactText } from './redact.js';
export class UserError extends Error {
  override name = 'UserError';
  constructor(message: string, readonly hint?: string) {
    super(message);
  }
}

export interface FlowIssue {
  /** where: `nodes[enrich].config.keys[0]`, `edges[2].to`, `settings.batchSize`, or '' for the document */
  path: string;
  message: string;
  severity: 'error' | 'warning';
  /** id of the node the issue belongs to, when there is one (the editor puts a badge on it) */
  nodeId?: string;
  /** 1-based line in the source text, when known */
  line?: number;
}

export function formatIssue(issue: FlowIssue): string {
  const where = issue.path ? `${issue.path}: ` : '';
  const line = issue.line ? ` (line ${issue.line})` : '';
  return `${where}${issue.message}${line}`;
}

export class FlowValidationError extends UserError {
  override name = 'FlowValidationError';
  constructor(readonly issues: FlowIssue[], readonly file?: string) {
    const errors = issues.filter((i) => i.severity === 'error');
    const first = errors[0] ? formatIssue(errors[0]) : 'invalid flow';
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    super(`${file ? `${file}: ` : ''}${first}${more}`);
  }
}

/** A node's configuration is wrong in a way only found when the node opens (missing table, bad code). */
export class ConfigError extends UserError {
  override name = 'ConfigError';
  constructor(readonly nodeId: string, readonly path: string, message: string, hint?: string) {
    super(`nodes[${nodeId}]${path ? `.${path}` : ''}: ${message}`, hint);
  }
}

/** A node failed while the flow ran. */
export class NodeError extends Error {
  override name = 'NodeError';
  constructor(readonly nodeId: string, message: string, options?: { cause?: unknown }) {
    super(`node ${nodeId}: ${message}`, options);
  }
}

/** an error's message for a person: a password inside a URL the driver echoed is masked (`user:***@host`) */
export function errorMessage(err: unknown): string {
  return redactText(err instanceof Error ? err.message : String(err));
}
