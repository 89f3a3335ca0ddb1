import { describe, expect, it } from 'vitest';
import { checkClause, portableDefault } from '../../nodes/postgres/schema-catalog.js';

describe('schema: full from PostgreSQL, the portable forms', () => {
  it('literals lose their cast, typed or not; quotes are undone', () => {
    expect(portableDefault("'anon'::text")).toEqual({ kind: 'literal', text: 'anon' });
    expect(portableDefault("'it''s'::character varying")).toEqual({ kind: 'literal', text: "it's" });
    expect(portableDefault("'ok'::mood")).toEqual({ kind: 'literal', text: 'ok' });
    expect(portableDefault("'2024-01-02 03:04:05'::timestamp without time zone")).toEqual({ kind: 'literal', text: '2024-01-02 03:04:05' });
    expect(portableDefault("'1.50'::numeric(6,2)")).toEqual({ kind: 'literal', text: '1.50' });
    expect(portableDefault('1.5')).toEqual({ kind: 'literal', text: '1.5' });
    expect(portableDefault("'-1'::integer")).toEqual({ kind: 'literal', text: '-1' });
    expect(portableDefault('(-1)')).toEqual({ kind: 'literal', text: '-1' });
    expect(portableDefault('true')).toEqual({ kind: 'literal', text: '1' });
    expect(portableDefault('false')).toEqual({ kind: 'literal', text: '0' });
  });

  it('the current time in its spellings is now; NULL is null; anything else, and an array literal, is an expression', () => {
    for (const now of ['now()', 'CURRENT_TIMESTAMP', 'CURRENT_TIMESTAMP(3)', 'LOCALTIMESTAMP', 'transaction_timestamp()']) expect(portableDefault(now), now).toEqual({ kind: 'now' });
    expect(portableDefault('NULL::character varying')).toEqual({ kind: 'null' });
    expect(portableDefault('CURRENT_DATE')).toEqual({ kind: 'expression', text: 'CURRENT_DATE' });
    expect(portableDefault('gen_random_uuid()')).toEqual({ kind: 'expression', text: 'gen_random_uuid()' });
    expect(portableDefault("(now() + '1 day'::interval)")).toEqual({ kind: 'expression', text: "(now() + '1 day'::interval)" });
    expect(portableDefault("'{}'::text[]")).toEqual({ kind: 'expression', text: "'{}'::text[]" });
    expect(portableDefault("'{}'", true)).toEqual({ kind: 'expression', text: "'{}'" });
    expect(portableDefault(null)).toBeUndefined();
  });

  it('a CHECK definition gives its condition', () => {
    expect(checkClause('CHECK ((qty > 0))')).toBe('(qty > 0)');
    expect(checkClause('CHECK ((qty > 0)) NOT VALID')).toBe('(qty > 0)');
    expect(checkClause('CHECK ((a > 0)) NO INHERIT')).toBe('(a > 0)');
  });
});
