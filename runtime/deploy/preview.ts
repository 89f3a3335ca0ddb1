/**
 * A test run: the same engine in preview mode (sources read at most `limit` records, sinks write
 * nothing and report what they would write). Batches are handed to `onRecords` as they pass, at most
 * `sample` records per node, direction and port, so what streams to a browser stays small whatever
 * the flow does. A time limit stops sources that would wait for more (CDC, polling, slow rates).
 */
import { errorMessage } from '../errors.js';
import { FlowRun } from '../executor/flow-run.js';
import type { PreviewBatch, PreviewResult, RunStatus } from '../executor/run-summary.js';
import type { CompiledFlow } from '../flow/compile.js';
import type { Logger } from '../node-api.js';

export type { PreviewBatch } from '../executor/run-summary.js';

export interface PreviewOptions {
  /** records read per source */
  limit: number;
  /** records kept (and streamed) per node, direction and port; default 100 */
  sample?: number;
  /** the run is stopped after this long, ms; none by default */
  timeoutMs?: number;
  cwd?: string;
  log?: Logger;
  onRecords?: (batch: PreviewBatch) => void;
  /** masks secrets in what records and the run failed with (FlowRun's option) */
  redact?: (text: string) => string;
}

export type { PreviewResult } from '../executor/run-summary.js';

export class Preview {
  private readonly run: FlowRun;
  private readonly streamed = new Map<string, number>();
  private readonly sample: number;
  private timedOut = false;

  constructor(plan: CompiledFlow, private readonly options: PreviewOptions) {
    this.sample = options.sample ?? 100;
    this.run = new FlowRun(plan, {
      preview: { limit: options.limit, sample: this.sample },
      cwd: options.cwd,
      log: options.log,
      redact: options.redact,
      tap: options.onRecords ? (batch) => this.tap(batch) : undefined,
    });
  }

  get status(): RunStatus {
    return this.run.status;
  }

  /** runs to the end (or the time limit, or stop()); never throws for a flow failure */
  async start(): Promise<PreviewResult> {
    const { timeoutMs } = this.options;
    const timer = timeoutMs
      ? setTimeout(() => {
          this.timedOut = true;
          this.options.log?.warn(`preview stopped after its time limit of ${timeoutMs} ms`);
          this.run.stop();
        }, timeoutMs)
      : undefined;
    try {
      const summary = await this.run.run();
      return this.timedOut ? { ...summary, timedOut: true } : summary;
    } finally {
      clearTimeout(timer);
    }
  }

  stop(): void {
    this.run.stop();
  }

  private tap(batch: PreviewBatch): void {
    const key = `${batch.node}\u0000${batch.direction}\u0000${batch.port}`;
    const sent = this.streamed.get(key) ?? 0;
    const room = this.sample - sent;
    if (room <= 0) return;
    const records = batch.records.length > room ? batch.records.slice(0, room) : batch.records;
    this.streamed.set(key, sent + records.length);
    try {
      this.options.onRecords!({ ...batch, records });
    } catch (err) {
      // the tap runs inside the node loops: a failing listener must not fail the flow
      this.options.log?.warn(`preview listener failed: ${errorMessage(err)}`);
    }
  }
}
