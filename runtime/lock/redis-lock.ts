/**
 * Leases across processes and machines (cluster mode): a Redlock lease over ioredis per resource, and
 * a fencing token taken from a Redis counter at each acquisition. The counter never goes below the
 * wall clock in ms (a Redis restarted without persistence forgets it; the next token is still larger
 * than any issued before), so the checkpoint store can always refuse a former holder by its token.
 *
 * `validUntil` is the end of the lease as this process can trust it (Redlock's start + ttl − drift):
 * LeaseKeeper (lease-keeper.ts) stops the flow before it, whatever Redis answers meanwhile.
 */
import { ExecutionError, Redlock, ResourceLockedError, type Lock } from '@sesamecare-oss/redlock';
import type { Redis } from 'ioredis';
import { errorMessage } from '../errors.js';
import { LockBusyError, type Lease, type LockService } from './lock.js';

/** INCR that never answers less than ARGV[1] (the wall clock, ms) */
const NEXT_TOKEN = `
local v = redis.call('INCR', KEYS[1])
local floor = tonumber(ARGV[1])
if v < floor then
  redis.call('SET', KEYS[1], floor)
  v = floor
end
return v`;

export interface RedisLockOptions {
  /** key prefix (default `sluice:`): lock keys are PREFIXlock:RESOURCE, counters PREFIXfence:RESOURCE */
  prefix?: string;
  /** who holds it, stored beside the lock for the cluster view (default: none) */
  holder?: string;
}

export interface RedisLease extends Lease {
  /** ms since the epoch (this process's clock) until which the lease is certainly held */
  readonly validUntil: number;
}

export class RedisLockService implements LockService {
  private readonly redlock: Redlock;
  private readonly prefix: string;

  constructor(private readonly redis: Redis, private readonly options: RedisLockOptions = {}) {
    // one try per call: the callers retry on their own schedule (the agent's reconcile loop)
    // Redlock's scripts SELECT their own database (0 unless told): the connection's, so locks sit beside the rest
    this.redlock = new Redlock([redis], { retryCount: 0, driftFactor: 0.01, db: redis.options.db ?? 0 });
    // an error event without a listener would end the process
    this.redlock.on('error', () => undefined);
    this.prefix = options.prefix ?? 'sluice:';
  }

  lockKey(resource: string): string {
    return `${this.prefix}lock:${resource}`;
  }

  fenceKey(resource: string): string {
    return `${this.prefix}fence:${resource}`;
  }

  holderKey(resource: string): string {
    return `${this.prefix}holder:${resource}`;
  }

  async acquire(resource: string, ttlMs: number): Promise<RedisLease> {
    let lock: Lock;
    try {
      lock = await this.redlock.acquire([this.lockKey(resource)], Math.round(ttlMs));
    } catch (err) {
      if (await heldElsewhere(err)) throw new LockBusyError(`${resource} is held by another agent`);
      throw new Error(`cannot take the lease on ${resource}: Redis: ${describe(err)}`);
    }
    let token: number;
    try {
      token = Number(await this.redis.eval(NEXT_TOKEN, 1, this.fenceKey(resource), String(Date.now())));
      if (this.options.holder) await this.redis.set(this.holderKey(resource), JSON.stringify({ agent: this.options.holder, token }), 'PX', Math.round(ttlMs));
    } catch (err) {
      await this.redlock.release(lock).catch(() => undefined);
      throw new Error(`cannot take a fencing token for ${resource}: Redis: ${describe(err)}`);
    }
    return new HeldLease(resource, token, lock, this, this.options.holder);
  }

  /** the newest token issued for `resource` (0 when none) */
  async lastToken(resource: string): Promise<number> {
    return Number((await this.redis.get(this.fenceKey(resource))) ?? 0);
  }

  /** who holds `resource` now and until when (ms left), as far as Redis knows */
  async holder(resource: string): Promise<{ agent?: string; token?: number; ttlMs: number } | undefined> {
    const [ttl, holder] = await Promise.all([this.redis.pttl(this.lockKey(resource)), this.redis.get(this.holderKey(resource))]);
    if (ttl < 0) return undefined;
    const h = holder ? (JSON.parse(holder) as { agent?: string; token?: number }) : {};
    return { ...h, ttlMs: ttl };
  }

  /** @internal */
  extendLock(lock: Lock, ttlMs: number): Promise<Lock> {
    return this.redlock.extend(lock, Math.round(ttlMs));
  }

  /** @internal */
  async releaseLock(lock: Lock, resource: string, token: number): Promise<void> {
    await this.redlock.release(lock);
    // the holder note goes only if it is still ours
    const key = this.holderKey(resource);
    const note = await this.redis.get(key);
    if (note && (JSON.parse(note) as { token?: number }).token === token) await this.redis.del(key);
  }

  /** @internal */
  async touchHolder(resource: string, token: number, ttlMs: number): Promise<void> {
    if (this.options.holder) await this.redis.set(this.holderKey(resource), JSON.stringify({ agent: this.options.holder, token }), 'PX', Math.round(ttlMs));
  }
}

class HeldLease implements RedisLease {
  constructor(
    readonly resource: string,
    readonly token: number,
    private lock: Lock,
    private readonly service: RedisLockService,
    private readonly holder?: string,
  ) {}

  get validUntil(): number {
    return this.lock.expiration;
  }

  async extend(ttlMs: number): Promise<void> {
    try {
      this.lock = await this.service.extendLock(this.lock, ttlMs);
    } catch (err) {
      throw new Error(`could not extend the lease ${this.token} on ${this.resource}: ${describe(err)}`);
    }
    // the holder note is for the cluster view: the renewal does not wait for it (a second round trip)
    if (this.holder) void this.service.touchHolder(this.resource, this.token, ttlMs).catch(() => undefined);
  }

  async release(): Promise<void> {
    await this.service.releaseLock(this.lock, this.resource, this.token);
  }
}

/** Redlock's "no quorum" because the lock key holds another value (Redis itself answered), not because Redis is away */
async function heldElsewhere(err: unknown): Promise<boolean> {
  if (!(err instanceof ExecutionError) || err.attempts.length === 0) return false;
  const stats = await Promise.all(err.attempts).catch(() => []);
  const against = stats.flatMap((s) => [...s.votesAgainst.values()]);
  return against.length > 0 && against.every((e) => e instanceof ResourceLockedError);
}

function describe(err: unknown): string {
  return errorMessage(err);
}
