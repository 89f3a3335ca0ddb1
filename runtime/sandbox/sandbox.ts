/**
 * Sandboxed user code: the interface nodes use. A user function is compiled once into an isolated-vm
 * isolate inside a sandbox worker process (pool.ts) and called once per batch: the records go in as
 * one JSON string and the results come out as the isolate's own JSON texts. No require, process,
 * timers, network, filesystem or WebAssembly exist inside the isolate. A throw, a result that is not
 * JSON, a runaway loop or a memory bomb fails that record alone, with a message that says which. A
 * record that kills its worker process (a fatal abort) is found by running the batch again record by
 * record in a fresh worker, and fails alone too; a function whose records kill workers again and
 * again fails its flow.
 */
import { SandboxPool, WorkerCrash } from './pool.js';
import type { CompileOptions, Segment, UserFunction } from './protocol.js';
import { decodeReplyInto, encodeCalls, replyHead, type BatchResults, type CallResult } from './runner.js';

export { UserCodeError } from './protocol.js';
export { sandboxActivity } from './pool.js';
export type { BatchResults, CallResult } from './runner.js';
export type { CompileOptions, UserFunction } from './protocol.js';

/** records of one function that killed a worker this many times within CRASH_WINDOW_MS fail its flow */
export const CRASH_LIMIT = 5;
const CRASH_WINDOW_MS = 60_000;

/** user code whose records keep killing sandbox processes: the flow stops with this */
export class SandboxCrashLoopError extends Error {
  override name = 'SandboxCrashLoopError';
}

/** puts the results of a call's segments into `into` from index `at` on; throws when they are not `count` */
function decodeInto(segments: Segment[], count: number, label: string, into: BatchResults, at: number): void {
  let got = 0;
  for (const s of segments) {
    if (typeof s === 'string') got += decodeReplyInto(s, into, at + got);
    else
      for (const r of s) {
        if (!r.ok) (into.errors ??= new Map()).set(at + got, r.error);
        into.values[at + got++] = r.ok ? r.value : undefined;
      }
  }
  if (got !== count) throw new Error(`${label}: the sandbox gave ${got} results for ${count} calls`);
}

/** the output cap left after a call's results (the last reply's head says it) */
function capLeft(segments: Segment[], before: number): number {
  for (let i = segments.length - 1; i >= 0; i--) {
    const s = segments[i];
    if (typeof s === 'string') return replyHead(s)?.left ?? 0;
  }
  return before;
}

class PooledFunction implements UserFunction {
  private disposed = false;
  private readonly crashes: number[] = [];

  constructor(
    private readonly pool: SandboxPool,
    private readonly id: number,
    readonly arity: number,
    private readonly options: Required<CompileOptions>,
  ) {}

  async callBatch(calls: unknown[][]): Promise<CallResult[]> {
    const { values, errors } = await this.callValues(calls, false);
    return values.map((value, i): CallResult => {
      const error = errors?.get(i);
      return error === undefined ? { ok: true, value } : { ok: false, error };
    });
  }

  async callValues(calls: unknown[], single: boolean): Promise<BatchResults> {
    if (this.disposed) throw new Error(`${this.options.label}: sandbox already disposed`);
    if (calls.length === 0) return { values: [], errors: undefined };
    try {
      const segments = await this.pool.call(this.id, encodeCalls(calls), calls.length, undefined, single || undefined);
      // sized up front: filled by index, never grown
      const out: BatchResults = { values: new Array(calls.length), errors: undefined };
      decodeInto(segments, calls.length, this.options.label, out, 0);
      return out;
    } catch (err) {
      if (!(err instanceof WorkerCrash)) throw err;
      return this.findCulprits(calls, single);
    }
  }

  /**
   * After a worker died on a batch: the batch again, one record per call, in a fresh worker. A record
   * that kills the worker again is the culprit: it fails with what happened, and the rest go on.
   */
  private async findCulprits(calls: unknown[], single: boolean): Promise<BatchResults> {
    const out: BatchResults = { values: new Array(calls.length), errors: undefined };
    let bytesLeft = this.options.maxOutputMb * 1024 * 1024;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i];
      try {
        const segments = await this.pool.call(this.id, [JSON.stringify([call])], 1, Math.max(0, bytesLeft), single || undefined);
        bytesLeft = capLeft(segments, bytesLeft);
        decodeInto(segments, 1, this.options.label, out, i);
      } catch (err) {
        if (!(err instanceof WorkerCrash)) throw err;
        this.noteCrash(err);
        (out.errors ??= new Map()).set(i, `${err.message} on this record`);
        out.values[i] = undefined; // no hole: callBatch maps over every index
      }
    }
    return out;
  }

  private noteCrash(crash: WorkerCrash): void {
    const now = Date.now();
    this.crashes.push(now);
    while (this.crashes.length > 0 && this.crashes[0] <= now - CRASH_WINDOW_MS) this.crashes.shift();
    if (this.crashes.length >= CRASH_LIMIT) {
      throw new SandboxCrashLoopError(
        `${this.options.label}: records killed the sandbox process ${this.crashes.length} times within a minute (the last ${crash.reason}); the flow stops`,
      );
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    release(this.pool, this.id);
  }
}

export const DEFAULT_SANDBOX: Omit<Required<CompileOptions>, 'label'> = { memoryLimitMb: 64, timeoutMs: 1000, maxOutputMb: 64, workers: 1 };

// The process's pool: made on the first compile, closed when its last function is disposed (or by
// shutdownSandbox), so a process that is done with user code exits without waiting on workers.
let shared: SandboxPool | undefined;

function release(pool: SandboxPool, id?: number): void {
  if (id !== undefined) pool.dispose(id);
  if (pool.size === 0 && shared === pool) {
    pool.close();
    shared = undefined;
  }
}

export async function compileUserFunction(code: string, options: CompileOptions): Promise<UserFunction> {
  const full = { ...DEFAULT_SANDBOX, ...options } as Required<CompileOptions>;
  const pool = (shared ??= new SandboxPool());
  let compiled: { id: number; arity: number };
  try {
    compiled = await pool.compile(code, { memoryLimitMb: full.memoryLimitMb, timeoutMs: full.timeoutMs, maxOutputMb: full.maxOutputMb, label: full.label }, full.workers);
  } catch (err) {
    release(pool);
    throw err;
  }
  const { id, arity } = compiled;
  return new PooledFunction(pool, id, arity, full);
}

/** closes the sandbox workers now (the CLI and the server call it at exit); a later compile starts new ones */
export function shutdownSandbox(): void {
  shared?.close();
  shared = undefined;
}

/** the sandbox worker processes running now (tests kill them) */
export function sandboxWorkerPids(): number[] {
  return shared?.pids() ?? [];
}
