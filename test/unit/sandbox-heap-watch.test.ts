/**
 * How a sandbox worker tells an isolate stuck at its heap limit (a GC death spiral that ends in a fatal
 * abort, seconds later on a loaded machine) from a wedged worker: a call past its timeout while the
 * process grew by more than the isolate's memory limit (IsolatedFunction.stuckAtHeapLimit, which the
 * worker's heap watch asks every 100 ms and then ends the worker saying "out of memory"). Benign code
 * here, in this process; the moment and the RSS are handed in.
 */
import { describe, expect, it } from 'vitest';
import { IsolatedFunction } from '../../runtime/sandbox/isolate-function.js';
import { encodeCalls } from '../../runtime/sandbox/runner.js';

const MB = 1024 * 1024;

describe('the worker heap watch', () => {
  it('names a call past its timeout whose process grew by more than the memory limit, and nothing else', async () => {
    const fn = new IsolatedFunction('(v) => { const end = Date.now() + 400; while (Date.now() < end) {} return v; }', { memoryLimitMb: 64, timeoutMs: 1000, maxOutputMb: 64, label: 'user.config.code' });
    await fn.init();
    try {
      const rss = process.memoryUsage.rss();
      expect(fn.stuckAtHeapLimit(Date.now() + 5000, rss + 200 * MB)).toBeUndefined(); // no call running
      const call = fn.callBatch(encodeCalls([[1]]), 1);
      await new Promise((r) => setTimeout(r, 100)); // the call is in the isolate now
      const now = Date.now();
      expect(fn.stuckAtHeapLimit(now, rss + 200 * MB)).toBeUndefined(); // within its timeout
      expect(fn.stuckAtHeapLimit(now + 1500, rss + 10 * MB)).toBeUndefined(); // past it, but no growth: not memory
      expect(fn.stuckAtHeapLimit(now + 1500, rss + 200 * MB)).toMatch(/^user\.config\.code: out of memory: the isolate is at its heap limit of 64 MB \(the process grew by \d+ MB in a call that ran \d+ ms, past its timeout of 1000 ms\)$/);
      await call;
      expect(fn.stuckAtHeapLimit(now + 1500, rss + 200 * MB)).toBeUndefined(); // the call returned
    } finally {
      fn.dispose();
    }
  });
});
