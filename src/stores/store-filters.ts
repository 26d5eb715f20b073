/**
 * Filters and update documents both stores build the same way, so `MongoStore` and `MemoryStore`
 * apply identical conditions: live-only writes, `(_h, _id)` range scans with resume, `_v` bumps, the
 * checks of their arguments, and the document an upsert is seeded with. The same entries tested in
 * hand are in `markers.ts`.
 */
import type { Document, UpdateFilter } from 'mongodb';
import { ShardkitInvalidArgumentError } from '../errors.js';
import { idKey, typesAfter } from './bson-order.js';
import type { HashRange, RangeCursor, RangeSpan, StoredDocument, StoreFilter } from './shard-store.js';

/** Conditions every application write carries: the document is not fenced, a placeholder or a tombstone. */
export const LIVE: Readonly<Document> = Object.freeze({
  _moved: { $exists: false },
  _ph: { $exists: false },
  _ts: { $exists: false },
});

/** The complement of {@link LIVE}: fences, placeholders and tombstones, the migration's markers. */
export const MARKED: Readonly<Document> = Object.freeze({
  $or: [{ _moved: { $exists: true } }, { _ph: { $exists: true } }, { _ts: { $exists: true } }],
});

/** Entries no migration has fenced: what a fence, a tombstone or a re-insert may still replace. */
export const UNFENCED: Readonly<Document> = Object.freeze({ _moved: { $exists: false } });

/**
 * AND of filters. Spreads them into one object when no top-level key repeats, because an upsert only
 * seeds its new document from top-level equality fields on FerretDB (MongoDB also looks into `$and`).
 */
export function andFilters(...filters: ReadonlyArray<StoreFilter | undefined>): StoreFilter {
  const parts = filters.filter((f): f is StoreFilter => f !== undefined && Object.keys(f).length > 0);
  const seen = new Set<string>();
  for (const part of parts) {
    for (const key of Object.keys(part)) {
      if (seen.has(key)) return { $and: parts };
      seen.add(key);
    }
  }
  return Object.assign({}, ...parts) as StoreFilter;
}

/** `filter` narrowed to live documents. */
export function liveFilter(filter: StoreFilter): StoreFilter {
  // The common case without andFilters' array and set: a filter that names no marker (a point write's
  // `{_id}`) takes the markers' conditions beside its own. It runs for every write.
  for (const key in filter) {
    if (key === '_moved' || key === '_ph' || key === '_ts') return andFilters(filter, LIVE);
  }
  return Object.assign({}, filter, LIVE);
}

/** Check a range once, with a precise error, before it reaches a query. */
export function assertRange(range: HashRange): void {
  const { start, end } = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < -1 || end > 0xffffffff || start >= end) {
    throw new ShardkitInvalidArgumentError(
      `invalid hash range (${String(start)}, ${String(end)}]: need integers with -1 <= start < end <= 0xFFFFFFFF`,
    );
  }
}

/** Check a fence epoch: a positive integer. */
export function assertEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 1) {
    throw new ShardkitInvalidArgumentError(`invalid epoch ${String(epoch)}: need a positive integer`);
  }
}

/** Check a batch limit: a positive integer. */
export function assertLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new ShardkitInvalidArgumentError(`invalid limit ${String(limit)}: need a positive integer`);
  }
}

/**
 * Documents of `range` after the cursor `after`, in `(_h, _id)` order. A query's `$gt` only compares
 * values of one BSON type, so ids of later types are added explicitly (42 and "42" share a point).
 */
export function rangeFilter(range: HashRange, after: RangeCursor | null): StoreFilter {
  if (after === null || after.h <= range.start) return { _h: { $gt: range.start, $lte: range.end } };
  const later: Document[] = [{ _h: { $gt: after.h } }, { _id: { $gt: after.id } }];
  const types = typesAfter(after.id);
  if (types.length > 0) later.push({ _id: { $type: types } });
  return { _h: { $gte: after.h, $lte: range.end }, $or: later };
}

const RESERVED_IN_UPDATES = ['_id', '_v', '_moved', '_ph', '_ts'] as const;

function touchesReserved(path: string): string | undefined {
  // Every reserved field starts with '_': most paths are told apart by their first character. It runs
  // for every path of every update, twice per write (the collection's check and the store's).
  if (path.charCodeAt(0) !== 95) return undefined;
  for (const f of RESERVED_IN_UPDATES) if (isPathOf(path, f)) return f;
  return undefined;
}

/** Whether `path` is `field` or a path inside it. */
function isPathOf(path: string, field: string): boolean {
  return path.startsWith(field) && (path.length === field.length || path.charCodeAt(field.length) === 46);
}

function assertNotReserved(op: string, path: string, alsoReserved?: string): void {
  const reserved = touchesReserved(path) ?? (alsoReserved !== undefined && isPathOf(path, alsoReserved) ? alsoReserved : undefined);
  if (reserved !== undefined) throw new ShardkitInvalidArgumentError(`update must not touch the reserved field '${reserved}' (${op} ${path})`);
}

/**
 * Rejects updates that are not operator documents (or a non-empty pipeline), or that touch `_id`,
 * `_v`, a marker, or one of `alsoReserved` (the collection adds `_h`): those belong to shardkit.
 */
export function assertUpdateDocument(update: UpdateFilter<Document> | Document[], alsoReserved?: string): void {
  if (Array.isArray(update)) {
    if (update.length === 0) throw new ShardkitInvalidArgumentError('empty update pipeline');
    return;
  }
  if (update === null || typeof update !== 'object') {
    throw new ShardkitInvalidArgumentError('update must be an object of update operators or a pipeline');
  }
  let ops = 0;
  for (const op in update) {
    if (!Object.prototype.hasOwnProperty.call(update, op)) continue;
    ops++;
    if (op.charCodeAt(0) !== 36) {
      throw new ShardkitInvalidArgumentError(`update must use update operators; got field '${op}' (use replaceOne to replace)`);
    }
    const fields = (update as Record<string, unknown>)[op];
    if (fields === null || typeof fields !== 'object') continue;
    for (const path in fields) {
      if (!Object.prototype.hasOwnProperty.call(fields, path)) continue;
      assertNotReserved(op, path, alsoReserved);
      if (op === '$rename') assertNotReserved(op, String((fields as Record<string, unknown>)[path]), alsoReserved);
    }
  }
  if (ops === 0) throw new ShardkitInvalidArgumentError('update must not be empty');
}

/**
 * The caller's update plus `$inc: {_v: 1}` (a `$set` stage for a pipeline), checked as
 * {@link assertUpdateDocument} checks it.
 */
export function withVersionBump(update: UpdateFilter<Document> | Document[]): UpdateFilter<Document> | Document[] {
  assertUpdateDocument(update);
  if (Array.isArray(update)) return [...update, { $set: { _v: { $add: [{ $ifNull: ['$_v', 0] }, 1] } } }];
  const inc = (update as { $inc?: Document }).$inc;
  // Object.assign, not `{ ...update, $inc }`: on Node 20 a spread followed by more fields costs about
  // 0.5 µs (2 µs for two spreads), several times a copy; this runs for every update (docs/benchmarks.md, "Data path").
  return Object.assign({}, update, { $inc: inc === undefined ? { _v: 1 } : Object.assign({}, inc, { _v: 1 }) });
}

/** Rejects a replacement without `_id`/`_h`, or one that carries markers. */
export function assertReplacement(replacement: StoredDocument): void {
  if (replacement === null || typeof replacement !== 'object' || Array.isArray(replacement)) {
    throw new ShardkitInvalidArgumentError('replacement must be a document');
  }
  for (const key of Object.keys(replacement)) {
    if (key.startsWith('$')) throw new ShardkitInvalidArgumentError(`replacement must not contain operators ('${key}')`);
  }
  for (const marker of ['_moved', '_ph', '_ts'] as const) {
    if (marker in replacement) throw new ShardkitInvalidArgumentError(`replacement must not carry the marker '${marker}'`);
  }
}

/** Rejects a document to insert that has no `_id` or a non-uint32 `_h`. */
export function assertStorable(doc: StoredDocument): void {
  if (doc === null || typeof doc !== 'object' || doc._id === undefined) {
    throw new ShardkitInvalidArgumentError('a stored document needs an _id');
  }
  if (!Number.isInteger(doc._h) || doc._h < 0 || doc._h > 0xffffffff) {
    throw new ShardkitInvalidArgumentError(`a stored document needs _h, a uint32 ring point; got ${String(doc._h)}`);
  }
}

/** An object of query operators (`{$in: …}`), not a value to compare with (a document, bytes, a date, an ObjectId). */
export function isOperatorObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  if ((value as { _bsontype?: unknown })._bsontype !== undefined || value instanceof Uint8Array || value instanceof Date) return false;
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((k) => k.startsWith('$'));
}

/**
 * The document an upsert starts from: the filter's top-level equality fields (`{a: 1}`, `{a: {$eq: 1}}`,
 * dotted paths as nested objects), as the servers seed it before applying the update.
 */
export function seedFromFilter(filter: StoreFilter): Document {
  const seed: Document = {};
  for (const [key, value] of Object.entries(filter)) {
    if (key.startsWith('$')) continue;
    let v = value;
    if (isOperatorObject(value)) {
      const ops = value as Record<string, unknown>;
      if (Object.keys(ops).length === 1 && '$eq' in ops) v = ops['$eq'];
      else continue;
    }
    const parts = key.split('.');
    let target = seed;
    for (const part of parts.slice(0, -1)) {
      target[part] ??= {};
      target = target[part] as Document;
    }
    target[parts[parts.length - 1] as string] = v;
  }
  return seed;
}

/** Placeholder: the fence of a key that had no document here. */
export function placeholder(id: unknown, h: number, epoch: number): StoredDocument {
  return { _id: id, _h: h, _v: 0, _moved: epoch, _ph: true };
}

// Two FNV-1a variants (different offset bases) give 64 order-independent bits once summed/xored.
function fnv1a(s: string, basis: number): number {
  let h = basis;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Order-independent checksum of `(_id, _v)` pairs: equal sets give equal checksums on any store. */
export class RangeChecksum {
  #count = 0;
  #sum = 0;
  #xor = 0;

  add(id: unknown, version: unknown): void {
    const s = `${idKey(id)}\u0000${String(version)}`;
    this.#count++;
    this.#sum = (this.#sum + fnv1a(s, 0x811c9dc5)) >>> 0;
    this.#xor = (this.#xor ^ fnv1a(s, 0x050c5d1f)) >>> 0;
  }

  result(): { count: number; checksum: string } {
    const hex = (n: number): string => n.toString(16).padStart(8, '0');
    return { count: this.#count, checksum: hex(this.#sum) + hex(this.#xor) };
  }
}

/** Index (into the caller's array) of the range of `order` (sorted by start, disjoint) holding point `h`. */
export function bucketOf(order: ReadonlyArray<{ r: HashRange; i: number }>, h: number): number | undefined {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order[mid]!.r.end < h) lo = mid + 1;
    else hi = mid;
  }
  const hit = order[lo];
  return hit !== undefined && hit.r.start < h ? hit.i : undefined;
}

/** The `(_h, _id)` filter of several spans: one `$or` branch per span, or the span's own filter. */
export function spansFilter(spans: readonly RangeSpan[]): StoreFilter {
  if (spans.length === 1) return rangeFilter(spans[0]!.range, spans[0]!.after);
  return { $or: spans.map((s) => rangeFilter(s.range, s.after)) };
}
