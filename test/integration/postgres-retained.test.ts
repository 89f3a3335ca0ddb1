/**
 * What a node keeps of postgres.source's snapshot values beyond the batch holds only those values, not
 * the chunk's COPY text they were read from (issue 18: memory bounded by the batches in flight).
 * Real PostgreSQL into a real core.aggregate grouped by a long text column, each group first met in a
 * chunk of its own: the aggregate's state is then measured after a full GC.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from '../../nodes/core/aggregate.js';
import { postgresSource } from '../../nodes/postgres/source.js';
import type { SourceInstance, TransformInstance } from '../../runtime/index.js';
import { create } from '../helpers/node-harness.js';
import { retainedBytes } from '../helpers/retained-heap.js';
import { probePostgres, type ScratchDb, scratchPostgres, service } from '../helpers/services.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

const CHUNKS = 30;
const ROWS = 500;

describe.skipIf(!PG.available)('postgres.source into core.aggregate: kept values hold no chunk text', () => {
  let scratch: ScratchDb;
  beforeAll(async () => {
    scratch = await scratchPostgres(PG.url, `sluice_test_${randomBytes(4).toString('hex')}`);
    const c = new pg.Client({ connectionString: scratch.url });
    await c.connect();
    try {
      await c.query('CREATE TABLE wide (id bigint PRIMARY KEY, grp text NOT NULL, ts timestamptz NOT NULL, pad text NOT NULL)');
      // about 1 MB of COPY text per chunk of 500 rows; group g (a 30-character value) only in chunk g
      await c.query(`INSERT INTO wide SELECT g, 'a group name of thirty chars ' || lpad(((g - 1) / ${ROWS})::text, 2, '0'),
        '2026-01-02 03:04:05+00'::timestamptz + g * interval '1.000123 second', repeat('p', 2000) FROM generate_series(1, ${CHUNKS * ROWS}) g`);
    } finally {
      await c.end();
    }
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  it(`${CHUNKS} groups with their first and latest timestamps, read from ${CHUNKS} chunks of 1 MB, hold under 4 MB`, async () => {
    const agg = await create<TransformInstance>(aggregate, {
      groupBy: ['grp'],
      measures: [{ name: 'n', fn: 'count' }, { name: 'first', fn: 'min', field: 'ts' }, { name: 'latest', fn: 'max', field: 'ts' }],
      retractionMemory: false,
    });
    await agg.open(undefined);
    let groups = 0;
    const { bytes } = await retainedBytes(async () => {
      const src = await create<SourceInstance>(postgresSource, { url: scratch.url, tables: 'public.wide', chunkSize: ROWS });
      await src.open(undefined);
      for (let batch = await src.read(); batch; batch = await src.read()) {
        const { out = [] } = await agg.process(batch.records, 'in');
        groups += out.length;
      }
      await src.close();
      return [agg];
    });
    await agg.close();
    // one group changed per batch, each emitted once
    expect(groups).toBe(CHUNKS);
    expect(bytes).toBeLessThan(4_000_000);
  });
});
