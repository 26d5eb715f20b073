/**
 * A BSON-ish total order, so results gathered from several shards can be merged the way one server
 * would have sorted them.
 *
 * Follows MongoDB's comparison/sort order of BSON types: MinKey < null (and missing) < numbers <
 * strings < objects < arrays < binary < ObjectId < booleans < dates < timestamps < regular
 * expressions < MaxKey. Within a type:
 * - numbers (JS number, bigint, Int32, Double, Long) compare by value, NaN below every other number;
 *   Decimal128 is compared as a JS number (may lose precision beyond 2^53 or 17 digits);
 * - strings compare by Unicode code point, which is the byte order of their UTF-8 form (the server's
 *   "simple" collation); other collations are not supported;
 * - objects compare field by field (value type, then field name, then value), arrays element by element;
 * - binary compares by length, then subtype, then bytes; ObjectIds by their 12 bytes.
 * In a sort, an array field sorts by its smallest element ascending and its largest descending, and an
 * empty array sorts below null, as on the server.
 */
import { ShardkitInvalidArgumentError } from '../errors.js';
import type { Document, Sort } from 'mongodb';

/** One sort key: a dotted path and a direction. */
export interface SortField {
  readonly path: string;
  readonly dir: 1 | -1;
}

const enum Rank {
  minKey = 1,
  emptyArray = 2,
  nul = 3,
  number = 4,
  string = 5,
  object = 6,
  array = 7,
  binary = 8,
  objectId = 9,
  boolean = 10,
  date = 11,
  timestamp = 12,
  regex = 13,
  maxKey = 14,
  other = 15,
}

function bsonType(value: object): string | undefined {
  const t = (value as { _bsontype?: unknown })._bsontype;
  return typeof t === 'string' ? t : undefined;
}

function rank(value: unknown): Rank {
  switch (typeof value) {
    case 'undefined':
      return Rank.nul;
    case 'number':
    case 'bigint':
      return Rank.number;
    case 'string':
      return Rank.string;
    case 'boolean':
      return Rank.boolean;
    case 'object': {
      if (value === null) return Rank.nul;
      if (Array.isArray(value)) return Rank.array;
      if (value instanceof Date) return Rank.date;
      if (value instanceof RegExp) return Rank.regex;
      if (value instanceof Uint8Array) return Rank.binary;
      switch (bsonType(value)) {
        case undefined:
          return Rank.object;
        case 'ObjectId':
        case 'ObjectID':
          return Rank.objectId;
        case 'Int32':
        case 'Double':
        case 'Long':
        case 'Decimal128':
          return Rank.number;
        case 'Binary':
          return Rank.binary;
        case 'Timestamp':
          return Rank.timestamp;
        case 'BSONRegExp':
          return Rank.regex;
        case 'BSONSymbol':
          return Rank.string;
        case 'MinKey':
          return Rank.minKey;
        case 'MaxKey':
          return Rank.maxKey;
        default:
          return Rank.other;
      }
    }
    default:
      return Rank.other;
  }
}

function toNumeric(value: unknown): number | bigint {
  if (typeof value === 'number' || typeof value === 'bigint') return value;
  const v = value as { _bsontype?: string; toBigInt?: () => bigint; valueOf(): unknown; toString(): string };
  if (v._bsontype === 'Long' && typeof v.toBigInt === 'function') return v.toBigInt();
  if (v._bsontype === 'Decimal128') return Number(v.toString());
  const n = v.valueOf();
  return typeof n === 'number' || typeof n === 'bigint' ? n : Number(n);
}

function compareNumbers(a: number | bigint, b: number | bigint): number {
  const aNaN = typeof a === 'number' && Number.isNaN(a);
  const bNaN = typeof b === 'number' && Number.isNaN(b);
  if (aNaN || bNaN) return aNaN === bNaN ? 0 : aNaN ? -1 : 1;
  // `<` is exact between number and bigint, so mixed Long/double comparisons need no conversion.
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Compare strings by code point (= UTF-8 byte order). UTF-16 code unit order differs only where a
 * surrogate (a code point above U+FFFF) meets a unit in U+E000..U+FFFF, so only that case is remapped.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function bytesOf(value: unknown): { bytes: Uint8Array; subtype: number } {
  if (value instanceof Uint8Array) return { bytes: value, subtype: 0 };
  const b = value as { buffer?: Uint8Array; sub_type?: number };
  return { bytes: b.buffer instanceof Uint8Array ? b.buffer : new Uint8Array(0), subtype: b.sub_type ?? 0 };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function hexOf(value: unknown): string {
  return String((value as { toHexString(): unknown }).toHexString()).toLowerCase();
}

function timestampOf(value: unknown): bigint {
  const v = value as { toBigInt?: () => bigint; t?: number; i?: number };
  if (typeof v.toBigInt === 'function') return v.toBigInt();
  return (BigInt(v.t ?? 0) << 32n) | BigInt(v.i ?? 0);
}

function regexParts(value: unknown): [string, string] {
  if (value instanceof RegExp) return [value.source, value.flags];
  const v = value as { pattern?: string; options?: string };
  return [v.pattern ?? '', v.options ?? ''];
}

/** Compare two BSON values in MongoDB's order; negative, zero or positive. */
export function compareValues(a: unknown, b: unknown): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case Rank.minKey:
    case Rank.maxKey:
    case Rank.nul:
    case Rank.emptyArray:
      return 0;
    case Rank.number:
      return compareNumbers(toNumeric(a), toNumeric(b));
    case Rank.string:
      return compareStrings(String(a), String(b));
    case Rank.boolean:
      return a === b ? 0 : a === false ? -1 : 1;
    case Rank.date: {
      const x = (a as Date).getTime();
      const y = (b as Date).getTime();
      return compareNumbers(x, y);
    }
    case Rank.objectId:
      return compareStrings(hexOf(a), hexOf(b));
    case Rank.binary: {
      const x = bytesOf(a);
      const y = bytesOf(b);
      if (x.bytes.length !== y.bytes.length) return x.bytes.length < y.bytes.length ? -1 : 1;
      if (x.subtype !== y.subtype) return x.subtype < y.subtype ? -1 : 1;
      return compareBytes(x.bytes, y.bytes);
    }
    case Rank.timestamp:
      return compareNumbers(timestampOf(a), timestampOf(b));
    case Rank.regex: {
      const [pa, fa] = regexParts(a);
      const [pb, fb] = regexParts(b);
      return compareStrings(pa, pb) || compareStrings(fa, fb);
    }
    case Rank.array: {
      const x = a as unknown[];
      const y = b as unknown[];
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const c = compareValues(x[i], y[i]);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    case Rank.object: {
      const x = Object.entries(a as Document);
      const y = Object.entries(b as Document);
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const [ka, va] = x[i] as [string, unknown];
        const [kb, vb] = y[i] as [string, unknown];
        const rva = rank(va);
        const rvb = rank(vb);
        if (rva !== rvb) return rva < rvb ? -1 : 1;
        const c = compareStrings(ka, kb) || compareValues(va, vb);
        if (c !== 0) return c;
      }
      return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
    }
    default:
      return 0;
  }
}

const EMPTY_ARRAY = Symbol('emptyArray');

/** Every value a dotted path reaches, descending into arrays of subdocuments as the server does. */
function collect(value: unknown, segments: readonly string[], i: number, out: unknown[]): void {
  if (i === segments.length) {
    if (Array.isArray(value)) {
      if (value.length === 0) out.push(EMPTY_ARRAY);
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
  collect((value as Document)[seg], segments, i + 1, out);
}

/**
 * The value a document sorts by on `field`: the smallest (ascending) or largest (descending) value
 * the path reaches; `undefined` (as null) when it reaches none.
 */
export function sortKey(doc: Document, field: SortField, segments = field.path.split('.')): unknown {
  const values: unknown[] = [];
  collect(doc, segments, 0, values);
  if (values.length === 1) return values[0];
  let best: unknown = values[0];
  for (let i = 1; i < values.length; i++) {
    const c = compareSortValues(values[i], best);
    if (field.dir === 1 ? c < 0 : c > 0) best = values[i];
  }
  return best;
}

function compareSortValues(a: unknown, b: unknown): number {
  // An empty array sorts below null; it is a sentinel here because compareValues has no such value.
  if (a === EMPTY_ARRAY || b === EMPTY_ARRAY) {
    if (a === b) return 0;
    return a === EMPTY_ARRAY ? (rank(b) === Rank.minKey ? 1 : -1) : rank(a) === Rank.minKey ? -1 : 1;
  }
  return compareValues(a, b);
}

function direction(raw: unknown, path: string): 1 | -1 {
  if (raw === 1 || raw === 'asc' || raw === 'ascending') return 1;
  if (raw === -1 || raw === 'desc' || raw === 'descending') return -1;
  throw new ShardkitInvalidArgumentError(
    `sort on '${path}': direction must be 1, -1, 'asc' or 'desc' ($meta sorts are not supported across shards)`,
  );
}

/**
 * Normalize the driver's `Sort` forms (`{a: 1}`, `[['a', 1]]`, `['a', 1]`, `'a'`, a `Map`) to a list
 * of fields. `null`/`undefined` yields an empty list.
 */
export function normalizeSort(sort: Sort | undefined | null): SortField[] {
  if (sort === undefined || sort === null) return [];
  const out: SortField[] = [];
  const push = (path: unknown, dir: unknown): void => {
    if (typeof path !== 'string' || path.length === 0) {
      throw new ShardkitInvalidArgumentError(`sort field names must be non-empty strings, got ${typeof path}`);
    }
    if (out.some((f) => f.path === path)) return;
    out.push({ path, dir: direction(dir, path) });
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

/** `fields` as a MongoDB sort document, for pushing the sort down to each shard. */
export function sortDocument(fields: readonly SortField[]): Document {
  const doc: Document = {};
  for (const f of fields) doc[f.path] = f.dir;
  return doc;
}

/** A comparator of documents by `fields`, in the server's order. */
export function documentComparator(fields: readonly SortField[]): (a: Document, b: Document) => number {
  const split = fields.map((f) => ({ field: f, segments: f.path.split('.') }));
  return (a, b) => {
    for (const { field, segments } of split) {
      const c = compareSortValues(sortKey(a, field, segments), sortKey(b, field, segments));
      if (c !== 0) return field.dir === 1 ? c : -c;
    }
    return 0;
  };
}
