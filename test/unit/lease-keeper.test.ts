import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../runtime/cluster/clock.js';
import { LeaseKeeper } from '../../runtime/lock/lease-keeper.js';
import type { Lease } from '../../runtime/lock/lock.js';

/**
 * a lease whose extend answers as the test says, valid for ttl from the last success on the manual clock;
 * with `roundTripMs`, the answer comes that long after the call (a Redis that answers over the network)
 */
function lease(clock: ManualClock, ttl: number, roundTripMs = 0) {
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
      const began = clock.now();
      if (roundTripMs > 0) await new Promise<void>((r) => clock.setTimeout(r, roundTripMs));
      if (!state.up) throw new Error('Redis is away');
      validUntil = began + ms;
    },
    async release() {},
  };
  return { lease: l, state };
}

/** what a keeper told its holder, and when */
function holder(clock: ManualClock) {
  const told: { what: 'doubt' | 'kept' | 'lost'; at: number; reason?: string }[] = [];
  return {
    told,
    lost: () => told.filter((t) => t.what === 'lost'),
    options: {
      clock,
      onLost: (reason: string) => told.push({ what: 'lost', at: clock.now(), reason }),
      onDoubt: () => told.push({ what: 'doubt', at: clock.now() }),
      onKept: () => told.push({ what: 'kept', at: clock.now() }),
    },
  };
}

describe('LeaseKeeper', () => {
  it('extends every fifth of the ttl, counted from the start of the one before, and never reports a kept lease lost', async () => {
    const clock = new ManualClock();
    // Redis answers in 100 ms: the renewals stay 600 ms apart, not 600 + 100
    const { lease: l, state } = lease(clock, 3000, 100);
    const h = holder(clock);
    const keeper = new LeaseKeeper(l, { ttlMs: 3000, ...h.options });
    keeper.start();
    await clock.advance(30_000);
    expect(h.told).toEqual([]);
    expect(state.extends).toBe(50);
    keeper.stop();
  });

  it('a stalled process (its timers fire late, past the deadline, inside the lease): holds the holder until Redis answers, then keeps the lease', async () => {
    const clock = new ManualClock();
    const { lease: l, state } = lease(clock, 2000, 5);
    const h = holder(clock);
    const keeper = new LeaseKeeper(l, { ttlMs: 2000, ...h.options });
    keeper.start();
    await clock.advance(420); // the renewal at 400 went through (answered at 405)
    const validUntil = l.validUntil;
    // the event loop blocked for 1.6 s (longer than the renewal period, shorter than the lease): the
    // renewal and the deadline (validUntil − 500) are both overdue when it turns again
    clock.stall(1600);
    expect(clock.now()).toBeGreaterThan(validUntil - keeper.margin);
    expect(clock.now()).toBeLessThan(validUntil);
    const extendsBefore = state.extends;
    await clock.advance(0);
    expect(h.told.map((t) => t.what)).toEqual(['doubt']);
    await clock.advance(5); // Redis's answer: the lease is still this holder's
    expect(h.told.map((t) => t.what)).toEqual(['doubt', 'kept']);
    expect(state.extends).toBe(extendsBefore + 1);
    await clock.advance(10_000);
    expect(h.lost()).toEqual([]);
    keeper.stop();
  });

  it('Redis away: keeps the flow only while the lease is valid, then reports it lost before it lapses', async () => {
    const clock = new ManualClock();
    const { lease: l, state } = lease(clock, 4000);
    const h = holder(clock);
    const lost = h.lost;
    const keeper = new LeaseKeeper(l, { ttlMs: 4000, ...h.options });
    keeper.start();
    await clock.advance(1400); // one extension went through at 1333
    const validUntil = l.validUntil;
    state.up = false;
    await clock.advance(validUntil - clock.now() - 1001);
    expect(h.told).toEqual([]); // still valid: runs on, retrying
    const retries = state.extends;
    await clock.advance(10_000);
    // Redis said no: lost at once, not held
    expect(h.told.map((t) => t.what)).toEqual(['lost']);
    expect(lost()[0].at).toBe(validUntil - 1000); // a quarter of the ttl before the end
    expect(lost()[0].at).toBeLessThan(validUntil);
    expect(lost()[0].reason).toMatch(/lease 7 on flow:x expires at .* could not be extended \(Redis is away\)/);
    expect(retries).toBeGreaterThan(2);
    // once lost, it stops trying
    const after = state.extends;
    await clock.advance(10_000);
    expect(state.extends).toBe(after);
  });

  it('Redis back before the end: the lease is kept', async () => {
    const clock = new ManualClock();
    const { lease: l, state } = lease(clock, 4000);
    const h = holder(clock);
    new LeaseKeeper(l, { ttlMs: 4000, ...h.options }).start();
    state.up = false;
    await clock.advance(2500);
    state.up = true;
    await clock.advance(20_000);
    expect(h.told).toEqual([]);
  });

  it('an extend that hangs (a stopped process, a partition) does not keep the lease: held at the deadline, lost when it ends', async () => {
    const clock = new ManualClock();
    const l: Lease = { resource: 'flow:y', token: 1, extend: () => new Promise(() => undefined), release: async () => undefined };
    const h = holder(clock);
    new LeaseKeeper(l, { ttlMs: 2000, ...h.options }).start();
    const start = clock.now();
    await clock.advance(5000);
    expect(h.told.map((t) => [t.what, t.at])).toEqual([
      ['doubt', start + 1500],
      ['lost', start + 2000],
    ]);
    expect(h.lost()[0].reason).toMatch(/was not extended in time/);
  });

  it('an answer of no while held: lost at once', async () => {
    const clock = new ManualClock();
    // Redis answers the renewal at 400 only at 1700, after the deadline (1500)
    const { lease: l, state } = lease(clock, 2000, 1300);
    const h = holder(clock);
    new LeaseKeeper(l, { ttlMs: 2000, ...h.options }).start();
    await clock.advance(1600);
    expect(h.told.map((t) => t.what)).toEqual(['doubt']);
    state.up = false;
    await clock.advance(100);
    expect(h.told.map((t) => t.what)).toEqual(['doubt', 'lost']);
    expect(h.lost()[0].at).toBeLessThan(l.validUntil);
    expect(h.lost()[0].reason).toMatch(/could not be extended \(Redis is away\)/);
  });
});
