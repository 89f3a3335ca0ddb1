/** The messages between the host's sandbox pool and a worker process, over the fork's IPC channel. */
import type { IsolateOptions, Segment } from './isolate-function.js';

export type ToWorker =
  | { t: 'compile'; fn: number; code: string; options: IsolateOptions }
  | { t: 'call'; id: number; fn: number; json: string; count: number; /** output cap left for this batch, characters */ bytes?: number }
  | { t: 'dispose'; fn: number };

export type FromWorker =
  | { t: 'compiled'; fn: number; arity: number }
  | { t: 'compile-error'; fn: number; message: string; user: boolean }
  | { t: 'result'; id: number; segments: Segment[] }
  | { t: 'call-error'; id: number; message: string }
  /** an isolate call returned: the worker is not wedged */
  | { t: 'alive' };
