/**
 * One user function in its own isolated-vm isolate, as a sandbox worker process holds it: compiled
 * once, called once per batch (the records go in as one JSON string, the results come out as the
 * runner's reply texts, passed on to the host unparsed). A throw, a result that is not JSON, a runaway
 * loop or an isolate over its heap limit fails that record alone. What isolated-vm cannot contain (a
 * fatal abort of the process) is the pool's business: it ends this worker, never the host.
 */
import ivm from 'isolated-vm';
import { HARDEN, REPLY_CHARS, RUNNER, decodeCalls, joinCalls, splitReplies } from './runner.js';
import { UserCodeError, type IsolateOptions, type Segment } from './protocol.js';

type Runner = {
  load: ivm.Reference<(json: string, single: boolean) => number>;
  run: ivm.Reference<(from: number, budget: number, bytesLeft: number, replyChars: number) => string>;
  salvage: ivm.Reference<() => string>;
  running: ivm.Reference<() => number>;
};

/** how long past its timeout a call may go before stuckAtHeapLimit looks at it, ms */
const STUCK_GRACE_MS = 200;

const timedOut = (err: unknown) => /timed out/i.test((err as Error)?.message ?? '');

/** a host-side error of one call, as the record's error */
function callError(err: unknown, timeoutMs: number): string {
  if (timedOut(err)) return `timed out: one call ran longer than ${timeoutMs} ms`;
  const m = (err as Error)?.message ?? String(err);
  // isolated-vm rejects a dynamic import() with no module loader by failing the whole call
  if (m === 'Not supported') return 'import() is not available in the sandbox';
  return `failed in the sandbox (a Promise it rejected and did not handle?): ${m}`;
}

export class IsolatedFunction {
  private isolate!: ivm.Isolate;
  private runner!: Runner;
  private disposed = false;
  /** calls of one function run one after another (the runner holds one batch at a time) */
  private queue: Promise<unknown> = Promise.resolve();
  /** the isolate call running now: when it began, and the process's RSS then (for stuckAtHeapLimit) */
  private current?: { since: number; rss: number };
  arity = 0;

  constructor(
    private readonly code: string,
    private readonly options: IsolateOptions,
    /** told after every isolate call that returned: the pool's sign that this worker is not wedged */
    private readonly alive: () => void = () => undefined,
  ) {}

  async init(): Promise<void> {
    this.isolate = new ivm.Isolate({ memoryLimit: this.options.memoryLimitMb });
    const context = await this.isolate.createContext();
    await (await this.isolate.compileScript(HARDEN)).run(context);
    const factory = await (await this.isolate.compileScript(RUNNER)).run(context, { reference: true });
    let script: ivm.Script;
    try {
      // `function (v) {...}` alone is a statement, not a value: read it as the expression it is meant as
      const source = /^\s*(async\s+)?function\b/.test(this.code) ? `(${this.code}\n)` : this.code;
      script = await this.isolate.compileScript(source, { filename: this.options.label });
    } catch (err) {
      this.dispose();
      throw new UserCodeError(`does not compile: ${(err as Error).name}: ${(err as Error).message}`);
    }
    let fn: ivm.Reference<unknown>;
    try {
      fn = await this.inIsolate(() => script.run(context, { reference: true, timeout: this.options.timeoutMs }));
    } catch (err) {
      this.dispose();
      throw new UserCodeError(`failed while loading: ${(err as Error).message}`);
    }
    if (fn.typeof !== 'function') {
      this.dispose();
      throw new UserCodeError(`must be a function such as \`(value, meta) => value\`, but it evaluates to ${fn.typeof}`);
    }
    const bound = (await factory.apply(undefined, [fn.derefInto(), this.options.maxOutputMb], { result: { reference: true } })) as ivm.Reference<Record<string, unknown>>;
    const member = <T>(name: string) => bound.get(name, { reference: true }) as Promise<ivm.Reference<T>>;
    this.runner = {
      load: await member('load'),
      run: await member('run'),
      salvage: await member('salvage'),
      running: await member('running'),
    };
    this.arity = Number(await bound.get('arity', { copy: true })) || 0;
  }

  /** one call into the isolate (each has its own timeout), noted for stuckAtHeapLimit */
  private async inIsolate<T>(call: () => Promise<T>): Promise<T> {
    this.current = { since: Date.now(), rss: process.memoryUsage.rss() };
    try {
      return await call();
    } finally {
      this.current = undefined;
    }
  }

  /**
   * A call that ran past its timeout while the process grew by more than the isolate's memory limit
   * since it began: the isolate is at its heap limit, where V8 collects again and again (a GC death
   * spiral) until it aborts the process, and neither the timeout nor isolated-vm's memory limit can
   * stop it (seconds on a loaded machine). Says how it stands, or undefined when it is not so.
   */
  stuckAtHeapLimit(now: number, rss: number): string | undefined {
    const c = this.current;
    if (!c || now - c.since <= this.options.timeoutMs + STUCK_GRACE_MS) return undefined;
    const grewMb = (rss - c.rss) / 1024 / 1024;
    if (grewMb <= this.options.memoryLimitMb) return undefined;
    return `${this.options.label}: out of memory: the isolate is at its heap limit of ${this.options.memoryLimitMb} MB (the process grew by ${Math.round(grewMb)} MB in a call that ran ${now - c.since} ms, past its timeout of ${this.options.timeoutMs} ms)`;
  }

  /** the results of `count` calls encoded in the chunks of `json` (runner.ts encodeCalls), as segments */
  callBatch(json: string[], count: number, bytesLeft?: number, single = false): Promise<Segment[]> {
    const next = this.queue.then(() => this.batch(json, count, bytesLeft ?? this.options.maxOutputMb * 1024 * 1024, single));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** loads a batch's chunks into the runner, in one isolate call */
  private async load(json: string[], single: boolean): Promise<void> {
    await this.inIsolate(() => this.runner.load.apply(undefined, [joinCalls(json), single], { timeout: this.options.timeoutMs }));
  }

  private async batch(json: string[], count: number, bytesLeft: number, single: boolean): Promise<Segment[]> {
    if (this.disposed) throw new Error(`${this.options.label}: sandbox already disposed`);
    const { timeoutMs } = this.options;
    const segments: Segment[] = [];
    try {
      await this.load(json, single);
      this.alive();
    } catch (err) {
      if (!this.isolate.isDisposed && !timedOut(err)) throw err;
      // the batch alone is too big for the isolate's memory or time: record by record
      if (this.isolate.isDisposed) await this.reset();
      return (await this.oneByOne(decodeCalls(json, single), bytesLeft)).segments;
    }
    let start = 0;
    const budget = Math.max(1, Math.floor(timeoutMs / 2));
    while (start < count) {
      let reply: string;
      try {
        reply = await this.inIsolate(() => this.runner.run.apply(undefined, [start, budget, bytesLeft, REPLY_CHARS], { timeout: timeoutMs }));
        this.alive();
      } catch (err) {
        if (this.isolate.isDisposed) {
          // memory limit: the isolate is gone, and which record did it is unknown. Start a fresh
          // isolate and go on record by record, so only the culprit fails.
          await this.reset();
          const rest = decodeCalls(json, single).slice(start);
          segments.push(...(await this.oneByOne(rest, bytesLeft)).segments);
          return segments;
        }
        this.alive();
        const running = (await this.inIsolate(() => this.runner.running.apply(undefined, [], { timeout: timeoutMs }))) as number;
        const head = splitReplies(await this.inIsolate(() => this.runner.salvage.apply(undefined, [], { timeout: timeoutMs })));
        if (head === undefined) throw err;
        if (!timedOut(err)) {
          // an error isolated-vm raises once the slice has run (a Promise rejected and not handled,
          // such as the one of import()): which call caused it is unknown, so the slice runs again
          // one record per call and only that record fails
          const upto = Math.min(count, Math.max(start + head.n, running + 1));
          const again = await this.oneByOne(decodeCalls(json, single).slice(start, upto), bytesLeft);
          segments.push(...again.segments);
          bytesLeft = again.bytesLeft;
          start = upto;
          if (start < count) await this.load(json, single);
          continue;
        }
        // a runaway call: keep the results before it, fail it, go on after it
        if (head.n > 0) segments.push(...head.replies);
        start += head.n;
        bytesLeft = head.left;
        if (running === start) {
          segments.push([{ ok: false, error: callError(err, timeoutMs) }]);
          start++;
        }
        continue;
      }
      const head = splitReplies(reply);
      if (head === undefined || head.n === 0) throw new Error(`${this.options.label}: the sandbox runner gave no results`);
      segments.push(...head.replies);
      start += head.n;
      bytesLeft = head.left;
    }
    return segments;
  }

  private async oneByOne(calls: unknown[][], bytesLeft: number): Promise<{ segments: Segment[]; bytesLeft: number }> {
    const segments: Segment[] = [];
    const { timeoutMs, memoryLimitMb } = this.options;
    for (const call of calls) {
      try {
        await this.inIsolate(() => this.runner.load.apply(undefined, [JSON.stringify([call]), false], { timeout: timeoutMs }));
        const reply = await this.inIsolate(() => this.runner.run.apply(undefined, [0, timeoutMs, Math.max(0, bytesLeft), REPLY_CHARS], { timeout: timeoutMs }));
        this.alive();
        const head = splitReplies(reply);
        bytesLeft = head?.left ?? 0;
        segments.push(...(head?.replies ?? [reply]));
      } catch (err) {
        this.alive();
        if (this.isolate.isDisposed) {
          segments.push([{ ok: false, error: `exceeded the sandbox memory limit of ${memoryLimitMb} MB` }]);
          await this.reset();
        } else segments.push([{ ok: false, error: callError(err, timeoutMs) }]);
      }
    }
    return { segments, bytesLeft };
  }

  private async reset(): Promise<void> {
    this.dispose();
    this.disposed = false;
    await this.init();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      /* already gone */
    }
  }
}
