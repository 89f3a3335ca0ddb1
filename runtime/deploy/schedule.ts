/**
 * A deployed flow on a cron schedule (`settings.schedule`): croner fires `start` at each due time,
 * unless the run it started last is still going, in which case that time is skipped and said so; the
 * schedule keeps the newest runs (start, end, status, records written, errors) for the status page, and
 * writes each one to `history` when it starts and when its state changes, so a restarted host shows the
 * runs before it (a run that was going when the host stopped reads `interrupted`).
 * Which flow runs, and how, is the caller's: this module only keeps time.
 */
import { Cron } from 'croner';
import { errorMessage } from '../errors.js';
import type { DeploymentStatus } from './status.js';
import type { FlowSettings } from '../flow/schema.js';
import type { ScheduledRun, ScheduleView } from '../state/operations-wire.js';

export type { ScheduledRun, ScheduleView };

export type Schedule = NonNullable<FlowSettings['schedule']>;

export interface ScheduledFlowOptions {
  flowId: string;
  schedule: Schedule;
  /** the sink ids, whose `out` counts are the records a run wrote */
  sinks: string[];
  /** whether the flow's last run is still going */
  busy: () => boolean;
  /** starts a run */
  start: () => Promise<void>;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
  paused?: boolean;
  /** runs kept (default 50) */
  keep?: number;
  /** where runs are kept across restarts (the checkpoint store); failures to write are logged, never fatal */
  history?: ScheduleHistory;
}

export interface ScheduleHistory {
  record(run: ScheduledRun): Promise<void>;
  /** newest first */
  load(limit: number): Promise<ScheduledRun[]>;
}

/** states a run is in while it goes on */
const GOING = new Set(['starting', 'running', 'paused', 'stopping']);

export class ScheduledFlow {
  private readonly cron: Cron;
  private readonly runs: ScheduledRun[] = [];
  private skipped = 0;

  constructor(private readonly o: ScheduledFlowOptions) {
    this.cron = new Cron(o.schedule.cron, { timezone: o.schedule.timezone, paused: o.paused, protect: true }, () => void this.due());
  }

  private async due(): Promise<void> {
    if (this.o.busy()) {
      this.skipped++;
      const running = this.runs[0];
      this.o.log.warn(`scheduled run skipped: the run started at ${running?.startedAt ?? 'the last due time'} is still going`);
      return;
    }
    try {
      await this.o.start();
    } catch (err) {
      const at = new Date().toISOString();
      this.remember({ startedAt: at, endedAt: at, status: 'failed', records: 0, errors: 0, error: errorMessage(err) });
      this.o.log.error(`scheduled run could not start: ${errorMessage(err)}`);
    }
  }

  /**
   * Takes up the runs kept in `history` (before the first due time matters: call it right after
   * construction). A run that was still going when its host stopped is recorded as interrupted.
   */
  async restore(): Promise<void> {
    if (!this.o.history) return;
    let past: ScheduledRun[];
    try {
      past = await this.o.history.load(this.o.keep ?? 50);
    } catch (err) {
      this.o.log.warn(`the earlier scheduled runs could not be read: ${errorMessage(err)}`);
      return;
    }
    const known = new Set(this.runs.map((r) => r.startedAt));
    for (const run of past) {
      if (known.has(run.startedAt)) continue;
      if (GOING.has(run.status)) {
        run.status = 'interrupted';
        run.error ??= 'the host stopped while this run was going';
        this.persist(run);
      }
      this.runs.push(run);
    }
    this.runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt));
    this.runs.length = Math.min(this.runs.length, this.o.keep ?? 50);
  }

  /** takes a status of the flow: a run that started or ended is recorded once */
  observe(s: DeploymentStatus): void {
    if (!s.startedAt) return;
    let run = this.runs.find((r) => r.startedAt === s.startedAt);
    if (!run) {
      if (s.status === 'not-deployed') return;
      run = { startedAt: s.startedAt, status: s.status, records: 0, errors: 0 };
      this.remember(run);
    }
    const before = `${run.status}|${run.endedAt ?? ''}|${run.error ?? ''}`;
    run.status = s.status;
    run.records = this.o.sinks.reduce((n, id) => n + (s.nodes[id]?.out ?? 0), 0);
    run.errors = Object.values(s.nodes).reduce((n, x) => n + x.errors, 0);
    if (s.endedAt) run.endedAt = s.endedAt;
    if (s.error) run.error = s.error;
    // written when it changes state, with its counts then; not at every status tick
    if (`${run.status}|${run.endedAt ?? ''}|${run.error ?? ''}` !== before) this.persist(run);
  }

  private remember(run: ScheduledRun): void {
    this.runs.unshift(run);
    this.runs.length = Math.min(this.runs.length, this.o.keep ?? 50);
    this.persist(run);
  }

  private persist(run: ScheduledRun): void {
    this.o.history?.record({ ...run }).catch((err) => this.o.log.warn(`scheduled run of ${run.startedAt} not kept: ${errorMessage(err)}`));
  }

  pause(): void {
    this.cron.pause();
  }

  resume(): void {
    this.cron.resume();
  }

  stop(): void {
    this.cron.stop();
  }

  view(next = 5): ScheduleView {
    const paused = !this.cron.isRunning();
    return {
      flowId: this.o.flowId,
      cron: this.o.schedule.cron,
      ...(this.o.schedule.timezone ? { timezone: this.o.schedule.timezone } : {}),
      from: this.o.schedule.from,
      paused,
      next: paused ? [] : this.cron.nextRuns(next).map((d) => d.toISOString()),
      runs: this.runs.map((r) => ({ ...r })),
      skipped: this.skipped,
    };
  }
}
