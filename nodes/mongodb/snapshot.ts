/**
 * The snapshot half of mongodb.source: one collection read in _id order, a page at a time (keyset:
 * `{ _id: { $gt: last } }` on the _id index, so a restarted flow continues after the last _id
 * committed). `$gt` only compares _ids of one BSON type, so when a type runs out one
 * `{ _id: { $type: [later types] } }` query finds the next, and _ids of mixed types are read in BSON order.
 */
import type { Collection, Db, Document } from 'mongodb';

/** the next page of `collection` after `after` (undefined: from the start), at most `limit` documents; [] at its end */
export async function snapshotPage(db: Db, collection: string, after: unknown, limit: number): Promise<Document[]> {
  const coll = db.collection(collection);
  const docs = await page(coll, after === undefined ? {} : { _id: { $gt: after } }, limit);
  if (docs.length > 0 || after === undefined) return docs;
  const later = typesAfter(after);
  return later.length > 0 ? page(coll, { _id: { $type: later } }, limit) : docs;
}

function page(coll: Collection, filter: Document, limit: number): Promise<Document[]> {
  return coll.find(filter, { sort: { _id: 1 }, limit, batchSize: limit }).toArray();
}

// ---- BSON type order of _id values ------------------------------------------------------------------

/** BSON comparison order of the types an _id can have, with their $type aliases (symbol, deprecated, left out) */
const TYPE_ORDER: string[][] = [
  ['minKey'],
  ['null'],
  ['double', 'int', 'long', 'decimal'],
  ['string'],
  ['object'],
  ['binData'],
  ['objectId'],
  ['bool'],
  ['date'],
  ['timestamp'],
  ['regex'],
  ['maxKey'],
];

function typeRank(v: unknown): number {
  if (v === null || v === undefined) return 1;
  switch (typeof v) {
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    case 'boolean':
      return 7;
  }
  if (v instanceof Date) return 8;
  const tag = (v as { _bsontype?: string })._bsontype;
  switch (tag) {
    case 'MinKey':
      return 0;
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return 2;
    case 'BSONSymbol':
      return 3;
    case 'Binary':
      return 5;
    case 'ObjectId':
      return 6;
    case 'Timestamp':
      return 9;
    case 'BSONRegExp':
      return 10;
    case 'MaxKey':
      return 11;
    default:
      return v instanceof RegExp ? 10 : 4;
  }
}

/** the $type aliases of every BSON type that sorts after the type of `v` */
function typesAfter(v: unknown): string[] {
  return TYPE_ORDER.slice(typeRank(v) + 1).flat();
}
