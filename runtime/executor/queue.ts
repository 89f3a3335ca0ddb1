/**
 * A bounded async FIFO: `push` waits while it is full, `shift` waits while it is empty. This is the
 * backpressure: a slow consumer makes its producers wait, so memory stays flat whatever the input size.
 */
/** what `push` and `shift` of a closed queue throw: the run is over, its loops take and give no more batches */
export class QueueClosed extends Error {
  constructor() {
    super('the queue is closed');
  }
}

export class BoundedQueue<T> {
  private readonly items: T[] = [];
  private readonly waitingPush: (() => void)[] = [];
  private readonly waitingShift: { resolve: (item: T) => void; reject: (err: Error) => void }[] = [];
  private closed_ = false;

  constructor(readonly capacity: number) {
    if (capacity < 1) throw new RangeError('queue capacity must be at least 1');
  }

  get size(): number {
    return this.items.length;
  }

  get closed(): boolean {
    return this.closed_;
  }

  /** drops what is queued; a push or shift waiting now, or called later, throws QueueClosed */
  close(): void {
    if (this.closed_) return;
    this.closed_ = true;
    this.items.length = 0;
    for (const w of this.waitingShift.splice(0)) w.reject(new QueueClosed());
    for (const w of this.waitingPush.splice(0)) w();
  }

  async push(item: T): Promise<void> {
    if (this.closed_) throw new QueueClosed();
    const taker = this.waitingShift.shift();
    if (taker) {
      taker.resolve(item);
      return;
    }
    while (this.items.length >= this.capacity) {
      await new Promise<void>((r) => this.waitingPush.push(r));
      if (this.closed_) throw new QueueClosed();
    }
    this.items.push(item);
  }

  async shift(): Promise<T> {
    if (this.closed_) throw new QueueClosed();
    if (this.items.length > 0) {
      const item = this.items.shift() as T;
      this.waitingPush.shift()?.();
      return item;
    }
    return new Promise<T>((resolve, reject) => this.waitingShift.push({ resolve, reject }));
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
