/**
 * core.denormalize, lookup mode: enriches each record with the row(s) of a reference table whose
 * `foreignKey` column equals the record's `localKey` field (join keys: nodes/shared/reference.ts).
 *
 * - Per batch: the keys not in the cache go to the table in one query (`WHERE foreignKey IN (...)`,
 *   more only past `maxKeysPerQuery`); a key with no row is cached too, so it is not asked again.
 * - The cache is an LRU of `cache.maxEntries` keys, each served for `cache.ttlMs`: a row changed in the
 *   table is seen once its key expires (or is evicted).
 * - `many: false` puts the first matching row (table order) in `as`, `many: true` the array of them.
 * - No match (including a null key): `onMissing` keep (as = null, or [] with many), drop, or error (the
 *   record goes to the error port). A key that is not a scalar (object, array) is an error record.
 * - Deletes pass through unchanged (a sink deletes by key); an update's `before` is left as it is.
 *   Stateless: nothing is checkpointed (the cache starts empty).
 */
import { z } from 'zod';
import { ADVANCED, NodeError, ui, type NodeContext, type PortOutputs, type SluiceRecord, type TransformInstance, type Value } from '../../../runtime/index.js';
import type { ReferenceKind, ReferenceTable } from '../../shared/reference.js';
import { joinKey } from '../../shared/reference.js';
import { errorRecord } from '../user-code.js';
import { asField, fieldName, show } from './common.js';
import { LruCache } from './lru.js';
import { FieldAdder } from './with-field.js';
import { createReference, fromSchemaOf } from './reference.js';

/** the lookup config, its `from` one of `kinds` */
export const lookupConfigOf = (kinds: readonly ReferenceKind[]) =>
  z
    .object({
      mode: z.literal('lookup').describe('lookup: enrich each record with the matching row(s) of a reference table'),
      as: asField,
      from: fromSchemaOf(kinds),
      localKey: fieldName("the record's field that holds the key to look up, e.g. customer_id"),
      foreignKey: fieldName("the reference table's column matched against localKey, e.g. id").meta(ui({ widget: 'text', help: "the reference table's column that localKey must equal, e.g. id" })),
      many: z.boolean().default(false).describe('false: `as` receives the first matching row (an object); true: the array of every matching row'),
      onMissing: z
        .enum(['keep', 'drop', 'error'])
        .default('keep')
        .describe('a record without a match: keep it (as = null, or [] with many), drop it, or send it to the error port'),
      cache: z
        .object({
          maxEntries: z.number().int().min(0).default(10_000).describe('keys kept, least recently used evicted first; 0 disables the cache'),
          ttlMs: z.number().int().min(1).default(60_000).describe('how long a looked-up key (found or not) is served from the cache, ms'),
        })
        .strict()
        .prefault({})
        .describe('LRU cache of looked-up keys, with a time to live')
        .meta(ui({ group: ADVANCED })),
      maxKeysPerQuery: z
        .number()
        .int()
        .min(1)
        .max(8192)
        .default(1000)
        .describe('keys in one query at most: a batch with more keys missing from the cache sends several')
        .meta(ui({ group: ADVANCED })),
    })
    .strict();

export type LookupConfig = z.output<ReturnType<typeof lookupConfigOf>>;

export interface LookupStats {
  /** records that carried a key to look up */
  lookups: number;
  /** lookups answered without the database: from the cache, or by an earlier record of the same batch */
  hits: number;
  /** keys sent to the database */
  misses: number;
  /** queries sent */
  queries: number;
}

export class LookupTransform implements TransformInstance {
  readonly kind = 'transform' as const;
  private reference?: ReferenceTable;
  private readonly cache: LruCache<string, Value[]>;
  private readonly counts = { lookups: 0, hits: 0, misses: 0 };
  private warnedAbsent = false;
  private readonly adder: FieldAdder;

  constructor(
    private readonly ctx: NodeContext<LookupConfig>,
    private readonly kinds: readonly ReferenceKind[],
  ) {
    this.cache = new LruCache(ctx.config.cache.maxEntries, ctx.config.cache.ttlMs);
    this.adder = new FieldAdder(ctx.config.as);
  }

  stats(): LookupStats {
    return { ...this.counts, queries: this.reference?.queries ?? 0 };
  }

  async open(): Promise<void> {
    const { ctx } = this;
    this.reference = createReference(this.kinds, ctx.config.from, {
      nodeId: ctx.nodeId,
      column: ctx.config.foreignKey,
      maxKeysPerQuery: ctx.config.maxKeysPerQuery,
      files: ctx.files,
      connection: ctx.connection,
      log: ctx.log,
    });
    await this.reference.open();
  }

  async process(records: SluiceRecord[], port: string): Promise<PortOutputs> {
    if (port !== 'in') throw new NodeError(this.ctx.nodeId, `lookup mode reads the "in" port, got records on "${port}"`);
    if (!this.reference) throw new NodeError(this.ctx.nodeId, 'process() before open()');
    const { localKey } = this.ctx.config;
    const out: SluiceRecord[] = [];
    const error: SluiceRecord[] = [];

    // 1. the join key of each record; which keys the cache cannot answer
    const keys: (string | null)[] = new Array(records.length).fill(null);
    const resolved = new Map<string, Value[]>();
    const ask = new Map<string, unknown>();
    records.forEach((r, i) => {
      if (r.op === 'd' || !r.value) return;
      const raw = r.value[localKey];
      const jk = joinKey(raw);
      if (jk === undefined) return;
      if (raw === undefined) this.warnAbsent(r);
      if (jk === null) return;
      keys[i] = jk;
      this.counts.lookups++;
      if (resolved.has(jk) || ask.has(jk)) {
        this.counts.hits++;
        return;
      }
      const cached = this.cache.get(jk);
      if (cached) {
        this.counts.hits++;
        resolved.set(jk, cached);
      } else {
        this.counts.misses++;
        ask.set(jk, raw);
      }
    });

    // 2. one query (per maxKeysPerQuery keys) for the rest; a key without rows is cached as []
    if (ask.size > 0) {
      const found = await this.reference.lookup([...ask.values()]);
      for (const jk of ask.keys()) {
        const rows = found.get(jk) ?? [];
        resolved.set(jk, rows);
        this.cache.set(jk, rows);
      }
    }

    // 3. enrich
    records.forEach((r, i) => {
      if (r.op === 'd' || !r.value) {
        if (r.op !== 'd') error.push(errorRecord(r, this.ctx.nodeId, `record (op ${r.op}, key ${show(r.key)}) has no value to enrich`));
        else out.push(r);
        return;
      }
      const jk = keys[i];
      const raw = r.value[localKey];
      if (jk === null && joinKey(raw) === undefined) {
        error.push(errorRecord(r, this.ctx.nodeId, `localKey "${localKey}" is ${show(raw)}: a key must be a string, a number or a boolean`));
        return;
      }
      const rows = jk === null ? [] : (resolved.get(jk) ?? []);
      if (rows.length === 0) {
        const { onMissing, many, foreignKey } = this.ctx.config;
        if (onMissing === 'drop') return;
        if (onMissing === 'error') {
          error.push(errorRecord(r, this.ctx.nodeId, `no row in ${this.reference!.label} with ${foreignKey} = ${show(raw ?? null)} (localKey "${localKey}"; onMissing is "error")`));
          return;
        }
        out.push({ ...r, value: this.adder.with(r.value, many ? [] : null) });
        return;
      }
      out.push({ ...r, value: this.adder.with(r.value, this.ctx.config.many ? rows : rows[0]) });
    });
    return { out, error };
  }

  async close(): Promise<void> {
    const s = this.stats();
    if (s.lookups > 0) {
      const rate = ((s.hits / s.lookups) * 100).toFixed(1);
      this.ctx.log.info(`lookup: ${s.lookups} lookups, ${rate}% from the cache, ${s.queries} queries (${((s.queries / s.lookups) * 1000).toFixed(2)} per 1,000)`);
    }
    this.cache.clear();
    await this.reference?.close();
    this.reference = undefined;
  }

  private warnAbsent(r: SluiceRecord): void {
    if (this.warnedAbsent) return;
    this.warnedAbsent = true;
    const fields = Object.keys(r.value ?? {}).slice(0, 12).join(', ');
    this.ctx.log.warn(`records have no field "${this.ctx.config.localKey}" (localKey); they get no match. Fields of the first one: ${fields}`);
  }
}
