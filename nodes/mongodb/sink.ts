/**
 * mongodb.sink: writes records into a MongoDB collection by key — one unordered `bulkWrite` per batch:
 * `replaceOne(filter, document, { upsert: true })` for ops c, u, r and `deleteOne(filter)` for op d.
 * Several records of one batch with the same key collapse to the last one (what a sequential write would
 * leave), so the unordered bulk is safe. Nested objects and arrays (the documents core.denormalize
 * builds: `{ ...order, lines: [{...}, ...] }`) are written as embedded documents and arrays.
 *
 * Creates first as inserts: with `keys: ['_id']` (the default), a record of op c or r (a snapshot, a new
 * row, nest's first document of a parent) goes into the bulk as `insertOne`; the inserts that meet an
 * existing _id (duplicate key 11000: a batch delivered again after a restart, a collection written
 * before) are redone at once as replaceOne upserts, so the end state is the same as with upserts only.
 * An insert costs the server less than an upsert, which has to look the _id up first (`npm run bench --
 * mongodb` measures both paths); flows whose writes are mostly updates (nest re-emits a parent per
 * line) gain less.
 *
 * Keys (`keys`, default `['_id']`): the filter holds each key field, its value taken from the record's
 * value (for a delete: `before`, else the value), else from `record.key` (a field of an object key, or
 * the key itself when there is one key field). For `_id` only, a record that has none is given one from
 * its key: a scalar key as it is, a one-field key object by that field's value (`{ id: 7 }` → `_id: 7`),
 * a key object of several fields as an embedded document (`{ order_id: 1, line: 2 }`). So rows from SQL
 * tables land with `_id` = their primary key, and nothing needs an extra index.
 * With other key fields (e.g. `['id']`), the document keeps the `_id` MongoDB gave it when it was first
 * inserted (a record's `_id` field is not written, so a replacement never changes it), and the sink
 * creates a unique index on the key fields at open (`createIndex`), so upserts find documents through
 * it and two writers cannot insert the same key twice. Key fields are top-level fields.
 *
 * Values: record → BSON as in the table at the top of types.ts (declared types included: a SQL source's
 * DECIMAL goes in as Decimal128, BIGINT as Int64, TINYINT(1) as Boolean, TIMESTAMP as Date); `objectIdFields` names the top-level
 * fields whose 24-hex-digit strings become ObjectIds (`['_id']` when copying a MongoDB collection
 * whose _ids are ObjectIds, which mongodb.source reads as hex strings). The collection is created by
 * MongoDB on the first write when missing. A failed write fails the batch (the executor retries it;
 * the writes are idempotent by key), naming the record key and MongoDB's reason.
 */
import { z } from 'zod';
import type { AnyBulkWriteOperation, Collection, Document } from 'mongodb';
import { mongo } from './driver.js';
import { ConfigError, NodeError, defineNode, errorMessage, type NodeContext, type SinkInstance, type SinkPreviewTarget, type SluiceRecord } from '../../runtime/index.js';
import { sinkPerTable } from '../shared/table-router.js';
import { noValue } from '../shared/sink-plan.js';
import { keyPart, show } from '../shared/keys.js';
import { acquireClient, commandError, connectionFields, databaseOf, oneConnection, resolveTarget, type ClientLease, type Target } from './connection.js';
import { declaredConverters, fieldToBson, toDocument } from './types.js';
import { SCHEMA_META, isTableSchema } from '../shared/columns.js';
import { openOrClose } from '../shared/open.js';
import { wouldCreate } from '../shared/preview-target.js';

const configSchema = z
  .object({
    ...connectionFields,
    database: z.string().min(1).optional().describe('database to write in; default: the one named by the connection or in the URL path'),
    collection: z.string().min(1).describe('collection to write; created by MongoDB on the first write when missing. {table} and {schema} stand for the source table of each record ({table}: every table a multi-table source reads, each into its own collection)'),
    keys: z
      .array(z.string().min(1))
      .min(1, 'name at least one key field')
      .default(['_id'])
      .describe("top-level fields that identify a document: upserts and deletes match on them. Default ['_id'], given from the record key when a record has no _id"),
    objectIdFields: z
      .array(z.string().min(1))
      .default([])
      .describe("top-level fields whose 24-hex-digit strings are written as ObjectId, e.g. ['_id'] when copying a MongoDB collection"),
    createIndex: z
      .boolean()
      .default(true)
      .describe('keys other than _id: create a unique index on them at open when there is none (upserts then use it)'),
  })
  .strict()
  .superRefine(oneConnection)
  .superRefine((c, ctx) => {
    if (new Set(c.keys).size !== c.keys.length) ctx.addIssue({ code: 'custom', path: ['keys'], message: 'a key field is named twice' });
    c.keys.forEach((k, i) => {
      if (k.includes('.') || k.startsWith('$')) ctx.addIssue({ code: 'custom', path: ['keys', i], message: `${JSON.stringify(k)}: key fields are top-level field names (no dots, no leading $)` });
    });
  });

type Config = z.output<typeof configSchema>;

/** documents written by each path since open */
export interface MongoSinkStats {
  /** creates (op c / r) written as insertOne */
  inserted: number;
  /** replaceOne upserts (updates, and creates whose insert met an existing _id) */
  replaced: number;
  deleted: number;
  /** inserts that met an existing _id and were redone as replaceOne */
  conflicts: number;
}

class MongodbSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private target!: Target;
  private lease?: ClientLease;
  private coll?: Collection;
  private name = '';
  private readonly objectIdFields: ReadonlySet<string>;
  /** per source table (meta.table): the fields its declared columns (meta.schema) convert, from the last schema seen */
  private readonly declared = new Map<string, ReturnType<typeof declaredConverters>>();
  private readonly idKey: boolean;
  /** keys are exactly [_id]: creates (op c / r) may go as inserts, see write() */
  private readonly insertsFirst: boolean;
  private readonly counts: MongoSinkStats = { inserted: 0, replaced: 0, deleted: 0, conflicts: 0 };

  constructor(private readonly ctx: NodeContext<Config>) {
    this.objectIdFields = new Set(ctx.config.objectIdFields);
    this.idKey = ctx.config.keys.includes('_id');
    this.insertsFirst = ctx.config.keys.length === 1 && this.idKey;
  }

  async open(): Promise<void> {
    await openOrClose(() => this.start(), () => this.close());
  }

  /** a test run: would the first write create the collection (MongoDB creates it on the first write)? Read-only */
  async previewTarget(): Promise<SinkPreviewTarget | undefined> {
    const { config, nodeId } = this.ctx;
    const target = resolveTarget(this.ctx, config);
    const database = databaseOf(nodeId, target, config.database);
    return wouldCreate(true, `collection ${database}.${config.collection}`, async () => {
      const lease = await acquireClient(nodeId, target);
      try {
        return (await lease.client.db(database).listCollections({ name: config.collection }, { nameOnly: true }).toArray()).length > 0;
      } finally {
        await lease.release();
      }
    });
  }

  private async start(): Promise<void> {
    const { config, nodeId } = this.ctx;
    this.target = resolveTarget(this.ctx, config);
    const database = databaseOf(nodeId, this.target, config.database);
    this.name = `${database}.${config.collection}`;
    this.lease = await acquireClient(nodeId, this.target);
    this.coll = this.lease.client.db(database).collection(config.collection);
    if (!this.idKey) await this.ensureIndex();
  }

  /** a unique index on the key fields (keys other than _id) */
  private async ensureIndex(): Promise<void> {
    const { config, nodeId } = this.ctx;
    const wanted = [...config.keys].sort().join('\0');
    let indexes: Document[] = [];
    try {
      indexes = await this.coll!.listIndexes().toArray();
    } catch (err) {
      if (Number((err as { code?: unknown }).code) !== 26) throw commandError(nodeId, 'collection', this.target, err, `listing the indexes of ${this.name}`); // 26: no collection yet
    }
    if (indexes.some((ix) => ix.unique && !ix.partialFilterExpression && Object.keys(ix.key).sort().join('\0') === wanted)) return;
    const spec = `(${config.keys.join(', ')})`;
    if (!config.createIndex) {
      this.ctx.log.warn(`collection ${this.name} has no unique index on ${spec}: every upsert scans the collection and concurrent writers can insert a key twice (createIndex: true creates one)`);
      return;
    }
    try {
      await this.coll!.createIndex(Object.fromEntries(config.keys.map((k) => [k, 1])), { unique: true, name: `sluice_${config.keys.join('_')}` });
      this.ctx.log.info(`created a unique index on ${spec} of ${this.name}`);
    } catch (err) {
      if (Number((err as { code?: unknown }).code) === 11000) {
        throw new ConfigError(nodeId, 'keys', `cannot create a unique index on ${spec} of ${this.name}: documents already share a key (${errorMessage(err)}). Remove the duplicates or choose other keys`);
      }
      throw commandError(nodeId, 'keys', this.target, err, `creating a unique index on ${spec} of ${this.name}`);
    }
  }

  async write(records: SluiceRecord[]): Promise<void> {
    if (!this.coll) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    if (records.length === 0) return;
    // the last record of each key wins: an unordered bulk then leaves what a sequential write would
    const byKey = new Map<string, { op: AnyBulkWriteOperation; record: SluiceRecord }>();
    for (const r of records) {
      // before the op: a table's first record in a batch carries its schema, and it may be a delete
      const declared = this.declaredFor(r);
      const { filter, id } = this.filterOf(r, declared);
      let op: AnyBulkWriteOperation;
      if (r.op === 'd') {
        op = { deleteOne: { filter } };
      } else {
        if (!r.value) throw noValue({ nodeId: this.ctx.nodeId, what: `collection ${this.name}` }, r);
        const doc = toDocument(r.value, this.objectIdFields);
        if (declared) {
          for (const [field, convert] of declared) {
            const v = r.value[field];
            if (v !== undefined && v !== null && !this.objectIdFields.has(field)) doc[field] = convert(v);
          }
        }
        delete doc._id;
        // with _id among the keys it comes from the filter (first, as MongoDB stores it); else the stored one stays
        const replacement = this.idKey ? { _id: filter._id, ...doc } : doc;
        op = this.insertsFirst && (r.op === 'c' || r.op === 'r') ? { insertOne: { document: replacement } } : { replaceOne: { filter, replacement, upsert: true } };
      }
      byKey.delete(id);
      byKey.set(id, { op, record: r });
    }
    let entries = [...byKey.values()];
    try {
      try {
        await this.coll.bulkWrite(
          entries.map((e) => e.op),
          { ordered: false },
        );
        this.tally(entries, new Set());
      } catch (err) {
        // creates whose _id exists already (a replayed batch, a collection written before): replaced instead
        const errors = err instanceof mongo.MongoBulkWriteError ? (Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors]) : [];
        const retry = errors.filter((e) => e.code === 11000 && entries[e.index] && 'insertOne' in entries[e.index].op);
        if (retry.length === 0 || retry.length !== errors.length) throw err;
        const failed = new Set(retry.map((e) => e.index));
        this.tally(entries, failed);
        entries = [...failed].map((i) => {
          const e = entries[i];
          const document = (e.op as { insertOne: { document: Document } }).insertOne.document;
          return { record: e.record, op: { replaceOne: { filter: { _id: document._id }, replacement: document, upsert: true } } };
        });
        this.counts.conflicts += entries.length;
        await this.coll.bulkWrite(
          entries.map((e) => e.op),
          { ordered: false },
        );
        this.tally(entries, new Set());
      }
    } catch (err) {
      if (err instanceof mongo.MongoBulkWriteError) {
        const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
        const first = errors[0];
        const record = first ? entries[first.index]?.record : undefined;
        const which = record ? `record with key ${show(record.key)} (op ${record.op})` : 'a write';
        throw new NodeError(
          this.ctx.nodeId,
          `collection ${this.name}: ${errors.length} of ${entries.length} writes failed; ${which}: ${first?.errmsg ?? err.message}`,
          { cause: err },
        );
      }
      throw commandError(this.ctx.nodeId, 'collection', this.target, err, `writing to ${this.name}`);
    }
  }

  /** documents written by each kind of operation since open (tests and benches read it) */
  stats(): MongoSinkStats {
    return { ...this.counts };
  }

  private tally(entries: { op: AnyBulkWriteOperation }[], failed: Set<number>): void {
    entries.forEach((e, i) => {
      if (failed.has(i)) return;
      if ('insertOne' in e.op) this.counts.inserted++;
      else if ('replaceOne' in e.op) this.counts.replaced++;
      else this.counts.deleted++;
    });
  }

  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = this.coll = undefined;
    await lease?.release();
  }

  /**
   * The converters of the record's source table: a source sends meta.schema on the first record of a
   * table in each batch, the records after it (of the same table) are converted the same way.
   */
  private declaredFor(r: SluiceRecord): ReturnType<typeof declaredConverters> | undefined {
    const schema = r.meta[SCHEMA_META];
    const table = typeof r.meta.table === 'string' ? r.meta.table : undefined;
    if (schema !== undefined && isTableSchema(schema)) {
      const converters = declaredConverters(schema);
      this.declared.set(schema.table, converters);
      if (table !== undefined) this.declared.set(table, converters);
      return converters;
    }
    return table !== undefined ? this.declared.get(table) : undefined;
  }

  /**
   * The filter that finds a record's document (key fields converted as the document's are, when
   * declared), and a string equal for records of the same key.
   */
  private filterOf(r: SluiceRecord, declared?: ReturnType<typeof declaredConverters>): { filter: Document; id: string } {
    const keys = this.ctx.config.keys;
    const row = r.op === 'd' ? (r.before ?? r.value) : r.value;
    const filter: Document = {};
    const raw: unknown[] = [];
    for (const k of keys) {
      let v = row?.[k];
      if (v === undefined || v === null) v = keyPart(r.key, k, keys.length);
      if ((v === undefined || v === null) && k === '_id') v = idFromKey(r.key);
      if (v === undefined || v === null) {
        throw new NodeError(
          this.ctx.nodeId,
          `collection ${this.name}: record with key ${show(r.key)} (op ${r.op}) has no value for key field ${JSON.stringify(k)} (keys: ${keys.join(', ')})`,
        );
      }
      raw.push(v);
      const convert = this.objectIdFields.has(k) ? undefined : declared?.get(k);
      filter[k] = convert ? convert(v) : fieldToBson(k, v, this.objectIdFields);
    }
    return { filter, id: JSON.stringify(raw, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) };
  }
}

/** an _id from a record key without one: the scalar, the single field's value, or the key object itself */
function idFromKey(key: unknown): unknown {
  if (key === null || key === undefined) return undefined;
  if (typeof key !== 'object' || Array.isArray(key)) return key;
  const fields = Object.keys(key);
  if (fields.length === 0) return undefined;
  return fields.length === 1 ? (key as Record<string, unknown>)[fields[0]] : key;
}

export const mongodbSink = defineNode({
  type: 'mongodb.sink',
  category: 'sink',
  title: 'MongoDB sink',
  description:
    'Upserts records into a MongoDB collection by key (replaceOne upsert, deleteOne on op d) with one unordered bulkWrite per batch; nested objects and arrays become embedded documents.',
  icon: 'database',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => sinkPerTable(ctx, 'collection', (c) => new MongodbSink(c)),
});

export default mongodbSink;
