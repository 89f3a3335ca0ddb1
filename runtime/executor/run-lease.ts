/**
 * The lease a run holds on its flow while it runs: taken before anything is read, kept alive by a
 * LeaseKeeper, and when it cannot be kept the run is told (onLost) before it lapses, so a flow never
 * runs unlocked. The in-process lease (single mode) and the Redis one (cluster) plug in here alike.
 */
import { UserError, errorMessage } from '../errors.js';
import type { Clock } from '../cluster/clock.js';
import { LeaseKeeper } from '../lock/lease-keeper.js';
import type { Lease, LockService } from '../lock/lock.js';

export class RunLease {
  private constructor(private readonly lease: Lease, private readonly keeper: LeaseKeeper) {}

  /** takes the lease on `flow:NAME` (a UserError if another holder has it) and starts keeping it */
  static async acquire(locks: LockService, flowName: string, o: { ttlMs: number; clock?: Clock; onLost(reason: string): void }): Promise<RunLease> {
    const lease = await locks.acquire(`flow:${flowName}`, o.ttlMs).catch((err) => {
      throw new UserError(`flow ${flowName} cannot start: ${errorMessage(err)}`);
    });
    const keeper = new LeaseKeeper(lease, { ttlMs: o.ttlMs, clock: o.clock, onLost: o.onLost });
    keeper.start();
    return new RunLease(lease, keeper);
  }

  /** the fencing token every checkpoint write carries */
  get token(): number {
    return this.lease.token;
  }

  /** stops extending it (the run's loops ended); the last commit still carries its token */
  stopKeeping(): void {
    this.keeper.stop();
  }

  async release(): Promise<void> {
    this.keeper.stop();
    await this.lease.release().catch(() => undefined);
  }
}
