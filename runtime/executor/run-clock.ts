/**
 * The time a flow run sees (checkpoint schedule, ticks, the stop timeout, its duration): injected, so
 * tests drive it with a ManualClock instead of sleeping. The default keeps the process alive while a
 * run's timers are pending, as plain setTimeout does (the cluster's systemClock does not).
 */
import type { Clock } from '../cluster/clock.js';

export type { Clock };

export const wallClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** resolves after `ms` on `clock` */
export function sleepOn(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => clock.setTimeout(resolve, ms));
}

/** calls `fn` every `ms` on `clock` until the returned function is called */
export function every(clock: Clock, ms: number, fn: () => void): () => void {
  let handle: unknown;
  let cancelled = false;
  const arm = () => {
    handle = clock.setTimeout(() => {
      if (cancelled) return;
      arm();
      fn();
    }, ms);
  };
  arm();
  return () => {
    cancelled = true;
    clock.clearTimeout(handle);
  };
}
