/**
 * docs/type-mapping.md's tables of declared types, written from the mapping data
 * (nodes/shared/type-mapping.ts) by the sinks' own DDL functions, so the document cannot drift from
 * what the code creates. The prose around them stays hand-written: `spliceTypeTables` replaces only
 * what lies between the two markers. `npm run docs` (scripts/type-mapping-docs.js) rewrites it;
 * test/unit/type-mapping-docs.test.ts fails when the committed file is stale.
 */
import type { ColumnSpec } from './shared/columns.js';
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

/** `doc` with its generated block replaced by today's; a doc without the markers is an error */
export function spliceTypeTables(doc: string): string {
  const start = doc.indexOf(BEGIN);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) throw new Error('docs/type-mapping.md has no type-table markers');
  return `${doc.slice(0, start)}${typeTables()}${doc.slice(end + END.length)}`;
}
