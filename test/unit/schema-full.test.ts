import { describe, expect, it } from 'vitest';
import { portableCheck } from '../../nodes/shared/schema-full.js';
import { enumValues, portableDefault } from '../../nodes/mysql/schema-ddl.js';

const q = (s: string) => `"${s}"`;

describe('schema: full, the portable forms', () => {
  it('a CHECK of comparisons, AND/OR/NOT, IS NULL is kept (backquotes become the target quoting); one with a function is not', () => {
    expect(portableCheck('`qty` > 0 and `qty` <= 1000', q)).toBe('"qty" > 0 AND "qty" <= 1000');
    expect(portableCheck("`s` in ('a','b') or `s` is null", q)).toBe(`"s" IN ('a','b') OR "s" IS NULL`);
    expect(portableCheck('`a` != 1', q)).toBe('"a" <> 1');
    expect(portableCheck('upper(`note`) = `note`', q)).toBeUndefined();
    expect(portableCheck('`a` regexp \'x\'', q)).toBeUndefined();
  });

  it("MariaDB's and MySQL's column defaults read alike", () => {
    expect(portableDefault("'anon'", '', true)).toEqual({ kind: 'literal', text: 'anon' });
    expect(portableDefault("'it''s'", '', true)).toEqual({ kind: 'literal', text: "it's" });
    expect(portableDefault('0', '', true)).toEqual({ kind: 'literal', text: '0' });
    expect(portableDefault('NULL', '', true)).toEqual({ kind: 'null' });
    expect(portableDefault('current_timestamp()', '', true)).toEqual({ kind: 'now' });
    expect(portableDefault('uuid()', '', true)).toEqual({ kind: 'expression', text: 'uuid()' });
    expect(portableDefault('anon', '', false)).toEqual({ kind: 'literal', text: 'anon' });
    expect(portableDefault('CURRENT_TIMESTAMP', 'DEFAULT_GENERATED', false)).toEqual({ kind: 'now' });
    expect(portableDefault('uuid()', 'DEFAULT_GENERATED', false)).toEqual({ kind: 'expression', text: 'uuid()' });
    expect(portableDefault(null, '', true)).toBeUndefined();
  });

  it('ENUM values in order, quotes undone', () => {
    expect(enumValues("enum('bronze','silver','it''s')")).toEqual(['bronze', 'silver', "it's"]);
  });
});
