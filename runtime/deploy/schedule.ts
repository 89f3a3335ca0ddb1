/**
 * A deployed flow on a cron schedule (`settings.schedule`): croner fires `start` at each due time,
 * unless the run it started last is still going, in which case that time is skipped and said so; the
 * schedule keeps the newest runs (start, end, status, records written, errors) for the status page.
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
}

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

  /** takes a status of the flow: a run that started or ended is recorded once */
  observe(s: DeploymentStatus): void {
    if (!s.startedAt) return;
    let run = this.runs.find((r) => r.startedAt === s.startedAt);
    if (!run) {
      if (s.status === 'not-deployed') return;
      run = { startedAt: s.startedAt, status: s.status, records: 0, errors: 0 };
      this.remember(run);
    }
    run.status = s.status;
    run.records = this.o.sinks.reduce((n, id) => n + (s.nodes[id]?.out ?? 0), 0);
    run.errors = Object.values(s.nodes).reduce((n, x) => n + x.errors, 0);
    if (s.endedAt) run.endedAt = s.endedAt;
    if (s.error) run.error = s.error;
  }

  private remember(run: ScheduledRun): void {
    this.runs.unshift(run);
    this.runs.length = Math.min(this.runs.length, this.o.keep ?? 50);
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
