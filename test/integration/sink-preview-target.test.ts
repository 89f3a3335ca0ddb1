/**
 * What a test run says a sink's first write would do to its target (SinkInstance.previewTarget, shown
 * in the editor as "would create table x and insert N rows"), against real PostgreSQL, MySQL/MariaDB
 * and MongoDB: a table (collection) that does not exist yet would be created; one that exists is left
 * as it is; with createTable: false nothing is promised; and the question itself creates nothing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { MongoClient } from 'mongodb';
import { probePostgres, service } from '../helpers/services.js';
import { create } from '../helpers/node-harness.js';
import type { SinkInstance } from '../../runtime/node-api.js';
import { postgresSink } from '../../nodes/postgres/sink.js';
import { mysqlSink } from '../../nodes/mysql/sink.js';
import { mongodbSink } from '../../nodes/mongodb/sink.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', async (url) => {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
  await c.end();
});
const MONGO = await service('MongoDB', 'MONGO_URL', 'mongodb://127.0.0.1:27018/?directConnection=true', async (url) => {
  const c = new MongoClient(url, { serverSelectionTimeoutMS: 3000 });
  try {
    await c.connect();
  } finally {
    await c.close();
  }
});

const TAG = `editor_pt_${process.pid}`;
const previewOf = async (sink: SinkInstance) => sink.previewTarget!();
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe.skipIf(!PG.available)('postgres.sink previewTarget (real PostgreSQL)', () => {
  it('a missing table would be created (and is not); an existing one is left; createTable: false promises nothing', async () => {
    const client = new pg.Client({ connectionString: PG.url });
    await client.connect();
    cleanups.push(async () => {
      await client.query(`DROP SCHEMA IF EXISTS ${TAG} CASCADE`);
      await client.end();
    });
    await client.query(`CREATE SCHEMA ${TAG}`);
    const missing = await create<SinkInstance>(postgresSink, { url: PG.url, table: `${TAG}.totals` });
    expect(await previewOf(missing)).toEqual({ creates: `table ${TAG}.totals` });
    expect((await client.query('SELECT to_regclass($1) AS t', [`${TAG}.totals`])).rows[0].t).toBeNull();
    expect(await previewOf(await create<SinkInstance>(postgresSink, { url: PG.url, table: `${TAG}.totals`, createTable: false }))).toBeUndefined();
    await client.query(`CREATE TABLE ${TAG}.totals (id int PRIMARY KEY)`);
    expect(await previewOf(await create<SinkInstance>(postgresSink, { url: PG.url, table: `${TAG}.totals` }))).toBeUndefined();
  });
});

describe.skipIf(!MY.available)('mysql.sink previewTarget (real MySQL/MariaDB)', () => {
  it('a missing table would be created (and is not); an existing one is left; createTable: false promises nothing', async () => {
    const c = await mysql.createConnection({ uri: MY.url });
    cleanups.push(async () => {
      await c.query(`DROP DATABASE IF EXISTS ${TAG}`);
      await c.end();
    });
    await c.query(`CREATE DATABASE ${TAG}`);
    const missing = await create<SinkInstance>(mysqlSink, { url: MY.url, table: `${TAG}.totals` });
    expect(await previewOf(missing)).toEqual({ creates: `table ${TAG}.totals` });
    const [tables] = await c.query<mysql.RowDataPacket[]>('SELECT table_name FROM information_schema.tables WHERE table_schema = ?', [TAG]);
    expect(tables).toHaveLength(0);
    expect(await previewOf(await create<SinkInstance>(mysqlSink, { url: MY.url, table: `${TAG}.totals`, createTable: false }))).toBeUndefined();
    await c.query(`CREATE TABLE ${TAG}.totals (id int PRIMARY KEY)`);
    expect(await previewOf(await create<SinkInstance>(mysqlSink, { url: MY.url, table: `${TAG}.totals` }))).toBeUndefined();
  });
});

describe.skipIf(!MONGO.available)('mongodb.sink previewTarget (real MongoDB)', () => {
  it('a missing collection would be created (and is not); an existing one is left', async () => {
    const client = new MongoClient(MONGO.url);
    await client.connect();
    const db = client.db(TAG);
    cleanups.push(async () => {
      await db.dropDatabase();
      await client.close();
    });
    const missing = await create<SinkInstance>(mongodbSink, { url: MONGO.url, database: TAG, collection: 'totals' });
    expect(await previewOf(missing)).toEqual({ creates: `collection ${TAG}.totals` });
    expect(await db.listCollections({ name: 'totals' }).toArray()).toHaveLength(0);
    await db.collection('totals').insertOne({ _id: 1 } as never);
    expect(await previewOf(await create<SinkInstance>(mongodbSink, { url: MONGO.url, database: TAG, collection: 'totals' }))).toBeUndefined();
  });
});
