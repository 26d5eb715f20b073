/**
 * The migrator's multi-range reads and `_id`-batch writes on a MongoDB (or FerretDB) collection, as
 * functions `MongoStore` calls inside its own deadline (`#run`) with its own request options. One
 * query covers all the ranges of a source/target pair: on a server that cannot use the `(_h, _id)`
 * index for a range filter (FerretDB 1.x) a page costs one collection scan instead of one per range
 * (ADR 0002), and every write goes by `_id`, which every server indexes.
 */
import type { Collection, Document } from 'mongodb';
import type { HashRange, RangeChecksumResult, RangeCounts, RangeKey, RangeSpan, StoreFilter } from './shard-store.js';
import { compareBson } from './bson-order.js';
import { andFilters, bucketOf, RangeChecksum, rangeFilter, spansFilter } from './store-filters.js';

/** A store's request options (signal, time left as `maxTimeMS`), with `extra` merged in. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export type RequestOptions = <T extends object = {}>(extra?: T) => T & { maxTimeMS: number; signal?: AbortSignal };

const ORDER = { _h: 1, _id: 1 } as const;

/** The store's collection, as `MongoStore` holds it: shard keys are not the driver's `ObjectId`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type ShardCollection = Collection<any>;

/** `ranges` with their positions, sorted by start, for {@link bucketOf}. */
function byStart(ranges: readonly HashRange[]): Array<{ r: HashRange; i: number }> {
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
function hullFilter(spans: readonly RangeSpan[]): StoreFilter {
  const low = Math.min(...spans.map((s) => Math.max(s.range.start, s.after?.h ?? s.range.start)));
  const high = Math.max(...spans.map((s) => s.range.end));
  return { _h: { $gte: low, $lte: high } };
}

/**
 * The keys of up to `limit` entries matching `filter` in any of `spans`, each after its own cursor,
 * in `(_h, _id)` order. Where the server uses the `(_h, _id)` index for a range (`indexed`), one
 * query with an `$or` of the spans. Where it scans (FerretDB 1.x), the spans' `$or` costs more than
 * the scan itself (31 ranges over 525 entries: 136-196 ms against 46-66 ms for one `_h` interval on
 * the test servers), so the server is asked for the spans' hull and the client keeps what lies in a
 * span, reading the sorted keys only until `limit` of them are found. Which of the two is asked of
 * the server once per collection handle.
 */
export async function listSpanKeys(
  col: ShardCollection,
  opts: RequestOptions,
  spans: readonly RangeSpan[],
  limit: number,
  filter: StoreFilter,
): Promise<RangeKey[]> {
  const projection = { _id: 1, _h: 1 };
  const indexed = await isRangeIndexed(col, opts, spans[0]!.range);
  if (indexed) return col.find(andFilters(spansFilter(spans), filter), opts({ projection })).sort(ORDER).limit(limit).toArray();
  const keys: RangeKey[] = [];
  const cursor = col.find(andFilters(hullFilter(spans), filter), opts({ projection, batchSize: 10_000 })).sort(ORDER);
  try {
    for await (const key of cursor as AsyncIterable<RangeKey>) {
      if (!spans.some((s) => inSpan(s, key))) continue;
      keys.push(key);
      if (keys.length >= limit) break;
    }
  } finally {
    await cursor.close();
  }
  return keys;
}

/** {@link usesRangeIndex}, asked once per collection handle. */
async function isRangeIndexed(col: ShardCollection, opts: RequestOptions, range: HashRange): Promise<boolean> {
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

/** One pass over the entries matching `filter` in any of `ranges`: `visit` gets each with the index of its range. */
async function eachInRanges(
  col: ShardCollection,
  opts: RequestOptions,
  ranges: readonly HashRange[],
  filter: StoreFilter | undefined,
  indexed: boolean,
  projection: Document,
  visit: (at: number, d: Document) => void,
): Promise<void> {
  const order = byStart(ranges);
  // As in listSpanKeys: where the server scans anyway (not `indexed`), an `$or` of the ranges costs
  // more than the scan (40 ranges over 3,300 entries outlasted verify's 1 s deadline on the test
  // servers), so it is asked for the ranges' hull and bucketOf drops what lies between them.
  const where = indexed ? { $or: ranges.map((r) => rangeFilter(r, null)) } : hullFilter(ranges.map((range) => ({ range, after: null })));
  const cursor = col.find(andFilters(where, filter), opts({ projection, batchSize: 10_000 }));
  for await (const d of cursor) {
    const at = bucketOf(order, d['_h'] as number);
    if (at !== undefined) visit(at, d);
  }
}

/** Per range, count and checksum of `(_id, _v)` of the entries matching `filter`, from one pass over all of them. */
export async function checksumRanges(col: ShardCollection, opts: RequestOptions, ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeChecksumResult[]> {
  const sums = ranges.map(() => new RangeChecksum());
  const indexed = await isRangeIndexed(col, opts, ranges[0]!);
  await eachInRanges(col, opts, ranges, filter, indexed, { _id: 1, _v: 1, _h: 1 }, (at, d) => sums[at]!.add(d['_id'], d['_v']));
  return sums.map((s) => s.result());
}

/**
 * Entries per range matching `filter`: by the `(_h, _id)` index where the server uses it for a range
 * (MongoDB), else from one pass over all the ranges reading `_h` only (FerretDB), and which it was.
 */
export async function countRangesOf(col: ShardCollection, opts: RequestOptions, ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
  if (await isRangeIndexed(col, opts, ranges[0]!)) {
    const counts = await Promise.all(ranges.map((r) => col.countDocuments(andFilters(rangeFilter(r, null), filter), opts())));
    return { counts, indexed: true };
  }
  const counts = ranges.map(() => 0);
  await eachInRanges(col, opts, ranges, filter, false, { _id: 0, _h: 1 }, (at) => (counts[at]! += 1));
  return { counts, indexed: false };
}

/** Delete the entries among `ids` that match `filter` (checked again by the server: a changed entry stays). */
export async function deleteIdsOf(col: ShardCollection, opts: RequestOptions, ids: readonly unknown[], filter: StoreFilter): Promise<number> {
  const res = await col.deleteMany(andFilters({ _id: { $in: ids } } as Document, filter), opts());
  return res.deletedCount;
}
