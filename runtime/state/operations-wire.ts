/**
 * The wire types of the positions and dead-letter APIs (GET/PUT /api/flows/:id/positions, `sluice
 * positions --json`, POST …/dead-letters/replay), in a module free of Node built-ins so that the editor
 * imports them instead of copying them.
 */
import type { RunStatus } from '../executor/run-summary.js';
import type { FlowSettings } from '../flow/schema.js';

export type { StoredDeadLetter } from './checkpoint-store.js';

/** what a replay of dead letters came to */
export interface ReplayResult {
  /** letters replayed (and removed) */
  replayed: number;
  /** of them, records that failed again: new dead letters */
  failedAgain: number;
  status: RunStatus;
  error?: string;
}

export interface SourcePositionView {
  node: string;
  type: string;
  /** null: nothing committed yet (the source starts from its beginning) */
  position: unknown;
  text: string;
  /** what may be typed to set it */
  example?: string;
}

export interface PositionsView {
  flow: string;
  /** ISO time of the last commit; absent when nothing was committed */
  committedAt?: string;
  sources: SourcePositionView[];
  /** nodes whose state is saved with the positions */
  stateful: string[];
  history: { at: string; note?: string; positions: Record<string, string> }[];
}

export interface PositionChangeRequest {
  /** node id → the new position: words its type reads, the position itself (an object, a number), or null for "from the beginning" */
  positions: Record<string, unknown>;
  /** also forget the state of stateful nodes (aggregates, denormalize), which was taken at the old positions */
  resetState?: boolean;
}

export interface PositionChange {
  node: string;
  from: string;
  to: string;
  /** in words: what the next run reads again or leaves out */
  effect: string;
}

/** PUT /api/flows/:id/positions */
export interface PositionChangeAnswer {
  /** false for a dry run */
  applied: boolean;
  changes: PositionChange[];
  warnings: string[];
}

/** one run of a scheduled flow, as the schedule page shows it */
export interface ScheduledRun {
  startedAt: string;
  endedAt?: string;
  status: string;
  /** records the sinks wrote */
  records: number;
  /** records that failed, in any node */
  errors: number;
  error?: string;
}

/** GET /api/flows/:id/schedule */
export interface ScheduleView {
  flowId: string;
  cron: string;
  timezone?: string;
  from: NonNullable<FlowSettings['schedule']>['from'];
  paused: boolean;
  /** the next start times (ISO), soonest first */
  next: string[];
  /** the newest runs first */
  runs: ScheduledRun[];
  /** due times skipped because the run before was still going */
  skipped: number;
}

