/**
 * key-length.ts on the servers the integration tests do not have (MySQL, MariaDB before 10.4): they
 * refuse a long key where MariaDB 10.4+ shortens it or makes a hash (that part is checked against the
 * real MariaDB in test/integration/conversion-schema-targets.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { madeIndex, type KeyPart } from '../../nodes/mysql/key-length.js';

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
});
