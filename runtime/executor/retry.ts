import { UserError, errorMessage } from '../errors.js';
import type { Logger } from '../node-api.js';
import type { FlowSettings } from '../flow/schema.js';
import { sleep } from './queue.js';

/**
 * Runs `fn`, retrying transient failures with exponential backoff. A UserError (bad config, missing
 * table) is not transient and is thrown at once; so is the last failure once attempts run out.
 */
export async function withRetry<T>(
  fn: () => Promise<T>,
  retry: FlowSettings['retry'],
  what: string,
  log: Logger,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof UserError || attempt >= retry.attempts) throw err;
      const delay = Math.min(retry.maxBackoffMs, retry.backoffMs * 2 ** (attempt - 1));
      log.warn(`${what} failed (attempt ${attempt}/${retry.attempts}): ${errorMessage(err)}; retrying in ${delay} ms`);
      await sleep(delay, signal);
    }
  }
}
