/**
 * Who may run a flow. A lease carries a fencing token that only grows, which the checkpoint store
 * checks, so a stalled former owner can never commit a position. In-process now; the cluster issue adds
 * a Redlock implementation behind the same interface.
 */
export interface Lease {
  readonly resource: string;
  /** strictly increasing per resource */
  readonly token: number;
  /** keeps the lease alive; rejects if it was lost */
  extend(ttlMs: number): Promise<void>;
  release(): Promise<void>;
}

export interface LockService {
  /** resolves with a lease, or rejects with LockBusyError when another holder has it */
  acquire(resource: string, ttlMs: number): Promise<Lease>;
}

export class LockBusyError extends Error {
  override name = 'LockBusyError';
}

/**
 * Leases within one process (single mode): enough to refuse running the same flow twice at once.
 * Tokens start from the wall clock (ms) when the service is made, so a later process (a restarted
 * server, the next `sluice run`) always holds a larger token than an earlier one and is never fenced
 * off by the checkpoint store.
 */
export class InProcessLockService implements LockService {
  private readonly held = new Map<string, { token: number; expires: number }>();
  private readonly tokens = new Map<string, number>();
  private readonly base: number;

  constructor(private readonly now: () => number = Date.now) {
    this.base = now();
  }

  async acquire(resource: string, ttlMs: number): Promise<Lease> {
    const current = this.held.get(resource);
    if (current && current.expires > this.now()) throw new LockBusyError(`${resource} is already running (held by lease ${current.token})`);
    const token = (this.tokens.get(resource) ?? this.base) + 1;
    this.tokens.set(resource, token);
    this.held.set(resource, { token, expires: this.now() + ttlMs });
    const held = this.held;
    const now = this.now;
    return {
      resource,
      token,
      async extend(ttl: number) {
        const h = held.get(resource);
        if (!h || h.token !== token) throw new LockBusyError(`lease ${token} on ${resource} was lost`);
        h.expires = now() + ttl;
      },
      async release() {
        if (held.get(resource)?.token === token) held.delete(resource);
      },
    };
  }
}
