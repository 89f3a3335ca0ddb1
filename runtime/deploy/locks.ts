/**
 * Lease tokens that keep growing across restarts of the process. InProcessLockService numbers leases
 * 1, 2, 3 … from each process start, while the SQLite checkpoint store remembers the highest token that
 * saved: after a server that deployed a flow twice restarts, lease 1 would be fenced off forever. The
 * tokens handed out here are the inner token plus the wall clock at construction (ms), so a later
 * process always holds a larger token than an earlier one.
 */
import { InProcessLockService, type Lease, type LockService } from '../lock/lock.js';

export class RestartSafeLocks implements LockService {
  constructor(
    private readonly inner: LockService = new InProcessLockService(),
    private readonly base: number = Date.now(),
  ) {}

  async acquire(resource: string, ttlMs: number): Promise<Lease> {
    const lease = await this.inner.acquire(resource, ttlMs);
    return {
      resource: lease.resource,
      token: this.base + lease.token,
      extend: (ttl) => lease.extend(ttl),
      release: () => lease.release(),
    };
  }
}
