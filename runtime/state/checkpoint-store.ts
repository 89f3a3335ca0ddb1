/**
 * Where a flow's progress survives a stop: the committed position of each source and the state of
 * each stateful node, saved together in one atomic write, plus the dead-letter store. Implemented on
 * SQLite now (sqlite-checkpoint-store.ts); the cluster adds one on Redis behind the same interface.
 */
import type { SluiceRecord } from '../records.js';
import type { ScheduledRun } from './operations-wire.js';

export interface Checkpoint {
  /** source node id → last committed position */
  positions: Record<string, unknown>;
  /** stateful node id → its snapshot at that position */
  state: Record<string, unknown>;
  updatedAt: number;
}

export interface DeadLetter {
  node: string;
  error: string;
  record: SluiceRecord;
}

export interface StoredDeadLetter extends DeadLetter {
  id: number;
  flow: string;
  at: number;
}

export interface DeadLetterFilter {
  /** the node the records failed in */
  node?: string;
  /** a part of the error message (case-insensitive) */
  error?: string;
  /** these ids only */
  ids?: number[];
}

/** A flow's positions as committed at one time: kept at most once a second while it runs, and at every change by hand. */
export interface PositionHistoryEntry {
  at: number;
  positions: Record<string, unknown>;
  /** set on a change by hand: who made it and why */
  note?: string;
}

/** how often a running flow's commits are sampled into the history, ms */
export const HISTORY_EVERY_MS = 1000;
/** entries kept per flow */
export const HISTORY_KEPT = 200;
/** scheduled runs kept per flow */
export const SCHEDULED_RUNS_KEPT = 200;

/** A save by a holder of an older lease than the store has seen: a stalled former owner. */
export class FencedOffError extends Error {
  override name = 'FencedOffError';
}

export interface CheckpointStore {
  load(flow: string): Promise<Checkpoint | undefined>;
  /**
   * Saves atomically. `fence` is the fencing token of the caller's lease: a save with a token lower
   * than one already used for this flow is refused with FencedOffError.
   */
  save(flow: string, checkpoint: Omit<Checkpoint, 'updatedAt'>, fence: number): Promise<void>;
  /** forgets the flow's positions and state (a run from the start) */
  reset(flow: string): Promise<void>;
  /** the flow's committed positions over time, newest first */
  history(flow: string, limit?: number): Promise<PositionHistoryEntry[]>;
  /**
   * Replaces positions and state by hand, while the flow does not run (`sluice positions --set`, PUT
   * /api/flows/:id/positions): the newest fencing token is kept, and `note` goes into the history.
   */
  rewrite(flow: string, checkpoint: Omit<Checkpoint, 'updatedAt'>, note: string): Promise<void>;
  deadLetter(flow: string, letters: DeadLetter[]): Promise<void>;
  /** the flow's dead letters, oldest first, up to `limit` (default 1000), narrowed by `filter` */
  deadLetters(flow: string, limit?: number, filter?: DeadLetterFilter): Promise<StoredDeadLetter[]>;
  /** deletes the flow's dead letters with these ids (replayed or discarded); answers how many there were */
  discardDeadLetters(flow: string, ids: number[]): Promise<number>;
  /** records a run of a flow on a schedule, by its start time: a second call with the same start updates it */
  recordScheduledRun(flow: string, run: ScheduledRun): Promise<void>;
  /** the flow's scheduled runs, newest first */
  scheduledRuns(flow: string, limit?: number): Promise<ScheduledRun[]>;
  close(): Promise<void>;
}
