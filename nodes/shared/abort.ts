/** Waiting that ends early when the flow is asked to stop (ctx.signal). */

/**
 * Waits `ms` milliseconds. Resolves `true` when the time has passed, `false` as soon as `signal` aborts
 * (at once when it is already aborted). Never rejects.
 */
export function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A source's "something arrived" signal: `wait(signal)` resolves at the next `wake()`, or as soon as
 * `signal` aborts (at once when it is already aborted). A `wake()` with nobody waiting is dropped: the
 * waiter checks its queue before waiting.
 */
export class Wakeup {
  private waiter?: () => void;

  wake(): void {
    this.waiter?.();
  }

  wait(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = () => {
        this.waiter = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.waiter = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
