/**
 * The host side of settings.lanes > 1 under `sluice run`: forks one lane process per lane (the same CLI,
 * `run FLOW --lane I/N`), each running the whole (stateless) flow over its share of the sources' rows
 * with its own committed positions (lane-key.ts). The host only supervises:
 *  - a lane killed by a signal (SIGKILL, an OOM kill, a fatal abort) is started again; it resumes from
 *    its own committed positions, so the rows it had read but not committed are read again
 *    (at-least-once; idempotent sinks write them once). A lane killed `maxRestarts` times fails the run;
 *  - a lane that ends with an error fails the run, and the others are stopped;
 *  - stop() asks every lane to stop gracefully (finish its batches, commit) over the IPC channel; a lane
 *    also stops when its host goes (the channel closes), so none outlives a killed host for long.
 * Each lane prints its JSON summary on stdout at the end; the host sums them.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { RunSummary } from '../run-summary.js';

export interface LaneOptions {
  count: number;
  /** the CLI script and the arguments of the host's own `run` (the lane adds `--lane I/N`) */
  script: string;
  args: string[];
  /** restarts of one lane after a kill before the run fails (default 3) */
  maxRestarts?: number;
  log: (line: string) => void;
  /** each lane process as it starts (tests find a lane's pid here) */
  onStart?: (lane: number, pid: number) => void;
}

export interface LanesResult {
  ok: boolean;
  error?: string;
  /** per lane, its last summary (undefined when it printed none) */
  summaries: (RunSummary | undefined)[];
  restarts: number;
}

export class LaneCoordinator {
  private readonly procs: (ChildProcess | undefined)[] = [];
  private stopping = false;
  private restarts = 0;

  constructor(private readonly o: LaneOptions) {}

  get pids(): number[] {
    return this.procs.flatMap((p) => (p?.pid ? [p.pid] : []));
  }

  stop(): void {
    this.stopping = true;
    for (const p of this.procs) if (p?.connected) p.send({ t: 'stop' });
  }

  async run(): Promise<LanesResult> {
    const summaries: (RunSummary | undefined)[] = [];
    let error: string | undefined;
    const lanes = Array.from({ length: this.o.count }, async (_, i) => {
      let kills = 0;
      for (;;) {
        // a lane started again goes on from its own positions, even when the run began --from-start
        const r = await this.runLane(i, kills > 0);
        if (r.summary) summaries[i] = r.summary;
        if (r.signal && !this.stopping) {
          kills++;
          if (kills > (this.o.maxRestarts ?? 3)) {
            error ??= `lane ${i + 1} of ${this.o.count} was killed ${kills} times (${r.signal}): the run stops`;
            this.stop();
            return;
          }
          this.restarts++;
          this.o.log(`lane ${i + 1} of ${this.o.count} was killed (${r.signal}); starting it again from its committed positions`);
          continue;
        }
        if (r.code !== 0 && !r.signal) {
          error ??= `lane ${i + 1} of ${this.o.count} failed${r.summary?.error ? `: ${r.summary.error}` : r.stderrTail ? `: ${r.stderrTail}` : ` (exit code ${r.code})`}`;
          this.stop();
        }
        return;
      }
    });
    await Promise.all(lanes);
    return { ok: !error, error, summaries, restarts: this.restarts };
  }

  private runLane(i: number, again: boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; summary?: RunSummary; stderrTail?: string }> {
    const args = again ? this.o.args.filter((a) => a !== '--from-start') : this.o.args;
    const child = fork(this.o.script, [...args, '--lane', `${i + 1}/${this.o.count}`], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    this.procs[i] = child;
    if (child.pid) this.o.onStart?.(i, child.pid);
    if (this.stopping) child.send({ t: 'stop' });
    let out = '';
    let errTail = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      // a lane's log lines, prefixed with its number
      for (const line of d.split('\n')) if (line.trim()) this.o.log(`[lane ${i + 1}] ${line}`);
      errTail = (errTail + d).slice(-500);
    });
    return new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.procs[i] = undefined;
        let summary: RunSummary | undefined;
        try {
          summary = out.trim() ? (JSON.parse(out) as RunSummary) : undefined;
        } catch {
          summary = undefined;
        }
        resolve({ code, signal, summary, stderrTail: errTail.trim().split('\n').pop() });
      });
    });
  }
}
