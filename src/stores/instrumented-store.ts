/**
 * `InstrumentedStore`: records the golden signals (latency, traffic, errors, saturation) of every
 * call of any `ShardStore`. `wrapStore` composes it with `ResilientStore` so retries and breaker
 * state land in the same metrics.
 */
import { ShardkitError } from '../errors.js';
import { StoreMetrics } from '../metrics/store-metrics.js';
import type { Document, UpdateFilter } from 'mongodb';
import { systemClock } from './clock.js';
import type { Clock } from './clock.js';
import { ResilientStore } from './resilience.js';
import type { ResilienceOptions } from './resilience.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type {
  HashRange,
  RangeChecksumResult,
  RangeCursor,
  ShardStore,
  StoreBulkResult,
  StoredDocument,
  StoreFilter,
  StoreFindOptions,
  StoreWriteOp,
  WriteOutcome,
} from './shard-store.js';

/** A `ShardStore` that measures every call of another one. */
export class InstrumentedStore implements ShardStore {
  readonly shardId: string;
  readonly inner: ShardStore;
  readonly metrics: StoreMetrics;
  readonly #clock: Clock;

  constructor(inner: ShardStore, metrics: StoreMetrics, clock: Clock = systemClock) {
    this.inner = inner;
    this.shardId = inner.shardId;
    this.metrics = metrics;
    this.#clock = clock;
  }

  async #call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.start(this.shardId, op, this.#clock.now());
    try {
      const value = await fn();
      end(this.#clock.now());
      return value;
    } catch (error) {
      end(this.#clock.now(), error instanceof ShardkitError ? error.code : 'unknown');
      throw error;
    }
  }

  ensureRoutingIndex(): Promise<void> {
    return this.#call('ensureRoutingIndex', () => this.inner.ensureRoutingIndex());
  }
  hasRoutingIndex(): Promise<boolean> {
    return this.#call('hasRoutingIndex', () => this.inner.hasRoutingIndex());
  }
  createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    return this.#call('createIndexes', () => this.inner.createIndexes(specs));
  }
  ping(): Promise<void> {
    return this.#call('ping', () => this.inner.ping());
  }
  get(id: unknown): Promise<StoredDocument | null> {
    return this.#call('get', () => this.inner.get(id));
  }
  find(filter: StoreFilter, options?: StoreFindOptions): Promise<StoredDocument[]> {
    return this.#call('find', () => this.inner.find(filter, options));
  }
  count(filter: StoreFilter): Promise<number> {
    return this.#call('count', () => this.inner.count(filter));
  }
  insert(doc: StoredDocument): Promise<void> {
    return this.#call('insert', () => this.inner.insert(doc));
  }
  insertIfAbsent(docs: readonly StoredDocument[]): Promise<number> {
    return this.#call('insertIfAbsent', () => this.inner.insertIfAbsent(docs));
  }
  updateOne(filter: StoreFilter, update: UpdateFilter<Document> | Document[], options?: { upsert?: boolean }): Promise<WriteOutcome> {
    return this.#call('updateOne', () => this.inner.updateOne(filter, update, options));
  }
  replaceOne(filter: StoreFilter, replacement: StoredDocument, options?: { upsert?: boolean }): Promise<WriteOutcome> {
    return this.#call('replaceOne', () => this.inner.replaceOne(filter, replacement, options));
  }
  deleteOne(filter: StoreFilter): Promise<number> {
    return this.#call('deleteOne', () => this.inner.deleteOne(filter));
  }
  bulkWrite(ops: readonly StoreWriteOp[]): Promise<StoreBulkResult> {
    return this.#call('bulkWrite', () => this.inner.bulkWrite(ops));
  }
  fence(keys: ReadonlyArray<{ readonly id: unknown; readonly h: number }>, epoch: number): Promise<StoredDocument[]> {
    return this.#call('fence', () => this.inner.fence(keys, epoch));
  }
  fenceRange(range: HashRange, after: RangeCursor | null, limit: number, epoch: number): Promise<StoredDocument[]> {
    return this.#call('fenceRange', () => this.inner.fenceRange(range, after, limit, epoch));
  }
  scanRange(range: HashRange, after: RangeCursor | null, limit: number, filter?: StoreFilter): Promise<StoredDocument[]> {
    return this.#call('scanRange', () => this.inner.scanRange(range, after, limit, filter));
  }
  countRange(range: HashRange, filter?: StoreFilter): Promise<number> {
    return this.#call('countRange', () => this.inner.countRange(range, filter));
  }
  checksumRange(range: HashRange, filter?: StoreFilter): Promise<RangeChecksumResult> {
    return this.#call('checksumRange', () => this.inner.checksumRange(range, filter));
  }
  deleteRange(range: HashRange, filter: StoreFilter, limit: number): Promise<number> {
    return this.#call('deleteRange', () => this.inner.deleteRange(range, filter, limit));
  }
  tombstone(id: unknown, h: number, version: number, expectedVersion?: number): Promise<boolean> {
    return this.#call('tombstone', () => this.inner.tombstone(id, h, version, expectedVersion));
  }
  replaceTombstone(doc: StoredDocument): Promise<boolean> {
    return this.#call('replaceTombstone', () => this.inner.replaceTombstone(doc));
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** How `wrapStore` dresses a store. */
export interface WrapStoreOptions {
  /** Record golden signals here (calls as the caller sees them, retries included). */
  readonly metrics?: StoreMetrics;
  /** Timeouts, retries and breaker; false for none. Default: `ResilientStore` defaults. */
  readonly resilience?: ResilienceOptions | false;
}

/**
 * `InstrumentedStore(ResilientStore(store))`, with retries and breaker state reported to the
 * metrics. Either layer is skipped when not asked for.
 */
export function wrapStore(store: ShardStore, options: WrapStoreOptions = {}): ShardStore {
  const { metrics, resilience } = options;
  let out = store;
  if (resilience !== false) {
    const r = resilience ?? {};
    const breaker = r.breaker;
    // A ready-made breaker keeps its own listener; options get one that feeds the gauge.
    const breakerOptions: ResilienceOptions['breaker'] =
      breaker === false || breaker instanceof CircuitBreaker || metrics === undefined
        ? breaker
        : {
            ...breaker,
            onStateChange: (from, to) => {
              metrics.breaker(store.shardId, to);
              breaker?.onStateChange?.(from, to);
            },
          };
    out = new ResilientStore(store, {
      ...r,
      ...(breakerOptions === undefined ? {} : { breaker: breakerOptions }),
      onRetry: (info) => {
        metrics?.retry(store.shardId, info.op);
        r.onRetry?.(info);
      },
    });
  }
  return metrics === undefined ? out : new InstrumentedStore(out, metrics, resilience === false ? systemClock : (resilience?.clock ?? systemClock));
}
