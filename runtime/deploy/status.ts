/**
 * A deployment's live status as listeners, the HTTP API and the editor's socket receive it. Plain data:
 * the editor imports these types from here, so this module (and what it imports) stays free of Node
 * built-ins (test/unit/boundaries.test.ts).
 */
import type { SourceProgress, TableProgress, TableReport } from '../node-api.js';
import type { NodeStats, RunStatus } from '../executor/run-summary.js';

export type DeploymentState = RunStatus | 'not-deployed';

export interface NodeStatus extends NodeStats {
  /** records per second over the last status interval */
  rate: number;
}

/** per source node: its progress, each table with `rate`, rows per second over the last status interval */
export type TableRates = Record<string, Omit<SourceProgress, 'tables'> & { tables?: (TableProgress & { rate: number })[] }>;

/** a source's progress; each table with `rate`, rows per second over the last status interval */
export type SourceStatus = TableRates[string];

export interface DeploymentStatus {
  flowId: string;
  status: DeploymentState;
  /** the flow version that runs (or ran); absent when the caller did not say */
  version?: number;
  /** ISO 8601 */
  startedAt?: string;
  endedAt?: string;
  nodes: Record<string, NodeStatus>;
  /** records that crossed each edge, by edge index in the document */
  edges: number[];
  error?: string;
  failedNode?: string;
  /** records this deployment sent to the dead-letter store */
  deadLetters: number;
  /** sources that report it: per-table rows done / estimated with rows/s, CDC lag */
  progress?: Record<string, SourceStatus>;
  /** sinks that created tables under `schema: full`: the conversion report per table, by sink node id */
  reports?: Record<string, TableReport[]>;
  /** cluster mode: the agent that runs (or ran) it */
  agent?: string;
}
