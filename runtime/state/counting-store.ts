import type { CheckpointStore } from './checkpoint-store.js';

/**
 * The store as a run sees it: every call goes to `store`, dead letters are counted as they are written
 * (for live status and metrics), and closing the view leaves the store open for its owner.
 */
export function countingDeadLetters(store: CheckpointStore, counted: (letters: number) => void): CheckpointStore {
  return {
    load: (f) => store.load(f),
    save: (f, c, fence) => store.save(f, c, fence),
    reset: (f) => store.reset(f),
    history: (f, limit) => store.history(f, limit),
    rewrite: (f, c, note) => store.rewrite(f, c, note),
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
