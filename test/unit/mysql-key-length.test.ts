/**
 * key-length.ts on the servers the integration tests do not have (MySQL, MariaDB before 10.4): they
 * refuse a long key where MariaDB 10.4+ shortens it or makes a hash (that part is checked against the
 * real MariaDB in test/integration/conversion-schema-targets.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { fitKey, madeIndex, type KeyPart } from '../../nodes/mysql/key-length.js';

const MYSQL = { mariadb: false, major: 8, minor: 0 };
const MARIADB_10_3 = { mariadb: true, major: 10, minor: 3 };
const part = (column: string, type: string, prefix: number | null = null): KeyPart => ({ column, type, prefix });
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return { errno: (err as { errno: number }).errno, message: (err as Error).message };
  }
  return undefined;
};

describe('the key a server makes of an index (mysql/key-length.ts)', () => {
  it('MySQL refuses a TEXT without a prefix (1170), a key over 3,072 bytes (1071) and any JSON column (3152); a prefix that fits is made as asked', () => {
    expect(refusal(() => madeIndex([part('bio', 'LONGTEXT')], false, MYSQL))).toEqual({ errno: 1170, message: "BLOB/TEXT column 'bio' used in key specification without a key length" });
    expect(refusal(() => madeIndex([part('slug', 'VARCHAR(1000)')], false, MYSQL))?.errno).toBe(1071);
    expect(refusal(() => madeIndex([part('n', 'INT'), part('slug', 'VARCHAR(768)')], false, MYSQL))?.errno).toBe(1071);
    expect(refusal(() => madeIndex([part('doc', 'JSON')], false, MYSQL))?.errno).toBe(3152);
    expect(madeIndex([part('n', 'INT'), part('bio', 'LONGTEXT', 767)], false, MYSQL)).toEqual({ parts: [{ column: 'n', prefix: null }, { column: 'bio', prefix: 767 }], hash: false });
  });

  it('MariaDB before 10.4 refuses a long unique key (no hash yet), and shortens a plain one as later versions do', () => {
    expect(refusal(() => madeIndex([part('title', 'LONGTEXT')], true, MARIADB_10_3))?.errno).toBe(1170);
    expect(refusal(() => madeIndex([part('slug', 'VARCHAR(1000)')], true, MARIADB_10_3))?.errno).toBe(1071);
    expect(madeIndex([part('slug', 'VARCHAR(1000)')], false, MARIADB_10_3)).toEqual({ parts: [{ column: 'slug', prefix: 768 }], hash: false });
  });

  it('a column of a size not known here (spatial) leaves the answer to the server', () => {
    expect(madeIndex([part('at', 'POINT')], false, { mariadb: true, major: 10, minor: 11 })).toBeUndefined();
  });

  it('fitKey: a refused key retried over prefixes that fit beside its fixed-size columns, the strings sharing what is left', () => {
    const prefixes = (parts: KeyPart[]) => fitKey(parts)?.map((p) => p.prefix);
    // 4 bytes of INT leave 3,068: 767 characters
    expect(prefixes([part('n', 'INT'), part('a', 'VARCHAR(1000)')])).toEqual([null, 767]);
    expect(prefixes([part('n', 'BIGINT'), part('b', 'VARBINARY(4000)')])).toEqual([null, 3064]);
    // two unbounded strings share evenly; a short one keeps all of itself and leaves the rest
    expect(prefixes([part('a', 'LONGTEXT'), part('b', 'LONGTEXT')])).toEqual([384, 384]);
    expect(prefixes([part('s', 'VARCHAR(100)'), part('t', 'LONGTEXT')])).toEqual([null, 668]);
    expect(prefixes([part('t', 'TINYTEXT'), part('u', 'LONGTEXT')])).toEqual([255, 513]);
    // a source's prefix that fits its share is kept
    expect(prefixes([part('a', 'LONGTEXT', 100), part('b', 'LONGTEXT')])).toEqual([100, 668]);
    // each fitted key is one the server makes as asked
    for (const parts of [[part('n', 'INT'), part('a', 'VARCHAR(1000)')], [part('t', 'TINYTEXT'), part('u', 'LONGTEXT')], [part('d', 'DATETIME(6)'), part('x', 'LONGTEXT'), part('y', 'VARCHAR(2000)')]]) {
      const fitted = fitKey(parts)!;
      expect(madeIndex(fitted, false, MYSQL), JSON.stringify(fitted)).toEqual({ parts: fitted.map(({ column, prefix }) => ({ column, prefix })), hash: false });
    }
    // nothing to fit: a spatial part, or no string to shorten
    expect(fitKey([part('at', 'POINT'), part('a', 'LONGTEXT')])).toBeUndefined();
  });
});
