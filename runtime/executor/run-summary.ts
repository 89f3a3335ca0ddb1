/**
 * What a run reports: its status, counts per node, a test run's preview and the summary at its end.
 * Plain data that travels as JSON to the CLI, the server and the editor, which imports these types
 * from here: this module (and what it imports) stays free of Node built-ins (test/unit/boundaries.test.ts).
 */
import type { SinkPreviewTarget, SourceProgress, TableReport } from '../node-api.js';
import type { Op, SluiceRecord } from '../records.js';

export type RunStatus = 'starting' | 'running' | 'paused' | 'stopping' | 'completed' | 'stopped' | 'failed';

export interface NodeStats {
  in: number;
  out: number;
  errors: number;
  /** sinks: records written (or, in preview, that would be written) by op */
  ops?: Record<Op, number>;
}

export interface NodePreview {
  input: SluiceRecord[];
  output: Record<string, SluiceRecord[]>;
  errors: SluiceRecord[];
  /** sinks: what would have been written */
  wouldWrite?: { ops: Record<Op, number>; sample: SluiceRecord[] };
  /** sinks: what the first write would do to the target (a table that does not exist yet is created) */
  target?: SinkPreviewTarget;
}

export interface RunSummary {
  flow: string;
  status: 'completed' | 'stopped' | 'failed';
  nodes: Record<string, NodeStats>;
  /** records that crossed each edge, by edge index in the document */
  edges: number[];
  durationMs: number;
  /** the failure, one line; `userError` when the user can fix it (exit code 2) */
  error?: string;
  userError?: boolean;
  failedNode?: string;
  positions: Record<string, unknown>;
  resumedFrom?: Record<string, unknown>;
  deadLetters: number;
  /** sources that report progress: where they ended (tables done / estimated, CDC lag) */
  progress?: Record<string, SourceProgress>;
  preview?: Record<string, NodePreview>;
  /** sinks that created tables under `schema: full`: the conversion report per table, by sink node id */
  reports?: Record<string, TableReport[]>;
}

/** a test run's summary (deploy/preview.ts) */
export interface PreviewResult extends RunSummary {
  /** the time limit stopped it */
  timedOut?: boolean;
}

/** records that crossed a node boundary in a test run, streamed to the editor as they go */
export interface PreviewBatch {
  node: string;
  direction: 'in' | 'out';
  port: string;
  records: SluiceRecord[];
}
