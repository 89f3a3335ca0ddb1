/**
 * Spatial values in records. A geometry travels as `{ $geometry: { srid, wkb } }`: its SRID and its
 * OGC well-known binary in standard base64 (records are JSON, like `{ $base64 }` in binary.ts), so
 * neither the geometry type nor the reference system is lost between databases.
 *
 * The byte forms the families store:
 * - MySQL / MariaDB: 4-byte little-endian SRID, then the WKB (their internal format; a geometry column
 *   takes it as a bound value, which is how mysqldump --hex-blob reloads geometry).
 * - PostGIS and a bytea / BLOB without PostGIS: EWKB, the WKB with PostGIS's SRID flag and the SRID
 *   after the type word (the WKB unchanged when the SRID is 0), so the SRID survives in plain bytes and
 *   `ST_GeomFromEWKB(col)` turns the column into geometry later.
 * - MongoDB: GeoJSON (`wkbToGeoJson`), which has no SRID (it means WGS 84).
 */

export const GEOMETRY_FIELD = '$geometry';

export interface GeometryValue {
  $geometry: { srid: number; wkb: string };
}

/** true for `{ $geometry: { srid: number, wkb: string } }` with no other field */
export function isGeometryValue(v: unknown): v is GeometryValue {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1 || keys[0] !== GEOMETRY_FIELD) return false;
  const g = (v as GeometryValue).$geometry;
  return g !== null && typeof g === 'object' && typeof g.srid === 'number' && typeof g.wkb === 'string';
}

export function geometryValue(srid: number, wkb: Uint8Array): GeometryValue {
  return { $geometry: { srid, wkb: Buffer.from(wkb.buffer, wkb.byteOffset, wkb.byteLength).toString('base64') } };
}

export const wkbOf = (g: GeometryValue): Buffer => Buffer.from(g.$geometry.wkb, 'base64');

/** MySQL's internal geometry bytes (SRID little-endian, then WKB) as a record value */
export function fromMysqlGeometry(bytes: Buffer): GeometryValue {
  if (bytes.length < 9) throw new Error(`not a MySQL geometry value (${bytes.length} bytes)`);
  return geometryValue(bytes.readUInt32LE(0), bytes.subarray(4));
}

export function toMysqlGeometry(g: GeometryValue): Buffer {
  const srid = Buffer.alloc(4);
  srid.writeUInt32LE(g.$geometry.srid >>> 0);
  return Buffer.concat([srid, wkbOf(g)]);
}

const EWKB_SRID = 0x20000000;

/** EWKB (PostGIS's extended WKB) as a record value: the SRID flag and field taken out */
export function fromEwkb(bytes: Buffer): GeometryValue {
  if (bytes.length < 5) throw new Error(`not a WKB value (${bytes.length} bytes)`);
  const le = bytes[0] === 1;
  const type = le ? bytes.readUInt32LE(1) : bytes.readUInt32BE(1);
  if (!(type & EWKB_SRID)) return geometryValue(0, bytes);
  const srid = le ? bytes.readUInt32LE(5) : bytes.readUInt32BE(5);
  const head = Buffer.alloc(5);
  head[0] = bytes[0];
  if (le) head.writeUInt32LE((type & ~EWKB_SRID) >>> 0, 1);
  else head.writeUInt32BE((type & ~EWKB_SRID) >>> 0, 1);
  return geometryValue(srid, Buffer.concat([head, bytes.subarray(9)]));
}

/** a record value as EWKB: the SRID in the bytes when it is not 0 */
export function toEwkb(g: GeometryValue): Buffer {
  const wkb = wkbOf(g);
  const srid = g.$geometry.srid;
  if (!srid || wkb.length < 5) return wkb;
  const le = wkb[0] === 1;
  const head = Buffer.alloc(9);
  head[0] = wkb[0];
  const type = ((le ? wkb.readUInt32LE(1) : wkb.readUInt32BE(1)) | EWKB_SRID) >>> 0;
  if (le) {
    head.writeUInt32LE(type, 1);
    head.writeUInt32LE(srid >>> 0, 5);
  } else {
    head.writeUInt32BE(type, 1);
    head.writeUInt32BE(srid >>> 0, 5);
  }
  return Buffer.concat([head, wkb.subarray(5)]);
}

export type GeoJson =
  | { type: 'Point'; coordinates: number[] }
  | { type: 'LineString' | 'MultiPoint'; coordinates: number[][] }
  | { type: 'Polygon' | 'MultiLineString'; coordinates: number[][][] }
  | { type: 'MultiPolygon'; coordinates: number[][][][] }
  | { type: 'GeometryCollection'; geometries: GeoJson[] };

const GEOJSON_TYPES = ['', 'Point', 'LineString', 'Polygon', 'MultiPoint', 'MultiLineString', 'MultiPolygon', 'GeometryCollection'] as const;

/**
 * WKB (ISO or EWKB, 2D, Z, M, ZM) as GeoJSON: Point, LineString, Polygon, their Multi* forms and
 * GeometryCollection. M values have no place in GeoJSON and are dropped; an empty point has no
 * GeoJSON form (an error), and so has any other type (curves, TIN...).
 */
export function wkbToGeoJson(wkb: Buffer): GeoJson {
  let at = 0;
  const need = (n: number) => {
    if (at + n > wkb.length) throw new Error(`WKB ends early at byte ${at} of ${wkb.length}`);
  };
  const geometry = (): GeoJson => {
    need(5);
    const le = wkb[at] === 1;
    const u32 = () => {
      need(4);
      const v = le ? wkb.readUInt32LE(at) : wkb.readUInt32BE(at);
      at += 4;
      return v;
    };
    const f64 = () => {
      need(8);
      const v = le ? wkb.readDoubleLE(at) : wkb.readDoubleBE(at);
      at += 8;
      return v;
    };
    at += 1;
    let type = u32();
    let z = false;
    let m = false;
    if (type & 0x80000000) z = true; // EWKB flags
    if (type & 0x40000000) m = true;
    if (type & EWKB_SRID) u32();
    type &= 0x0fffffff;
    const dims = Math.floor(type / 1000); // ISO: +1000 Z, +2000 M, +3000 ZM
    if (dims === 1 || dims === 3) z = true;
    if (dims === 2 || dims === 3) m = true;
    type %= 1000;
    const point = () => {
      const c = [f64(), f64()];
      if (z) c.push(f64());
      if (m) f64();
      return c;
    };
    const points = () => Array.from({ length: u32() }, point);
    const rings = () => Array.from({ length: u32() }, points);
    const name = GEOJSON_TYPES[type];
    switch (type) {
      case 1: {
        const c = point();
        if (c.every((x) => Number.isNaN(x))) throw new Error('an empty POINT has no GeoJSON form');
        return { type: 'Point', coordinates: c };
      }
      case 2:
        return { type: 'LineString', coordinates: points() };
      case 3:
        return { type: 'Polygon', coordinates: rings() };
      case 4:
      case 5:
      case 6:
      case 7: {
        const parts = Array.from({ length: u32() }, geometry);
        if (type === 7) return { type: 'GeometryCollection', geometries: parts };
        return { type: name, coordinates: parts.map((p) => (p as unknown as { coordinates: unknown }).coordinates) } as GeoJson;
      }
      default:
        throw new Error(`WKB geometry type ${type} has no GeoJSON form`);
    }
  };
  const out = geometry();
  if (at !== wkb.length) throw new Error(`WKB has ${wkb.length - at} bytes after its geometry`);
  return out;
}
