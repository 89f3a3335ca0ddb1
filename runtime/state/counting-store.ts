import type { CheckpointStore } from './checkpoint-store.js';

/**
 * The store as a run sees it: every call goes to `store`, dead letters are counted as they are written
 * (for live status and metrics), and closing the view leaves the store open for its owner.
 * With `{ positions: false }` the run neither reads nor writes positions (a replay of dead letters runs
 * beside the deployment and must not move its positions); dead letters still go to `store`.
 */
export function countingDeadLetters(store: CheckpointStore, counted: (letters: number) => void, options: { positions?: boolean } = {}): CheckpointStore {
  const positions = options.positions ?? true;
  return {
    load: (f) => (positions ? store.load(f) : Promise.resolve(undefined)),
    save: (f, c, fence) => (positions ? store.save(f, c, fence) : Promise.resolve()),
    reset: (f) => (positions ? store.reset(f) : Promise.resolve()),
    history: (f, limit) => (positions ? store.history(f, limit) : Promise.resolve([])),
    rewrite: (f, c, note) => (positions ? store.rewrite(f, c, note) : Promise.resolve()),
    deadLetter: async (f, letters) => {
      await store.deadLetter(f, letters);
      counted(letters.length);
    },
    deadLetters: (f, limit, filter) => store.deadLetters(f, limit, filter),
    discardDeadLetters: (f, ids) => store.discardDeadLetters(f, ids),
    recordScheduledRun: (f, run) => store.recordScheduledRun(f, run),
    scheduledRuns: (f, limit) => store.scheduledRuns(f, limit),
    close: async () => undefined,
  };
}
