/**
 * Keeps a running flow's lease alive. The budget, for a lease of ttl:
 *   - a renewal every fifth of the ttl, counted from the start of the one before (not from its answer,
 *     which a loaded machine delays), so several attempts fit before the deadline;
 *   - the deadline, a quarter of the ttl before the lease would lapse unrenewed (`margin`): the time the
 *     holder keeps for stopping.
 * At the deadline, a renewal that failed (Redis refused or is away) means the lease is lost (`onLost`):
 * the flow stops while it still holds it. A renewal still awaited (a stalled process fires its timers
 * late; Redis answers slowly) is not a lost lease: the holder is held (`onDoubt`: nothing new read or
 * written) until the answer, then goes on (`onKept`, same lease, same token) or stops (`onLost`), and at
 * the latest when the lease ends. So a flow never reads or writes past the deadline on a lease it could
 * not confirm, and a stall shorter than the lease does not restart it.
 */
import { errorMessage } from '../errors.js';
import { systemClock, type Clock } from '../cluster/clock.js';
import type { Lease } from './lock.js';

export interface LeaseKeeperOptions {
  ttlMs: number;
  clock?: Clock;
  /** called once, when the lease can no longer be trusted */
  onLost(reason: string): void;
  /** the deadline came with a renewal still unanswered: read and write nothing new until onKept or onLost */
  onDoubt(): void;
  /** the renewal awaited since onDoubt went through: the lease is still this holder's */
  onKept(): void;
}

export class LeaseKeeper {
  private readonly clock: Clock;
  private validUntil: number;
  private renewTimer?: unknown;
  private deadlineTimer?: unknown;
  private stopped = false;
  private renewing = false;
  private inDoubt = false;
  private lastError?: string;

  constructor(private readonly lease: Lease & { readonly validUntil?: number }, private readonly options: LeaseKeeperOptions) {
    this.clock = options.clock ?? systemClock;
    this.validUntil = lease.validUntil ?? this.clock.now() + options.ttlMs;
  }

  /** how long before the lease lapses the holder gives it up */
  get margin(): number {
    return Math.floor(this.options.ttlMs / 4);
  }

  /** from the start of one renewal to the next */
  get period(): number {
    return Math.max(10, Math.floor(this.options.ttlMs / 5));
  }

  start(): void {
    this.schedule(this.period);
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
    this.deadlineTimer = this.clock.setTimeout(() => this.deadline(), ms);
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.renewing) return;
    this.renewing = true;
    const began = this.clock.now();
    let failed: string | undefined;
    try {
      await this.lease.extend(this.options.ttlMs);
    } catch (err) {
      failed = errorMessage(err);
    }
    this.renewing = false;
    if (this.stopped) return;
    if (failed !== undefined) {
      this.lastError = failed;
      // the answer the holder was held for is no: it stops now
      if (this.inDoubt) return this.lose();
      // still valid for a while: try again soon (Redis may be back), the deadline timer stands
      return this.schedule(Math.max(50, Math.floor(this.options.ttlMs / 10)));
    }
    this.validUntil = this.lease.validUntil ?? began + this.options.ttlMs;
    this.lastError = undefined;
    // the answer to a renewal sent before a stall may still leave the lease past its deadline: again, held
    if (this.clock.now() >= this.validUntil - this.margin) return this.deadline();
    this.armDeadline();
    this.schedule(Math.max(0, began + this.period - this.clock.now()));
    if (this.inDoubt) {
      this.inDoubt = false;
      this.options.onKept();
    }
  }

  /** the lease is `margin` from its end and no renewal moved it */
  private deadline(): void {
    if (this.stopped) return;
    const now = this.clock.now();
    if (now >= this.validUntil || (this.lastError && !this.renewing)) return this.lose();
    // a renewal is due or on its way: hold the holder until its answer, or until the lease ends
    if (!this.inDoubt) {
      this.inDoubt = true;
      this.options.onDoubt();
    }
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.clock.setTimeout(() => this.lose(), this.validUntil - now);
    if (!this.renewing) void this.renew();
  }

  private lose(): void {
    if (this.stopped) return;
    this.stop();
    const why = this.lastError ? `it could not be extended (${this.lastError})` : 'it was not extended in time';
    this.options.onLost(`lease ${this.lease.token} on ${this.lease.resource} expires at ${new Date(this.validUntil).toISOString()} and ${why}`);
  }
}
