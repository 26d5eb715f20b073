/**
 * The public types of `ShardedCollection`'s API: filters, new documents, options and results. They
 * live apart from the class so the parts of the data path (single-key protocol, bulk, scatter-gather)
 * can name them without importing the facade.
 */
import type { CollationOptions, Document, Filter, Hint, ReadConcernLike, ReadPreferenceLike, Sort, UpdateFilter, WriteConcern, WriteConcernSettings } from 'mongodb';
import type { RoutingSource } from '../router/routing-source.js';
import type { StoreProvider } from '../stores/store-provider.js';
import type { Target } from './targeting.js';

/**
 * A query filter on the application's documents. The driver's `Filter<T>` pins `_id` to `ObjectId` when
 * `T` does not declare it, while shard keys are also strings, numbers and bytes; any document is accepted.
 */
export type ShardedFilter<T extends Document = Document> = Filter<T> | Document;

/** A document to insert: `_id` may be omitted (an ObjectId is assigned) or be any shard key. */
export type NewDocument<T extends Document = Document> = Omit<T, '_id'> & { _id?: unknown };

/** Options of `ShardedCollection`. */
export interface ShardedCollectionOptions {
  /** Collection name, for messages (the provider already knows which collection its stores hold). */
  readonly name: string;
  /** The routing state to follow. */
  readonly routing: RoutingSource;
  /** Where shard stores come from. */
  readonly pool: StoreProvider;
  /** How many times one operation may be sent elsewhere after a shard said "moved" (default 3). */
  readonly maxRedirects?: number;
  /**
   * Deadline of one attempt of an operation in ms (default 0: none). Every shard call the attempt makes
   * under its routing state runs inside it, so nothing admitted under a state lands later than that
   * admission plus this (ADR 0003, "The bound"); a redirect starts a new attempt under the new state.
   * `connectShardedCollection` sets the config's `opTimeoutMs`.
   */
  readonly operationTimeoutMs?: number;
  /**
   * What `aggregate` pushes to the shards (ADR 0009): `'portable'` (default) only stage forms that
   * FerretDB 1.24 and MongoDB answer alike; `'mongodb'` also computed fields and `$group`s with several
   * accumulators (`$avg` as a sum and a count), for shards that are MongoDB servers.
   */
  readonly aggregatePushdown?: 'portable' | 'mongodb';
  /**
   * Where operations are counted as targeted or scattered (ADR 0008); `StoreMetrics` is one.
   * `connectShardedCollection` passes its own.
   */
  readonly metrics?: RoutedOperationsMetric;
}

/** A sink for the count of operations by how they were routed (`shardkit_collection_operations_total`). */
export interface RoutedOperationsMetric {
  /** One operation `op` finished, reaching the owners of its shard-key values (`targeted`) or every shard. */
  countRouted(op: string, mode: 'targeted' | 'scattered'): void;
}

/** The operation an `explain` is asked about (the answer depends on the filter only; the op is echoed). */
export type ExplainOp = 'find' | 'count' | 'update' | 'replace' | 'delete' | 'findOneAndModify';

/** What `ShardedCollection.explain` answers: which shards an operation reaches and why (`targeting.ts`'s {@link Target}). */
export interface ShardedExplain extends Target {
  readonly op: ExplainOp;
}

/**
 * Driver options every `ShardedCollection` call takes, under the driver's names (docs/data-api.md,
 * "Driver options"). They reach every shard request the call makes.
 */
export interface ShardedCallOptions {
  /**
   * Time limit of the whole call in ms, redirects and every shard included; 0 or absent: none. It
   * combines with shardkit's own deadline (`operationTimeoutMs`, the stores' `opTimeoutMs`): the
   * earlier wins. Past it the call fails with `shardkit.store.timeout`.
   */
  readonly maxTimeMS?: number;
  /** Sent with every request of the call (server logs, profiler, `currentOp`). */
  readonly comment?: unknown;
  /**
   * Refused with `shardkit.option.unsupported`: shardkit routes by `_id` equality and merges shards'
   * results in binary BSON order, which a collation would contradict (and FerretDB 1.24 has none).
   */
  readonly collation?: CollationOptions;
  /** Refused with `shardkit.option.unsupported`: the call's own lookups by `_id` would take it too. */
  readonly hint?: Hint;
}

/** Driver options of a read (`find`, `findOne`, `countDocuments`, `estimatedDocumentCount`). */
export interface ShardedReadOptions extends ShardedCallOptions {
  /**
   * Where the reads go (`'secondaryPreferred'`, a `ReadPreference` with tags…). A secondary may lag:
   * its answer can be stale, as with the driver, and while a range moves the two owners' copies may be
   * read at different moments. Writes never read from a secondary.
   */
  readonly readPreference?: ReadPreferenceLike;
  /** The read concern of every read of the call. */
  readonly readConcern?: ReadConcernLike;
}

/** Driver options of a write. */
export interface ShardedWriteOptions extends ShardedCallOptions {
  /**
   * The write concern of the application's writes; it must be acknowledged (`w: 0` is refused with
   * `shardkit.option.unacknowledgedWrite`). The migration protocol's own writes (fences, tombstones,
   * copies) take it only where it is stronger than the store's own.
   */
  readonly writeConcern?: WriteConcern | WriteConcernSettings;
}

/** Options of `updateOne`, `replaceOne` and `updateMany`. */
export interface ShardedUpdateOptions extends ShardedWriteOptions {
  /** Insert when nothing matches. */
  readonly upsert?: boolean;
}

/** Options of `countDocuments`. */
export interface ShardedCountOptions extends ShardedReadOptions {
  /** Skip this many of the matching documents. */
  readonly skip?: number;
  /** Count at most this many; 0 or absent: no limit. */
  readonly limit?: number;
}

/** Options of `ShardedCollection.find`. */
export interface ShardedFindOptions extends ShardedReadOptions {
  /** Sort spec; `_id` is appended as a tiebreaker so merged pages are deterministic. */
  readonly sort?: Sort;
  /** At most this many documents; 0 or absent: no limit. */
  readonly limit?: number;
  /** Skip this many documents of the merged order. */
  readonly skip?: number;
  /** MongoDB projection (plain 0/1 projections are pushed down; operator projections apply client-side). */
  readonly projection?: Document;
  /** Documents per shard batch of a scatter-gather (default 1000): the router holds at most this many per shard. */
  readonly batchSize?: number;
}

/** Result of a single-document update or replace. */
export interface ShardedUpdateResult {
  /** Always true: shardkit refuses unacknowledged writes (the driver's `UpdateResult.acknowledged`). */
  readonly acknowledged: true;
  readonly matchedCount: number;
  readonly modifiedCount: number;
  readonly upsertedCount: number;
  readonly upsertedId: unknown;
}

/**
 * One write of `ShardedCollection.bulkWrite`. The filter of a single-document op must pin `_id` by
 * equality; `updateMany` and `deleteMany` take any filter (see `ShardedCollection.updateMany`).
 */
export type ShardedWriteOp<T extends Document = Document> =
  | { readonly insertOne: { readonly document: NewDocument<T> } }
  | { readonly updateOne: { readonly filter: ShardedFilter<T>; readonly update: UpdateFilter<T> | Document[]; readonly upsert?: boolean } }
  | { readonly replaceOne: { readonly filter: ShardedFilter<T>; readonly replacement: Document; readonly upsert?: boolean } }
  | { readonly deleteOne: { readonly filter: ShardedFilter<T> } }
  | { readonly updateMany: { readonly filter: ShardedFilter<T>; readonly update: UpdateFilter<T> | Document[]; readonly upsert?: boolean } }
  | { readonly deleteMany: { readonly filter: ShardedFilter<T> } };

/** Result of `ShardedCollection.bulkWrite` (unordered: every op is attempted). */
export interface ShardedBulkWriteResult {
  /** 1, as the driver's `BulkWriteResult.ok` (a driver bulk result has no `acknowledged`). */
  readonly ok: 1;
  readonly insertedCount: number;
  readonly matchedCount: number;
  readonly modifiedCount: number;
  readonly deletedCount: number;
  readonly upsertedCount: number;
  /** `_id` of each insert that succeeded, by op index. */
  readonly insertedIds: Record<number, unknown>;
  /** `_id` of each upsert that inserted, by op index (the driver's `BulkWriteResult.upsertedIds`). */
  readonly upsertedIds: Record<number, unknown>;
  /** Failed ops by index in the submitted array, ascending; every other op was applied. */
  readonly errors: ReadonlyArray<{ readonly index: number; readonly error: Error }>;
}

/** Options of `findOneAndUpdate` / `findOneAndReplace` / `findOneAndDelete` (the driver's names). */
export interface FindOneAndModifyOptions extends ShardedWriteOptions {
  /** Which document to return: as it was (`'before'`, the default) or as the write left it. */
  readonly returnDocument?: 'before' | 'after';
  /** Which document to pick when several match (`_id` breaks ties, as everywhere in shardkit). */
  readonly sort?: Sort;
  /** Fields of the returned document. */
  readonly projection?: Document;
  /** Insert when nothing matches (not for `findOneAndDelete`). */
  readonly upsert?: boolean;
}

/** Result of `insertOne`, as the driver's `InsertOneResult`. */
export interface ShardedInsertOneResult {
  /** Always true: shardkit refuses unacknowledged writes. */
  readonly acknowledged: true;
  readonly insertedId: unknown;
}

/** Result of `insertMany`, as the driver's `InsertManyResult`. */
export interface ShardedInsertManyResult {
  /** Always true: shardkit refuses unacknowledged writes. */
  readonly acknowledged: true;
  readonly insertedCount: number;
  /** `_id` of each document by its index in the array given. */
  readonly insertedIds: Record<number, unknown>;
}

/** Result of `deleteOne` and `deleteMany`, as the driver's `DeleteResult`. */
export interface ShardedDeleteResult {
  /** Always true: shardkit refuses unacknowledged writes. */
  readonly acknowledged: true;
  readonly deletedCount: number;
}
