/**
 * `ShardedCollection<T>`: the application's data path, as a facade over its parts: the redirect
 * executor (`redirect-executor.ts`), the single-key protocol (`key-protocol.ts`, `new-owner.ts`,
 * `entry.ts`), bulk writes (`bulk-write.ts`), scatter-gather (`scatter-gather.ts`) and upsert emulation
 * (`upsert.ts`). It checks arguments, routes every single-key operation by `_id` to the owning shard
 * following the online migration protocol (ADR 0002, ADR 0003), and answers other queries by
 * scatter-gather with a merge in the server's sort order.
 */
import type { Document, Filter, UpdateFilter } from 'mongodb';
import { ErrorCode, ShardkitError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { AggregationCursor } from './aggregate/aggregation-cursor.js';
import { distinctPipeline, distinctValues } from './aggregate/distinct.js';
import { runAggregate } from './aggregate/run.js';
import { PUSHDOWNS, splitPipeline, type Pushdown } from './aggregate/split.js';
import { bulkWrite } from './bulk-write.js';
import { findOneAndModify, type Modification } from './find-and-modify.js';
import { bulkWriteWithMany, deleteMany, updateMany } from './multi-write.js';
import { filterKey } from './documents.js';
import { KeyProtocol } from './key-protocol.js';
import { RedirectExecutor } from './redirect-executor.js';
import type { RoutingView } from './routing-view.js';
import { withCallOptions } from './call-options.js';
import { checkCount, FindCursor, type FindCursorParts, findOne } from './find-cursor.js';
import { scatterCount } from './scatter-gather.js';
import { buildDelete, buildReplace, buildUpdate, singleWrite } from './single-write.js';
import { pinnedPair, pinsShardKey, targetFilter } from './targeting.js';
import type {
  ExplainOp,
  FindOneAndModifyOptions,
  RoutedOperationsMetric,
  ShardedExplain,
  NewDocument,
  ShardedBulkWriteResult,
  ShardedCollectionOptions,
  ShardedCountOptions,
  ShardedDeleteResult,
  ShardedFilter,
  ShardedFindOptions,
  ShardedInsertManyResult,
  ShardedInsertOneResult,
  ShardedReadOptions,
  ShardedUpdateOptions,
  ShardedUpdateResult,
  ShardedWriteOp,
  ShardedWriteOptions,
} from './types.js';
import { insertOp, toUpdateResult } from './write-ops.js';

// The public types of this API live in types.ts; src/index.ts names them from here.
export type * from './types.js';

/**
 * A collection split over the shards of a topology by `_id`.
 *
 * Every stored document carries `_h` (the ring point of its `_id`) and `_v` (a version bumped by every
 * write); these and the migration markers are stripped from everything returned. While the routing
 * state is `migrating`, a key whose owner changes is read at both owners at once, the new owner's
 * answer deciding whenever it holds the key; an update or replace of it is written at the old owner
 * while that owner still holds it unfenced, otherwise at the new owner after fencing it at the old one
 * (ADR 0002, decision 8). A shard that
 * answers "moved" sends the operation back through a refreshed routing state, at most `maxRedirects`
 * times (then `shardkit.router.redirectLimit`).
 *
 * Every method takes the driver's per-call options in the driver's place (`ShardedReadOptions`,
 * `ShardedWriteOptions`: read preference, read and write concern, `maxTimeMS`, `comment`), carried to
 * every shard call it makes (`call-options.ts`; docs/data-api.md, "Driver options").
 *
 * @typeParam T - the application's document type.
 */
export class ShardedCollection<T extends Document = Document> {
  /** Collection name (for messages). */
  readonly name: string;
  readonly #exec: RedirectExecutor;
  readonly #keys: KeyProtocol;
  readonly #pushdown: Pushdown;
  readonly #metrics: RoutedOperationsMetric | undefined;
  readonly #findParts: FindCursorParts;

  /**
   * @throws ShardkitInvalidArgumentError for a missing name, routing source or pool, or a bad `maxRedirects`.
   */
  constructor(options: ShardedCollectionOptions) {
    if (options === null || typeof options !== 'object') throw new ShardkitInvalidArgumentError('ShardedCollection needs options');
    if (typeof options.name !== 'string' || options.name.length === 0) {
      throw new ShardkitInvalidArgumentError('ShardedCollection: name must be a non-empty string');
    }
    if (typeof options.routing?.current !== 'function' || typeof options.routing.refresh !== 'function') {
      throw new ShardkitInvalidArgumentError('ShardedCollection: routing must be a RoutingSource');
    }
    if (typeof options.pool?.store !== 'function') throw new ShardkitInvalidArgumentError('ShardedCollection: pool must provide store(shardId)');
    const maxRedirects = options.maxRedirects ?? 3;
    if (!Number.isSafeInteger(maxRedirects) || maxRedirects < 0) {
      throw new ShardkitInvalidArgumentError(`ShardedCollection: maxRedirects must be an integer >= 0 (got ${String(maxRedirects)})`);
    }
    const operationTimeoutMs = options.operationTimeoutMs ?? 0;
    if (!Number.isFinite(operationTimeoutMs) || operationTimeoutMs < 0) {
      throw new ShardkitInvalidArgumentError(`ShardedCollection: operationTimeoutMs must be a number >= 0 (got ${String(operationTimeoutMs)})`);
    }
    const pushdown = options.aggregatePushdown ?? 'portable';
    if (!PUSHDOWNS.includes(pushdown)) {
      throw new ShardkitInvalidArgumentError(`ShardedCollection: aggregatePushdown must be one of ${PUSHDOWNS.join(', ')} (got ${String(pushdown)})`);
    }
    this.#pushdown = pushdown;
    this.name = options.name;
    this.#exec = new RedirectExecutor(options.name, options.routing, options.pool, maxRedirects, operationTimeoutMs);
    this.#keys = new KeyProtocol(this.#exec);
    this.#metrics = options.metrics;
    // Without metrics a read counts nothing: no call (and no promise) per read.
    this.#findParts = { exec: this.#exec, keys: this.#keys, ...(this.#metrics === undefined ? {} : { countRouted: (f: Filter<Document>) => this.#countRouted('find', f) }) };
  }

  /** Redirects taken so far (operations sent again after a shard said "moved"). */
  get redirects(): number {
    return this.#exec.redirects;
  }

  /**
   * Insert one document at the shard its `_id` routes to (an ObjectId is assigned when `_id` is absent).
   *
   * @throws ShardkitInputError `shardkit.key.invalid` for an `_id` that is not a shard key (nothing written).
   * @throws ShardkitStoreError `shardkit.store.duplicateKey` when the `_id` exists (on either owner while it moves).
   */
  async insertOne(doc: NewDocument<T>, options?: ShardedWriteOptions): Promise<ShardedInsertOneResult> {
    return withCallOptions('write', 'insertOne', options, async () => {
      const op = insertOp(doc as Document, (await this.#exec.view()).shardKey);
      await this.#exec.run((view) => this.#keys.apply(view, op));
      return { acknowledged: true, insertedId: op.key };
    });
  }

  /**
   * Insert many documents, grouped into one bulk per shard (unordered: every document is attempted).
   *
   * @throws the first failure (by index) after all others were applied; its message counts the failures.
   */
  async insertMany(docs: ReadonlyArray<NewDocument<T>>, options?: ShardedWriteOptions): Promise<ShardedInsertManyResult> {
    if (!Array.isArray(docs)) throw new ShardkitInvalidArgumentError('insertMany: docs must be an array');
    const result = await this.bulkWrite(
      docs.map((document) => ({ insertOne: { document } })),
      options,
    );
    const first = result.errors[0];
    if (first !== undefined) {
      if (result.errors.length === 1) throw first.error;
      const shardId = first.error instanceof ShardkitError ? first.error.shardId : undefined;
      const code = first.error instanceof ShardkitError ? first.error.code : ErrorCode.storeFailure;
      throw new ShardkitStoreError(
        code,
        `${this.name}: insertMany: ${String(result.errors.length)} of ${String(docs.length)} documents failed; first at index ${String(first.index)}: ${first.error.message}`,
        { cause: first.error, ...(shardId === undefined ? {} : { shardId }) },
      );
    }
    return { acknowledged: true, insertedCount: result.insertedCount, insertedIds: result.insertedIds };
  }

  /**
   * The document matching `filter`, or null. A filter pinning `_id` reads one shard (two while the key
   * moves); any other filter is a scatter-gather with limit 1.
   */
  async findOne(filter: ShardedFilter<T> = {}, options: Omit<ShardedFindOptions, 'limit'> = {}): Promise<T | null> {
    return (await findOne(this.#findParts, filter, options)) as T | null;
  }

  /**
   * A cursor over the documents matching `filter` (the driver's `FindCursor`: async iterable, `next()`,
   * `toArray()`, `sort/skip/limit/project/batchSize`, `close()`). A filter pinning `_id` reads one key;
   * any other filter asks every shard that may hold a key, a batch at a time with the sort and
   * `skip + limit` pushed down, and merges in the server's sort order (see `compare.ts` for the order and
   * its limits), holding at most `batchSize` documents per shard. Fenced copies are resolved by the
   * migration protocol's ownership rule; markers never come back. See `find-cursor.ts` for what the cursor
   * guarantees while ranges move.
   *
   * @throws ShardkitInvalidArgumentError at once for a bad skip, limit or batch size.
   */
  find(filter: ShardedFilter<T> = {}, options: ShardedFindOptions = {}): FindCursor<T> {
    return new FindCursor<T>(this.#findParts, filter, options);
  }

  /**
   * Update the one document `filter` pins by `_id`.
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when the filter does not pin a valid `_id`.
   */
  async updateOne(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], options: ShardedUpdateOptions = {}): Promise<ShardedUpdateResult> {
    return withCallOptions('write', 'updateOne', options, async () => {
      const f = filter as Filter<Document>;
      const outcome = await singleWrite(this.#exec, this.#keys, f, buildUpdate(update as UpdateFilter<Document>), options.upsert === true, 'updateOne');
      await this.#countRouted('updateOne', f);
      return toUpdateResult(outcome);
    });
  }

  /**
   * Replace the one document `filter` pins by `_id` (the replacement may repeat the same `_id`).
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when the filter does not pin a valid `_id`.
   */
  async replaceOne(filter: ShardedFilter<T>, replacement: Document, options: ShardedUpdateOptions = {}): Promise<ShardedUpdateResult> {
    return withCallOptions('write', 'replaceOne', options, async () => {
      const f = filter as Filter<Document>;
      const outcome = await singleWrite(this.#exec, this.#keys, f, buildReplace(replacement), options.upsert === true, 'replaceOne');
      await this.#countRouted('replaceOne', f);
      return toUpdateResult(outcome);
    });
  }

  /**
   * Delete the one document `filter` pins by `_id`. While the key moves, the delete leaves a tombstone at
   * the new owner so the old owner's fenced copy cannot come back.
   */
  async deleteOne(filter: ShardedFilter<T>, options?: ShardedWriteOptions): Promise<ShardedDeleteResult> {
    return withCallOptions('write', 'deleteOne', options, async () => {
      const f = filter as Filter<Document>;
      const outcome = await singleWrite(this.#exec, this.#keys, f, buildDelete, false, 'deleteOne');
      await this.#countRouted('deleteOne', f);
      return { acknowledged: true, deletedCount: outcome.deleted };
    });
  }

  /**
   * Count documents matching `filter`: one key read when it pins `_id`, else a count per shard plus the
   * fenced documents the ownership rule keeps.
   */
  async countDocuments(filter: ShardedFilter<T> = {}, options: ShardedCountOptions = {}): Promise<number> {
    return withCallOptions('read', 'countDocuments', options, () => this.#countDocuments(filter, options));
  }

  async #countDocuments(filter: ShardedFilter<T>, options: ShardedCountOptions): Promise<number> {
    const skip = checkCount(options.skip, 'skip');
    const limit = checkCount(options.limit, 'limit');
    const f = filter as Filter<Document>;
    const key = filterKey(f);
    const total = await this.#exec.run(async (view) => {
      const value = pinnedPair(view, f, key);
      if (key !== undefined && value !== undefined) return (await this.#keys.readMatching(view, key, f, value)) === null ? 0 : 1;
      return scatterCount(this.#exec, view, f);
    });
    await this.#countRouted('countDocuments', f);
    const afterSkip = Math.max(0, total - skip);
    return limit > 0 ? Math.min(afterSkip, limit) : afterSkip;
  }

  /**
   * An estimate of the documents, as the driver's `estimatedDocumentCount`: the sum of every shard's
   * own estimate (MongoDB's collection metadata, no filter and no scan) over every shard of the current
   * routing state. Only an estimate: it counts what a shard holds, so during and after a migration, until
   * its cleanup and purge ran, the fenced copies at old owners, placeholders and tombstones count too
   * (a document that moved may count twice). `countDocuments({})` is exact.
   */
  async estimatedDocumentCount(options?: ShardedReadOptions): Promise<number> {
    return withCallOptions('read', 'estimatedDocumentCount', options, async () => {
      const counts = await this.#exec.run((view) => Promise.all(view.all.map((id) => this.#exec.callShard(view, id, (s) => s.estimatedDocumentCount()))));
      return counts.reduce((a, b) => a + b, 0);
    });
  }

  /** Create application indexes on every shard of the current routing state (both topologies while migrating). */
  async createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    const view = await this.#exec.view();
    const names = await Promise.all(view.all.map((id) => this.#exec.callShard(view, id, (s) => s.createIndexes(specs))));
    return names[0] ?? [];
  }

  /** Create the `{_h: 1, _id: 1}` routing index on every shard of the current routing state. */
  async ensureRoutingIndexes(): Promise<void> {
    const view = await this.#exec.view();
    await Promise.all(view.all.map((id) => this.#exec.callShard(view, id, (s) => s.ensureRoutingIndex())));
  }

  /**
   * Apply writes grouped by shard: one `store.bulkWrite` round trip per shard for keys that do not move,
   * then the keys that move (while migrating), deletes of keys a settling state's migration moved, and
   * any op a shard turned away, one by one through the migration protocol. Unordered: every op is
   * attempted and failures are reported by index. Invalid keys and misused updates are refused before
   * anything is written.
   */
  bulkWrite(ops: ReadonlyArray<ShardedWriteOp<T>>, options?: ShardedWriteOptions): Promise<ShardedBulkWriteResult> {
    const all = ops as ReadonlyArray<ShardedWriteOp>;
    return withCallOptions('write', 'bulkWrite', options, () => {
      if (Array.isArray(all) && all.some((op) => op !== null && typeof op === 'object' && ('updateMany' in op || 'deleteMany' in op))) {
        return bulkWriteWithMany(this.#exec, this.#keys, all);
      }
      return bulkWrite(this.#exec, this.#keys, all);
    });
  }

  /**
   * Update every document matching `filter` (any filter): a scatter-gather finds the matching `_id`s,
   * then each is updated through the single-key protocol with `filter` re-checked at apply time. While
   * a range moves, a document that matches throughout the call is updated exactly once; documents
   * inserted or changed during the call may or may not be (as a mongos multi-update). With `upsert`
   * and no match, one document is inserted (under the filter's `_id`, else a new ObjectId).
   *
   * @throws the first failure after every matching document was attempted.
   */
  updateMany(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], options: ShardedUpdateOptions = {}): Promise<ShardedUpdateResult> {
    return withCallOptions('write', 'updateMany', options, async () => {
      const result = await updateMany(this.#exec, this.#keys, filter as Filter<Document>, update as UpdateFilter<Document>, options.upsert === true);
      await this.#countRouted('updateMany', filter as Filter<Document>);
      return result;
    });
  }

  /** Delete every document matching `filter` (any filter), exactly once each, as {@link updateMany} updates. */
  deleteMany(filter: ShardedFilter<T> = {}, options?: ShardedWriteOptions): Promise<ShardedDeleteResult> {
    return withCallOptions('write', 'deleteMany', options, async () => {
      const result = await deleteMany(this.#exec, this.#keys, filter as Filter<Document>);
      await this.#countRouted('deleteMany', filter as Filter<Document>);
      return result;
    });
  }

  /**
   * Update the first document `filter` matches in `sort` order and return it as it was (default) or,
   * with `returnDocument: 'after'`, as the update left it; null when nothing matched (and nothing was
   * upserted). The update applies to exactly the version returned as "before" (see `find-and-modify.ts`).
   */
  async findOneAndUpdate(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], options: FindOneAndModifyOptions = {}): Promise<T | null> {
    return (await withCallOptions('write', 'findOneAndUpdate', options, () => this.#findAndModify(filter, { kind: 'update', update: update as UpdateFilter<Document> }, options))) as T | null;
  }

  /** Replace the first document `filter` matches in `sort` order; returns it before or after, as {@link findOneAndUpdate}. */
  async findOneAndReplace(filter: ShardedFilter<T>, replacement: Document, options: FindOneAndModifyOptions = {}): Promise<T | null> {
    return (await withCallOptions('write', 'findOneAndReplace', options, () => this.#findAndModify(filter, { kind: 'replace', replacement }, options))) as T | null;
  }

  /** Delete the first document `filter` matches in `sort` order and return it (projected), or null. */
  async findOneAndDelete(filter: ShardedFilter<T>, options: Omit<FindOneAndModifyOptions, 'upsert' | 'returnDocument'> = {}): Promise<T | null> {
    return (await withCallOptions('write', 'findOneAndDelete', options, () => this.#findAndModify(filter, { kind: 'delete' }, options))) as T | null;
  }

  /**
   * Run an aggregation pipeline; returns a cursor over its results. The pipeline is split as a
   * sharded cluster splits it (`aggregate/split.ts`): the longest prefix each shard can run
   * (`$match`, `$unset`, `$unwind`, plain `$project`, then a partial `$group`, `$sort` with the
   * limit pushed down, or `$count`) runs on every shard, only on the owner when a leading `$match` pins
   * `_id`; the router merges the answers and runs the rest. While a migration runs, the documents of
   * the leading `$match` are read through the migration protocol and the router runs the rest
   * (ADR 0009). Internal fields and migration markers never reach a stage.
   *
   * @throws ShardkitInputError `shardkit.aggregate.unsupportedStage` (`$out`, `$merge`, `$lookup`,
   *   `$graphLookup`, `$unionWith`, `$geoNear`, unknown stages) or `shardkit.aggregate.unsupportedAccumulator`
   *   (`$first`/`$last` in a `$group` with no `$sort` before it, unknown accumulators), at once.
   */
  aggregate<R extends Document = Document>(pipeline: Document[] = []): AggregationCursor<R> {
    const job = { pipeline, plan: splitPipeline(pipeline, this.#pushdown) };
    return new AggregationCursor<R>(() => runAggregate(this.#exec, this.#keys, job));
  }

  /**
   * The distinct values of the field `key` among documents matching `filter`, as the server's
   * `distinct` answers them (array elements counted singly, BSON order); an aggregation underneath.
   */
  async distinct(key: string, filter: ShardedFilter<T> = {}): Promise<unknown[]> {
    const pipeline = distinctPipeline(key, filter as Filter<Document>);
    return distinctValues(await runAggregate(this.#exec, this.#keys, { pipeline, plan: splitPipeline(pipeline, this.#pushdown) }));
  }

  async #findAndModify(filter: ShardedFilter<T>, mod: Modification, options: FindOneAndModifyOptions): Promise<Document | null> {
    const result = await findOneAndModify(this.#exec, this.#keys, filter as Filter<Document>, mod, options);
    await this.#countRouted(`findOneAnd${mod.kind === 'update' ? 'Update' : mod.kind === 'replace' ? 'Replace' : 'Delete'}`, filter as Filter<Document>);
    return result;
  }

  /**
   * Which shards an operation with `filter` reaches under the current routing state, and why
   * (ADR 0008): a filter that pins the shard key (`$eq` or a literal, `$in`, an `$or` whose every
   * branch pins it, an `$and` with a branch that does) reaches the owners of its values, and while a
   * range moves their owners before it too; any other filter reaches every shard. Nothing is read.
   */
  async explain(filter: ShardedFilter<T> = {}, options: { op?: ExplainOp } = {}): Promise<ShardedExplain> {
    const view = await this.#exec.view();
    return { op: options.op ?? 'find', ...targetFilter(view, filter as Filter<Document>) };
  }

  /**
   * Count one finished operation as targeted or scattered (ADR 0008's metric), by the filter it was
   * given. Nothing to wait for without metrics or while the lease holds (undefined); a promise only
   * when the routing state must be refreshed first. The operation is done and answered: a routing
   * state that cannot be had now only skips its count.
   */
  #countRouted(op: string, filter: Filter<Document>): Promise<void> | undefined {
    const metrics = this.#metrics;
    if (metrics === undefined) return undefined;
    const count = (view: RoutingView): void => metrics.countRouted(op, pinsShardKey(view, filter) ? 'targeted' : 'scattered');
    try {
      const current = this.#exec.view();
      if (current instanceof Promise) return current.then(count, () => undefined);
      count(current);
    } catch {
      // Skipped, as above.
    }
    return undefined;
  }
}
