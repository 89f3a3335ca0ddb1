import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../runtime/cluster/clock.js';
import { LeaseKeeper } from '../../runtime/lock/lease-keeper.js';
import type { Lease } from '../../runtime/lock/lock.js';

/** a lease whose extend answers as the test says, valid for ttl from the last success on the manual clock */
function lease(clock: ManualClock, ttl: number) {
  let validUntil = clock.now() + ttl;
  const state = { up: true, extends: 0 };
  const l: Lease & { validUntil: number } = {
    resource: 'flow:x',
    token: 7,
    get validUntil() {
      return validUntil;
    },
    async extend(ms: number) {
      state.extends++;
      if (!state.up) throw new Error('Redis is away');
      validUntil = clock.now() + ms;
    },
    async release() {},
  };
  return { lease: l, state };
}

describe('LeaseKeeper', () => {
  it('extends every third of the ttl and never reports a kept lease lost', async () => {
    const clock = new ManualClock();
    const { lease: l, state } = lease(clock, 3000);
    const lost: string[] = [];
    const keeper = new LeaseKeeper(l, { ttlMs: 3000, clock, onLost: (r) => lost.push(r) });
    keeper.start();
    await clock.advance(30_000);
    expect(lost).toEqual([]);
    expect(state.extends).toBeGreaterThanOrEqual(29);
    keeper.stop();
  });

  it('Redis away: keeps the flow only while the lease is valid, then reports it lost before it lapses', async () => {
    const clock = new ManualClock();
    const { lease: l, state } = lease(clock, 4000);
    const lost: { at: number; reason: string }[] = [];
    const keeper = new LeaseKeeper(l, { ttlMs: 4000, clock, onLost: (reason) => lost.push({ at: clock.now(), reason }) });
    keeper.start();
    await clock.advance(1400); // one extension went through at 1333
    const validUntil = l.validUntil;
    state.up = false;
    await clock.advance(validUntil - clock.now() - 1001);
    expect(lost).toEqual([]); // still valid: runs on, retrying
    const retries = state.extends;
    await clock.advance(10_000);
    expect(lost).toHaveLength(1);
    expect(lost[0].at).toBe(validUntil - 1000); // a quarter of the ttl before the end
    expect(lost[0].at).toBeLessThan(validUntil);
    expect(lost[0].reason).toMatch(/lease 7 on flow:x expires at .* could not be extended \(Redis is away\)/);
    expect(retries).toBeGreaterThan(2);
    // once lost, it stops trying
    const after = state.extends;
    await clock.advance(10_000);
    expect(state.extends).toBe(after);
  });

  it('Redis back before the end: the lease is kept', async () => {
    const clock = new ManualClock();
    const { lease: l, state } = lease(clock, 4000);
    const lost: string[] = [];
    new LeaseKeeper(l, { ttlMs: 4000, clock, onLost: (r) => lost.push(r) }).start();
    state.up = false;
    await clock.advance(2500);
    state.up = true;
    await clock.advance(20_000);
    expect(lost).toEqual([]);
  });

  it('an extend that hangs (a stopped process, a partition) does not keep the lease', async () => {
    const clock = new ManualClock();
    const l: Lease = { resource: 'flow:y', token: 1, extend: () => new Promise(() => undefined), release: async () => undefined };
    const lost: number[] = [];
    new LeaseKeeper(l, { ttlMs: 2000, clock, onLost: () => lost.push(clock.now()) }).start();
    const start = clock.now();
    await clock.advance(5000);
    expect(lost).toEqual([start + 1500]);
  });
});
