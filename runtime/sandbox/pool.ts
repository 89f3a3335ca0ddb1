/**
 * The pool of sandbox worker processes: user functions are compiled into, and called in, forked
 * workers (worker.ts), so that what isolated-vm cannot contain (a fatal abort at the isolate's heap
 * limit, the worker's own heap running out, an isolate that never returns) ends one worker, never
 * the host. Nodes share workers: a function is compiled in the worker with the fewest functions, so
 * calls of different nodes run on different cores while the host goes on with its I/O, and in more
 * workers when several of its calls are in flight at once. A worker that dies is started again on the next call, and the functions it held are
 * compiled in it again; the calls it held fail with a WorkerCrash that says why.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UserCodeError, type FromWorker, type IsolateOptions, type Segment, type ToWorker } from './protocol.js';

/** a worker process ended while it held this call; `reason` says how, e.g. `ran out of memory` */
export class WorkerCrash extends Error {
  override name = 'WorkerCrash';
  constructor(readonly reason: string) {
    super(`the sandbox process ${reason}`);
  }
}

/** the compiled worker module: beside this file when running from dist/, in dist/ when from sources */
function workerPath(): string {
  const here = fileURLToPath(import.meta.url);
  const beside = join(dirname(here), 'worker.js');
  if (here.endsWith('.js') && existsSync(beside)) return beside;
  const built = join(dirname(here), '..', '..', 'dist', 'runtime', 'sandbox', 'worker.js');
  if (existsSync(built)) return built;
  throw new Error(`the sandbox worker is not built: run \`npx tsc -p tsconfig.json\` (looked for ${built})`);
}

/**
 * A worker's own heap only passes strings through (a batch in, its results out): a young generation
 * of 1 MB semi-spaces instead of V8's 16 MB keeps less resident per worker (bench engine.rss-flat)
 */
const WORKER_FLAGS = ['--max-semi-space-size=1'];

/** what the process's sandbox did, for metrics: batch calls sent, and workers started again after one ended */
export const sandboxActivity = { calls: 0, workerRestarts: 0 };

/**
 * glibc's allocator in a worker: isolated-vm copies every batch in and out of the isolate on its own
 * threads, and glibc gives each thread an arena of its own that keeps what was freed in it; one arena
 * keeps ~10 MiB less resident per worker. A value the user set in the environment wins.
 */
const WORKER_ENV = { MALLOC_ARENA_MAX: '1' };

interface Pending<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  /** a call may go this long without a sign of life before its worker is deemed wedged, ms */
  patienceMs: number;
  sentAt: number;
}

interface PooledFn {
  id: number;
  code: string;
  options: IsolateOptions;
  /** the workers it is placed in, the one it was compiled in first */
  slots: WorkerSlot[];
}

/** reads what killed a worker from how it exited and the last lines it wrote to stderr */
function describeExit(code: number | null, signal: NodeJS.Signals | null, stderr: string, killedAfterMs?: number): string {
  // first: a worker the watchdog killed may have been dying of it (V8 or the worker's heap watch said so)
  if (/out of memory|heap limit|allocation failed|OOM/i.test(stderr)) return 'ran out of memory';
  if (killedAfterMs !== undefined) return `stopped answering for ${Math.round(killedAfterMs / 1000)} s and was killed`;
  if (signal) return `crashed (signal ${signal})`;
  return `crashed (exit code ${code})`;
}

class WorkerSlot {
  private proc?: ChildProcess;
  /** functions compiled (or being compiled) in the current process */
  private readonly compiled = new Set<number>();
  private readonly calls = new Map<number, Pending<Segment[]>>();
  private readonly compiles = new Map<number, Pending<number>>();
  private stderr = '';
  private lastSign = 0;
  private killedAfterMs?: number;
  private started = false;
  /** functions placed in this slot */
  functions = 0;

  /** calls waiting on this worker */
  get busy(): number {
    return this.calls.size;
  }

  constructor(private readonly path: string) {}

  compile(fn: PooledFn): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.compiles.set(fn.id, { resolve, reject, patienceMs: 2 * fn.options.timeoutMs + 5000, sentAt: Date.now() });
      this.ensureCompiled(fn);
    });
  }

  call(fn: PooledFn, id: number, json: string[], count: number, bytesLeft?: number, single?: boolean): Promise<Segment[]> {
    return new Promise<Segment[]>((resolve, reject) => {
      this.calls.set(id, { resolve, reject, patienceMs: 2 * fn.options.timeoutMs + 5000, sentAt: Date.now() });
      sandboxActivity.calls++;
      this.ensureCompiled(fn);
      this.send({ t: 'call', id, fn: fn.id, json, count, bytes: bytesLeft, single });
    });
  }

  dispose(fnId: number): void {
    if (this.compiled.delete(fnId)) this.send({ t: 'dispose', fn: fnId });
  }

  /** the worker's IPC channel keeps the host alive only while something waits on it */
  private updateRef(): void {
    const proc = this.proc;
    const channel = proc?.channel as { ref(): void; unref(): void } | undefined;
    if (!proc) return;
    // the process too: a worker that dies mid-call closes its channel before its exit is seen
    if (this.calls.size + this.compiles.size > 0) {
      proc.ref();
      channel?.ref();
    } else {
      proc.unref();
      channel?.unref();
    }
  }

  private ensureCompiled(fn: PooledFn): void {
    if (!this.compiled.has(fn.id)) {
      this.compiled.add(fn.id);
      this.send({ t: 'compile', fn: fn.id, code: fn.code, options: fn.options });
    }
  }

  private send(m: ToWorker): void {
    const proc = this.proc ?? this.start();
    proc.send(m);
    this.updateRef();
  }

  private start(): ChildProcess {
    if (this.started) sandboxActivity.workerRestarts++;
    this.started = true;
    this.stderr = '';
    this.killedAfterMs = undefined;
    this.lastSign = Date.now();
    // no inherited flags (a test runner's loaders); `advanced` serialization passes strings as they are
    const proc = fork(this.path, [], { execArgv: WORKER_FLAGS, env: { ...WORKER_ENV, ...process.env }, serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    this.proc = proc;
    proc.unref();
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (chunk: string) => (this.stderr = (this.stderr + chunk).slice(-4000)));
    (proc.stderr as unknown as { unref?: () => void }).unref?.();
    proc.on('message', (m: FromWorker) => this.receive(m));
    proc.on('error', () => undefined); // a failed send: the exit handler below fails what was pending
    proc.on('close', (code, signal) => this.ended(proc, code, signal));
    return proc;
  }

  private receive(m: FromWorker): void {
    this.lastSign = Date.now();
    if (m.t === 'alive') return;
    if (m.t === 'result' || m.t === 'call-error') {
      const p = this.calls.get(m.id);
      this.calls.delete(m.id);
      if (m.t === 'result') p?.resolve(m.segments);
      else p?.reject(new Error(m.message));
    } else {
      const p = this.compiles.get(m.fn);
      this.compiles.delete(m.fn);
      if (m.t === 'compiled') p?.resolve(m.arity);
      else {
        this.compiled.delete(m.fn);
        p?.reject(m.user ? new UserCodeError(m.message) : new Error(m.message));
      }
    }
    this.updateRef();
  }

  private ended(proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.proc !== proc) return;
    this.proc = undefined;
    this.compiled.clear();
    const crash = new WorkerCrash(describeExit(code, signal, this.stderr, this.killedAfterMs));
    const calls = [...this.calls.values()];
    const compiles = [...this.compiles.values()];
    this.calls.clear();
    this.compiles.clear();
    for (const p of calls) p.reject(crash);
    for (const p of compiles) p.reject(new UserCodeError(`${crash.message} while loading the function`));
  }

  /** kills a worker that holds a call and gave no sign of life for longer than the call's patience */
  watch(now: number): void {
    if (!this.proc || this.killedAfterMs !== undefined) return;
    for (const p of [...this.calls.values(), ...this.compiles.values()]) {
      const quiet = now - Math.max(this.lastSign, p.sentAt);
      if (quiet > p.patienceMs) {
        this.killedAfterMs = quiet;
        this.proc.kill('SIGKILL');
        return;
      }
    }
  }

  close(): void {
    const proc = this.proc;
    if (!proc) return;
    if (proc.connected) proc.disconnect(); // the worker exits when its channel closes
    else proc.kill();
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }
}

export interface PoolOptions {
  /** worker processes; default: the machine's cores */
  size?: number;
}

export class SandboxPool {
  private readonly slots: WorkerSlot[];
  private readonly functions = new Map<number, PooledFn>();
  private nextFn = 1;
  private nextCall = 1;
  private readonly watchdog: NodeJS.Timeout;

  constructor(options: PoolOptions = {}) {
    const path = workerPath();
    const size = Math.max(1, options.size ?? availableParallelism());
    this.slots = Array.from({ length: size }, () => new WorkerSlot(path));
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const s of this.slots) s.watch(now);
    }, 250);
    this.watchdog.unref();
  }

  get size(): number {
    return this.functions.size;
  }

  /**
   * compiles `code` in the `workers` least used workers (default 1); its id and arity. Throws
   * UserCodeError for bad code
   */
  async compile(code: string, options: IsolateOptions, workers = 1): Promise<{ id: number; arity: number }> {
    const n = Math.max(1, Math.min(workers, this.slots.length));
    const slots = [...this.slots].sort((a, b) => a.functions - b.functions).slice(0, n);
    const fn: PooledFn = { id: this.nextFn++, code, options, slots };
    for (const slot of slots) slot.functions++;
    this.functions.set(fn.id, fn);
    try {
      const arities = await Promise.all(slots.map((slot) => slot.compile(fn)));
      return { id: fn.id, arity: arities[0] };
    } catch (err) {
      this.dispose(fn.id);
      throw err;
    }
  }

  /**
   * The results of `count` calls (JSON chunks in `json`, runner.ts encodeCalls; `single`: each element is a
   * call's only argument) of a compiled function; rejects with WorkerCrash when
   * its worker died. A call goes to the least busy worker the function is in; when all of those are
   * busy and another worker is idle, the function is compiled there too, so calls in flight at the same
   * time run on several cores (calls one after another stay in the first worker).
   */
  call(fnId: number, json: string[], count: number, bytesLeft?: number, single?: boolean): Promise<Segment[]> {
    const fn = this.functions.get(fnId);
    if (!fn) return Promise.reject(new Error(`sandbox function ${fnId} is disposed`));
    let slot = fn.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
    if (slot.busy > 0) {
      const idle = this.slots.find((s) => s.busy === 0 && !fn.slots.includes(s));
      if (idle) {
        fn.slots.push(idle);
        idle.functions++;
        slot = idle;
      }
    }
    return slot.call(fn, this.nextCall++, json, count, bytesLeft, single);
  }

  dispose(fnId: number): void {
    const fn = this.functions.get(fnId);
    if (!fn) return;
    this.functions.delete(fnId);
    for (const slot of fn.slots) {
      slot.functions--;
      slot.dispose(fnId);
    }
  }

  /** the worker processes' ids (tests kill them) */
  pids(): number[] {
    return this.slots.map((s) => s.pid).filter((p): p is number => p !== undefined);
  }

  close(): void {
    clearInterval(this.watchdog);
    for (const s of this.slots) s.close();
  }
}
