/**
 * When and what a run commits. Stateless flows commit each source's position as soon as it advances
 * (every batch up to it acknowledged), serialised and coalesced. Flows with stateful nodes commit at
 * aligned checkpoints instead: sources wait at the gate until nothing is in flight, then node state and
 * positions are saved together, so they agree. Every save carries the lease's fencing token.
 */
import { errorMessage } from '../errors.js';
import type { Clock } from '../cluster/clock.js';
import type { Logger } from '../node-api.js';
import type { CheckpointStore } from '../state/checkpoint-store.js';
import { sleepOn } from './run-clock.js';
import { Gate, type Runner } from './runner.js';
import type { PositionLedger } from './tracker.js';
import { secondsSince, type RunObserver } from './observer.js';

export interface CheckpointerOptions {
  store: CheckpointStore;
  flowName: string;
  runners: Map<string, Runner>;
  ledgers: Map<string, PositionLedger>;
  stateful: boolean;
  /** the current fencing token (0 without a lease) */
  token(): number;
  inFlight(): number;
  signal: AbortSignal;
  clock: Clock;
  log: Logger;
  observer?: RunObserver;
  fail(err: unknown): void;
}

export class Checkpointer {
  private chain: Promise<void> = Promise.resolve();
  private queued = false;
  private timer?: unknown;
  private ended = false;
  /** closed while an aligned checkpoint waits for the flow to be still */
  gate?: Gate;

  constructor(private readonly o: CheckpointerOptions) {}

  /** node state is saved with the positions, at aligned checkpoints */
  get stateful(): boolean {
    return this.o.stateful;
  }

  /** a source's position advanced */
  onAdvance(): void {
    if (this.o.stateful) return; // stateful flows commit at aligned checkpoints
    void this.commit(false).catch((err) => this.o.fail(err));
  }

  /**
   * Stateful flows: takes aligned checkpoints from now on. Self-scheduling: the next one waits at least
   * ten times as long as the last one took, so a large state (a nest of a million children) costs at
   * most ~10 % of the run, not the whole run.
   */
  start(intervalMs: number): void {
    if (!this.o.stateful) return;
    const { clock } = this.o;
    const schedule = (delay: number) => {
      this.timer = clock.setTimeout(() => {
        const began = clock.now();
        void this.aligned().finally(() => {
          if (!this.ended && !this.o.signal.aborted) schedule(Math.max(intervalMs, 10 * (clock.now() - began)));
        });
      }, delay);
    };
    schedule(intervalMs);
  }

  /** no more scheduled checkpoints (the loops ended) */
  stop(): void {
    this.ended = true;
    this.o.clock.clearTimeout(this.timer);
  }

  /** saves every source's committable position (and node state when `withState`); serialised, coalesced */
  commit(withState: boolean): Promise<void> {
    if (this.queued && !withState) return this.chain;
    this.queued = true;
    this.chain = this.chain
      .catch(() => undefined)
      .then(() => {
        this.queued = false;
        return this.save(withState);
      });
    return this.chain;
  }

  private async save(withState: boolean): Promise<void> {
    if (this.o.stateful && !withState) return;
    const t0 = process.hrtime.bigint();
    const positions: Record<string, unknown> = {};
    for (const [id, l] of this.o.ledgers) if (l.committable !== undefined) positions[id] = l.committable;
    const state: Record<string, unknown> = {};
    for (const [id, r] of this.o.runners) {
      if (r.instance?.kind === 'transform' && r.instance.snapshot) state[id] = r.instance.snapshot();
    }
    await this.o.store.save(this.o.flowName, { positions, state }, this.o.token());
    this.o.observer?.checkpoint?.(secondsSince(t0));
    for (const [id, position] of Object.entries(positions)) {
      const inst = this.o.runners.get(id)?.instance;
      if (inst?.kind === 'source' && inst.committed) {
        try {
          await inst.committed(position);
        } catch (err) {
          this.o.log.warn(`${id}: could not confirm committed position upstream: ${errorMessage(err)}`);
        }
      }
    }
  }

  /** pauses the sources, waits until nothing is in flight, saves state and positions together */
  private async aligned(): Promise<void> {
    const { signal } = this.o;
    if (this.gate || signal.aborted) return;
    const gate = (this.gate = new Gate());
    try {
      while (this.o.inFlight() > 0 && !signal.aborted) await sleepOn(this.o.clock, 1);
      if (!signal.aborted) await this.commit(true);
    } catch (err) {
      this.o.fail(err);
    } finally {
      this.gate = undefined;
      gate.open();
    }
  }
}
