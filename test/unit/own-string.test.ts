import { describe, expect, it } from 'vitest';
import { ownField, ownSlice } from '../../nodes/shared/own-string.js';
import { retainedBytes } from '../helpers/retained-heap.js';

/** a text of about 1 MB, a different one per `i` */
const bigText = (i: number) => `${i}:`.padEnd(1 << 20, 'abcdefghijklmnopqrstuvwxyz0123456789\t');

describe('ownSlice: a part of a text that keeps nothing else alive', () => {
  it('is the slice, at every length (short slices are copies anyway)', () => {
    const t = bigText(7);
    for (const [s, e] of [[0, 0], [3, 5], [3, 15], [3, 16], [3, 43], [100, 5000]]) expect(ownSlice(t, s, e)).toBe(t.slice(s, e));
    expect(ownSlice('héllo wörld, 13+', 1, 16)).toBe('éllo wörld, 13+');
  });

  it('ownField: the same from the ASCII bytes of the text as from the text', () => {
    const t = bigText(8);
    const bytes = Buffer.from(t, 'latin1');
    for (const [s, e] of [[0, 0], [3, 15], [3, 16], [3, 43], [100, 5000]]) {
      expect(ownField(t, s, e, bytes)).toBe(t.slice(s, e));
      expect(ownField(t, s, e, undefined)).toBe(t.slice(s, e));
    }
  });

  it('40 kept 20- and 40-character parts of 1 MB texts hold well under a MB, where slices hold the texts (40 MB)', async () => {
    const own = await retainedBytes(() => Array.from({ length: 40 }, (_, i) => [ownSlice(bigText(i), 3, 23), ownSlice(bigText(i), 50, 90)]));
    expect(own.bytes).toBeLessThan(1_000_000);
    // the measurement itself: plain slices do hold their texts
    const sliced = await retainedBytes(() => Array.from({ length: 40 }, (_, i) => bigText(i).slice(3, 23)));
    expect(sliced.bytes).toBeGreaterThan(20_000_000);
  });
});
