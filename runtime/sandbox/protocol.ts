/**
 * What the host's sandbox pool and a worker process share: the messages over the fork's IPC channel
 * and the types they carry (kept apart from isolate-function.ts, so the host never loads isolated-vm),
 * and the user-function types nodes see (here, so node-api.ts and the editor's type check do not load pool.ts).
 */
import type { BatchResults, CallResult } from './runner.js';

export interface IsolateOptions {
  /** heap limit of the isolate, MB */
  memoryLimitMb: number;
  /** how long one call of the user function may run, ms */
  timeoutMs: number;
  /** the cap on the JSON of one batch's results, MB */
  maxOutputMb: number;
  /** shown in stack traces and syntax errors, e.g. `tax.config.code` */
  label: string;
}

export interface CompileOptions {
  /** heap limit of the isolate, MB */
  memoryLimitMb: number;
  /** how long one call of the user function may run, ms */
  timeoutMs: number;
  /** the cap on the JSON of one batch's results, MB (default 64): results past it fail */
  maxOutputMb?: number;
  /** shown in stack traces and syntax errors, e.g. `tax.config.code` */
  label: string;
  /**
   * the worker processes it is compiled in up front (default 1, at most the pool's size): a node that
   * keeps this many calls in flight has them run on as many cores from its first batch on
   */
  workers?: number;
}

export interface UserFunction {
  /** the number of parameters the user's function declares (callers may skip arguments it ignores) */
  readonly arity: number;
  /** calls the function once per element of `calls` (each an argument list); one result per call */
  callBatch(calls: unknown[][]): Promise<CallResult[]>;
  /**
   * calls the function once per element of `calls`: with the element as its only argument when `single`,
   * else as its argument list; the results without an object per result (for nodes that call it per record)
   */
  callValues(calls: unknown[], single: boolean): Promise<BatchResults>;
  dispose(): void;
}

/** a batch's results in order: runner reply texts (JSON, decoded by the host) and results made here */
export type Segment = string | CallResult[];

/** The user's code is not a function, or does not compile. */
export class UserCodeError extends Error {
  override name = 'UserCodeError';
}


export type ToWorker =
  | { t: 'compile'; fn: number; code: string; options: IsolateOptions }
  /** `json`: the calls in chunks (runner.ts encodeCalls), each small enough for V8's regular heap */
  | {
      t: 'call';
      id: number;
      fn: number;
      json: string[];
      count: number;
      /** output cap left for this batch, characters */
      bytes?: number;
      /** each element of the calls is the call's only argument, not its argument list */
      single?: boolean;
    }
  | { t: 'dispose'; fn: number };

export type FromWorker =
  | { t: 'compiled'; fn: number; arity: number }
  | { t: 'compile-error'; fn: number; message: string; user: boolean }
  | { t: 'result'; id: number; segments: Segment[] }
  | { t: 'call-error'; id: number; message: string }
  /** an isolate call returned: the worker is not wedged */
  | { t: 'alive' };
