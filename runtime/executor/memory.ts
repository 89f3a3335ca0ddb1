/**
 * Keeps the off-heap memory that only a full garbage collection frees bounded by the batches in flight.
 *
 * A string handed over by isolated-vm (each sandbox call's results, about the size of the batch as
 * JSON) becomes an external string that V8 allocates in its old space: a minor GC never frees it, and
 * V8 starts a full GC for external memory only once it grew by 64 MB, so a flow that calls the sandbox
 * once per batch carried 64–130 MB of dead results (and the heap fragmentation they leave), more the
 * longer it ran (engine.memory-flat). The watch asks for a full GC once external memory grew by
 * `stepBytes` since the last one. It costs a few milliseconds per `stepBytes` of external memory, and
 * nothing to a flow that makes none.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export class ExternalMemoryWatch {
  private floor: number;
  /** full collections it asked for */
  collections = 0;

  constructor(
    private readonly stepBytes: number,
    private readonly read: () => number = externalMemory,
    private readonly collect: (() => void) | undefined = fullGc(),
  ) {
    this.floor = read();
  }

  /** cheap (one heap-statistics read): call it once per batch */
  check(): void {
    const now = this.read();
    // something else collected (V8 itself, another flow's watch): measure growth from there
    if (now < this.floor) this.floor = now;
    else if (now - this.floor > this.stepBytes && this.collect) {
      this.collect();
      this.collections++;
      this.floor = this.read();
    }
  }
}

export function externalMemory(): number {
  return getHeapStatistics().external_memory;
}

let gcFunction: (() => void) | undefined | null = null;

/**
 * V8's `gc()`: the global one under `node --expose-gc`, else taken from a fresh context with the flag
 * turned on for that moment only (no other context, user code's included, ever sees it). Undefined
 * where V8 refuses.
 */
export function fullGc(): (() => void) | undefined {
  if (gcFunction !== null) return gcFunction;
  const global = (globalThis as { gc?: () => void }).gc;
  if (typeof global === 'function') return (gcFunction = global);
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    gcFunction = typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    gcFunction = undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  return gcFunction;
}
