/**
 * A bounded async FIFO: `push` waits while it is full, `shift` waits while it is empty. This is the
 * backpressure: a slow consumer makes its producers wait, so memory stays flat whatever the input size.
 */
export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly waitingPush: (() => void)[] = [];
  private readonly waitingShift: ((item: T) => void)[] = [];

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError('queue capacity must be at least 1');
  }

  get size(): number {
    return this.items.length;
  }

  async push(item: T): Promise<void> {
    const taker = this.waitingShift.shift();
    if (taker) {
      taker(item);
      return;
    }
    while (this.items.length >= this.capacity) await new Promise<void>((r) => this.waitingPush.push(r));
    this.items.push(item);
  }

  async shift(): Promise<T> {
    if (this.items.length > 0) {
      const item = this.items.shift() as T;
      this.waitingPush.shift()?.();
      return item;
    }
    return new Promise<T>((r) => this.waitingShift.push(r));
  }
}

/** A promise that resolves when `signal` aborts, or after `ms`. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
