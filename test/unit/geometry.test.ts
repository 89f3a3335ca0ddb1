/**
 * nodes/shared/geometry.ts: the byte forms a geometry travels between (MySQL's SRID + WKB, PostGIS's
 * EWKB) keep SRID and shape, and WKB reads as GeoJSON for every type GeoJSON has.
 */
import { describe, expect, it } from 'vitest';
import { TypeMapper, pgTypeForSpec, toPgText } from '../../nodes/postgres/types.js';
import { fromEwkb, fromMysqlGeometry, geometryValue, isGeometryValue, toEwkb, toMysqlGeometry, wkbOf, wkbToGeoJson } from '../../nodes/shared/geometry.js';

/** little-endian WKB writer for the test */
const le = {
  u32: (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  },
  f64: (...xs: number[]) => Buffer.concat(xs.map((x) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(x);
    return b;
  })),
};
const head = (type: number) => Buffer.concat([Buffer.from([1]), le.u32(type)]);
const point = (x: number, y: number) => Buffer.concat([head(1), le.f64(x, y)]);
const line = (...pts: number[][]) => Buffer.concat([head(2), le.u32(pts.length), ...pts.map((p) => le.f64(...p))]);
const polygon = (...rings: number[][][]) => Buffer.concat([head(3), le.u32(rings.length), ...rings.map((r) => Buffer.concat([le.u32(r.length), ...r.map((p) => le.f64(...p))]))]);
const multi = (type: number, ...parts: Buffer[]) => Buffer.concat([head(type), le.u32(parts.length), ...parts]);

describe('geometry values', () => {
  it('MySQL internal bytes: SRID then WKB, both ways', () => {
    const wkb = point(-112.8185647, 49.6999986);
    const internal = Buffer.concat([le.u32(4326), wkb]);
    const v = fromMysqlGeometry(internal);
    expect(v).toEqual({ $geometry: { srid: 4326, wkb: wkb.toString('base64') } });
    expect(isGeometryValue(v)).toBe(true);
    expect(toMysqlGeometry(v).equals(internal)).toBe(true);
    expect(() => fromMysqlGeometry(Buffer.from([1, 2]))).toThrow(/not a MySQL geometry/);
  });

  it('EWKB keeps the SRID in the bytes and gives back the same WKB; SRID 0 is plain WKB', () => {
    const wkb = polygon([[0, 0], [1, 0], [1, 1], [0, 0]]);
    const v = geometryValue(3857, wkb);
    const ewkb = toEwkb(v);
    expect(ewkb.readUInt32LE(1)).toBe(0x20000003);
    expect(ewkb.readUInt32LE(5)).toBe(3857);
    expect(fromEwkb(ewkb)).toEqual(v);
    expect(toEwkb(geometryValue(0, wkb)).equals(wkb)).toBe(true);
    expect(fromEwkb(wkb)).toEqual(geometryValue(0, wkb));
    // big-endian EWKB, as PostGIS may send from another machine
    const be = Buffer.alloc(9 + 16);
    be[0] = 0;
    be.writeUInt32BE(0x20000001, 1);
    be.writeUInt32BE(4326, 5);
    be.writeDoubleBE(1.5, 9);
    be.writeDoubleBE(-2, 17);
    const back = fromEwkb(be);
    expect(back.$geometry.srid).toBe(4326);
    expect(wkbToGeoJson(wkbOf(back))).toEqual({ type: 'Point', coordinates: [1.5, -2] });
  });

  it('WKB as GeoJSON: Point, LineString, Polygon, Multi*, GeometryCollection, Z', () => {
    expect(wkbToGeoJson(point(1, 2))).toEqual({ type: 'Point', coordinates: [1, 2] });
    expect(wkbToGeoJson(line([0, 0], [1, 1]))).toEqual({ type: 'LineString', coordinates: [[0, 0], [1, 1]] });
    const ring = [[0, 0], [1, 0], [1, 1], [0, 0]];
    expect(wkbToGeoJson(polygon(ring))).toEqual({ type: 'Polygon', coordinates: [ring] });
    expect(wkbToGeoJson(multi(4, point(1, 1), point(2, 2)))).toEqual({ type: 'MultiPoint', coordinates: [[1, 1], [2, 2]] });
    expect(wkbToGeoJson(multi(5, line([0, 0], [1, 1])))).toEqual({ type: 'MultiLineString', coordinates: [[[0, 0], [1, 1]]] });
    expect(wkbToGeoJson(multi(6, polygon(ring), polygon(ring)))).toEqual({ type: 'MultiPolygon', coordinates: [[ring], [ring]] });
    expect(wkbToGeoJson(multi(7, point(1, 2), line([0, 0], [1, 1])))).toEqual({
      type: 'GeometryCollection',
      geometries: [{ type: 'Point', coordinates: [1, 2] }, { type: 'LineString', coordinates: [[0, 0], [1, 1]] }],
    });
    expect(wkbToGeoJson(Buffer.concat([head(1001), le.f64(1, 2, 3)]))).toEqual({ type: 'Point', coordinates: [1, 2, 3] });
  });

  it('what GeoJSON cannot hold is an error, never a changed shape', () => {
    expect(() => wkbToGeoJson(Buffer.concat([head(1), le.f64(NaN, NaN)]))).toThrow(/empty POINT/);
    expect(() => wkbToGeoJson(Buffer.concat([head(8), le.u32(0)]))).toThrow(/type 8 has no GeoJSON form/);
    expect(() => wkbToGeoJson(point(1, 2).subarray(0, 12))).toThrow(/ends early/);
    expect(() => wkbToGeoJson(Buffer.concat([point(1, 2), Buffer.from([0])]))).toThrow(/after its geometry/);
  });
});

describe('PostGIS (no PostGIS server here: its text forms, by the same code the sources and sinks use)', () => {
  const wkb = point(-112.8185647, 49.6999986);
  const v = geometryValue(4326, wkb);

  it('postgres.source reads geometry and geography (hex EWKB) as { $geometry } and declares them geometry', () => {
    const mapper = new TypeMapper();
    mapper.learn([
      { oid: 90001, typtype: 'b', basetype: 0, elem: 0, category: 'U', typname: 'geometry' },
      { oid: 90002, typtype: 'b', basetype: 0, elem: 0, category: 'U', typname: 'geography' },
    ]);
    expect(mapper.parser(90001)(toEwkb(v).toString('hex').toUpperCase())).toEqual(v);
    expect(mapper.parser(90002)(toEwkb(v).toString('hex'))).toEqual(v);
    expect(mapper.columnSpec('g', 90001, -1, true)).toMatchObject({ kind: 'geometry', source: 'geometry' });
    expect(mapper.columnSpec('g', 90002, -1, true)).toMatchObject({ kind: 'geometry', geography: true });
  });

  it('postgres.sink writes hex EWKB into geometry, EWKB bytes into bytea, and creates geometry only with PostGIS', () => {
    const col = (kind: 'geometry' | 'bytea') => ({ name: 'g', sqlType: kind, kind, array: false, elemKind: 'other' as const });
    expect(toPgText(v, col('geometry'))).toBe(toEwkb(v).toString('hex'));
    expect(toPgText(v, col('bytea'))).toBe(`\\x${toEwkb(v).toString('hex')}`);
    const spec = { name: 'g', source: 'point', nullable: true, kind: 'geometry' as const, geometryType: 'point' };
    expect(pgTypeForSpec(spec)).toBe('bytea');
    expect(pgTypeForSpec(spec, { postgis: true })).toBe('geometry(point)');
    expect(pgTypeForSpec({ ...spec, geography: true }, { postgis: true })).toBe('geography');
  });
});
