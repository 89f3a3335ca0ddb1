/**
 * One async loop per node: sources read and emit, transforms take from their inbox and emit, sinks
 * write and acknowledge. Batches fan out to every edge of a port and fan in from every edge into a
 * node; error records go to a wired error port or to the dead letters.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { NodeError } from '../errors.js';
import type { Clock } from '../cluster/clock.js';
import type { CompiledFlow } from '../flow/compile.js';
import { ERROR_PORT } from '../flow/schema.js';
import type { Logger, PortOutputs, SinkInstance, SourceInstance, TransformInstance } from '../node-api.js';
import type { SluiceRecord } from '../records.js';
import type { CheckpointStore, DeadLetter } from '../state/checkpoint-store.js';
import type { ExternalMemoryWatch } from './memory.js';
import type { PreviewCapture } from './preview-capture.js';
import { BoundedQueue } from './queue.js';
import { withRetry } from './retry.js';
import type { Item, Runner } from './runner.js';
import type { PositionLedger, Tracker } from './tracker.js';
import { secondsSince, type RunObserver } from './observer.js';

export interface NodeLoopsOptions {
  plan: CompiledFlow;
  runners: Map<string, Runner>;
  ledgers: Map<string, PositionLedger>;
  /** work not caused by a source batch (ticks, flushes): waited for like batches, commits nothing */
  internal: PositionLedger;
  edgeCounts: number[];
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  capture: PreviewCapture;
  redact: (text: string) => string;
  /** preview: read at most `limit` records per source, write nothing */
  preview?: { limit: number; sample?: number };
  store?: CheckpointStore;
  memoryWatch?: ExternalMemoryWatch;
  observer?: RunObserver;
  /** a source waits on what this returns before each read (a pause, an aligned checkpoint, a lease in doubt) */
  beforeRead(): Promise<void> | undefined;
  /** a sink waits on what this returns before each write (a lease in doubt): false drops the batch, unacknowledged */
  beforeWrite(): Promise<boolean> | undefined;
}

export class NodeLoops {
  deadLetters = 0;

  constructor(private readonly o: NodeLoopsOptions) {}

  loop(r: Runner): Promise<void> {
    const inst = r.instance!;
    if (inst.kind === 'source') return this.sourceLoop(r, inst);
    if (inst.kind === 'transform') return this.transformLoop(r, inst);
    return this.sinkLoop(r, inst);
  }

  private async sourceLoop(r: Runner, source: SourceInstance): Promise<void> {
    const ledger = this.o.ledgers.get(r.node.id)!;
    const { retry } = this.o.plan.flow.settings;
    const { signal, preview } = this.o;
    await source.open(preview ? undefined : ledger.committable);
    let remaining = preview ? preview.limit : Infinity;
    while (!signal.aborted && remaining > 0) {
      const wait = this.o.beforeRead();
      if (wait) await wait;
      if (signal.aborted) return;
      const batch = await withRetry(() => source.read(), retry, `${r.node.id}: read`, this.o.log, signal);
      if (signal.aborted) return; // a batch read while stopping is dropped: its position is not committed
      if (!batch) break;
      let records = batch.records;
      if (records.length > remaining) records = records.slice(0, remaining);
      remaining -= records.length;
      const tracker = ledger.track(batch.position);
      r.stats.out += records.length;
      this.o.capture.capture(r, 'out', 'out', records);
      await this.emit(r, 'out', records, tracker);
      if (batch.errors?.length) await this.emit(r, ERROR_PORT, batch.errors, tracker);
      tracker.release();
      // Nodes that never wait on I/O (generate, SQLite) would otherwise keep the loop in microtasks:
      // let timers, signals and sockets in between batches.
      await yieldToEventLoop();
    }
    await this.endDownstream(r);
  }

  private async transformLoop(r: Runner, t: TransformInstance): Promise<void> {
    const width = Math.floor(t.concurrency ?? 1);
    if (width > 1 && !t.tick && !t.snapshot) return this.overlappingTransformLoop(r, t, width);
    let ends = 0;
    for (;;) {
      const item = await r.inbox!.shift();
      if (r.inbox!.closed) return; // taken as the run ended: dropped, never acknowledged
      if (item === 'tick') {
        if (t.tick && !this.o.signal.aborted) {
          const tracker = this.o.internal.track(undefined);
          await this.emitAll(r, await t.tick(this.o.clock.now()), tracker);
          tracker.release();
        }
        continue;
      }
      if (item === 'end') {
        if (++ends < r.node.inputs.length) continue;
        await this.flush(r, t);
        return this.endDownstream(r);
      }
      r.stats.in += item.records.length;
      this.o.capture.capture(r, 'in', item.port, item.records);
      const t0 = process.hrtime.bigint();
      const outputs = await t.process(item.records, item.port);
      this.o.observer?.batch?.(r.node.id, secondsSince(t0), item.records.length);
      await this.emitAll(r, outputs, item.tracker);
      item.tracker.release();
    }
  }

  /**
   * A stateless transform with up to `width` batches in process() at once: one loop starts them in
   * input order, the other emits their outputs in that same order, so downstream sees what the serial
   * loop would emit, while batch n+1 is in the sandbox as batch n is written.
   */
  private async overlappingTransformLoop(r: Runner, t: TransformInstance, width: number): Promise<void> {
    type Started = { item: Exclude<Item, 'end' | 'tick'>; outputs: Promise<PortOutputs> } | 'end';
    const started = new BoundedQueue<Started>(width);
    const slots = new BoundedQueue<true>(width);
    const starter = async () => {
      let ends = 0;
      for (;;) {
        const item = await r.inbox!.shift();
        if (r.inbox!.closed) {
          started.close(); // the emitter ends too
          return;
        }
        if (item === 'tick') continue;
        if (item === 'end') {
          if (++ends < r.node.inputs.length) continue;
          await started.push('end');
          return;
        }
        await slots.push(true);
        r.stats.in += item.records.length;
        this.o.capture.capture(r, 'in', item.port, item.records);
        const t0 = process.hrtime.bigint();
        const outputs = t.process(item.records, item.port);
        outputs.catch(() => undefined); // the emitter below sees the rejection, in order
        const count = item.records.length;
        void outputs.then(() => this.o.observer?.batch?.(r.node.id, secondsSince(t0), count), () => undefined);
        await started.push({ item, outputs });
      }
    };
    const emitter = async () => {
      for (;;) {
        const s = await started.shift();
        if (s === 'end') {
          await this.flush(r, t);
          return this.endDownstream(r);
        }
        await this.emitAll(r, await s.outputs, s.item.tracker);
        s.item.tracker.release();
        await slots.shift();
      }
    };
    await Promise.all([starter(), emitter()]);
  }

  private async flush(r: Runner, t: TransformInstance): Promise<void> {
    if (!t.flush) return;
    const tracker = this.o.internal.track(undefined);
    await this.emitAll(r, await t.flush(), tracker);
    tracker.release();
  }

  private async sinkLoop(r: Runner, sink: SinkInstance): Promise<void> {
    const { retry } = this.o.plan.flow.settings;
    let ends = 0;
    for (;;) {
      const item = await r.inbox!.shift();
      // taken as the run ended (a failure, or a stop past its drain): dropped, never acknowledged, so
      // nothing is written once the run has given up on its batches
      if (r.inbox!.closed) return;
      if (item === 'tick') continue;
      if (item === 'end') {
        if (++ends < r.node.inputs.length) continue;
        return;
      }
      const records = item.records;
      r.stats.in += records.length;
      this.o.capture.capture(r, 'in', item.port, records);
      if (this.o.preview) {
        this.o.capture.wouldWrite(r, records);
      } else if (records.length > 0) {
        // a lease in doubt: wait for its answer; lost, or the run given up meanwhile: dropped, as above
        const hold = this.o.beforeWrite();
        if (hold && (!(await hold) || r.inbox!.closed)) return;
        const t0 = process.hrtime.bigint();
        const result = await withRetry(() => sink.write(records), retry, `${r.node.id}: write`, this.o.log);
        this.o.observer?.batch?.(r.node.id, secondsSince(t0), records.length);
        // records the sink refused for good (a 4xx answer, a broker's rejection): dead letters, with why
        if (result?.rejected?.length) await this.emit(r, ERROR_PORT, result.rejected, item.tracker);
      }
      r.stats.out += records.length;
      for (const rec of records) r.stats.ops![rec.op]++;
      item.tracker.release();
    }
  }

  private async emitAll(r: Runner, outputs: PortOutputs, tracker: Tracker): Promise<void> {
    for (const [port, records] of Object.entries(outputs)) {
      if (!records || records.length === 0) continue;
      if (port !== ERROR_PORT) {
        r.stats.out += records.length;
        this.o.capture.capture(r, 'out', port, records);
      }
      await this.emit(r, port, records, tracker);
    }
  }

  /** sends records to every edge of `port`; error records without a wired error port are dead-lettered */
  private async emit(r: Runner, port: string, records: SluiceRecord[], tracker: Tracker): Promise<void> {
    if (records.length === 0) return;
    this.o.memoryWatch?.check();
    const edges = r.node.outputs.get(port) ?? [];
    if (port === ERROR_PORT) {
      for (const rec of records) {
        rec.meta.error ??= { node: r.node.id, message: 'failed' };
        // what a record failed with may echo a URL with its password: masked before it is shown or stored
        rec.meta.error.message = this.o.redact(rec.meta.error.message);
      }
      r.stats.errors += records.length;
      this.o.capture.errors(r, records);
      if (edges.length === 0) return this.deadLetter(r, records);
    }
    for (const edge of edges) {
      tracker.hold();
      this.o.edgeCounts[edge.index] += records.length;
      await this.o.runners.get(edge.to)!.inbox!.push({ port: edge.toPort, records, tracker });
    }
  }

  private async endDownstream(r: Runner): Promise<void> {
    for (const edges of r.node.outputs.values()) {
      for (const edge of edges) await this.o.runners.get(edge.to)!.inbox!.push('end');
    }
  }

  private async deadLetter(r: Runner, records: SluiceRecord[]): Promise<void> {
    const first = records[0];
    if (this.o.plan.flow.settings.onError === 'stop') {
      throw new NodeError(r.node.id, `${first.meta.error?.message} (record key ${JSON.stringify(first.key)}; settings.onError is "stop")`);
    }
    if (this.o.preview || !this.o.store) return;
    const letters: DeadLetter[] = records.map((rec) => ({ node: r.node.id, error: rec.meta.error?.message ?? 'failed', record: rec }));
    await this.o.store.deadLetter(this.o.plan.flow.name, letters);
    this.deadLetters += letters.length;
  }
}
