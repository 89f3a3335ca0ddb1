/**
 * `sluice run` of a flow with `settings.schedule`: it runs at the schedule's times until it is stopped
 * (Ctrl-C or SIGTERM), never two runs at once (a due time while a run goes on is skipped and said so),
 * each run reading from the start or on from the last (`schedule.from`). The runs are kept in the state
 * file beside the positions, as the server keeps them. `--once` runs the flow once, now, instead.
 */
import { errorMessage } from '../errors.js';
import type { RunSummary } from '../executor/run-summary.js';
import { ScheduledFlow, type Schedule } from '../deploy/schedule.js';
import type { DeploymentStatus, NodeStatus } from '../deploy/status.js';
import type { CheckpointStore } from '../state/checkpoint-store.js';

export interface ScheduledRunOptions {
  flow: string;
  schedule: Schedule;
  sinks: string[];
  store: CheckpointStore;
  /** starts one run; `fromStart` as the schedule says */
  runOnce: (fromStart: boolean) => Promise<RunSummary>;
  /** asks the run going on to stop (it commits) */
  stopCurrent: () => void;
  /** what to say when a run ends */
  report: (summary: RunSummary) => void;
  log: { info(m: string): void; warn(m: string): void; error(m: string): void };
}

export interface ScheduledRunHandle {
  /** the next start times */
  next(n: number): string[];
  /** stops the schedule and the run going on; resolves when that run has ended */
  stop(): Promise<void>;
  /** resolves when stopped */
  done: Promise<void>;
}

export function runOnSchedule(o: ScheduledRunOptions): ScheduledRunHandle {
  let going: Promise<void> | undefined;
  let stopping = false;
  let finish!: () => void;
  const done = new Promise<void>((r) => (finish = r));
  const status = (s: Partial<DeploymentStatus> & Pick<DeploymentStatus, 'status'>): DeploymentStatus => ({ flowId: o.flow, nodes: {}, edges: [], deadLetters: 0, ...s });
  const scheduled: ScheduledFlow = new ScheduledFlow({
    flowId: o.flow,
    schedule: o.schedule,
    sinks: o.sinks,
    busy: () => going !== undefined,
    start: async () => {
      if (stopping) return;
      const startedAt = new Date().toISOString();
      scheduled.observe(status({ status: 'running', startedAt }));
      going = o
        .runOnce(o.schedule.from === 'start')
        .then(
          (summary) => {
            const nodes: Record<string, NodeStatus> = Object.fromEntries(Object.entries(summary.nodes).map(([id, n]) => [id, { ...n, rate: 0 }]));
            scheduled.observe(status({ status: summary.status, startedAt, endedAt: new Date().toISOString(), nodes, ...(summary.error ? { error: summary.error } : {}) }));
            o.report(summary);
          },
          (err) => {
            scheduled.observe(status({ status: 'failed', startedAt, endedAt: new Date().toISOString(), error: errorMessage(err) }));
            o.log.error(`scheduled run failed: ${errorMessage(err)}`);
          },
        )
        .finally(() => {
          going = undefined;
        });
    },
    log: o.log,
    history: { record: (run) => o.store.recordScheduledRun(o.flow, run), load: (limit) => o.store.scheduledRuns(o.flow, limit) },
  });
  void scheduled.restore();
  return {
    next: (n) => scheduled.view(n).next,
    done,
    async stop() {
      stopping = true;
      scheduled.stop();
      if (going) {
        o.stopCurrent();
        await going;
      }
      finish();
    },
  };
}
