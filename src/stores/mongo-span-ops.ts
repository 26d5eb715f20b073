/**
 * The migrator's multi-range reads and `_id`-batch writes on a MongoDB (or FerretDB) collection, as
 * functions `MongoStore` calls inside its own deadline (`#run`) with its own request options. One
 * query covers all the ranges of a source/target pair: on a server that cannot use the `(_h, _id)`
 * index for a range filter (FerretDB 1.x) a page costs one collection scan instead of one per range
 * (ADR 0002), and every write goes by `_id`, which every server indexes.
 */
import type { Collection, Document } from 'mongodb';
import type { HashRange, RangeKey, RangeSpan, StoreFilter } from './shard-store.js';
import { compareBson } from './bson-order.js';
import { andFilters, rangeFilter, spansFilter } from './store-filters.js';

/** A store's request options (signal, time left as `maxTimeMS`), with `extra` merged in. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type RequestOptions = <T extends object = {}>(extra?: T) => T & { maxTimeMS: number; signal?: AbortSignal };

const ORDER = { _h: 1, _id: 1 } as const;

/** The store's collection, as `MongoStore` holds it: shard keys are not the driver's `ObjectId`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ShardCollection = Collection<any>;

/** `ranges` with their positions, sorted by start, for {@link bucketOf}. */
export function byStart(ranges: readonly HashRange[]): Array<{ r: HashRange; i: number }> {
  return ranges.map((r, i) => ({ r, i })).sort((a, b) => a.r.start - b.r.start);
}

/** Per collection handle, whether its server answers a range filter from the `(_h, _id)` index. */
const rangeIndexed = new WeakMap<ShardCollection, boolean>();

/**
 * Whether `key` lies in `span` after the span's cursor, in `(_h, _id)` order: the test of
 * {@link spansFilter}'s branch for one span, made by the client.
 */
function inSpan(span: RangeSpan, key: RangeKey): boolean {
  const { range, after } = span;
  if (key._h <= range.start || key._h > range.end) return false;
  if (after === null || key._h > after.h) return true;
  return key._h === after.h && compareBson(key._id, after.id) > 0;
}

/** The `_h` interval holding every span after its cursor: one cheap condition instead of an `$or` of ranges. */
export function hullFilter(spans: readonly RangeSpan[]): StoreFilter {
  const low = Math.min(...spans.map((s) => Math.max(s.range.start, s.after?.h ?? s.range.start)));
  const high = Math.max(...spans.map((s) => s.range.end));
  return { _h: { $gte: low, $lte: high } };
}

/**
 * The keys of up to `limit` entries matching `filter` in any of `spans`, each after its own cursor,
 * in `(_h, _id)` order, from a server that uses the `(_h, _id)` index for a range: one query with an
 * `$or` of the spans, sorted and limited by the index. A server that scans is read a batch at a time
 * instead (`MongoStore.spanKeys`, {@link SmallestKeys}).
 */
export function indexedSpanKeys(col: ShardCollection, opts: RequestOptions, spans: readonly RangeSpan[], limit: number, filter: StoreFilter): Promise<RangeKey[]> {
  return col.find(andFilters(spansFilter(spans), filter), opts({ projection: { _id: 1, _h: 1 } })).sort(ORDER).limit(limit).toArray() as Promise<RangeKey[]>;
}

function compareKeys(a: RangeKey, b: RangeKey): number {
  return a._h !== b._h ? a._h - b._h : compareBson(a._id, b._id);
}

/**
 * The `limit` smallest keys in `(_h, _id)` order of those offered, in that order, and only those in a
 * span after its cursor: a page of keys listed from a scan, which meets them in no order. Holds at most
 * twice `limit` keys at a time.
 */
export class SmallestKeys {
  readonly #spans: readonly RangeSpan[];
  readonly #limit: number;
  #keys: RangeKey[] = [];

  constructor(spans: readonly RangeSpan[], limit: number) {
    this.#spans = spans;
    this.#limit = limit;
  }

  offer(key: RangeKey): void {
    if (!this.#spans.some((s) => inSpan(s, key))) return;
    this.#keys.push(key);
    if (this.#keys.length >= 2 * this.#limit) this.#keys = this.#keys.sort(compareKeys).slice(0, this.#limit);
  }

  result(): RangeKey[] {
    return this.#keys.sort(compareKeys).slice(0, this.#limit);
  }
}

/** {@link usesRangeIndex}, asked once per collection handle. */
export async function isRangeIndexed(col: ShardCollection, opts: RequestOptions, range: HashRange): Promise<boolean> {
  let indexed = rangeIndexed.get(col);
  if (indexed === undefined) {
    indexed = await usesRangeIndex(col, opts, range);
    rangeIndexed.set(col, indexed);
  }
  return indexed;
}

/**
 * Whether the server answers a filter on `range` from the `(_h, _id)` index: MongoDB names its index
 * scans IXSCAN (COUNT_SCAN for counts) in its plans; FerretDB's plans never do.
 */
async function usesRangeIndex(col: ShardCollection, opts: RequestOptions, range: HashRange): Promise<boolean> {
  const probe = await col.find(rangeFilter(range, null), opts()).explain();
  return JSON.stringify(probe).includes('IXSCAN');
}

/** Delete the entries among `ids` that match `filter` (checked again by the server: a changed entry stays). */
export async function deleteIdsOf(col: ShardCollection, opts: RequestOptions, ids: readonly unknown[], filter: StoreFilter): Promise<number> {
  const res = await col.deleteMany(andFilters({ _id: { $in: ids } } as Document, filter), opts());
  return res.deletedCount;
}
