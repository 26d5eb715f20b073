/**
 * MongoDB's comparison order of BSON values: the ONE comparator shardkit uses wherever values are
 * ordered, so the in-memory store scans `(_h, _id)` in exactly the order a MongoDB index does, a
 * shard's sorted `find` and the collection's merge of several shards' results agree, and both stores
 * agree on identity (`1`, `1.0` and `Long(1)` are the same `_id` on a server).
 *
 * BSON sort order by type: MinKey < null/missing < numbers < strings/symbols < objects < arrays <
 * binary < ObjectId < booleans < dates < timestamps < regular expressions < JavaScript code <
 * code with scope < MaxKey. Within a type:
 * - numbers (JS number, bigint, Int32, Double, Long) compare by value, exactly across number and
 *   bigint, NaN below every other number; Decimal128 is compared as a JS number (may lose precision
 *   beyond 2^53 or 17 digits);
 * - strings compare by Unicode code point, the byte order of their UTF-8 form (the server's "simple"
 *   collation); other collations are not supported;
 * - objects compare field by field (value type, then field name, then value), arrays element by element;
 * - binary compares by length, then subtype, then bytes; ObjectIds by their 12 bytes; timestamps as
 *   unsigned 64-bit numbers; regular expressions by pattern, then flags.
 *
 * Sorting a document by a field adds rules of its own (see {@link sortKey}): an array field sorts by
 * its smallest element ascending and its largest descending, and an empty array sorts below null.
 */

import type { Sort } from 'mongodb';
import { ShardkitInvalidArgumentError } from '../errors.js';

/** Rank of a value's BSON type in MongoDB's sort order (MinKey is 0, MaxKey the highest). */
export function bsonTypeRank(value: unknown): number {
  if (value === undefined || value === null) return 1;
  switch (typeof value) {
    case 'number':
    case 'bigint':
      return 2;
    case 'string':
      return 3;
    case 'boolean':
      return 8;
    case 'object':
      break;
    default:
      return 4;
  }
  if (Array.isArray(value)) return 5;
  if (value instanceof Uint8Array) return 6;
  if (value instanceof Date) return 9;
  if (value instanceof RegExp) return 11;
  switch (bsonTypeTag(value)) {
    case 'MinKey':
      return 0;
    case 'Int32':
    case 'Double':
    case 'Long':
    case 'Decimal128':
      return 2;
    case 'BSONSymbol':
      return 3;
    case 'Binary':
      return 6;
    case 'ObjectId':
    case 'ObjectID':
      return 7;
    case 'Timestamp':
      return 10;
    case 'BSONRegExp':
      return 11;
    case 'Code':
      return (value as { scope?: unknown }).scope == null ? 12 : 13;
    case 'MaxKey':
      return 14;
    default:
      // Plain objects, and DBRefs, which the server stores as `{$ref, $id, $db}` objects.
      return 4;
  }
}

/**
 * MongoDB `$type` aliases of the types that sort after `value`'s type, for a resume filter: a
 * query's `$gt` only compares within one type ("type bracketing"), so `(_h, _id) > (h, id)` needs
 * `_id > id` or `_id` of a later type.
 */
export function typesAfter(value: unknown): string[] {
  // No 'symbol', 'minKey' or 'maxKey': FerretDB 1.x rejects those aliases, and no shard key or
  // driver-written `_id` has those types. An `_id` is never an array.
  const order: Array<[number, string[]]> = [
    [3, ['string']],
    [4, ['object']],
    [6, ['binData']],
    [7, ['objectId']],
    [8, ['bool']],
    [9, ['date']],
    [10, ['timestamp']],
    [11, ['regex']],
  ];
  const rank = bsonTypeRank(value);
  return order.filter(([r]) => r > rank).flatMap(([, names]) => names);
}

function bsonTypeTag(value: object): string | undefined {
  const tag = (value as { _bsontype?: unknown })._bsontype;
  return typeof tag === 'string' ? tag : undefined;
}

function numeric(value: unknown): number | bigint {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  const tag = bsonTypeTag(value as object);
  if (tag === 'Long') {
    const long = value as { toBigInt(): bigint };
    return long.toBigInt();
  }
  if (tag === 'Int32' || tag === 'Double') return (value as { valueOf(): number }).valueOf();
  if (tag === 'Decimal128') return Number((value as { toString(): string }).toString());
  return Number.NaN;
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  // NaN sorts before every other number in MongoDB.
  const aNaN = typeof a === 'number' && Number.isNaN(a);
  const bNaN = typeof b === 'number' && Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? -1 : 1;
  // Mixed bigint/number compares exactly (no precision loss past 2^53).
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Compare strings by code point, as MongoDB's simple collation compares UTF-8 bytes. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF, which sort after U+E000..U+FFFF.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca < cb ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

function bytesOf(value: unknown): { bytes: Uint8Array; subtype: number } {
  if (value instanceof Uint8Array) return { bytes: value, subtype: 0 };
  const bin = value as { buffer: Uint8Array; sub_type: number; position?: number };
  const len = bin.position ?? bin.buffer.length;
  return { bytes: bin.buffer.subarray(0, len), subtype: bin.sub_type };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function objectIdBytes(value: unknown): Uint8Array {
  const id = (value as { id?: unknown }).id;
  if (id instanceof Uint8Array) return id;
  // Legacy or foreign ObjectId shapes: their hex form has the same order as their bytes.
  const hexString = String((value as { toHexString(): unknown }).toHexString()).toLowerCase();
  return Uint8Array.from(hexString.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

function timestampOf(value: unknown): bigint {
  const v = value as { toBigInt?: () => bigint; t?: number; i?: number };
  if (typeof v.toBigInt === 'function') return BigInt.asUintN(64, v.toBigInt());
  return (BigInt(v.t ?? 0) << 32n) | BigInt(v.i ?? 0);
}

function regexParts(value: unknown): [string, string] {
  if (value instanceof RegExp) return [value.source, value.flags];
  const v = value as { pattern?: string; options?: string };
  return [v.pattern ?? '', v.options ?? ''];
}

function codeParts(value: unknown): { code: string; scope: unknown } {
  const v = value as { code?: unknown; scope?: unknown };
  return { code: String(v.code ?? ''), scope: v.scope ?? null };
}

function objectFields(value: unknown): Record<string, unknown> {
  // A DBRef is stored as `{$ref, $id, $db, ...}`, which its toJSON spells out.
  if (bsonTypeTag(value as object) === 'DBRef') return (value as { toJSON(): Record<string, unknown> }).toJSON();
  return value as Record<string, unknown>;
}

/** Total order of two BSON values, as MongoDB sorts them (simple collation). */
export function compareBson(a: unknown, b: unknown): number {
  const ra = bsonTypeRank(a);
  const rb = bsonTypeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
    case 1:
    case 14:
      // MinKey, MaxKey and null (a missing field is null to sorts and comparisons) are single values.
      return 0;
    case 2:
      return compareNumbers(numeric(a), numeric(b));
    case 3:
      return compareStrings(String(a), String(b));
    case 4:
      return compareObjects(objectFields(a), objectFields(b));
    case 5: {
      const x = a as unknown[];
      const y = b as unknown[];
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const c = compareBson(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    case 6: {
      // MongoDB orders BinData by length, then subtype, then bytes.
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.bytes.length !== y.bytes.length) return x.bytes.length < y.bytes.length ? -1 : 1;
      if (x.subtype !== y.subtype) return x.subtype < y.subtype ? -1 : 1;
      return compareBytes(x.bytes, y.bytes);
    }
    case 7:
      return compareBytes(objectIdBytes(a), objectIdBytes(b));
    case 8:
      return a === b ? 0 : a ? 1 : -1;
    case 9:
      return compareNumbers((a as Date).getTime(), (b as Date).getTime());
    case 10:
      return compareNumbers(timestampOf(a), timestampOf(b));
    case 11: {
      const [pa, fa] = regexParts(a);
      const [pb, fb] = regexParts(b);
      return compareStrings(pa, pb) || compareStrings(fa, fb);
    }
    default: {
      const x = codeParts(a);
      const y = codeParts(b);
      return compareStrings(x.code, y.code) || compareBson(x.scope, y.scope);
    }
  }
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const fa = ka[i] as string;
    const fb = kb[i] as string;
    const ta = bsonTypeRank(a[fa]);
    const tb = bsonTypeRank(b[fb]);
    if (ta !== tb) return ta < tb ? -1 : 1;
    const byName = compareStrings(fa, fb);
    if (byName !== 0) return byName;
    const byValue = compareBson(a[fa], b[fb]);
    if (byValue !== 0) return byValue;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
}

/** One key of a document sort: a dotted path and a direction. */
export interface SortSpec {
  readonly path: string;
  readonly dir: 1 | -1;
}

/**
 * The sort key of an empty array: it sorts below null (above MinKey), a place no BSON value has, so
 * {@link compareSortKeys} handles it before {@link compareBson}.
 */
export const EMPTY_ARRAY_KEY: unique symbol = Symbol('emptyArray');

/** Every value a dotted path reaches, descending into arrays of subdocuments as the server does. */
function collect(value: unknown, segments: readonly string[], i: number, out: unknown[]): void {
  if (i === segments.length) {
    if (Array.isArray(value)) {
      if (value.length === 0) out.push(EMPTY_ARRAY_KEY);
      else for (const v of value) out.push(v);
    } else {
      out.push(value);
    }
    return;
  }
  if (value === null || typeof value !== 'object') {
    out.push(undefined);
    return;
  }
  const seg = segments[i] as string;
  if (Array.isArray(value)) {
    if (/^\d+$/.test(seg)) {
      collect(value[Number(seg)], segments, i + 1, out);
      return;
    }
    if (value.length === 0) {
      out.push(undefined);
      return;
    }
    for (const el of value) {
      if (el !== null && typeof el === 'object' && !Array.isArray(el)) collect(el, segments, i, out);
      else out.push(undefined);
    }
    return;
  }
  collect((value as Record<string, unknown>)[seg], segments, i + 1, out);
}

/** {@link compareBson}, extended with {@link EMPTY_ARRAY_KEY} just above MinKey. */
export function compareSortKeys(a: unknown, b: unknown): number {
  if (a === EMPTY_ARRAY_KEY || b === EMPTY_ARRAY_KEY) {
    if (a === b) return 0;
    if (a === EMPTY_ARRAY_KEY) return bsonTypeRank(b) === 0 ? 1 : -1;
    return bsonTypeRank(a) === 0 ? -1 : 1;
  }
  return compareBson(a, b);
}

/**
 * The value a document sorts by on `field`: the smallest (ascending) or largest (descending) value
 * the path reaches, {@link EMPTY_ARRAY_KEY} for an empty array, `undefined` (null) when it reaches none.
 */
export function sortKey(doc: object, field: SortSpec, segments = field.path.split('.')): unknown {
  const values: unknown[] = [];
  collect(doc, segments, 0, values);
  if (values.length === 1) return values[0];
  let best: unknown = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compareSortKeys(values[i], best);
    if (field.dir === 1 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}

/** A comparator of documents by `fields`, in the order a MongoDB server sorts them. */
export function sortComparator(fields: readonly SortSpec[]): (a: object, b: object) => number {
  const split = fields.map((field) => ({ field, segments: field.path.split('.') }));
  return (a, b) => {
    for (const { field, segments } of split) {
      const c = compareSortKeys(sortKey(a, field, segments), sortKey(b, field, segments));
      if (c !== 0) return field.dir === 1 ? c : -c;
    }
    return 0;
  };
}

function sortDirection(raw: unknown, path: string): 1 | -1 {
  if (raw === 1 || raw === 'asc' || raw === 'ascending') return 1;
  if (raw === -1 || raw === 'desc' || raw === 'descending') return -1;
  throw new ShardkitInvalidArgumentError(
    `sort on '${path}': direction must be 1, -1, 'asc' or 'desc' ($meta sorts are not supported across shards)`,
  );
}

/**
 * The driver's `Sort` forms (`{a: 1}`, `[['a', 1]]`, `['a', 1]`, `'a'`, a `Map`) as a list of keys for
 * {@link sortComparator}, read as the driver reads them (`['a', 'b']` is two keys); a path named twice
 * counts once. A direction other than 1, -1, 'asc' or 'desc' is refused, as the driver refuses it.
 * `null`/`undefined` yields an empty list.
 */
export function normalizeSort(sort: Sort | undefined | null): SortSpec[] {
  if (sort === undefined || sort === null) return [];
  const out: SortSpec[] = [];
  const push = (path: unknown, dir: unknown): void => {
    if (typeof path !== 'string' || path.length === 0) {
      throw new ShardkitInvalidArgumentError(`sort field names must be non-empty strings, got ${typeof path}`);
    }
    if (out.some((f) => f.path === path)) return;
    out.push({ path, dir: sortDirection(dir, path) });
  };
  if (typeof sort === 'string') {
    push(sort, 1);
  } else if (sort instanceof Map) {
    for (const [k, v] of sort) push(k, v);
  } else if (Array.isArray(sort)) {
    if (sort.length === 2 && typeof sort[0] === 'string' && !Array.isArray(sort[1]) && typeof sort[1] !== 'string') {
      push(sort[0], sort[1]);
    } else if (sort.length === 2 && typeof sort[0] === 'string' && typeof sort[1] === 'string' && /^(asc|desc|ascending|descending)$/.test(sort[1])) {
      push(sort[0], sort[1]);
    } else {
      for (const item of sort as unknown[]) {
        if (typeof item === 'string') push(item, 1);
        else if (Array.isArray(item)) push(item[0], item[1]);
        else throw new ShardkitInvalidArgumentError('sort: unsupported array form');
      }
    }
  } else if (typeof sort === 'object') {
    for (const [k, v] of Object.entries(sort as Record<string, unknown>)) push(k, v);
  } else {
    throw new ShardkitInvalidArgumentError(`sort: unsupported value of type ${typeof sort}`);
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16);
  return s;
}

/**
 * A string that is equal for two `_id` values exactly when MongoDB's unique `_id` index treats them
 * as the same key: numbers compare by value across int, double, long and bigint.
 */
export function idKey(value: unknown): string {
  switch (bsonTypeRank(value)) {
    case 1:
      return 'z';
    case 2: {
      const n = numeric(value);
      if (typeof n === 'bigint') return `n${n}`;
      if (Number.isInteger(n)) return `n${BigInt(n)}`;
      return `n${n}`;
    }
    case 3:
      return `s${String(value)}`;
    case 6: {
      const { bytes, subtype } = bytesOf(value);
      return `b${subtype}:${hex(bytes)}`;
    }
    case 7:
      return `o${hex(objectIdBytes(value))}`;
    case 8:
      return value ? 't' : 'f';
    case 9:
      return `d${(value as Date).getTime()}`;
    default:
      return `j${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
  }
}
