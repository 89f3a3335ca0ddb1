/**
 * How much of the heap what `keep` returns holds after a full GC: for tests that a value kept beyond a
 * batch does not keep the text or buffer it was read from alive.
 */
import { fullGc } from '../../runtime/executor/memory.js';

export async function retainedBytes(keep: () => unknown[] | Promise<unknown[]>): Promise<{ bytes: number; kept: unknown[] }> {
  const gc = fullGc();
  if (!gc) throw new Error('retainedBytes: V8 gave no gc() (needs --expose-gc or setFlagsFromString)');
  const settle = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const before = settle();
  const kept = await keep();
  const bytes = settle() - before;
  // kept alive until measured
  return { bytes, kept: kept.slice() };
}
