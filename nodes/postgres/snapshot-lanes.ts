/**
 * `parallelTables: N` for postgres.source: the shared scheduling of nodes/shared/table-lanes.ts, each
 * table read by its own SnapshotReader on its lane's sessions (all in the one exported snapshot), beside
 * the `parallel` chunks within a table.
 */
import type pg from 'pg';
import type { SourceBatch } from '../../runtime/index.js';
import { TableLanes } from '../shared/table-lanes.js';
import { SnapshotReader, type SnapshotOptions, type SnapshotState } from './snapshot.js';

export class SnapshotLanes {
  private readonly lanes: TableLanes<pg.ClientBase[]>;

  /** `lanes`: the sessions of each lane (each as SnapshotReader wants them for `o.parallel`) */
  constructor(o: SnapshotOptions, lanes: pg.ClientBase[][]) {
    this.lanes = new TableLanes({
      tables: o.tables.map((t) => t.id),
      state: o.state,
      lanes,
      position: (s) => o.position(s),
      reader: (clients, id, after, position) =>
        new SnapshotReader({
          ...o,
          tables: [o.tables.find((t) => t.id === id)!],
          clients,
          state: after ? { done: [], table: id, after } : { done: [] },
          position: (s) => position({ done: s.done, after: s.after }),
        }),
    });
  }

  current(): SnapshotState {
    return this.lanes.current();
  }

  next(): Promise<SourceBatch | null> {
    return this.lanes.next();
  }
}
