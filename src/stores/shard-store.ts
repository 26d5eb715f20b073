/**
 * The contract between shardkit and one shard's collection. Two implementations share it and one
 * contract test suite: `MongoStore` (official driver) and `MemoryStore` (embedded, same semantics).
 *
 * Reserved fields on stored documents (the application never sees them):
 * - `_h`: uint32 ring point of the document's `_id`; indexed with `{_h: 1, _id: 1}`.
 * - `_v`: per-document version, bumped by every write through shardkit (starts at 1).
 * - `_moved`: fence: the migration epoch at which this key moved away from this shard.
 * - `_ph: true`: placeholder, a fence on a key that had no document here (no data).
 * - `_ts: true`: tombstone, a delete recorded at the new owner while migrating (no data).
 *
 * A *live* document is one with none of `_moved`, `_ph`, `_ts`. Application writes (`insert`,
 * `updateOne`, `replaceOne`, `deleteOne`, `bulkWrite`) are conditional: they only ever match live
 * documents, and `insert` fails on any existing `_id` (placeholders and tombstones included), so a
 * router on a stale epoch is turned away by the shard itself.
 */
import type { Document, Filter, Sort, UpdateFilter } from 'mongodb';

/**
 * A MongoDB query filter. Typed as loosely as `Document` on purpose: the driver's `Filter<Document>`
 * pins `_id` to `ObjectId`, while shard keys are strings, numbers, bytes. Every `Filter<Document>` fits.
 */
export type StoreFilter = Filter<Document> | Document;

/** Reserved field names. */
export const Field = {
  hash: '_h',
  version: '_v',
  moved: '_moved',
  placeholder: '_ph',
  tombstone: '_ts',
} as const;

/** A document as stored on a shard, markers included. */
export interface StoredDocument extends Document {
  _id: unknown;
  _h: number;
  _v: number;
  _moved?: number;
  _ph?: true;
  _ts?: true;
}

/**
 * A slice of the hash space: the points `p` with `start < p <= end`, where
 * `-1 <= start < end <= 0xFFFFFFFF`. Ranges never wrap: a wrapping arc is split in two.
 */
export interface HashRange {
  readonly start: number;
  readonly end: number;
}

/** Resume point of a range scan: the last `(_h, _id)` already handled. */
export interface RangeCursor {
  readonly h: number;
  readonly id: unknown;
}

/** One range of a multi-range listing, with its own resume point. */
export interface RangeSpan {
  readonly range: HashRange;
  /** Last `(_h, _id)` already handled in this range, or null from its start. */
  readonly after: RangeCursor | null;
}

/** Result of `countRanges`. */
export interface RangeCounts {
  readonly counts: number[];
  /** True when the server used the `(_h, _id)` index (per-range counts); false after one full pass. */
  readonly indexed: boolean;
}

/**
 * What one pass over hash ranges computes (`tallyRanges`): per range, the entries matching each filter
 * of `counts`, and the `checksumRange` of those matching each filter of `checksums`.
 */
export interface RangeTallies {
  readonly counts?: readonly StoreFilter[];
  readonly checksums?: readonly StoreFilter[];
}

/** Result of `tallyRanges`: `counts[f][r]` for the `f`-th count filter and the `r`-th range; `checksums` likewise. */
export interface RangeTallyResult {
  readonly counts: number[][];
  readonly checksums: RangeChecksumResult[][];
}

/** A key as the routing index holds it. */
export interface RangeKey {
  readonly _id: unknown;
  readonly _h: number;
}

/** Outcome of a conditional single-document write. */
export interface WriteOutcome {
  /** Live documents the filter matched (0 or 1). */
  readonly matched: number;
  /** Documents changed. */
  readonly modified: number;
  /** Set when an upsert inserted. */
  readonly upsertedId?: unknown;
}

/** Options of raw queries. */
export interface StoreFindOptions {
  readonly sort?: Sort;
  readonly limit?: number;
  readonly skip?: number;
  readonly projection?: Document;
  /**
   * Keep every value's BSON type (a double stays a double, a long a long) instead of the driver's JS
   * promotion; the protocol's fields (`_id`, `_h`, `_v`, `_moved`) still come back as JS values. For
   * documents the caller writes again elsewhere (a migration's repair, a relic), so `MongoStore` reads
   * them as the protocol's own reads, at the primary, whatever read preference the application set.
   * `fence`, `fenceRange`, `fenceIds` and `scanRange` always read this way (their answers are copied to
   * another shard).
   */
  readonly exactTypes?: boolean;
}

/** Options of `aggregate`. */
export interface StoreAggregateOptions {
  /**
   * Keep every value's BSON type (an int32 sum stays an `Int32`, a long a `Long`) instead of the
   * driver's JS promotion, so a router merging partial sums adds them as the server would.
   */
  readonly exactTypes?: boolean;
}

/** Options of `findBatches`: those of `find` (no `exactTypes`) and the size of a batch. */
export interface StoreBatchOptions extends Omit<StoreFindOptions, 'exactTypes'> {
  /** Documents per batch (an integer >= 1): what one round trip to the shard returns at most. */
  readonly batchSize: number;
}

/**
 * One shard's cursor over a query, read a batch at a time. Nothing reaches the shard before the first
 * `next()`; each `next()` is one call of the contract (one round trip, its own deadline), so a caller
 * holds at most one batch per shard.
 */
export interface StoreBatchCursor {
  /** The next batch (never empty), or `done` when the query is exhausted (the cursor is then closed). */
  next(): Promise<IteratorResult<StoredDocument[], undefined>>;
  /** Release the cursor at the shard (a driver cursor is killed); idempotent, never throws. */
  close(): Promise<void>;
}

/** Result of `checksumRange`. */
export interface RangeChecksumResult {
  readonly count: number;
  /** 16 hex digits; equal for equal sets of `(_id, _v)`. */
  readonly checksum: string;
}

/** One write of a bulk, applied with the same conditions as the single-document calls. */
export type StoreWriteOp =
  | { readonly insertOne: { readonly document: StoredDocument } }
  | { readonly updateOne: { readonly filter: StoreFilter; readonly update: UpdateFilter<Document> | Document[]; readonly upsert?: boolean } }
  | { readonly replaceOne: { readonly filter: StoreFilter; readonly replacement: StoredDocument; readonly upsert?: boolean } }
  | { readonly deleteOne: { readonly filter: StoreFilter } };

/** What one op of a bulk did; all zero for an op that failed or matched nothing. */
export interface StoreOpResult {
  /** Live documents an update or replace matched (0 or 1). */
  readonly matched: number;
  /** Documents an update or replace changed. */
  readonly modified: number;
  /** Documents a delete removed (0 or 1). */
  readonly deleted: number;
  /** 1 when an upsert inserted. */
  readonly upserted: number;
  /** 1 when an insert applied. */
  readonly inserted: number;
}

/** Result of a bulk: counts, per-op outcomes, and per op index any error (ordered: false semantics). */
export interface StoreBulkResult {
  readonly inserted: number;
  readonly matched: number;
  readonly modified: number;
  readonly deleted: number;
  readonly upserted: number;
  /**
   * What each op did, by index in the submitted op array (same length): a caller can tell an op that
   * applied from one a fence turned away even when both touched keys a migration fenced meanwhile.
   */
  readonly results: ReadonlyArray<StoreOpResult>;
  /** Errors by index in the submitted op array; the other ops were applied. */
  readonly errors: ReadonlyArray<{ readonly index: number; readonly error: Error }>;
}

/** One shard's collection. All methods may throw `ShardkitStoreError` naming this shard. */
export interface ShardStore {
  /** The shard this store talks to. */
  readonly shardId: string;
  /**
   * True when the store itself ends every call by its deadline (`deadline.ts`): it starts nothing at its
   * shard after it and answers by then (`MongoStore`, `MemoryStore`). A `ResilientStore` directly over
   * such a store then hands the deadline down without racing a watchdog of its own against each call.
   * Absent (false) for any other store, decorators included: a hook may hold a call back. One exception
   * (ADR 0003, "Passes over ranges"): `MongoStore`'s passes over ranges (`countRanges`, `checksumRanges`,
   * `spanKeys` on a server that scans) read a batch at a time, each batch under a deadline as long as
   * the call was given, and end by their last batch's deadline.
   */
  readonly endsCallsByDeadline?: boolean;

  /** Create the `{_h: 1, _id: 1}` index (idempotent). */
  ensureRoutingIndex(): Promise<void>;
  /** True when the `{_h: 1, _id: 1}` index exists. */
  hasRoutingIndex(): Promise<boolean>;
  /** Create application indexes (MongoDB index specs), idempotent. */
  createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]>;
  /** Ping the shard. */
  ping(): Promise<void>;

  /** Raw read by `_id`: markers included, so the caller can see fences and tombstones. */
  get(id: unknown): Promise<StoredDocument | null>;
  /** Raw query, markers included (callers filter them out). */
  find(filter: StoreFilter, options?: StoreFindOptions): Promise<StoredDocument[]>;
  /**
   * Raw query read in batches, markers included, as `find` (same sort, skip, limit and projection), for
   * results too large to hold at once. Batches come in sort order; without a sort, in no defined order.
   */
  findBatches(filter: StoreFilter, options: StoreBatchOptions): StoreBatchCursor;
  /** Count of documents matching a raw filter (markers included unless filtered). */
  count(filter: StoreFilter): Promise<number>;
  /**
   * Run an aggregation pipeline over the live documents only, as the application sees them: no
   * fenced document, placeholder or tombstone enters it, and `_h`/`_v` are removed before its first
   * stage (`store-aggregate.ts`). Answers every result document.
   */
  aggregate(pipeline: readonly Document[], options?: StoreAggregateOptions): Promise<Document[]>;

  /** Insert; an existing `_id` of any kind fails with `shardkit.store.duplicateKey`. */
  insert(doc: StoredDocument): Promise<void>;
  /** Insert each document whose `_id` is absent; returns how many were inserted. Idempotent. */
  insertIfAbsent(docs: readonly StoredDocument[]): Promise<number>;
  /** Update one live document matching `filter`; bumps `_v`. Upsert inserts with `_v: 1` (caller sets `_h` via `$setOnInsert`). */
  updateOne(filter: StoreFilter, update: UpdateFilter<Document> | Document[], options?: { upsert?: boolean }): Promise<WriteOutcome>;
  /**
   * Replace one live document matching `filter`; the replacement carries `_id` (optional, must not
   * change) and `_h`. The store sets `_v` (the replaced version + 1, or 1 when an upsert inserts).
   */
  replaceOne(filter: StoreFilter, replacement: StoredDocument, options?: { upsert?: boolean }): Promise<WriteOutcome>;
  /** Delete one live document matching `filter`; returns 0 or 1. */
  deleteOne(filter: StoreFilter): Promise<number>;
  /** Apply writes in one round trip, unordered, each with the single-call conditions. */
  bulkWrite(ops: readonly StoreWriteOp[]): Promise<StoreBulkResult>;

  // --- migration primitives -------------------------------------------------------------

  /**
   * Fence keys at this (source) shard for migration epoch `epoch`: a live or unfenced document gets
   * `_moved: epoch`; an absent `_id` gets a placeholder `{_id, _h, _v: 0, _moved: epoch, _ph: true}`.
   * Returns the documents as they are after fencing (placeholders included). Idempotent.
   */
  fence(keys: ReadonlyArray<{ readonly id: unknown; readonly h: number }>, epoch: number): Promise<StoredDocument[]>;
  /**
   * Fence, in `(_h, _id)` order, up to `limit` documents of `range` after `after` that are not fenced
   * yet, and return them (fenced). Used by the copier and the sweep.
   */
  fenceRange(range: HashRange, after: RangeCursor | null, limit: number, epoch: number): Promise<StoredDocument[]>;
  /**
   * The keys (`_id`, `_h`, no bodies) of up to `limit` unfenced entries (documents and tombstones) of
   * any of `spans`, each after its own cursor, in `(_h, _id)` order. One query covers every span, so
   * a server that cannot use the `(_h, _id)` index for a range filter (FerretDB) scans its collection
   * once per page instead of once per range (ADR 0002: the copier's listing). Spans must not overlap.
   */
  unfencedKeys(spans: readonly RangeSpan[], limit: number): Promise<RangeKey[]>;
  /**
   * Fence the unfenced entries among `ids` with `_moved: epoch` (no placeholder for an absent `_id`)
   * and return every entry of `ids` now fenced at `epoch`, bodies included, whoever fenced it. Two
   * `_id` lookups, which every server indexes. Idempotent.
   */
  fenceIds(ids: readonly unknown[], epoch: number): Promise<StoredDocument[]>;
  /** Up to `limit` documents of `range` after `after`, in `(_h, _id)` order, raw (markers included). */
  scanRange(range: HashRange, after: RangeCursor | null, limit: number, filter?: StoreFilter): Promise<StoredDocument[]>;
  /**
   * Documents (markers included unless filtered) in each of `ranges` (answers in their order), and
   * whether the server counted them with the `(_h, _id)` index. A server that cannot use the index
   * for a range filter (FerretDB) is read once for all ranges (their `_h` values only) instead of once
   * per range.
   */
  countRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts>;
  /** Documents (markers included) in `range`, optionally narrowed by `filter`. */
  countRange(range: HashRange, filter?: StoreFilter): Promise<number>;
  /**
   * Count and order-independent checksum of the `(_id, _v)` pairs of the documents (markers included)
   * in `range`, optionally narrowed by `filter`: two stores holding the same versions of the same
   * ids give the same answer. Used to verify a copy.
   */
  checksumRange(range: HashRange, filter?: StoreFilter): Promise<RangeChecksumResult>;
  /**
   * The keys (`_id`, `_h`, no bodies) of up to `limit` entries matching `filter` in any of `spans`,
   * each after its own cursor, in `(_h, _id)` order: {@link unfencedKeys} with any filter. Verify,
   * cleanup and purge list all the moved ranges of a source/target pair with it, one query per page.
   */
  spanKeys(spans: readonly RangeSpan[], limit: number, filter: StoreFilter): Promise<RangeKey[]>;
  /**
   * {@link checksumRange} of each of `ranges` (answers in their order), from one pass over all of
   * them: on a server that scans its collection for a range filter, one scan instead of one per range.
   */
  checksumRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeChecksumResult[]>;
  /**
   * Several {@link countRanges} and {@link checksumRanges} of the same `ranges` from one pass over them,
   * the answers as of that one pass (ADR 0003, "Passes over ranges"): on a server that scans its
   * collection for a range filter, one scan instead of one per figure. Verify's source and target
   * passes and `status`'s counts use it. Filters on the protocol's fields only (all the migrator's) are
   * tested by the client during the one pass; a pass with any other filter reads once per filter.
   */
  tallyRanges(ranges: readonly HashRange[], tallies: RangeTallies): Promise<RangeTallyResult>;
  /** Delete the entries among `ids` that still match `filter`, by `_id`; returns how many. Idempotent. */
  deleteIds(ids: readonly unknown[], filter: StoreFilter): Promise<number>;
  /** Delete up to `limit` documents in `range` matching `filter` (e.g. fenced ones); returns how many. */
  deleteRange(range: HashRange, filter: StoreFilter, limit: number): Promise<number>;
  /**
   * Write a tombstone for `id` (`{_id, _h, _v, _ts: true}`), replacing whatever is there unless it
   * is fenced. Returns false when a fence turned it away.
   *
   * With `expectedVersion`: a conditional delete in one atomic step. Only a live document (no marker)
   * whose `_v` is `expectedVersion` is replaced; anything else (another version, a marker, nothing)
   * is left alone and the answer is false. Not idempotent in its answer (a repeat finds the
   * tombstone), so wrappers must not retry it.
   */
  tombstone(id: unknown, h: number, version: number, expectedVersion?: number): Promise<boolean>;
  /**
   * Replace the unfenced tombstone of `doc._id` with `doc` (stored as given, `_v` included) in one
   * atomic step: a re-insert after a delete made while the key moves. A delete-then-insert would let a
   * reader, between the two, fall back to the old owner's fenced copy of the deleted document.
   * Returns false, writing nothing, when no unfenced tombstone holds the `_id`. Not idempotent in its
   * answer (a repeat finds the document, not the tombstone), so wrappers must not retry it.
   */
  replaceTombstone(doc: StoredDocument): Promise<boolean>;

  /**
   * An estimate of the entries held, without a filter or a scan (MongoDB's collection metadata; the
   * memory store's size). Markers count: fenced copies a migration has not cleaned up yet, placeholders
   * and tombstones.
   */
  estimatedDocumentCount(): Promise<number>;

  /** Close connections. */
  close(): Promise<void>;
}
