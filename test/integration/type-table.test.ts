/**
 * The type table: for every column type a source can declare (nodes/shared/type-mapping.ts), a row of
 * edge values goes from the source to each target through a conversion flow (createTable), is read back
 * with Sluice's own source on the target, and must equal what the source read, unless the mapping data
 * declares the change lossy for that target. Between databases of one family the column's declared type
 * must come back too. The source's meta.schema must describe each column as the mapping data says.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import type { SluiceRecord, SourceInstance } from '../../runtime/index.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { postgresSource } from '../../nodes/postgres/source.js';
import { mysqlSource } from '../../nodes/mysql/source.js';
import { mongodbSource } from '../../nodes/mongodb/source.js';
import { sqliteSource } from '../../nodes/sqlite/source.js';
import { isTableSchema, type ColumnSpec } from '../../nodes/shared/columns.js';
import { fromEwkb, isGeometryValue, toEwkb, wkbOf, wkbToGeoJson } from '../../nodes/shared/geometry.js';
import { SOURCE_TYPES, VALUE_RULES, type SourceFamily, type SourceType, type TargetFamily } from '../../nodes/shared/type-mapping.js';
import { create, readAll, tempDir } from '../helpers/node-harness.js';
import { probeMysql, probePostgres, type ScratchDb, scratchMysql, scratchPostgres, service } from '../helpers/services.js';
import { testRegistry } from '../helpers/test-nodes.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);
const CDC = await service('MySQL/MariaDB with binlog', 'MYSQL_CDC_URL', 'mysql://root@127.0.0.1:3307/mysql', probeMysql);
const MONGO = await service('MongoDB', 'MONGO_URL', 'mongodb://127.0.0.1:27018/?directConnection=true', async (url) => {
  const c = new MongoClient(url, { serverSelectionTimeoutMS: 3000 });
  await c.connect().finally(() => c.close());
});

const suffix = randomBytes(4).toString('hex');
const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

/** edge values per type id, as SQL literals of the source's dialect: one row each (missing: NULL); a last row is all NULL */
const MYSQL_VALUES: Record<string, string[]> = {
  tinyint: ['-128', '127'],
  tinyint_u: ['0', '255'],
  smallint: ['-32768', '32767'],
  smallint_u: ['0', '65535'],
  mediumint: ['-8388608', '8388607'],
  mediumint_u: ['0', '16777215'],
  int: ['-2147483648', '2147483647'],
  int_u: ['0', '4294967295'],
  bigint: ['-9223372036854775808', '9223372036854775807', '9007199254740993'],
  bigint_u: ['0', '18446744073709551615', '9007199254740993'],
  boolean: ['0', '1'],
  year: ['1901', '2155', '0'],
  bit1: ["b'0'", "b'1'"],
  bit64: ["b'0'", `b'${'1'.repeat(64)}'`, "b'101'"],
  decimal: [`'-${'9'.repeat(35)}.${'9'.repeat(30)}'`, `'0.${'0'.repeat(29)}1'`, "'12.30'"],
  decimal_small: ["'-99999999.99'", "'12.30'", "'0.00'"],
  float: ['-3.40282e38', '1.1', '0'],
  double: ['-1.7976931348623157e308', '0.1', '2.2250738585072014e-308'],
  char: ["'ab'", "''", "'ünïcødé ✓'"],
  varchar: [`'ünïcødé ✓ \\' "quote" \\\\'`, "''", "'  padded  '"],
  tinytext: ["REPEAT('x', 255)", "'a'"],
  text: ["REPEAT('é', 1000)", "''"],
  mediumtext: ["'line1\\nline2\\ttab\\\\backslash'", "REPEAT('m', 70000)"],
  longtext: ["REPEAT('z', 100000)", "'{\"not\": \"json\"}'"],
  enum: ["'a'", "'c d'"],
  set: ["'x,z'", "''", "'x,y,z'"],
  json: [`'{"b":1,"a":[1,2.5,"s",null,true],"n":{"x":{}}}'`, `'"just a string"'`, "'[]'"],
  binary: ["x'00010203'", "x'ff'"],
  varbinary: ["x''", "x'00ff'"],
  tinyblob: ["x'00'", "UNHEX(REPEAT('ff', 255))"],
  blob: ["UNHEX(REPEAT('00ff', 1000))", "x''"],
  mediumblob: ["UNHEX(REPEAT('a5', 70000))", "x'01'"],
  longblob: ["UNHEX(REPEAT('5a', 100000))", "x'02'"],
  date: ["'1000-01-01'", "'9999-12-31'", "'0000-00-00'"],
  datetime: ["'1000-01-01 00:00:00'", "'9999-12-31 23:59:59'", "'0000-00-00 00:00:00'"],
  datetime6: ["'1000-01-01 00:00:00.000000'", "'9999-12-31 23:59:59.999999'", "'2024-02-29 12:00:00.5'"],
  timestamp6: ["'1970-01-01 00:00:01.000000'", "'2038-01-19 03:14:07.999999'", "'0000-00-00 00:00:00'"],
  time: ["'-838:59:59'", "'838:59:59'", "'00:00:00'"],
  time6: ["'-838:59:59.000000'", "'12:34:56.789012'", "'00:00:00.000001'"],
  uuid: ["'123e4567-e89b-12d3-a456-426614174000'", "'ffffffff-ffff-4fff-bfff-ffffffffffff'"],
  geometry: ["ST_GeomFromText('POINT(-112.8185647 49.6999986)', 4326)", "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))')"],
  point: ["ST_GeomFromText('POINT(-112.8185647 49.6999986)', 4326)", "ST_GeomFromText('POINT(0 0)')"],
  linestring: ["ST_GeomFromText('LINESTRING(0 0,1 1,2 0.5)', 3857)"],
  polygon: ["ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0),(1 1,2 1,2 2,1 1))', 4326)"],
  multipoint: ["ST_GeomFromText('MULTIPOINT(1 1,2 2)')"],
  multilinestring: ["ST_GeomFromText('MULTILINESTRING((0 0,1 1),(2 2,3 3))', 4326)"],
  multipolygon: ["ST_GeomFromText('MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5)))')"],
  geometrycollection: ["ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),POLYGON((0 0,1 0,1 1,0 0)))', 4326)"],
};

const PG_VALUES: Record<string, string[]> = {
  smallint: ['-32768', '32767'],
  integer: ['-2147483648', '2147483647'],
  bigint: ['-9223372036854775808', '9223372036854775807', '9007199254740993'],
  numeric: ["'-99999999999999.999999'", "'0.000001'", "'12.300000'"],
  numeric_any: ["'NaN'", `'${'1234567890'.repeat(3)}.${'1234567890'.repeat(3)}'`, "'-0.0000000001'"],
  real: ["'NaN'", "'-Infinity'", '3.4e38'],
  double: ["'Infinity'", '1e308', '5e-324'],
  boolean: ['true', 'false'],
  text: [`$$ünïcødé ✓\n\t"\\ 'q'$$`, "''"],
  varchar: ["'ab'", "'abcdefghijklmnopqrst'"],
  char: ["'ab'", "'abcde'"],
  json: [`'{"b":1, "a":[1,2.5,"s",null,true]}'`, `'"str"'`, "'[]'"],
  jsonb: [`'{"b":1,"a":[1,2.5,"s",null,true],"n":{"x":{}}}'`, `'"str"'`, "'123.450'"],
  bytea: ["'\\x00ff'", "'\\x'"],
  date: ["'4713-01-01 BC'", "'5874897-12-31'", "'infinity'"],
  timestamp: ["'4713-01-01 00:00:00 BC'", "'294276-12-31 23:59:59.999999'", "'-infinity'"],
  timestamptz: ["'1969-07-20 20:17:40.5+00'", "'infinity'", "'2000-01-01 00:00:00+05:30'"],
  time: ["'00:00:00'", "'24:00:00'", "'23:59:59.999999'"],
  timetz: ["'00:00:00+1459'", "'24:00:00-1459'"],
  interval: ["'178000000 years'", "'-1 day -00:00:01.5'", "'1 mon 2 days 03:04:05.678901'"],
  uuid: ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'00000000-0000-0000-0000-000000000000'"],
  inet: ["'192.168.0.1/24'", "'::ffff:1.2.3.4'"],
  cidr: ["'10.0.0.0/8'", "'2001:db8::/32'"],
  macaddr: ["'08:00:2b:01:02:03'"],
  macaddr8: ["'08:00:2b:01:02:03:04:05'"],
  money: ["'-92233720368547758.08'", "'92233720368547758.07'"],
  bit: ["B'10101010'", "B'00000000'"],
  varbit: ["B'1'", "B''"],
  xml: [`'<a x="1">t</a>'`, "'text only'"],
  tsvector: ["'a fat cat:3A'", "''"],
  tsquery: ["'fat & (rat | cat)'"],
  point: ["'(1.5,-2)'"],
  line: ["'{1,-1,0}'"],
  lseg: ["'[(0,0),(1,1)]'"],
  box: ["'(1,1),(0,0)'"],
  path: ["'[(0,0),(1,1),(2,0)]'", "'((0,0),(1,1))'"],
  polygon: ["'((0,0),(1,1),(1,0))'"],
  circle: ["'<(0,0),5>'"],
  int4range: ["'[1,10)'", "'empty'"],
  numrange: ["'(,5.5]'"],
  tstzrange: ["'[2020-01-01 00:00:00+00,)'"],
  daterange: ["'[2020-01-01,2020-12-31)'"],
  enum: ["'happy'", "'sad'"],
  domain: ["12.30", "-99999999.99"],
  smallint_array: ["'{1,NULL,-32768}'", "'{}'"],
  integer_array: ["'{{1,2},{3,4}}'"],
  bigint_array: ["'{9223372036854775807,-1}'"],
  numeric_array: ["'{1.10,NaN}'"],
  real_array: ["'{NaN,Infinity,1.5}'"],
  double_precision_array: ["'{-Infinity,0.1}'"],
  boolean_array: ["'{t,f,NULL}'"],
  text_array: ['$${"a b","c\\"d",NULL,"NULL",""}$$'],
  varchar_array: ["'{x}'"],
  bytea_array: [`'{"\\\\x00ff"}'`],
  date_array: ["'{2020-01-01,infinity}'"],
  timestamp_array: [`'{"2020-01-01 00:00:00.5"}'`],
  timestamptz_array: [`'{"2020-01-01 00:00:00+00"}'`],
  time_array: ["'{12:00:00}'"],
  interval_array: [`'{"1 day"}'`],
  uuid_array: ["'{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}'"],
  json_array: [`ARRAY['{"a":1}'::json, '[1]']`],
  jsonb_array: [`ARRAY['{"a":1}'::jsonb, '[1]']`],
  inet_array: ["'{1.2.3.4}'"],
  mood_array: ["'{happy,sad}'"],
};

/**
 * Values a target cannot hold (their type's `lossy` entry says so): copied apart, each must fail its
 * flow with an error naming the table and the column, never land changed.
 */
const UNCARRIED: Partial<Record<`${SourceFamily}→${TargetFamily}`, Record<string, string[]>>> = {
  'postgres→mysql': {
    numeric_any: ["'NaN'"],
    real: ["'NaN'", "'-Infinity'"],
    double: ["'Infinity'"],
    date: ["'4713-01-01 BC'", "'5874897-12-31'", "'infinity'"],
    timestamp: ["'4713-01-01 00:00:00 BC'", "'294276-12-31 23:59:59.999999'", "'-infinity'"],
    timestamptz: ["'1969-07-20 20:17:40.5+00'", "'infinity'"],
  },
};

/** the DDL type of a row (enum and domain are made for the test) */
const ddlType = (t: SourceType) => t.declare;

/**
 * Two record values that mean the same: numbers and exact decimal strings compare as text (a BIGINT
 * UNSIGNED read from numeric(20,0)), and trailing zeros of a time's fraction are not a change.
 */
function same(a: unknown, b: unknown): boolean {
  const norm = (v: unknown): unknown => {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'string') return /^-?\d[\d :T-]*\d\.\d+Z?$/.test(v) ? v.replace(/\.?0+(Z?)$/, '$1') : v;
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
    return v;
  };
  return JSON.stringify(sortKeys(norm(a))) === JSON.stringify(sortKeys(norm(b)));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

async function runFlow(doc: Record<string, unknown>, env: Record<string, string>) {
  const store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
  const run = new FlowRun(compileFlow({ apiVersion: 'sluice/v1', ...doc }, testRegistry(), { env }), { store });
  return run.run().finally(() => store.close());
}

interface Endpoint {
  /** the sink node of a flow that copies into this target, `{table}` standing for the source table */
  sink(): { type: string; config: Record<string, unknown> };
  /** the copy of `table` read back, and its meta.schema columns when the target's source gives them */
  readBack(table: string): Promise<{ records: SluiceRecord[]; columns?: ColumnSpec[] }>;
}

const byId = (records: SluiceRecord[]) => new Map(records.map((r) => [Number((r.value as { id: unknown }).id), r.value as Record<string, unknown>]));
const columnsOf = (records: SluiceRecord[]) => {
  const s = records.find((r) => isTableSchema(r.meta.schema))?.meta.schema;
  return isTableSchema(s) ? s.columns : undefined;
};

const PGDB = `sluice_types_${suffix}`;
const MYDB = `sluice_types_${suffix}`;
const pgUrl = PG.available ? withDb(PG.url, PGDB) : '';
const myUrl = MY.available ? withDb(MY.url, MYDB) : '';
let pgc: pg.Client | undefined;
let my: mysql.Connection | undefined;
let mariadb = false;
const sqlitePath = join(tempDir(), 'types.db');

const endpoints: Record<TargetFamily, Endpoint | undefined> = {
  postgres: PG.available
    ? {
        sink: () => ({ type: 'postgres.sink', config: { url: pgUrl, table: 'copy.{table}', createTable: true } }),
        async readBack(table) {
          const { records } = await readAll(await create<SourceInstance>(postgresSource, { url: pgUrl, tables: [`copy.${table}`] }));
          return { records, columns: columnsOf(records) };
        },
      }
    : undefined,
  mysql: MY.available
    ? {
        sink: () => ({ type: 'mysql.sink', config: { url: myUrl, table: `${MYDB}_copy.{table}`, createTable: true } }),
        async readBack(table) {
          const { records } = await readAll(await create<SourceInstance>(mysqlSource, { url: myUrl, tables: [`${MYDB}_copy.${table}`] }));
          return { records, columns: columnsOf(records) };
        },
      }
    : undefined,
  sqlite: {
    sink: () => ({ type: 'sqlite.sink', config: { path: sqlitePath, table: '{table}', createTable: true } }),
    async readBack(table) {
      const { records } = await readAll(await create<SourceInstance>(sqliteSource, { path: sqlitePath, table }));
      return { records };
    },
  },
  mongodb: MONGO.available
    ? {
        sink: () => ({ type: 'mongodb.sink', config: { url: MONGO.url, database: `types_${suffix}`, collection: '{table}' } }),
        async readBack(table) {
          const { records } = await readAll(await create<SourceInstance>(mongodbSource, { url: MONGO.url, database: `types_${suffix}`, collections: [table] }));
          return { records };
        },
      }
    : undefined,
};

const sources: Record<SourceFamily, { available: boolean; node: (table: string) => { type: string; config: Record<string, unknown> } }> = {
  // the edge rows hold zero dates: read as null here (the describe 'zero dates' below runs each choice)
  mysql: { available: MY.available, node: (table) => ({ type: 'mysql.source', config: { url: myUrl, tables: [`${MYDB}.${table}`], mode: 'snapshot', zeroDates: 'null' } }) },
  postgres: { available: PG.available, node: (table) => ({ type: 'postgres.source', config: { url: pgUrl, tables: [`src.${table}`], mode: 'snapshot' } }) },
};

/** the source table of a pair: the edge values, without those the target cannot hold (UNCARRIED) */
async function sourceTable(from: SourceFamily, to: TargetFamily): Promise<string> {
  const main = `types_${from}`;
  const uncarried = UNCARRIED[`${from}→${to}`];
  if (!uncarried) return main;
  const table = `${main}_${to}`;
  const q = from === 'postgres' ? (sql: string) => pgc!.query(sql) : (sql: string) => my!.query(sql);
  const qualify = (t: string) => (from === 'postgres' ? `src.${t}` : `${MYDB}.${t}`);
  await q(`CREATE TABLE ${qualify(table)} AS SELECT * FROM ${qualify(main)}`);
  await q(`ALTER TABLE ${qualify(table)} ADD PRIMARY KEY (id)`);
  for (const [id, literals] of Object.entries(uncarried)) {
    for (const l of literals) await q(`UPDATE ${qualify(table)} SET c_${id} = NULL WHERE c_${id} = ${l}`);
  }
  return table;
}

const typesOf = (family: SourceFamily) => SOURCE_TYPES.filter((t) => t.family === family && (!t.mariadb || mariadb));

const scratches: ScratchDb[] = [];
beforeAll(async () => {
  if (PG.available) {
    scratches.push(await scratchPostgres(PG.url, PGDB));
    pgc = new pg.Client({ connectionString: pgUrl });
    await pgc.connect();
    await pgc.query(`SET TimeZone = 'UTC'; CREATE SCHEMA src; CREATE SCHEMA copy; CREATE TYPE mood AS ENUM ('happy', 'sad'); CREATE DOMAIN price AS numeric(10,2) CHECK (VALUE > -100000000)`);
    const types = SOURCE_TYPES.filter((t) => t.family === 'postgres');
    const decl = (t: SourceType) => (t.id === 'enum' ? 'mood' : t.id === 'domain' ? 'price' : ddlType(t));
    await pgc.query(`CREATE TABLE src.types_postgres (id integer PRIMARY KEY, ${types.map((t) => `c_${t.id} ${decl(t)}`).join(', ')})`);
    await insertRows((sql) => pgc!.query(sql), 'src.types_postgres', types, PG_VALUES);
  }
  if (MY.available) {
    my = await mysql.createConnection({ uri: MY.url, multipleStatements: true });
    const [[v]] = (await my.query('SELECT VERSION() AS v')) as unknown as [{ v: string }[]];
    mariadb = /mariadb/i.test(v.v) && Number(v.v.split('.')[0]) * 100 + Number(v.v.split('.')[1]) >= 1007;
    scratches.push(await scratchMysql(MY.url, MYDB), await scratchMysql(MY.url, `${MYDB}_copy`));
    await my.query(`SET time_zone = '+00:00'; SET SESSION sql_mode = 'ALLOW_INVALID_DATES'`);
    const types = typesOf('mysql');
    await my.query(`CREATE TABLE ${MYDB}.types_mysql (id int PRIMARY KEY, ${types.map((t) => `c_${t.id} ${ddlType(t)}`).join(', ')}) DEFAULT CHARSET = utf8mb4`);
    await insertRows((sql) => my!.query(sql), `${MYDB}.types_mysql`, types, MYSQL_VALUES);
  }
});

async function insertRows(q: (sql: string) => Promise<unknown>, table: string, types: SourceType[], values: Record<string, string[]>): Promise<void> {
  const rows = Math.max(...types.map((t) => values[t.id]?.length ?? 0));
  for (let i = 0; i <= rows; i++) {
    await q(`INSERT INTO ${table} (id, ${types.map((t) => `c_${t.id}`).join(', ')}) VALUES (${i + 1}, ${types.map((t) => values[t.id]?.[i] ?? 'NULL').join(', ')})`);
  }
}

afterAll(async () => {
  await pgc?.end().catch(() => undefined);
  await my?.end().catch(() => undefined);
  for (const d of scratches.splice(0)) await d.drop();
  if (MONGO.available) {
    const c = new MongoClient(MONGO.url);
    await c.connect();
    await c.db(`types_${suffix}`).dropDatabase().catch(() => undefined);
    await c.close();
  }
});

describe('the type mapping data', () => {
  it('gives each type an id once per family and the test edge values for each', () => {
    for (const family of ['mysql', 'postgres'] as const) {
      const ids = SOURCE_TYPES.filter((t) => t.family === family).map((t) => t.id);
      expect(new Set(ids).size, family).toBe(ids.length);
      const values = family === 'mysql' ? MYSQL_VALUES : PG_VALUES;
      expect(ids.filter((id) => !values[id]), `${family} types without edge values`).toEqual([]);
    }
  });
});

/** pairs, in the order the issue asks for them */
const PAIRS: [SourceFamily, TargetFamily][] = [
  ['mysql', 'postgres'],
  ['postgres', 'postgres'],
  ['mysql', 'mysql'],
  ['mysql', 'sqlite'],
  ['postgres', 'mysql'],
  ['postgres', 'sqlite'],
  ['mysql', 'mongodb'],
  ['postgres', 'mongodb'],
];

describe.each(PAIRS)('type table: %s → %s', (from, to) => {
  const src = sources[from];
  const target = endpoints[to];
  it.skipIf(!src.available || !target)('every declared type comes back as it was, or as its lossy declaration says', async () => {
    const types = typesOf(from);
    const table = await sourceTable(from, to);
    const source = (await readAll(await create<SourceInstance>(from === 'mysql' ? mysqlSource : postgresSource, src.node(table).config))).records;
    // the source describes each column as the mapping data says
    const declared = new Map(columnsOf(source)!.map((c) => [c.name, c]));
    for (const t of types) {
      const { name: _n, source: _s, nullable: _nl, ...spec } = declared.get(`c_${t.id}`)!;
      expect(spec, `${from} ${t.declare}: meta.schema`).toEqual(t.spec);
    }

    const summary = await runFlow({ name: `types-${from}-${to}`, nodes: [{ id: 'src', ...src.node(table) }, { id: 'dst', ...target!.sink() }], edges: [{ from: 'src', to: 'dst' }] }, {});
    expect(summary.status, summary.error).toBe('completed');

    const back = await target!.readBack(table);
    const want = byId(source);
    const got = byId(back.records);
    expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
    const changed: string[] = [];
    for (const t of types) {
      const col = `c_${t.id}`;
      const lossy = t.lossy?.[to];
      for (const [id, row] of want) {
        const a = row[col];
        const b = got.get(id)![col];
        if (same(a, b)) continue;
        if (isGeometryValue(a) && to === 'mongodb') expect(b, `${t.declare} row ${id}`).toEqual(wkbToGeoJson(wkbOf(a)));
        if (isGeometryValue(a) && b && typeof b === 'object' && '$base64' in b) {
          // no PostGIS here: the bytes must be the EWKB of the very geometry, SRID and all
          expect(fromEwkb(Buffer.from((b as { $base64: string }).$base64, 'base64')), `${t.declare} row ${id}`).toEqual(a);
          expect((b as { $base64: string }).$base64).toBe(toEwkb(a).toString('base64'));
        }
        if (!lossy) changed.push(`${t.declare} (row ${id}): ${JSON.stringify(a)?.slice(0, 120)} → ${JSON.stringify(b)?.slice(0, 120)}`);
      }
      // within one family the declared type must survive too
      if (from === to && back.columns && !lossy) {
        // timestamp(6) is PostgreSQL's default precision, which a created column leaves out
        const canon = (s: string | undefined) => s?.replace(/^(timestamp|time)\(6\)/, '$1');
        const before = canon(declared.get(col)!.source);
        const after = canon(back.columns.find((c) => c.name === col)?.source);
        if (before !== after) changed.push(`${t.declare}: column type ${before} → ${after}`);
      }
    }
    expect(changed, `changes that nodes/shared/type-mapping.ts does not declare lossy for ${to}`).toEqual([]);
  });
});

describe.each(Object.keys(UNCARRIED).map((k) => k.split('→') as [SourceFamily, TargetFamily]))('values %s cannot carry into %s', (from, to) => {
  const src = sources[from];
  const target = endpoints[to];
  it.skipIf(!src.available || !target)('each fails its flow with an error naming the table and the column', async () => {
    const types = new Map(typesOf(from).map((t) => [t.id, t]));
    let n = 0;
    for (const [id, literals] of Object.entries(UNCARRIED[`${from}→${to}`]!)) {
      const t = types.get(id)!;
      expect(t.lossy?.[to], `${t.declare} → ${to}: the mapping data must say why`).toBeDefined();
      for (const literal of literals) {
        const table = `uncarried_${n++}`;
        const q = from === 'postgres' ? (sql: string) => pgc!.query(sql) : (sql: string) => my!.query(sql);
        const qualified = from === 'postgres' ? `src.${table}` : `${MYDB}.${table}`;
        await q(`CREATE TABLE ${qualified} (id integer PRIMARY KEY, c_${id} ${ddlType(t)})`);
        await q(`INSERT INTO ${qualified} VALUES (1, ${literal})`);
        const summary = await runFlow({ name: `uncarried-${n}`, settings: { retry: { attempts: 1 } }, nodes: [{ id: 'src', ...src.node(table) }, { id: 'dst', ...target!.sink() }], edges: [{ from: 'src', to: 'dst' }] }, {});
        expect(summary.status, `${t.declare} ${literal}`).toBe('failed');
        expect(summary.error, `${t.declare} ${literal}`).toContain(table);
        expect(summary.error, `${t.declare} ${literal}`).toContain(`c_${id}`);
      }
    }
  });
});

describe.skipIf(!MY.available)('zero dates (VALUE_RULES: zeroDates)', () => {
  const rule = VALUE_RULES.find((r) => r.option === 'zeroDates')!;
  const table = 'zero_dates';
  const zeroSource = (zeroDates?: string) => ({ type: 'mysql.source', config: { url: myUrl, tables: [`${MYDB}.${table}`], mode: 'snapshot', ...(zeroDates ? { zeroDates } : {}) } });
  beforeAll(async () => {
    await my!.query(
      `CREATE TABLE ${MYDB}.${table} (id int PRIMARY KEY, d DATE, dt DATETIME(6), ts TIMESTAMP NULL); ` +
        `INSERT INTO ${MYDB}.${table} VALUES (1, '2024-02-29', '2024-02-29 01:02:03.000004', '2024-02-29 01:02:03'), (7, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00')`,
    );
  });

  it('are declared in the mapping data with a default that rewrites nothing', () => {
    expect(rule.family).toBe('mysql');
    expect(rule.default).toBe('error');
    expect(Object.keys(rule.choices).sort()).toEqual(['error', 'null', 'text']);
  });

  it('fail the flow by default, naming table, column and key', async () => {
    const summary = await runFlow({ name: 'zero-default', settings: { retry: { attempts: 1 } }, nodes: [{ id: 'src', ...zeroSource() }, { id: 'dst', ...endpoints.sqlite!.sink() }], edges: [{ from: 'src', to: 'dst' }] }, {});
    expect(summary.status).toBe('failed');
    expect(summary.error).toContain(`table ${MYDB}.${table}`);
    expect(summary.error).toContain('column d (date)');
    expect(summary.error).toContain('id = 7');
    expect(summary.error).toContain("'0000-00-00'");
  });

  it('read as null with zeroDates: null, and as the text with zeroDates: text', async () => {
    const read = async (zeroDates: string) => byId((await readAll(await create<SourceInstance>(mysqlSource, zeroSource(zeroDates).config))).records);
    expect((await read('null')).get(7)).toEqual({ id: 7, d: null, dt: null, ts: null });
    expect((await read('text')).get(7)).toEqual({ id: 7, d: '0000-00-00', dt: '0000-00-00 00:00:00.000000', ts: '0000-00-00 00:00:00' });
    expect((await read('text')).get(1)).toEqual({ id: 1, d: '2024-02-29', dt: '2024-02-29T01:02:03.000004', ts: '2024-02-29T01:02:03Z' });
  });

  it('with zeroDates: text, come back as the text from sqlite and mysql, and fail postgres naming the table and the value', async () => {
    for (const to of ['sqlite', 'mysql', 'postgres'] as const) {
      const target = endpoints[to];
      if (!target) continue;
      const summary = await runFlow({ name: `zero-text-${to}`, settings: { retry: { attempts: 1 } }, nodes: [{ id: 'src', ...zeroSource('text') }, { id: 'dst', ...target.sink() }], edges: [{ from: 'src', to: 'dst' }] }, {});
      if (to === 'postgres') {
        expect(summary.status, to).toBe('failed');
        // names the table and the value; PostgreSQL's message does not name the column (see the report)
        expect(summary.error, to).toContain(`table copy.${table}`);
        expect(summary.error, to).toContain('0000-00-00');
        continue;
      }
      expect(summary.status, `${to}: ${summary.error}`).toBe('completed');
      // the copy in MySQL holds the zero date again, which its reader must also be told to carry
      const records = to === 'mysql' ? (await readAll(await create<SourceInstance>(mysqlSource, { url: myUrl, tables: [`${MYDB}_copy.${table}`], zeroDates: 'text' }))).records : (await target.readBack(table)).records;
      expect(byId(records).get(7)?.d, to).toBe('0000-00-00');
    }
  });
});

describe.skipIf(!CDC.available)('geometry from the binlog', () => {
  it('is an error naming the table and the column, never a geometry without its SRID', async () => {
    const db = `sluice_types_cdc_${suffix}`;
    const scratch = await scratchMysql(CDC.url, db);
    const c = await mysql.createConnection({ uri: CDC.url, multipleStatements: true });
    try {
      await c.query(`CREATE TABLE ${db}.places (id int PRIMARY KEY, at POINT)`);
      // a flow name of its own: its binlog client's server id differs from mysql.test.ts's (the files run at once)
      const s = await create<SourceInstance>(mysqlSource, { url: withDb(CDC.url, db), tables: ['places'], mode: 'cdc' }, { flowName: 'type-table' });
      await s.open(undefined);
      try {
        await c.query(`INSERT INTO ${db}.places VALUES (1, ST_GeomFromText('POINT(1 2)', 4326))`);
        await expect((async () => {
          for (;;) await s.read();
        })()).rejects.toThrow(new RegExp(`table ${db}\\.places, column at \\(point\\): a geometry from the binlog arrives without its SRID`));
      } finally {
        await s.close().catch(() => undefined);
      }
    } finally {
      await c.end();
      await scratch.drop();
    }
  });
});
