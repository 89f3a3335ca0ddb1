/**
 * Keeps the off-heap memory that only a full garbage collection frees bounded by the batches in flight.
 *
 * A string handed over by isolated-vm (each sandbox call's results, about the size of the batch as
 * JSON) becomes an external string that V8 allocates in its old space: a minor GC never frees it, and
 * V8 starts a full GC for external memory only once it grew by 64 MB, so a flow that calls the sandbox
 * once per batch carried that much of dead results or more (with the heap fragmentation they leave),
 * growing the longer it ran (bench engine.rss-flat). The watch asks for a full GC once external memory grew by
 * `stepBytes` since the last one (more with a large heap, see the constructor). It costs a few
 * milliseconds per step of external memory, and nothing to a flow that makes none.
 *
 * The heap itself: batches wait in queues across I/O, so their records outlive two scavenges and are
 * promoted, and V8 lets the old generation grow to several times what is live before it marks it
 * (a flow's heap went from 30 MB live to 120 MB, and the RSS with it). The watch also collects once the
 * heap grew by what was live after the last collection (at least `heapStepBytes`): the heap stays under
 * about twice what is live, and each full GC is paid for by as many bytes of garbage as it marks.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export interface MemoryReading {
  /** V8's external memory: external strings, array buffers, native allocations it was told of */
  external: number;
  /** live and dead objects in V8's heap */
  heap: number;
}

/**
 * the least heap growth that triggers a collection (see the top of this file): 16 MB kept a flow's
 * host 15 MiB lower than 32 at the same speed (a host's live heap is 15-25 MB, so the step is mostly
 * what is live anyway; bench engine.rss-flat)
 */
export const HEAP_STEP_BYTES = 16 * 1024 * 1024;

export class ExternalMemoryWatch {
  private floor: number;
  private step: number;
  private heapFloor: number;
  /** full collections it asked for */
  collections = 0;

  /**
   * `stepBytes` is the least growth of external memory that triggers a collection; with a large heap
   * the step is a quarter of the heap after the last collection, so a full GC (whose cost grows with
   * the heap) never runs more often than every that many bytes of results. `heapStepBytes` (0: off) is
   * the least growth of the heap that does.
   */
  constructor(
    private readonly stepBytes: number,
    private readonly read: () => MemoryReading = readMemory,
    private readonly collect: (() => void) | undefined = fullGc(),
    private readonly heapStepBytes = HEAP_STEP_BYTES,
  ) {
    const now = read();
    this.floor = now.external;
    this.heapFloor = now.heap;
    this.step = Math.max(stepBytes, now.heap / 4);
  }

  /** cheap (one heap-statistics read): call it once per batch */
  check(): void {
    const { external, heap } = this.read();
    // something else collected (V8 itself, another flow's watch): measure growth from there
    if (external < this.floor) this.floor = external;
    if (heap < this.heapFloor) this.heapFloor = heap;
    const externalGrew = external - this.floor > this.step;
    const heapGrew = this.heapStepBytes > 0 && heap - this.heapFloor > Math.max(this.heapStepBytes, this.heapFloor);
    if ((externalGrew || heapGrew) && this.collect) {
      this.collect();
      this.collections++;
      const after = this.read();
      this.floor = after.external;
      this.heapFloor = after.heap;
      this.step = Math.max(this.stepBytes, after.heap / 4);
    }
  }
}

export function readMemory(): MemoryReading {
  const s = getHeapStatistics();
  return { external: s.external_memory, heap: s.used_heap_size };
}

/**
 * V8's `gc()`: the global one under `node --expose-gc`, else taken from a fresh context with the flag
 * turned on for that moment only. Taken once, when this module loads, before any sandbox isolate
 * exists, so no other context (user code's least of all) is ever created while the flag is on.
 * Undefined where V8 refuses.
 */
const GC: (() => void) | undefined = (() => {
  const global = (globalThis as { gc?: unknown }).gc;
  if (typeof global === 'function') return global as () => void;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    return typeof fn === 'function' ? (fn as () => void) : undefined;
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
})();

export function fullGc(): (() => void) | undefined {
  return GC;
}
