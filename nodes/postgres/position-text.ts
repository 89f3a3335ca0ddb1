/** postgres.source positions in words: `LSN 16/B374D848` while streaming changes, the snapshot's progress before. */
import type { PositionText } from '../../runtime/index.js';
import { after, compareSnapshotThenChanges, snapshotWords, type SnapshotWords } from '../shared/position-words.js';
import { formatLsn, parseLsn } from './lsn.js';

type Cdc = { phase: 'cdc'; lsn: string };

export const postgresPositionText: PositionText = {
  example: 'LSN 16/B374D848',
  rewindCaveat:
    "PostgreSQL keeps changes only from the replication slot's confirmed position (pg_replication_slots.confirmed_flush_lsn) on, which follows the committed position: an LSN before it cannot be replayed, and the flow then fails at start saying so",
  describe(p) {
    const o = p as SnapshotWords | Cdc;
    return o.phase === 'cdc' ? `LSN ${o.lsn}` : snapshotWords(o);
  },
  parse(text) {
    // an LSN of the change stream: the next run streams the changes committed after it
    return { phase: 'cdc', lsn: formatLsn(parseLsn(after('LSN', text))) } satisfies Cdc;
  },
  compare: (a, b) => compareSnapshotThenChanges<Cdc>(a as Cdc, b as Cdc, (x, y) => Number(parseLsn(x.lsn) - parseLsn(y.lsn))),
};
