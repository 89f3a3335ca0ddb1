/**
 * docs/type-mapping.md's tables, every one written from data: sections A and B from
 * nodes/shared/record-values.ts, the tables of declared types from the mapping data
 * (nodes/shared/type-mapping.ts) by the sinks' own DDL functions, so the document cannot drift from
 * what the code creates. The prose around them stays hand-written: `spliceTypeTables` replaces only
 * what lies between each block's two markers. `npm run docs` (scripts/type-mapping-docs.js) rewrites it;
 * test/unit/type-mapping-docs.test.ts fails when the committed file is stale.
 */
import type { ColumnSpec } from './shared/columns.js';
import { createdCell, SOURCE_VALUES, VALUE_COLUMNS } from './shared/record-values.js';
import { SOURCE_TYPES, TARGETS, VALUE_RULES, type SourceFamily, type SourceType, type TargetFamily } from './shared/type-mapping.js';
import { bsonTypeForSpec } from './mongodb/types.js';
import { mysqlTypeFor } from './mysql/types.js';
import { pgTypeForSpec } from './postgres/types.js';
import { sqlTypeForSpec } from './sqlite/sql.js';

export const BEGIN = '<!-- type tables: written from nodes/shared/type-mapping.ts by `npm run docs`; edit the data, not this block -->';
export const END = '<!-- end of type tables -->';
export const TYPE_DOCS_COMMAND = 'npm run docs';

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

function describeSpec(spec: SourceType['spec']): string {
  const extras = Object.entries(spec)
    .filter(([k]) => k !== 'kind')
    .map(([k, v]) => (v === true ? k : `${k} ${v}`));
  return extras.length ? `${spec.kind} (${extras.join(', ')})` : spec.kind;
}

/** what each target creates for a declared column (not a key column) */
function created(target: TargetFamily, spec: ColumnSpec): string {
  switch (target) {
    case 'postgres': {
      const plain = pgTypeForSpec(spec);
      const postgis = pgTypeForSpec(spec, { postgis: true });
      return plain === postgis ? `\`${plain}\`` : `\`${plain}\` (with PostGIS: \`${postgis}\`)`;
    }
    case 'mysql': {
      const withUuid = mysqlTypeFor(spec, false, true);
      const without = mysqlTypeFor(spec, false, false);
      return withUuid === without ? `\`${withUuid}\`` : `\`${withUuid}\` (before MariaDB 10.7 and on MySQL: \`${without}\`)`;
    }
    case 'sqlite':
      return `\`${sqlTypeForSpec(spec) || '(no declared type)'}\``;
    case 'mongodb':
      return bsonTypeForSpec(spec);
  }
}

const TITLES: Record<SourceFamily, string> = { mysql: 'MySQL / MariaDB source (mysql.source)', postgres: 'PostgreSQL source (postgres.source)' };
const SINKS: Record<TargetFamily, string> = { postgres: 'postgres.sink', mysql: 'mysql.sink', sqlite: 'sqlite.sink', mongodb: 'mongodb.sink' };

/** the generated block: one table per source family, then every lossy mapping with its reason */
export function typeTables(): string {
  const out: string[] = [BEGIN, ''];
  for (const family of ['mysql', 'postgres'] as const) {
    out.push(`### ${TITLES[family]}`, '');
    out.push(`| declared type | \`kind\` in meta.schema | ${TARGETS.map((t) => SINKS[t]).join(' | ')} |`);
    out.push(`|---|---|${TARGETS.map(() => '---').join('|')}|`);
    for (const t of SOURCE_TYPES.filter((s) => s.family === family)) {
      const spec: ColumnSpec = { name: 'c', source: t.declare, nullable: true, ...t.spec };
      const targets = TARGETS.map((target) => `${created(target, spec)}${t.lossy?.[target] ? ' ⚠' : ''}`);
      out.push(`| ${cell(t.declare)}${t.mariadb ? ' (MariaDB 10.7+)' : ''} | ${cell(describeSpec(t.spec))} | ${targets.map(cell).join(' | ')} |`);
    }
    out.push('');
  }
  out.push('### Lossy mappings', '');
  out.push('⚠ above: the value or the column type does not come back as it was. Why, per source type and target:', '');
  out.push('| source | declared type | target | what changes |', '|---|---|---|---|');
  for (const t of SOURCE_TYPES) {
    for (const target of TARGETS) {
      const why = t.lossy?.[target];
      if (why) out.push(`| ${family(t.family)} | ${cell(t.declare)} | ${SINKS[target]} | ${cell(why)} |`);
    }
  }
  out.push('', '### Values without a record value', '');
  out.push('A source option says what becomes of them; the default rewrites nothing.', '');
  out.push('| source | values | column types | option | default | choices |', '|---|---|---|---|---|---|');
  for (const r of VALUE_RULES) {
    const choices = Object.entries(r.choices).map(([k, v]) => `\`${k}\`: ${v}`).join('; ');
    out.push(`| ${family(r.family)} | ${cell(r.values)} | ${cell(r.types)} | \`${r.option}\` | \`${r.default}\` | ${cell(choices)} |`);
  }
  out.push('', END);
  return out.join('\n');
}

const family = (f: SourceFamily) => (f === 'mysql' ? 'MySQL / MariaDB' : 'PostgreSQL');

/** Section A: what each source gives for each family of column types */
export function sourceValuesTable(): string {
  const out = [A_BEGIN, '', '| type family | PostgreSQL (postgres.source) | MySQL / MariaDB (mysql.source) | SQLite (sqlite.source) | MongoDB (mongodb.source) |', '|---|---|---|---|---|'];
  for (const r of SOURCE_VALUES) out.push(`| ${[r.family, r.values.postgres, r.values.mysql, r.values.sqlite, r.values.mongodb].map(cell).join(' | ')} |`);
  out.push('', A_END);
  return out.join('\n');
}

/** Section B: what each sink creates from a record value that no declaration types */
export function valueColumnsTable(): string {
  const out = [B_BEGIN, '', '| record value | postgres.sink (`pgTypeOf`) | mysql.sink (`columnTypeFor`; key column in brackets) | sqlite.sink (`sqlTypeOf`) | mongodb.sink (BSON, per value) |', '|---|---|---|---|---|'];
  for (const r of VALUE_COLUMNS) out.push(`| ${[r.value, createdCell(r.postgres), createdCell(r.mysql), createdCell(r.sqlite), r.mongodb].map(cell).join(' | ')} |`);
  out.push('', B_END);
  return out.join('\n');
}

const block = (name: string) => [`<!-- table ${name}: written from nodes/shared/record-values.ts by \`${TYPE_DOCS_COMMAND}\`; edit the data, not this block -->`, `<!-- end of table ${name} -->`] as const;
export const [A_BEGIN, A_END] = block('A');
export const [B_BEGIN, B_END] = block('B');

/** `doc` with each generated block replaced by today's; a doc without a block's markers is an error */
export function spliceTypeTables(doc: string): string {
  const blocks: [string, string, () => string][] = [
    [A_BEGIN, A_END, sourceValuesTable],
    [B_BEGIN, B_END, valueColumnsTable],
    [BEGIN, END, typeTables],
  ];
  for (const [begin, end, write] of blocks) {
    const start = doc.indexOf(begin);
    const stop = doc.indexOf(end);
    if (start < 0 || stop < start) throw new Error(`docs/type-mapping.md has no type-table markers (${begin})`);
    doc = `${doc.slice(0, start)}${write()}${doc.slice(stop + end.length)}`;
  }
  return doc;
}
