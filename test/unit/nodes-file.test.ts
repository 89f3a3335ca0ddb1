import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { create, readAll, rec, tempDir, writeAll } from '../helpers/node-harness.js';
import { settingsSchema } from '../../runtime/flow/schema.js';
import { ConfigError, NodeError } from '../../runtime/errors.js';
import type { SinkInstance, SourceInstance } from '../../runtime/node-api.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { fileSource } from '../../nodes/file/source.js';
import { fileSink } from '../../nodes/file/sink.js';
import { CHUNK_SIZE, RecordSplitter } from '../../nodes/file/lines.js';
import { NodeRegistry } from '../../runtime/registry.js';

const batchOf = (batchSize: number) => ({ settings: settingsSchema.parse({ batchSize }) });

function source(config: Record<string, unknown>, batchSize = 1000) {
  return create<SourceInstance>(fileSource, config, batchOf(batchSize));
}

function sink(config: Record<string, unknown>, warnings: string[] = []) {
  return create<SinkInstance>(fileSink, config, { log: { info() {}, warn: (m) => warnings.push(m), error() {} } });
}

const values = (rs: SluiceRecord[]) => rs.map((r) => r.value);

describe('file.source: JSON Lines', () => {
  it('reads objects in batches of batchSize, key = id or line number, positions at line ends', async () => {
    const dir = tempDir();
    const path = join(dir, 'orders.jsonl');
    const text = '{"id":1,"a":"x"}\n{"b":2}\n\n{"id":"k3"}\r\n{"id":4}\n{"id":5}';
    writeFileSync(path, text);
    const src = await source({ path }, 2);
    await src.open(undefined);
    const sizes: number[] = [];
    const all: SluiceRecord[] = [];
    for (let b = await src.read(); b; b = await src.read()) {
      sizes.push(b.records.length);
      all.push(...b.records);
      expect(b.position).toEqual(b.records[b.records.length - 1].meta.position);
    }
    await src.close();
    expect(sizes).toEqual([2, 2, 1]);
    expect(values(all)).toEqual([{ id: 1, a: 'x' }, { b: 2 }, { id: 'k3' }, { id: 4 }, { id: 5 }]);
    expect(all.map((r) => r.key)).toEqual([1, 2, 'k3', 4, 5]);
    expect(all.every((r) => r.op === 'c' && r.meta.source === 'n1')).toBe(true);
    const bytes = Buffer.from(text);
    expect(all[1].meta.position).toEqual({ offset: bytes.indexOf('\n', 17) + 1, line: 2 });
    expect(all[2].meta.position).toEqual({ offset: bytes.indexOf('{"id":4}'), line: 4 });
    expect(all[4].meta.position).toEqual({ offset: bytes.length, line: 6 });
  });

  it('resumes exactly after the committed record: no duplicate, no loss', async () => {
    const dir = tempDir();
    const path = join(dir, 'r.jsonl');
    writeFileSync(path, Array.from({ length: 10 }, (_, i) => JSON.stringify({ id: i, s: 'é'.repeat(i) })).join('\n') + '\n');
    const first = await readAll(await source({ path }, 3));
    expect(first.positions).toHaveLength(4);
    for (let b = 0; b < first.positions.length; b++) {
      const rest = await readAll(await source({ path }, 3), first.positions[b]);
      expect(rest.records.map((r) => r.key)).toEqual(Array.from({ length: 10 - Math.min(10, 3 * (b + 1)) }, (_, i) => 3 * (b + 1) + i));
    }
  });

  it('keeps byte offsets exact across chunk boundaries, multi-byte characters and long lines', async () => {
    const dir = tempDir();
    const path = join(dir, 'big.jsonl');
    const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: i, t: '€ü'.repeat(i % 50), long: i % 997 === 0 ? 'x'.repeat(CHUNK_SIZE * 2) : '' }));
    writeFileSync(path, lines.join('\n') + '\n');
    const full = await readAll(await source({ path }, 250));
    expect(full.records.map((r) => r.key)).toEqual(lines.map((_, i) => i));
    for (const b of [0, 3, 7, 10]) {
      const rest = await readAll(await source({ path }, 500), full.positions[b]);
      expect(rest.records[0].key).toBe(250 * (b + 1));
      expect(rest.records.length).toBe(3000 - 250 * (b + 1));
      expect(rest.records[rest.records.length - 1].key).toBe(2999);
    }
  });

  it('sends a bad line to errors with file and line number and goes on', async () => {
    const dir = tempDir();
    const path = join(dir, 'orders.jsonl');
    writeFileSync(path, '{"id":1}\n{"id":2}\n{"id": oops}\n[1,2]\n{"id":5}\n');
    const out = await readAll(await source({ path }, 2));
    expect(out.records.map((r) => r.key)).toEqual([1, 2, 5]);
    expect(out.errors).toHaveLength(2);
    expect(out.errors[0].value).toEqual({ line: '{"id": oops}' });
    expect(out.errors[0].meta.error?.node).toBe('n1');
    expect(out.errors[0].meta.error?.message).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} line 3: .+`));
    expect(out.errors[1].meta.error?.message).toContain('line 4: expected a JSON object, got an array');
    // line numbers stay true after a resume
    const resumed = await readAll(await source({ path }, 2), out.positions[0]);
    expect(resumed.errors.map((e) => e.meta.error?.message.match(/line \d+/)?.[0])).toEqual(['line 3', 'line 4']);
  });

  it('throws ConfigError naming the path when the file is missing', async () => {
    const path = join(tempDir(), 'nope', 'missing.jsonl');
    const src = await source({ path });
    const err = await src.open(undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toContain('nodes[n1].path');
    expect((err as Error).message).toContain(path);
  });

  it('rejects unknown config fields and envelope with csv', () => {
    expect(() => fileSource.configSchema.parse({ path: 'a', fromat: 'csv' })).toThrow(/fromat/);
    expect(() => fileSource.configSchema.parse({ path: 'a', format: 'csv', envelope: true })).toThrow(/envelope/);
    expect(fileSource.configSchema.parse({ path: 'a' })).toEqual({ path: 'a', format: 'jsonl', envelope: false, delimiter: ',' });
  });

  it('fails clearly when the file is shorter than the position', async () => {
    const path = join(tempDir(), 's.jsonl');
    writeFileSync(path, '{"id":1}\n');
    const err = await (await source({ path })).open({ offset: 500, line: 9 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeError);
    expect((err as Error).message).toMatch(/shorter/);
  });
});

describe('file.source: CSV', () => {
  const csv = 'id,name,note\r\n1,"Smith, Jane","said ""hi"""\r\n2,Bob,"two\nlines"\r\n\r\n3,"Ann",\r\n4,Zed,"x, ""y""\nz\nw"\n5,Eve,last';

  it('reads quoted delimiters, escaped quotes, embedded newlines, CRLF and a header', async () => {
    const path = join(tempDir(), 'people.csv');
    writeFileSync(path, '\ufeff' + csv);
    const out = await readAll(await source({ path, format: 'csv' }, 2));
    expect(values(out.records)).toEqual([
      { id: '1', name: 'Smith, Jane', note: 'said "hi"' },
      { id: '2', name: 'Bob', note: 'two\nlines' },
      { id: '3', name: 'Ann', note: '' },
      { id: '4', name: 'Zed', note: 'x, "y"\nz\nw' },
      { id: '5', name: 'Eve', note: 'last' },
    ]);
    expect(out.positions).toHaveLength(3);
    expect(out.records.map((r) => (r.meta.position as { line: number }).line)).toEqual([2, 4, 6, 9, 10]);
    expect(out.errors).toEqual([]);
  });

  it('resumes mid-file: re-reads the header, then seeks', async () => {
    const path = join(tempDir(), 'people.csv');
    writeFileSync(path, csv);
    const first = await readAll(await source({ path, format: 'csv' }, 2));
    const rest = await readAll(await source({ path, format: 'csv' }, 2), first.positions[0]);
    expect(values(rest.records)).toEqual(values(first.records).slice(2));
    const last = await readAll(await source({ path, format: 'csv' }, 2), first.positions[1]);
    expect(last.records.map((r) => r.key)).toEqual(['5']);
    const none = await readAll(await source({ path, format: 'csv' }, 2), first.positions[2]);
    expect(none.records).toEqual([]);
  });

  it('keys by line number without an id column, supports another delimiter, bad rows go to errors', async () => {
    const path = join(tempDir(), 'semi.csv');
    writeFileSync(path, 'a;b\nx;"1;2"\ny\nz;"bad"quote\nw;3\n');
    const out = await readAll(await source({ path, format: 'csv', delimiter: ';' }));
    expect(out.records.map((r) => [r.key, r.value])).toEqual([
      [2, { a: 'x', b: '1;2' }],
      [5, { a: 'w', b: '3' }],
    ]);
    expect(out.errors.map((e) => e.meta.error?.message)).toEqual([
      `${path} line 3: expected 2 fields (as in the header), got 1`,
      expect.stringMatching(new RegExp(`line 4: .*[Qq]uote`)),
    ]);
    expect(out.errors[1].value).toEqual({ line: 'z;"bad"quote' });
  });

  it('splits CSV records only at newlines outside quotes, across any chunking', () => {
    const bytes = Buffer.from('h1,h2\n"a\n""b"",\nc",d\n"",e\nf,"g"\n');
    for (let size = 1; size <= bytes.length; size++) {
      const sp = new RecordSplitter(0, 0, ','.charCodeAt(0));
      const raws = [];
      for (let i = 0; i < bytes.length; i += size) raws.push(...sp.push(bytes.subarray(i, i + size)));
      raws.push(...sp.end());
      expect(raws.map((r) => [r.text, r.startLine, r.endLine, r.end])).toEqual([
        ['h1,h2', 1, 1, 6],
        ['"a\n""b"",\nc",d', 2, 4, 21],
        ['"",e', 5, 5, 26],
        ['f,"g"', 6, 6, 32],
      ]);
    }
  });
});

describe('file nodes: catalog', () => {
  it('config schemas render as JSON Schema with descriptions and defaults', () => {
    const [src, snk] = new NodeRegistry([fileSource, fileSink]).catalog();
    const props = (c: unknown) => (c as { properties: Record<string, { description?: string; default?: unknown }> }).properties;
    expect(Object.keys(props(src.configSchema))).toEqual(['path', 'format', 'envelope', 'delimiter']);
    expect(Object.keys(props(snk.configSchema))).toEqual(['path', 'format', 'envelope', 'delimiter', 'fsync', 'columns']);
    for (const p of [...Object.values(props(src.configSchema)), ...Object.values(props(snk.configSchema))]) expect(p.description).toBeTruthy();
    expect(props(src.configSchema).format.default).toBe('jsonl');
    expect((src.configSchema as { additionalProperties?: unknown }).additionalProperties).toBe(false);
  });
});

describe('file.sink', () => {
  it('envelope round trip: file.sink → file.source gives the same records, deletes with before included', async () => {
    const path = join(tempDir(), 'out', 'nested', 'changes.jsonl');
    const written: SluiceRecord[] = [
      { key: 1, value: { id: 1, name: 'a', tags: ['x'] }, op: 'c', meta: { source: 'up', position: 7 } },
      { key: 1, value: { id: 1, name: 'b', tags: [] }, before: { id: 1, name: 'a', tags: ['x'] }, op: 'u', meta: {} },
      { key: { id: 1 }, value: null, before: { id: 1, name: 'b', tags: [] }, op: 'd', meta: {} },
      { key: 'r9', value: { id: 'r9', n: null }, op: 'r', meta: {} },
    ];
    await writeAll(await sink({ path, envelope: true }), [written.slice(0, 2), written.slice(2)]);
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines).toHaveLength(5);
    expect(JSON.parse(lines[2])).toEqual({ op: 'd', key: { id: 1 }, value: null, before: { id: 1, name: 'b', tags: [] } });
    const back = await readAll(await source({ path, envelope: true }));
    expect(back.errors).toEqual([]);
    expect(back.records.map(({ key, value, op, before }) => (before === undefined ? { key, value, op } : { key, value, op, before }))).toEqual(
      written.map(({ key, value, op, before }) => (before === undefined ? { key, value, op } : { key, value, op, before })),
    );
  });

  it('envelope source rejects a line with a bad op', async () => {
    const path = join(tempDir(), 'bad.jsonl');
    writeFileSync(path, '{"op":"x","key":1,"value":{}}\n{"op":"c","key":2,"value":{"id":2}}\n');
    const out = await readAll(await source({ path, envelope: true }));
    expect(out.records.map((r) => r.key)).toEqual([2]);
    expect(out.errors[0].meta.error?.message).toMatch(/bad\.jsonl line 1: envelope op must be one of c, u, d, r/);
  });

  it('jsonl without envelope writes values and skips deletes', async () => {
    const path = join(tempDir(), 'v.jsonl');
    await writeAll(await sink({ path }), [[rec({ id: 1 }), rec({ id: 2 }, 'd'), rec({ id: 3 }, 'u')]]);
    expect(readFileSync(path, 'utf8')).toBe('{"id":1}\n{"id":3}\n');
  });

  it('csv: header once across two batches and two openings; extra fields dropped with one warning', async () => {
    const path = join(tempDir(), 'out.csv');
    const warnings: string[] = [];
    await writeAll(await sink({ path, format: 'csv' }, warnings), [
      [rec({ id: 1, name: 'a, b', obj: { x: 1 } })],
      [rec({ id: 2, name: 'line\nbreak', extra: true }), rec({ id: 3, extra: false, more: 1 }), rec({ id: 9 }, 'd')],
    ]);
    await writeAll(await sink({ path, format: 'csv' }, warnings), [[rec({ name: 'q"uote', id: 4 })]]);
    const text = readFileSync(path, 'utf8');
    expect(text.match(/^id,name,obj$/gm)).toHaveLength(1);
    expect(text).toBe('id,name,obj\n1,"a, b","{""x"":1}"\n2,"line\nbreak",\n3,,\n4,"q""uote",\n');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/extra, more/);
    const back = await readAll(await source({ path, format: 'csv' }));
    expect(values(back.records)).toEqual([
      { id: '1', name: 'a, b', obj: '{"x":1}' },
      { id: '2', name: 'line\nbreak', obj: '' },
      { id: '3', name: '', obj: '' },
      { id: '4', name: 'q"uote', obj: '' },
    ]);
  });

  it('csv: an empty existing file gets a header; configured columns must match an existing header', async () => {
    const dir = tempDir();
    const path = join(dir, 'e.csv');
    writeFileSync(path, '');
    await writeAll(await sink({ path, format: 'csv', columns: ['b', 'a'] }), [[rec({ a: 1, b: 2 })]]);
    expect(readFileSync(path, 'utf8')).toBe('b,a\n2,1\n');
    const s = await sink({ path, format: 'csv', columns: ['a', 'b'] });
    await expect(s.open()).rejects.toThrow(ConfigError);
    expect(existsSync(path)).toBe(true);
  });

  it('closes a torn last line before appending', async () => {
    const path = join(tempDir(), 't.jsonl');
    writeFileSync(path, '{"id":1}\n{"id":');
    await writeAll(await sink({ path }), [[rec({ id: 2 })]]);
    const out = await readAll(await source({ path }));
    expect(out.records.map((r) => r.key)).toEqual([1, 2]);
    expect(out.errors).toHaveLength(1);
  });
});
