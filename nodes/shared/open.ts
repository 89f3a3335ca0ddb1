/**
 * Opening that leaves nothing behind: a node (or reference table, or pool) that fails half-way through
 * opening closes what it had already opened before the error goes up, so a retried open starts clean
 * and no pool or file handle outlives the failure.
 */

/**
 * Runs `start`; when it throws, runs `close` (a failure of close is ignored: the first error is the one
 * that says what went wrong) and throws start's error, passed through `mapError` when given (it runs
 * after close, so it may still read what the instance knew).
 */
export async function openOrClose(start: () => unknown, close: () => unknown, mapError?: (err: unknown) => unknown): Promise<void> {
  try {
    await start();
  } catch (err) {
    try {
      await close();
    } catch {
      // the error of start is the one to report
    }
    throw mapError ? mapError(err) : err;
  }
}
