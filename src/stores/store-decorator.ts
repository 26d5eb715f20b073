/**
 * `StoreDecorator`: a `ShardStore` that forwards every contract call to another one through a single
 * `around(op, fn)` hook. `InstrumentedStore` (metrics) and `ResilientStore` (timeouts, retries,
 * breaker) differ only in that hook, so a contract method added here reaches both.
 *
 * The call's deadline (`deadline.ts`) is read as the call begins and handed again to the wrapped
 * store's call whenever the hook makes it: a hook may `await` first (a measurement, a backoff), and a
 * deadline handed down synchronously does not outlive an `await`.
 */
import type { Document, UpdateFilter } from 'mongodb';
import { callWithDeadline, currentDeadline } from './deadline.js';
import type {
  HashRange,
  RangeChecksumResult,
  RangeCursor,
  RangeCounts,
  RangeKey,
  RangeSpan,
  RangeTallies,
  RangeTallyResult,
  ShardStore,
  StoreAggregateOptions,
  StoreBatchCursor,
  StoreBatchOptions,
  StoreBulkResult,
  StoredDocument,
  StoreFilter,
  StoreFindOptions,
  StoreWriteOp,
  WriteOutcome,
} from './shard-store.js';

/** The name of a `ShardStore` contract call that a decorator sees (everything but `close` and `shardId`). */
export type StoreOp = Exclude<keyof ShardStore, 'shardId' | 'close'>;

export abstract class StoreDecorator implements ShardStore {
  readonly shardId: string;
  /** The wrapped store. */
  readonly inner: ShardStore;

  constructor(inner: ShardStore) {
    this.inner = inner;
    this.shardId = inner.shardId;
  }

  /**
   * Run `fn`, one call of the wrapped store named `op` with arguments `args`, with this decorator's
   * behaviour.
   */
  protected abstract around<T>(op: StoreOp, fn: () => Promise<T>, args: readonly unknown[]): Promise<T>;

  /** `around`, with `fn` carrying the deadline in force as the call begins (see the file's comment). */
  #call<T>(op: StoreOp, fn: () => Promise<T>, args: readonly unknown[]): Promise<T> {
    const deadline = currentDeadline();
    return this.around(op, deadline === undefined ? fn : () => callWithDeadline(deadline, fn), args);
  }

  ensureRoutingIndex(): Promise<void> {
    return this.#call('ensureRoutingIndex', () => this.inner.ensureRoutingIndex(), []);
  }
  hasRoutingIndex(): Promise<boolean> {
    return this.#call('hasRoutingIndex', () => this.inner.hasRoutingIndex(), []);
  }
  createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    return this.#call('createIndexes', () => this.inner.createIndexes(specs), [specs]);
  }
  ping(): Promise<void> {
    return this.#call('ping', () => this.inner.ping(), []);
  }
  get(id: unknown): Promise<StoredDocument | null> {
    return this.#call('get', () => this.inner.get(id), [id]);
  }
  find(filter: StoreFilter, options?: StoreFindOptions): Promise<StoredDocument[]> {
    return this.#call('find', () => this.inner.find(filter, options), [filter, options]);
  }
  /**
   * Each batch is one call through the hook: a deadline, a measurement and a breaker verdict per batch,
   * not one for the whole cursor, whose life is the application's to decide (see `find-cursor.ts`).
   */
  findBatches(filter: StoreFilter, options: StoreBatchOptions): StoreBatchCursor {
    const inner = this.inner.findBatches(filter, options);
    return {
      next: () => this.#call('findBatches', () => inner.next(), [filter, options]),
      close: () => inner.close(),
    };
  }
  count(filter: StoreFilter): Promise<number> {
    return this.#call('count', () => this.inner.count(filter), [filter]);
  }
  aggregate(pipeline: readonly Document[], options?: StoreAggregateOptions): Promise<Document[]> {
    return this.#call('aggregate', () => this.inner.aggregate(pipeline, options), [pipeline, options]);
  }
  insert(doc: StoredDocument): Promise<void> {
    return this.#call('insert', () => this.inner.insert(doc), [doc]);
  }
  insertIfAbsent(docs: readonly StoredDocument[]): Promise<number> {
    return this.#call('insertIfAbsent', () => this.inner.insertIfAbsent(docs), [docs]);
  }
  updateOne(filter: StoreFilter, update: UpdateFilter<Document> | Document[], options?: { upsert?: boolean }): Promise<WriteOutcome> {
    return this.#call('updateOne', () => this.inner.updateOne(filter, update, options), [filter, update, options]);
  }
  replaceOne(filter: StoreFilter, replacement: StoredDocument, options?: { upsert?: boolean }): Promise<WriteOutcome> {
    return this.#call('replaceOne', () => this.inner.replaceOne(filter, replacement, options), [filter, replacement, options]);
  }
  deleteOne(filter: StoreFilter): Promise<number> {
    return this.#call('deleteOne', () => this.inner.deleteOne(filter), [filter]);
  }
  bulkWrite(ops: readonly StoreWriteOp[]): Promise<StoreBulkResult> {
    return this.#call('bulkWrite', () => this.inner.bulkWrite(ops), [ops]);
  }
  fence(keys: ReadonlyArray<{ readonly id: unknown; readonly h: number }>, epoch: number): Promise<StoredDocument[]> {
    return this.#call('fence', () => this.inner.fence(keys, epoch), [keys, epoch]);
  }
  fenceRange(range: HashRange, after: RangeCursor | null, limit: number, epoch: number): Promise<StoredDocument[]> {
    return this.#call('fenceRange', () => this.inner.fenceRange(range, after, limit, epoch), [range, after, limit, epoch]);
  }
  unfencedKeys(spans: readonly RangeSpan[], limit: number): Promise<RangeKey[]> {
    return this.#call('unfencedKeys', () => this.inner.unfencedKeys(spans, limit), [spans, limit]);
  }
  fenceIds(ids: readonly unknown[], epoch: number): Promise<StoredDocument[]> {
    return this.#call('fenceIds', () => this.inner.fenceIds(ids, epoch), [ids, epoch]);
  }
  scanRange(range: HashRange, after: RangeCursor | null, limit: number, filter?: StoreFilter): Promise<StoredDocument[]> {
    return this.#call('scanRange', () => this.inner.scanRange(range, after, limit, filter), [range, after, limit, filter]);
  }
  countRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
    return this.#call('countRanges', () => this.inner.countRanges(ranges, filter), [ranges, filter]);
  }
  countRange(range: HashRange, filter?: StoreFilter): Promise<number> {
    return this.#call('countRange', () => this.inner.countRange(range, filter), [range, filter]);
  }
  checksumRange(range: HashRange, filter?: StoreFilter): Promise<RangeChecksumResult> {
    return this.#call('checksumRange', () => this.inner.checksumRange(range, filter), [range, filter]);
  }
  spanKeys(spans: readonly RangeSpan[], limit: number, filter: StoreFilter): Promise<RangeKey[]> {
    return this.#call('spanKeys', () => this.inner.spanKeys(spans, limit, filter), [spans, limit, filter]);
  }
  checksumRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeChecksumResult[]> {
    return this.#call('checksumRanges', () => this.inner.checksumRanges(ranges, filter), [ranges, filter]);
  }
  tallyRanges(ranges: readonly HashRange[], tallies: RangeTallies): Promise<RangeTallyResult> {
    return this.#call('tallyRanges', () => this.inner.tallyRanges(ranges, tallies), [ranges, tallies]);
  }
  deleteIds(ids: readonly unknown[], filter: StoreFilter): Promise<number> {
    return this.#call('deleteIds', () => this.inner.deleteIds(ids, filter), [ids, filter]);
  }
  deleteRange(range: HashRange, filter: StoreFilter, limit: number): Promise<number> {
    return this.#call('deleteRange', () => this.inner.deleteRange(range, filter, limit), [range, filter, limit]);
  }
  tombstone(id: unknown, h: number, version: number, expectedVersion?: number): Promise<boolean> {
    return this.#call('tombstone', () => this.inner.tombstone(id, h, version, expectedVersion), [id, h, version, expectedVersion]);
  }
  replaceTombstone(doc: StoredDocument): Promise<boolean> {
    return this.#call('replaceTombstone', () => this.inner.replaceTombstone(doc), [doc]);
  }
  estimatedDocumentCount(): Promise<number> {
    return this.#call('estimatedDocumentCount', () => this.inner.estimatedDocumentCount(), []);
  }
  /** Closes the wrapped store, outside the hook (never measured, retried or blocked by a breaker). */
  close(): Promise<void> {
    return this.inner.close();
  }
}
