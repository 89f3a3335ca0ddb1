// A/B of the postgres snapshot's field readers (parseCopyText) on long text fields, for two built trees:
//   COLS=id,grp,uid,ts,name node test/bench/field-readers-ab.mjs /work/wt/base   (then the same with this tree)
// Prints the process CPU per row over 5 x 200k rows (20 texts of 10k rows; grp: 3 repeated values of 21-36
// characters, uid: unique 36, ts: timestamptz with microseconds, name: unique 17-22). Alternate the trees.
const root = process.argv[2];
const { parseCopyText } = await import(`${root}/dist/nodes/postgres/snapshot.js`);
const { fieldReader, TypeMapper } = await import(`${root}/dist/nodes/postgres/types.js`);
const { valueMaker } = await import(`${root}/dist/runtime/index.js`);
const m = new TypeMapper();
const ALL = ['id', 'grp', 'uid', 'ts', 'name'];
const pick = (process.env.COLS ?? 'id,grp,uid,ts,name').split(',').map((c) => ALL.indexOf(c));
const names = pick.map((i) => ALL[i]);
const parsers = pick.map((i) => [20, 25, 2950, 1184, 25][i]).map((o) => m.parser(o));
const groups = ['a group name of 20 ch', 'another group name, thirty-one', 'a third group name, forty characters'];
const chunks = [];
for (let c = 0; c < 20; c++) {
  const rows = [];
  for (let r = 0; r < 10000; r++) {
    const id = c * 10000 + r;
    const f = [id, groups[id % 3], `0b0b0b0b-${String(id % 10000).padStart(4, '0')}-4000-8000-${String(id).padStart(12, '0')}`, `2026-01-02 03:04:05.${String(id % 1e6).padStart(6, '0')}+00`, `customer number ${id}`];
    rows.push(pick.map((i) => f[i]).join('\t'));
  }
  chunks.push(rows.join('\n') + '\n');
}
const readers = parsers.map(fieldReader);
const { isAscii } = await import('node:buffer');
const bytes = chunks.map((t) => Buffer.from(t, 'utf8'));
const make = valueMaker(names);
let n = 0;
for (let i = 0; i < chunks.length; i++) n += parseCopyText(chunks[i], parsers, make, readers, isAscii(bytes[i]) ? bytes[i] : undefined).length; // warm-up
const c0 = process.cpuUsage();
for (let k = 0; k < 5; k++) for (let i = 0; i < chunks.length; i++) n += parseCopyText(chunks[i], parsers, make, readers, process.env.NOBYTES ? undefined : isAscii(bytes[i]) ? bytes[i] : undefined).length;
const c = process.cpuUsage(c0);
console.log(JSON.stringify({ cols: process.env.COLS, root, rows: 5 * 200000, cpuMs: Math.round((c.user + c.system) / 1000), nsPerRow: Math.round((c.user + c.system) * 1000 / 1e6) }));
