/** RedisLockService against a real Redis (REDIS_URL, else the run's private redis-server). */
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { LockBusyError } from '../../runtime/lock/lock.js';
import { RedisLockService } from '../../runtime/lock/redis-lock.js';
import { LeaseKeeper } from '../../runtime/lock/lease-keeper.js';
import { connectRedis } from '../../runtime/cluster/redis-keys.js';
import { probeRedis, service } from '../helpers/services.js';

const redisService = await service('Redis', 'REDIS_URL', 'redis://127.0.0.1:6379', probeRedis);

describe.skipIf(!redisService.available)('RedisLockService', () => {
  // Redis database 13 of its own (test/helpers/cluster.ts clusterFixture lists who has which)
  const url = `${redisService.url.replace(/\/\d*$/, '')}/13`;
  const redis = connectRedis(url);
  afterAll(() => redis.quit());

  it('one holder at a time; tokens only grow; a released lease can be taken again', async () => {
    await redis.connect().catch(() => undefined);
    await redis.flushdb();
    const a = new RedisLockService(redis, { holder: 'a' });
    const b = new RedisLockService(redis, { holder: 'b' });
    const first = await a.acquire('flow:x', 2000);
    expect(first.token).toBeGreaterThanOrEqual(Date.now() - 5000); // never below the wall clock
    expect(first.validUntil).toBeGreaterThan(Date.now());
    await expect(b.acquire('flow:x', 2000)).rejects.toBeInstanceOf(LockBusyError);
    expect(await b.holder('flow:x')).toMatchObject({ agent: 'a', token: first.token });
    await first.extend(2000);
    await first.release();
    expect(await b.holder('flow:x')).toBeUndefined();
    const second = await b.acquire('flow:x', 2000);
    expect(second.token).toBeGreaterThan(first.token);
    await second.release();
  });

  it('a lease left to lapse can be taken by another, and the former holder cannot extend it', async () => {
    const a = new RedisLockService(redis);
    const b = new RedisLockService(redis);
    const old = await a.acquire('flow:lapse', 300);
    await new Promise((r) => setTimeout(r, 400)); // the lease's own time: nothing to await but its end
    const fresh = await b.acquire('flow:lapse', 2000);
    expect(fresh.token).toBeGreaterThan(old.token);
    await expect(old.extend(2000)).rejects.toThrow(/could not extend the lease/);
    await fresh.release();
  });

  it('tokens stay above those issued before Redis forgot its counters (a restart without persistence)', async () => {
    const a = new RedisLockService(redis);
    const before = await a.acquire('flow:forget', 2000);
    await before.release();
    await redis.flushdb();
    await new Promise((r) => setTimeout(r, 5));
    const after = await a.acquire('flow:forget', 2000);
    expect(after.token).toBeGreaterThan(before.token);
    await after.release();
  });

  it('the event loop blocked past the deadline but inside the lease (a loaded machine): the keeper holds, Redis confirms, the same lease goes on', async () => {
    await redis.connect().catch(() => undefined);
    const TTL = 3000;
    const a = new RedisLockService(redis, { holder: 'a' });
    const b = new RedisLockService(redis, { holder: 'b' });
    const lease = await a.acquire('flow:stall', TTL);
    const told: string[] = [];
    const keeper = new LeaseKeeper(lease, { ttlMs: TTL, onLost: (r) => told.push(`lost: ${r}`), onDoubt: () => told.push('doubt'), onKept: () => told.push('kept') });
    keeper.start();
    // right after a renewal went through, the loop is blocked (a synchronous wait: Atomics.wait, which
    // spends no CPU, so the machine's scheduler does not make up for it afterwards) for about 2.3 s:
    // longer than the renewal period, shorter than the lease, ending 100 ms past the deadline
    const acquired = lease.validUntil;
    while (lease.validUntil === acquired) await new Promise((r) => setTimeout(r, 2));
    const validUntil = lease.validUntil;
    const blockedFor = validUntil - keeper.margin + 100 - Date.now();
    expect(blockedFor).toBeGreaterThan(keeper.period);
    expect(blockedFor).toBeLessThan(TTL);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, blockedFor);
    await new Promise((r) => setTimeout(r, TTL));
    // held at the deadline, then kept; never lost (a renewal answered late may hold it once more)
    expect(told.filter((t) => t.startsWith('lost'))).toEqual([]);
    expect(told[0]).toBe('doubt');
    expect(told.at(-1)).toBe('kept');
    // the same lease, still a's, and nobody else can take it
    expect(lease.validUntil).toBeGreaterThan(Date.now());
    expect(await b.holder('flow:stall')).toMatchObject({ agent: 'a', token: lease.token });
    await expect(b.acquire('flow:stall', TTL)).rejects.toBeInstanceOf(LockBusyError);
    keeper.stop();
    await lease.release();
  });

  it('Redis away: acquire fails with a message naming the resource, not LockBusyError', async () => {
    const down = connectRedis('redis://127.0.0.1:1');
    const s = new RedisLockService(down);
    const err = await s.acquire('flow:nowhere', 1000).catch((e) => e);
    expect(err).not.toBeInstanceOf(LockBusyError);
    expect(String(err.message)).toMatch(/cannot take the lease on flow:nowhere: Redis:/);
    down.disconnect();
  });
});
