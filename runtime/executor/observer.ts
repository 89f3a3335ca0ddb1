/**
 * What a run tells whoever watches it beyond its counts (stats() and progress() are read on demand):
 * how long each batch took in a node and how long each checkpoint took. Metrics hang here, so the
 * executor knows nothing of Prometheus. Calls are synchronous and cheap; an observer never throws.
 */
export interface RunObserver {
  /** a transform's process() or a sink's write() of one batch of `records`, in seconds */
  batch?(node: string, seconds: number, records: number): void;
  /** one checkpoint written (positions, and node state in stateful flows), in seconds */
  checkpoint?(seconds: number): void;
}

/** seconds since `t0` (process.hrtime.bigint()) */
export const secondsSince = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e9;
