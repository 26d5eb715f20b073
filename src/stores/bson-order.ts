/**
 * MongoDB's comparison order for the values shardkit keeps in `_id` and sorts by, so the in-memory
 * store scans `(_h, _id)` in exactly the order a MongoDB index does, and both stores agree on
 * identity (`1`, `1.0` and `Long(1)` are the same `_id` on a server).
 *
 * BSON sort order by type: MinKey < null/missing < numbers < strings < objects < arrays < binary
 * < ObjectId < booleans < dates < timestamps < regular expressions < MaxKey.
 */

/** Rank of a value's BSON type in MongoDB's sort order. */
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
      return 7;
    case 'Timestamp':
      return 10;
    case 'BSONRegExp':
      return 11;
    case 'MaxKey':
      return 12;
    default:
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

/** Total order of two BSON values, as MongoDB sorts them (simple collation). */
export function compareBson(a: unknown, b: unknown): number {
  const ra = bsonTypeRank(a);
  const rb = bsonTypeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 1:
      // null and a missing field are one value to sorts and comparisons.
      return 0;
    case 2:
      return compareNumbers(numeric(a), numeric(b));
    case 3:
      return compareStrings(String(a), String(b));
    case 4:
      return compareObjects(a as Record<string, unknown>, b as Record<string, unknown>);
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
      return compareBytes((a as { id: Uint8Array }).id, (b as { id: Uint8Array }).id);
    case 8:
      return a === b ? 0 : a ? 1 : -1;
    case 9:
      return compareNumbers((a as Date).getTime(), (b as Date).getTime());
    default:
      return compareStrings(String(a), String(b));
  }
}

function compareObjects(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (let i = 0; i < Math.min(ka.length, kb.length); i++) {
    const fa = ka[i] as string;
    const fb = kb[i] as string;
    const byType = compareBson(bsonTypeRank(a[fa]), bsonTypeRank(b[fb]));
    if (byType !== 0) return byType;
    const byName = compareStrings(fa, fb);
    if (byName !== 0) return byName;
    const byValue = compareBson(a[fa], b[fb]);
    if (byValue !== 0) return byValue;
  }
  return ka.length === kb.length ? 0 : ka.length < kb.length ? -1 : 1;
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
      return `o${hex((value as { id: Uint8Array }).id)}`;
    case 8:
      return value ? 't' : 'f';
    case 9:
      return `d${(value as Date).getTime()}`;
    default:
      return `j${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
  }
}
