/**
 * The shapes of flow tests on the wire and in `FLOW.tests.yaml`, free of Node built-ins so the editor
 * imports them (type-only) instead of declaring copies. The logic is in flow-tests.ts.
 */
import type { Op, Value } from '../records.js';

/** a record as a test stores it: no metadata (positions and timestamps change from run to run) */
export interface TestRecord {
  key: unknown;
  op: Op;
  value: Value | null;
  before?: Value | null;
}

export interface FlowTest {
  name: string;
  /** compare each sink's records in order instead of by key */
  ordered?: boolean;
  /** source node id → the records it gave */
  inputs: Record<string, TestRecord[]>;
  /** sink node id → the records it would have written */
  expect: Record<string, TestRecord[]>;
}

/** one difference of a sink's output: the record (its key, or its place when ordered) and the field, if one */
export interface Difference {
  /** `id=7`, `#3 (id=7)` when ordered */
  record: string;
  /** the field (`total`, `before.total`), `op`, or absent when the whole record is missing or unexpected */
  field?: string;
  /** the readable line: `record id=7: field total: expected 1, got 2` */
  line: string;
}
