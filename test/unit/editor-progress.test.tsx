/**
 * The line a deployed source shows on the canvas (editor/src/selectors.ts progressLine): tables done of
 * the tables and the percent of the estimated rows while copying; once every table streams (CDC), the
 * lag. The inspector's table and a snapshot copy are covered in Chromium by test/e2e/deploy-progress.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { progressLine, sourceProgress } from '../../editor/src/selectors.js';
import type { EditorState } from '../../editor/src/store.js';

describe('progressLine', () => {
  it('tables done / tables and % of the estimated rows while copying', () => {
    const line = progressLine({
      tables: [
        { name: 'a', phase: 'done', done: 1000, estimated: 1000, rate: 0 },
        { name: 'b', phase: 'snapshot', done: 250, estimated: 1000, rate: 500 },
        { name: 'c', phase: 'pending', done: 0, estimated: 500, rate: 0 },
      ],
    });
    expect(line).toBe('1/3 tables · 50%');
  });

  it('the CDC lag once every table streams, in bytes or else milliseconds', () => {
    const streaming = [{ name: 'a', phase: 'streaming' as const, done: 10, rate: 3 }, { name: 'b', phase: 'streaming' as const, done: 5, rate: 1 }];
    expect(progressLine({ tables: streaming, lag: { bytes: 3 * 1024 * 1024 } })).toBe('streaming 2 tables · lag 3.0 MB');
    expect(progressLine({ tables: streaming, lag: { ms: 1500 } })).toBe('streaming 2 tables · lag 1,500 ms');
    expect(progressLine({ lag: { ms: 40 } })).toBe('lag 40 ms');
  });

  it('only for a deployed flow: one not deployed shows none', () => {
    const progress = { src: { tables: [{ name: 'a', phase: 'done' as const, done: 1, rate: 0 }] } };
    const state = (status: string) => ({ live: { status, progress } }) as unknown as EditorState;
    expect(sourceProgress(state('running'), 'src')).toBe(progress.src);
    expect(sourceProgress(state('not-deployed'), 'src')).toBeUndefined();
  });
});
