/**
 * The `mongodb` reference table of core.denormalize (lookup mode): a collection, read through the same
 * pooled client as the mongodb.* nodes (connection.ts).
 *
 * One `find({ <foreignKey>: { $in: [...] } })` per chunk of keys (`maxKeysPerQuery`), documents in _id
 * order. Each key is sent in every form that has its join key (nodes/shared/reference.ts): the string,
 * the number when the string is one, and the ObjectId when it is 24 hex digits, so a customer_id read as
 * a hex string by mongodb.source (or as a number from SQL) finds its document whatever type the
 * collection stores. Documents are converted as mongodb.source reads them (types.ts).
 */
import { z } from 'zod';
import type { Collection } from 'mongodb';
import { mongo } from './driver.js';
import { ConfigError, type Value } from '../../runtime/index.js';
import { addRow, defineReference, joinKey, openReference, type ReferenceOptions, type ReferenceTable } from '../shared/reference.js';
import { acquireClient, commandError, connectionFields, databaseOf, oneConnection, resolveTarget, type ClientLease, type Target } from './connection.js';
import { documentValue } from './types.js';

export const mongodbFrom = z
  .object({
    type: z.literal('mongodb').describe('a collection of a MongoDB database'),
    ...connectionFields,
    database: z.string().min(1).optional().describe('database holding the collection; default: the one named by the connection or in the URL path'),
    collection: z.string().min(1).describe('the reference collection'),
  })
  .strict()
  .superRefine(oneConnection);

type MongodbFrom = z.output<typeof mongodbFrom>;

/** the fields of `from` that connection.ts and open() blame, reported as `from.*` */
const FROM_FIELDS = ['connection', 'url', 'tls', 'database', 'collection'];

const HEX24 = /^[0-9a-fA-F]{24}$/;

/** the values a join key is sent as: the string, the number, the ObjectId */
function queryForms(key: string): unknown[] {
  const forms: unknown[] = [key];
  const n = Number(key);
  if (key !== '' && String(n) === key) forms.push(n);
  if (HEX24.test(key)) forms.push(new mongo.ObjectId(key));
  return forms;
}

class MongodbReference implements ReferenceTable {
  queries = 0;
  private lease?: ClientLease;
  private coll?: Collection;
  private target?: Target;
  private database = '';

  constructor(
    private readonly from: MongodbFrom,
    private readonly options: ReferenceOptions,
  ) {}

  get label(): string {
    return `collection ${this.database ? `${this.database}.` : ''}${this.from.collection}`;
  }

  async open(): Promise<void> {
    const { nodeId } = this.options;
    await openReference(this, FROM_FIELDS, () => this.start(), (err) => (this.target ? commandError(nodeId, 'from.collection', this.target, err, `opening ${this.label}`) : err));
  }

  private async start(): Promise<void> {
    const { from, options } = this;
    const { nodeId } = options;
    this.target = resolveTarget({ nodeId, connection: options.connection, files: options.files }, from);
    this.database = databaseOf(nodeId, this.target, from.database);
    this.lease = await acquireClient(nodeId, this.target);
    const db = this.lease.client.db(this.database);
    const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
    if (!names.includes(from.collection)) {
      const have = names.length === 0 ? `database ${JSON.stringify(this.database)} has no collections` : `collections: ${names.join(', ')}`;
      throw new ConfigError(nodeId, 'collection', `collection ${JSON.stringify(from.collection)} not found in database ${this.database}; ${have}`);
    }
    this.coll = db.collection(from.collection);
    if (options.column !== '_id') {
      const indexes = await this.coll.listIndexes().toArray();
      if (!indexes.some((ix) => Object.keys(ix.key)[0] === options.column)) {
        options.log.warn(
          `from: field ${options.column} of collection ${this.database}.${from.collection} has no index: every lookup query scans the collection (db.${from.collection}.createIndex({ ${options.column}: 1 }))`,
        );
      }
    }
  }

  async lookup(keys: unknown[]): Promise<Map<string, Value[]>> {
    const coll = this.coll;
    if (!coll) throw new Error('lookup() before open()');
    const column = this.options.column;
    const found = new Map<string, Value[]>();
    const run = async (forms: unknown[]) => {
      if (forms.length === 0) return;
      let docs;
      try {
        docs = await coll.find({ [column]: { $in: forms } }, { sort: { _id: 1 } }).toArray();
      } catch (err) {
        throw commandError(this.options.nodeId, 'from.collection', this.target!, err, `looking up ${forms.length} keys in ${this.label}`);
      }
      this.queries++;
      for (const doc of docs) {
        const value = documentValue(doc);
        const jk = joinKey(value[column]);
        if (typeof jk !== 'string') continue;
        addRow(found, jk, value);
      }
    };
    let forms: unknown[] = [];
    let inQuery = 0;
    for (const key of keys) {
      const jk = joinKey(key);
      if (typeof jk !== 'string') continue;
      forms.push(...queryForms(jk));
      if (++inQuery >= this.options.maxKeysPerQuery) {
        await run(forms);
        forms = [];
        inQuery = 0;
      }
    }
    await run(forms);
    return found;
  }

  async close(): Promise<void> {
    const lease = this.lease;
    this.lease = this.coll = undefined;
    await lease?.release();
  }
}

export const mongodbReference = defineReference({
  type: 'mongodb',
  schema: mongodbFrom,
  create: (config, options) => new MongodbReference(config, options),
});
