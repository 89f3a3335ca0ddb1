/** mysql.source positions in words: `binlog mysql-bin.000003:1234` while streaming changes, the snapshot's progress before. */
import type { PositionText } from '../../runtime/index.js';
import { after, compareSnapshotThenChanges, snapshotWords, type SnapshotWords } from '../shared/position-words.js';
import type { BinlogPosition } from './binlog.js';

type Cdc = { phase: 'cdc'; binlog: BinlogPosition };

const order = (a: BinlogPosition, b: BinlogPosition) => (a.file === b.file ? a.pos - b.pos || (a.skip ?? 0) - (b.skip ?? 0) : a.file < b.file ? -1 : 1);

export const mysqlPositionText: PositionText = {
  example: 'binlog mysql-bin.000003:1234',
  rewindCaveat: 'the binlog file must still be on the server (SHOW BINARY LOGS), and the position must be the start of an event (SHOW BINLOG EVENTS)',
  describe(p) {
    const o = p as SnapshotWords | Cdc;
    if (o.phase !== 'cdc') return snapshotWords(o);
    const b = o.binlog;
    return `binlog ${b.file}:${b.pos}${b.skip ? ` (+${b.skip} rows of its transaction)` : ''}${b.gtid ? ` gtid ${b.gtid}` : ''}`;
  },
  parse(text) {
    // the start of an event (a transaction's BEGIN): SHOW BINARY LOG STATUS / SHOW BINLOG EVENTS give them
    const m = /^(\S+):(\d+)$/.exec(after('binlog', text));
    if (!m || Number(m[2]) < 4) throw new Error('expected binlog FILE:POSITION, the position of an event (4 or more)');
    return { phase: 'cdc', binlog: { file: m[1], pos: Number(m[2]) } } satisfies Cdc;
  },
  compare: (a, b) => compareSnapshotThenChanges<Cdc>(a as Cdc, b as Cdc, (x, y) => Math.sign(order(x.binlog, y.binlog))),
};
