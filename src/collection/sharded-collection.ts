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
import type { StoredDocument } from '../stores/shard-store.js';
import { bulkWrite } from './bulk-write.js';
import { findOneAndModify, type Modification } from './find-and-modify.js';
import { bulkWriteWithMany, deleteMany, updateMany } from './multi-write.js';
import { applyProjection, filterKey, stripMarkers } from './documents.js';
import { KeyProtocol } from './key-protocol.js';
import { RedirectExecutor } from './redirect-executor.js';
import type { ShardKey } from '../hash/types.js';
import { DEFAULT_SHARD_KEY } from '../topology/shard-key.js';
import type { RoutingView } from './routing-view.js';
import { scatterCount, scatterFind } from './scatter-gather.js';
import { buildDelete, buildReplace, buildUpdate, singleWrite } from './single-write.js';
import { pinnedValue, targetFilter } from './targeting.js';
import type {
  ExplainOp,
  FindOneAndModifyOptions,
  RoutedOperationsMetric,
  ShardedExplain,
  NewDocument,
  ShardedBulkWriteResult,
  ShardedCollectionOptions,
  ShardedFilter,
  ShardedFindOptions,
  ShardedUpdateResult,
  ShardedWriteOp,
} from './types.js';
import { insertOp, toUpdateResult } from './write-ops.js';

// The public types of this API live in types.ts; src/index.ts names them from here.
export type * from './types.js';

function checkCount(value: number | undefined, what: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ShardkitInvalidArgumentError(`${what} must be an integer >= 0 (got ${String(value)})`);
  }
  return value;
}

/**
 * A collection split over the shards of a topology by `_id`.
 *
 * Every stored document carries `_h` (the ring point of its `_id`) and `_v` (a version bumped by every
 * write); these and the migration markers are stripped from everything returned. While the routing
 * state is `migrating`, a key whose owner changes is read from its new owner first and written only at
 * the new owner after fencing it at the old one (ADR 0002). A shard that
 * answers "moved" sends the operation back through a refreshed routing state, at most `maxRedirects`
 * times (then `shardkit.router.redirectLimit`).
 *
 * @typeParam T - the application's document type.
 */
export class ShardedCollection<T extends Document = Document> {
  /** Collection name (for messages). */
  readonly name: string;
  readonly #exec: RedirectExecutor;
  readonly #keys: KeyProtocol;
  readonly #metrics: RoutedOperationsMetric | undefined;

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
    this.name = options.name;
    this.#exec = new RedirectExecutor(options.name, options.routing, options.pool, maxRedirects, operationTimeoutMs);
    this.#keys = new KeyProtocol(this.#exec);
    this.#metrics = options.metrics;
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
  async insertOne(doc: NewDocument<T>): Promise<{ insertedId: unknown }> {
    const op = insertOp(doc as Document, (await this.#exec.view()).shardKey);
    await this.#exec.run((view) => this.#keys.apply(view, op));
    return { insertedId: op.key };
  }

  /**
   * Insert many documents, grouped into one bulk per shard (unordered: every document is attempted).
   *
   * @throws the first failure (by index) after all others were applied; its message counts the failures.
   */
  async insertMany(docs: ReadonlyArray<NewDocument<T>>): Promise<{ insertedCount: number; insertedIds: Record<number, unknown> }> {
    if (!Array.isArray(docs)) throw new ShardkitInvalidArgumentError('insertMany: docs must be an array');
    const result = await this.bulkWrite(docs.map((document) => ({ insertOne: { document } })));
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
    return { insertedCount: result.insertedCount, insertedIds: result.insertedIds };
  }

  /**
   * The document matching `filter`, or null. A filter pinning `_id` reads one shard (two while the key
   * moves); any other filter is a scatter-gather with limit 1.
   */
  async findOne(filter: ShardedFilter<T> = {}, options: Omit<ShardedFindOptions, 'limit'> = {}): Promise<T | null> {
    const [doc] = await this.find(filter, { ...options, limit: 1 });
    return doc ?? null;
  }

  /**
   * Documents matching `filter`, as an array. A filter pinning `_id` reads one key; any other filter asks
   * every shard that may hold a key in parallel with the sort and `skip + limit` pushed down, then merges in
   * the server's sort order (see `compare.ts` for the order and its limits) and applies skip and limit.
   * Fenced copies are resolved by the migration protocol's ownership rule; markers never come back.
   */
  async find(filter: ShardedFilter<T> = {}, options: ShardedFindOptions = {}): Promise<T[]> {
    const skip = checkCount(options.skip, 'skip');
    const limit = checkCount(options.limit, 'limit');
    const f = filter as Filter<Document>;
    const key = filterKey(f);
    const docs = await this.#exec.run(async (view): Promise<StoredDocument[]> => {
      const value = this.#pinnedPair(view, f, key);
      if (key !== undefined && value !== undefined) {
        const doc = await this.#keys.readMatching(view, key, f, value);
        return (doc === null ? [] : [doc]).slice(skip, limit > 0 ? skip + limit : undefined);
      }
      const shards = targetFilter(view, f).shards;
      return scatterFind(this.#exec, view, { filter: f, sort: options.sort, skip, limit, projection: options.projection, shards });
    });
    await this.#countRouted('find', f);
    return applyProjection<T>(
      docs.map((d) => stripMarkers<Document>(d)),
      options.projection,
    );
  }

  /**
   * Update the one document `filter` pins by `_id`.
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when the filter does not pin a valid `_id`.
   */
  async updateOne(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], options: { upsert?: boolean } = {}): Promise<ShardedUpdateResult> {
    const f = filter as Filter<Document>;
    const outcome = await singleWrite(this.#exec, this.#keys, f, buildUpdate(update as UpdateFilter<Document>), options.upsert === true, 'updateOne');
    await this.#countRouted('updateOne', f);
    return toUpdateResult(outcome);
  }

  /**
   * Replace the one document `filter` pins by `_id` (the replacement may repeat the same `_id`).
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when the filter does not pin a valid `_id`.
   */
  async replaceOne(filter: ShardedFilter<T>, replacement: Document, options: { upsert?: boolean } = {}): Promise<ShardedUpdateResult> {
    const f = filter as Filter<Document>;
    const outcome = await singleWrite(this.#exec, this.#keys, f, buildReplace(replacement), options.upsert === true, 'replaceOne');
    await this.#countRouted('replaceOne', f);
    return toUpdateResult(outcome);
  }

  /**
   * Delete the one document `filter` pins by `_id`. While the key moves, the delete leaves a tombstone at
   * the new owner so the old owner's fenced copy cannot come back.
   */
  async deleteOne(filter: ShardedFilter<T>): Promise<{ deletedCount: number }> {
    const f = filter as Filter<Document>;
    const outcome = await singleWrite(this.#exec, this.#keys, f, buildDelete, false, 'deleteOne');
    await this.#countRouted('deleteOne', f);
    return { deletedCount: outcome.deleted };
  }

  /**
   * Count documents matching `filter`: one key read when it pins `_id`, else a count per shard plus the
   * fenced documents the ownership rule keeps.
   */
  async countDocuments(filter: ShardedFilter<T> = {}, options: { skip?: number; limit?: number } = {}): Promise<number> {
    const skip = checkCount(options.skip, 'skip');
    const limit = checkCount(options.limit, 'limit');
    const f = filter as Filter<Document>;
    const key = filterKey(f);
    const total = await this.#exec.run(async (view) => {
      const value = this.#pinnedPair(view, f, key);
      if (key !== undefined && value !== undefined) return (await this.#keys.readMatching(view, key, f, value)) === null ? 0 : 1;
      return scatterCount(this.#exec, view, f, targetFilter(view, f).shards);
    });
    await this.#countRouted('countDocuments', f);
    const afterSkip = Math.max(0, total - skip);
    return limit > 0 ? Math.min(afterSkip, limit) : afterSkip;
  }

  /** Create application indexes on every shard of the current routing state (both topologies while migrating). */
  async createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    const view = await this.#exec.view();
    const names = await Promise.all(view.all.map((id) => this.#exec.callShard(id, (s) => s.createIndexes(specs))));
    return names[0] ?? [];
  }

  /** Create the `{_h: 1, _id: 1}` routing index on every shard of the current routing state. */
  async ensureRoutingIndexes(): Promise<void> {
    const view = await this.#exec.view();
    await Promise.all(view.all.map((id) => this.#exec.callShard(id, (s) => s.ensureRoutingIndex())));
  }

  /**
   * Apply writes grouped by shard: one `store.bulkWrite` round trip per shard for keys that do not move,
   * then the keys that move (while migrating), deletes of keys a settling state's migration moved, and
   * any op a shard turned away, one by one through the migration protocol. Unordered: every op is
   * attempted and failures are reported by index. Invalid keys and misused updates are refused before
   * anything is written.
   */
  bulkWrite(ops: ReadonlyArray<ShardedWriteOp<T>>): Promise<ShardedBulkWriteResult> {
    const all = ops as ReadonlyArray<ShardedWriteOp>;
    if (Array.isArray(all) && all.some((op) => op !== null && typeof op === 'object' && ('updateMany' in op || 'deleteMany' in op))) {
      return bulkWriteWithMany(this.#exec, this.#keys, all);
    }
    return bulkWrite(this.#exec, this.#keys, all);
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
  async updateMany(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], options: { upsert?: boolean } = {}): Promise<ShardedUpdateResult> {
    const result = await updateMany(this.#exec, this.#keys, filter as Filter<Document>, update as UpdateFilter<Document>, options.upsert === true);
    await this.#countRouted('updateMany', filter as Filter<Document>);
    return result;
  }

  /** Delete every document matching `filter` (any filter), exactly once each, as {@link updateMany} updates. */
  async deleteMany(filter: ShardedFilter<T> = {}): Promise<{ deletedCount: number }> {
    const result = await deleteMany(this.#exec, this.#keys, filter as Filter<Document>);
    await this.#countRouted('deleteMany', filter as Filter<Document>);
    return result;
  }

  /**
   * Update the first document `filter` matches in `sort` order and return it as it was (default) or,
   * with `returnDocument: 'after'`, as the update left it; null when nothing matched (and nothing was
   * upserted). The update applies to exactly the version returned as "before" (see `find-and-modify.ts`).
   */
  async findOneAndUpdate(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], options: FindOneAndModifyOptions = {}): Promise<T | null> {
    return (await this.#findAndModify(filter, { kind: 'update', update: update as UpdateFilter<Document> }, options)) as T | null;
  }

  /** Replace the first document `filter` matches in `sort` order; returns it before or after, as {@link findOneAndUpdate}. */
  async findOneAndReplace(filter: ShardedFilter<T>, replacement: Document, options: FindOneAndModifyOptions = {}): Promise<T | null> {
    return (await this.#findAndModify(filter, { kind: 'replace', replacement }, options)) as T | null;
  }

  /** Delete the first document `filter` matches in `sort` order and return it (projected), or null. */
  async findOneAndDelete(filter: ShardedFilter<T>, options: Omit<FindOneAndModifyOptions, 'upsert' | 'returnDocument'> = {}): Promise<T | null> {
    return (await this.#findAndModify(filter, { kind: 'delete' }, options)) as T | null;
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

  /** The shard-key value `filter` pins for the `_id` it pins, when it pins both (the `_id` is the value under shard key `_id`). */
  #pinnedPair(view: RoutingView, filter: Filter<Document>, key: ShardKey | undefined): ShardKey | undefined {
    if (key === undefined) return undefined;
    return view.shardKey === DEFAULT_SHARD_KEY ? key : pinnedValue(filter, view.shardKey);
  }

  /** Count one finished operation as targeted or scattered (ADR 0008's metric), by the filter it was given. */
  async #countRouted(op: string, filter: Filter<Document>): Promise<void> {
    if (this.#metrics === undefined) return;
    try {
      const view = await this.#exec.view();
      this.#metrics.countRouted(op, targetFilter(view, filter).targeted ? 'targeted' : 'scattered');
    } catch {
      // The operation is done and answered; a routing state that cannot be had now only skips its count.
    }
  }
}
