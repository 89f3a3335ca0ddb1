import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { countingDeadLetters } from '../../runtime/state/counting-store.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { rec, tempDir } from '../helpers/node-harness.js';

let store: SqliteCheckpointStore | undefined;
afterEach(async () => {
  await store?.close();
  store = undefined;
});

describe('countingDeadLetters: the store as a run sees it', () => {
  it('counts the dead letters it writes, and leaves the store open when the view closes', async () => {
    store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
    let counted = 0;
    const view = countingDeadLetters(store, (n) => (counted += n));
    await view.save('f', { positions: { src: 5 }, state: {} }, 1);
    await view.deadLetter('f', [{ node: 'm', error: 'bad', record: rec({ id: 1 }) }]);
    await view.close();
    expect(counted).toBe(1);
    expect((await store.load('f'))?.positions).toEqual({ src: 5 });
    expect((await store.deadLetters('f')).map((l) => l.error)).toEqual(['bad']);
  });

  it('with positions: false (a replay) neither reads nor moves the positions; dead letters still go to the store', async () => {
    store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
    await store.save('f', { positions: { src: 5 }, state: {} }, 1);
    let counted = 0;
    const view = countingDeadLetters(store, (n) => (counted += n), { positions: false });
    expect(await view.load('f')).toBeUndefined();
    await view.save('f', { positions: { src: 99 }, state: {} }, 2);
    await view.reset('f');
    await view.rewrite('f', { positions: { src: 0 }, state: {} }, 'replay');
    await view.deadLetter('f', [{ node: 'm', error: 'again', record: rec({ id: 2 }) }]);
    expect(counted).toBe(1);
    expect((await store.load('f'))?.positions).toEqual({ src: 5 });
    expect((await store.deadLetters('f')).map((l) => l.error)).toEqual(['again']);
  });
});
