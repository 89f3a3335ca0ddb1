/**
 * The types of sandboxed user code that node types see, apart from the pool and its processes, so code
 * that only needs the types (node-api.ts, and through it the editor) does not load Node built-ins.
 */
import type { CallResult } from './runner.js';

export interface CompileOptions {
  /** heap limit of the isolate, MB */
  memoryLimitMb: number;
  /** how long one call of the user function may run, ms */
  timeoutMs: number;
  /** the cap on the JSON of one batch's results, MB (default 64): results past it fail */
  maxOutputMb?: number;
  /** shown in stack traces and syntax errors, e.g. `tax.config.code` */
  label: string;
}

export interface UserFunction {
  /** the number of parameters the user's function declares (callers may skip arguments it ignores) */
  readonly arity: number;
  /** calls the function once per element of `calls` (each an argument list); one result per call */
  callBatch(calls: unknown[][]): Promise<CallResult[]>;
  dispose(): void;
}
