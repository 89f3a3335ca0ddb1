import { describe, expect, it } from 'vitest';
import { parseCopyText } from '../../nodes/postgres/snapshot.js';
import { valueMaker } from '../../runtime/index.js';

const text = (t: string) => t;
const num = (t: string) => Number(t);

describe('postgres snapshot: COPY text into row values', () => {
  it('makes one object per row with the columns in order, NULLs and escapes decoded', () => {
    const names = ['id', 'name', 'note'];
    const rows = parseCopyText('1\tAnna\t\\N\n2\ttab\\there\tline\\nbreak \\\\ back\n', [num, text, text], valueMaker(names));
    expect(rows).toEqual([
      { id: 1, name: 'Anna', note: null },
      { id: 2, name: 'tab\there', note: 'line\nbreak \\ back' },
    ]);
    expect(Object.keys(rows[1])).toEqual(names);
    expect(rows[0]).not.toBe(rows[1]);
  });

  it('column names that are not identifiers stay plain keys: quotes, backslashes, code, digits, __proto__', () => {
    const names = ['a"b', 'c\\d', '}; throw 1; ({', '7', 'constructor'];
    const [row] = parseCopyText('1\t2\t3\t4\t5\n', names.map(() => text), valueMaker(names));
    expect(row).toEqual({ 'a"b': '1', 'c\\d': '2', '}; throw 1; ({': '3', 7: '4', constructor: '5' });
    const withProto = valueMaker(['id', '__proto__']);
    const v = withProto([1, 'x']);
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    expect(v.id).toBe(1);
    // an own field named __proto__, as JSON.parse makes it, not a prototype
    expect(Object.getOwnPropertyDescriptor(v, '__proto__')?.value).toBe('x');
    expect(Object.keys(v)).toEqual(['id', '__proto__']);
  });
});
