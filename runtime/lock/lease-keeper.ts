/**
 * Keeps a running flow's lease alive: extends it every third of its ttl, and when extending fails
 * (Redis away, the lease taken) keeps trying only while the lease is still valid. A quarter of the ttl
 * before it would lapse unrenewed, the holder is told it lost the lease (`onLost`), so the flow stops
 * while it still holds it: a flow never runs unlocked.
 */
import { errorMessage } from '../errors.js';
import { systemClock, type Clock } from '../cluster/clock.js';
import type { Lease } from './lock.js';

export interface LeaseKeeperOptions {
  ttlMs: number;
  clock?: Clock;
  /** called once, when the lease can no longer be trusted */
  onLost(reason: string): void;
}

export class LeaseKeeper {
  private readonly clock: Clock;
  private validUntil: number;
  private renewTimer?: unknown;
  private deadlineTimer?: unknown;
  private stopped = false;
  private lastError?: string;

  constructor(private readonly lease: Lease & { readonly validUntil?: number }, private readonly options: LeaseKeeperOptions) {
    this.clock = options.clock ?? systemClock;
    this.validUntil = lease.validUntil ?? this.clock.now() + options.ttlMs;
  }

  /** how long before the lease lapses the holder gives it up */
  get margin(): number {
    return Math.floor(this.options.ttlMs / 4);
  }

  start(): void {
    this.schedule(Math.floor(this.options.ttlMs / 3));
    this.armDeadline();
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.renewTimer);
    this.clock.clearTimeout(this.deadlineTimer);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.clock.clearTimeout(this.renewTimer);
    this.renewTimer = this.clock.setTimeout(() => void this.renew(), ms);
  }

  private armDeadline(): void {
    this.clock.clearTimeout(this.deadlineTimer);
    const ms = Math.max(0, this.validUntil - this.margin - this.clock.now());
    this.deadlineTimer = this.clock.setTimeout(() => this.lose(), ms);
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    const began = this.clock.now();
    try {
      await this.lease.extend(this.options.ttlMs);
      if (this.stopped) return;
      this.validUntil = this.lease.validUntil ?? began + this.options.ttlMs;
      this.lastError = undefined;
      this.armDeadline();
      this.schedule(Math.floor(this.options.ttlMs / 3));
    } catch (err) {
      if (this.stopped) return;
      this.lastError = errorMessage(err);
      // still valid for a while: try again soon (Redis may be back), the deadline timer stands
      this.schedule(Math.max(50, Math.floor(this.options.ttlMs / 10)));
    }
  }

  private lose(): void {
    if (this.stopped) return;
    this.stop();
    const why = this.lastError ? `it could not be extended (${this.lastError})` : 'it was not extended in time';
    this.options.onLost(`lease ${this.lease.token} on ${this.lease.resource} expires at ${new Date(this.validUntil).toISOString()} and ${why}`);
  }
}
