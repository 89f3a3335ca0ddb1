/**
 * The lease a run holds on its flow while it runs: taken before anything is read, kept alive by a
 * LeaseKeeper, and when it cannot be kept the run is told (onLost) before it lapses, so a flow never
 * runs unlocked. While a renewal is awaited past the keeper's deadline the run is held (`held()`):
 * its sources read and its sinks write nothing new until the lease is kept (the run goes on, same
 * token) or lost (the run stops). The in-process lease (single mode) and the Redis one (cluster) plug in
 * here alike.
 */
import { UserError, errorMessage } from '../errors.js';
import type { Clock } from '../cluster/clock.js';
import { LeaseKeeper } from '../lock/lease-keeper.js';
import type { Lease, LockService } from '../lock/lock.js';
import { Gate } from './runner.js';

export class RunLease {
  private keeper!: LeaseKeeper;
  private hold?: Gate;
  private lost = false;

  private constructor(private readonly lease: Lease) {}

  /** takes the lease on `flow:NAME` (a UserError if another holder has it) and starts keeping it */
  static async acquire(
    locks: LockService,
    flowName: string,
    o: { ttlMs: number; clock?: Clock; onLost(reason: string): void; /** the run is held (true) or goes on (false), for the log */ onHeld?(held: boolean): void },
  ): Promise<RunLease> {
    const lease = await locks.acquire(`flow:${flowName}`, o.ttlMs).catch((err) => {
      throw new UserError(`flow ${flowName} cannot start: ${errorMessage(err)}`);
    });
    const run = new RunLease(lease);
    run.keeper = new LeaseKeeper(lease, {
      ttlMs: o.ttlMs,
      clock: o.clock,
      // the run is told first (it stops), then what waits on the hold learns the lease is gone
      onLost: (reason) => {
        run.lost = true;
        o.onLost(reason);
        run.endHold();
      },
      onDoubt: () => {
        run.hold ??= new Gate();
        o.onHeld?.(true);
      },
      onKept: () => {
        run.endHold();
        o.onHeld?.(false);
      },
    });
    run.keeper.start();
    return run;
  }

  /** the fencing token every checkpoint write carries */
  get token(): number {
    return this.lease.token;
  }

  /**
   * undefined while the lease is sure; while it is in doubt, a promise that answers true once it is
   * kept (go on) or false once it is lost (read or write nothing more; false from then on)
   */
  held(): Promise<boolean> | undefined {
    if (this.lost) return Promise.resolve(false);
    return this.hold?.promise.then(() => !this.lost);
  }

  /** stops extending it (the run's loops ended); the last commit still carries its token */
  stopKeeping(): void {
    this.keeper.stop();
  }

  async release(): Promise<void> {
    this.keeper.stop();
    await this.lease.release().catch(() => undefined);
  }

  private endHold(): void {
    const hold = this.hold;
    this.hold = undefined;
    hold?.open();
  }
}
