/**
 * The migrator's multi-range reads and `_id`-batch writes on a MongoDB (or FerretDB) collection, as
 * functions `MongoStore` calls inside its own deadline (`#run`) with its own request options. One
 * query covers all the ranges of a source/target pair: on a server that cannot use the `(_h, _id)`
 * index for a range filter (FerretDB 1.x) a page costs one collection scan instead of one per range
 * (ADR 0002), and every write goes by `_id`, which every server indexes.
 */
import type { Collection, Document } from 'mongodb';
import type { HashRange, RangeChecksumResult, RangeCounts, RangeKey, RangeSpan, StoreFilter } from './shard-store.js';
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

/** The keys of up to `limit` entries matching `filter` in any of `spans`, each after its own cursor, in `(_h, _id)` order. */
export function listSpanKeys(col: ShardCollection, opts: RequestOptions, spans: readonly RangeSpan[], limit: number, filter: StoreFilter): Promise<RangeKey[]> {
  return col
    .find(andFilters(spansFilter(spans), filter), opts({ projection: { _id: 1, _h: 1 } }))
    .sort(ORDER)
    .limit(limit)
    .toArray();
}

/** One pass over the entries matching `filter` in any of `ranges`: `visit` gets each with the index of its range. */
async function eachInRanges(
  col: ShardCollection,
  opts: RequestOptions,
  ranges: readonly HashRange[],
  filter: StoreFilter | undefined,
  projection: Document,
  visit: (at: number, d: Document) => void,
): Promise<void> {
  const order = byStart(ranges);
  const cursor = col.find(andFilters({ $or: ranges.map((r) => rangeFilter(r, null)) }, filter), opts({ projection, batchSize: 10_000 }));
  for await (const d of cursor) {
    const at = bucketOf(order, d['_h'] as number);
    if (at !== undefined) visit(at, d);
  }
}

/** Per range, count and checksum of `(_id, _v)` of the entries matching `filter`, from one pass over all of them. */
export async function checksumRanges(col: ShardCollection, opts: RequestOptions, ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeChecksumResult[]> {
  const sums = ranges.map(() => new RangeChecksum());
  await eachInRanges(col, opts, ranges, filter, { _id: 1, _v: 1, _h: 1 }, (at, d) => sums[at]!.add(d['_id'], d['_v']));
  return sums.map((s) => s.result());
}

/**
 * Entries per range matching `filter`: by the `(_h, _id)` index where the server uses it for a range
 * (MongoDB), else from one pass over all the ranges reading `_h` only (FerretDB), and which it was.
 */
export async function countRangesOf(col: ShardCollection, opts: RequestOptions, ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
  const probe = await col.find(andFilters(rangeFilter(ranges[0]!, null), filter), opts()).explain();
  // MongoDB names its index scans IXSCAN (COUNT_SCAN for counts); FerretDB's plans never do.
  if (JSON.stringify(probe).includes('IXSCAN')) {
    const counts = await Promise.all(ranges.map((r) => col.countDocuments(andFilters(rangeFilter(r, null), filter), opts())));
    return { counts, indexed: true };
  }
  const counts = ranges.map(() => 0);
  await eachInRanges(col, opts, ranges, filter, { _id: 0, _h: 1 }, (at) => (counts[at]! += 1));
  return { counts, indexed: false };
}

/** Delete the entries among `ids` that match `filter` (checked again by the server: a changed entry stays). */
export async function deleteIdsOf(col: ShardCollection, opts: RequestOptions, ids: readonly unknown[], filter: StoreFilter): Promise<number> {
  const res = await col.deleteMany(andFilters({ _id: { $in: ids } } as Document, filter), opts());
  return res.deletedCount;
}
