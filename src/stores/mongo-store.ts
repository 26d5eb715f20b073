/**
 * `MongoStore`: one shard's collection on a MongoDB (or FerretDB) server through the official
 * driver. Every driver error comes out as a `ShardkitStoreError` naming the shard (see
 * `driver-errors.ts`). Every call has one deadline (`deadline.ts`: the caller's, at most
 * `opTimeoutMs` away): a signal (`deadline-signal.ts`) stops its server selection, pool checkout and
 * sends at that moment, and each request carries the time left as `maxTimeMS`. Driver 6.22 ignores `timeoutMS`
 * (its client-side operation timeout is a no-op there), so the signal is how the deadline reaches
 * the driver.
 *
 * Works on servers without transactions or pipeline updates (FerretDB 1.x): conditional writes
 * are single-document filters, and `replaceOne` bumps `_v` by compare-and-set on the version read.
 */
import { MongoClient } from 'mongodb';
import type { Collection, Document, MongoClientOptions, UpdateFilter, WriteConcern } from 'mongodb';
import { systemClock } from '../clock.js';
import { resolveUri } from '../topology/credentials.js';
import { ErrorCode, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { idKey } from './bson-order.js';
import { callWithDeadline, currentDeadline, deadlineError, deadlineIn, earlier, remainingMs, untilAborted, type Deadline } from './deadline.js';
import { currentDriverOptions } from './driver-options.js';
import { DeadlineSignal, DeadlineWatchdogs } from './deadline-signal.js';
import { RequestScope } from './mongo-request-options.js';
import { assertBulkOps } from './bulk-result.js';
import { splitBulkWrite } from './mongo-bulk-write.js';
import { isDuplicateKeyError, wrapDriverError } from './driver-errors.js';
import { EXACT_TYPES, withProtocolValues } from './exact-types.js';
import { replaceLive, updateLive } from './mongo-writes.js';
import { pointRead } from './mongo-point-read.js';
import { isFenced } from './markers.js';
import { deleteIdsOf, indexedSpanKeys, isRangeIndexed, SmallestKeys } from './mongo-span-ops.js';
import { passBudget, rangePass, tallyPass, type PassBudget } from './mongo-range-pass.js';
import { cursorOptions, driverBatches, findOptions } from './mongo-batches.js';
import type {
  HashRange,
  RangeChecksumResult,
  RangeCursor,
  RangeCounts,
  RangeTallies,
  RangeTallyResult,
  RangeKey,
  RangeSpan,
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
import { guardedPipeline } from './store-aggregate.js';
import {
  andFilters,
  assertEpoch,
  assertLimit,
  assertRange,
  assertReplacement,
  assertStorable,
  liveFilter,
  placeholder,
  RangeChecksum,
  rangeFilter,
  UNFENCED,
} from './store-filters.js';

const ROUTING_INDEX_NAME = '_h_1__id_1';
const ORDER = { _h: 1, _id: 1 } as const;
/** Attempts of a compare-and-set loop (replace, fence) before giving up under contention. */
const CAS_ATTEMPTS = 8;

/** Options of `MongoStore`. */
export interface MongoStoreOptions {
  /** The shard this store talks to (named in every error). */
  readonly shardId: string;
  /** Connection string; required unless `client` is given. Never printed with its password. */
  readonly uri?: string;
  /** A client to share (e.g. several shards on one server); the store then does not close it. */
  readonly client?: MongoClient;
  /** Database name (default: the URI's path, else `shardkit`). */
  readonly db?: string;
  /** Collection name. */
  readonly collection: string;
  /** Per-operation time limit in ms (default 10000): `maxTimeMS` and the client's timeouts. */
  readonly opTimeoutMs?: number;
  /** Extra driver options for a client the store creates. */
  readonly clientOptions?: MongoClientOptions;
}

function dbFromUri(uri: string): string | undefined {
  const m = /^mongodb(?:\+srv)?:\/\/[^/]*\/([^?]+)/.exec(uri);
  return m?.[1] === undefined ? undefined : decodeURIComponent(m[1]);
}

/** `ShardStore` over the official MongoDB driver. */
export class MongoStore implements ShardStore {
  readonly shardId: string;
  /** Its deadline's signal ends server selection, the pool's wait and the socket's at the deadline (`#run`). */
  readonly endsCallsByDeadline = true;
  readonly #client: MongoClient;
  readonly #ownsClient: boolean;
  /**
   * Untyped at the driver boundary on purpose: the driver's `Filter<T>` pins `_id` to `ObjectId` (or
   * `never` for `unknown`), while shard keys are strings, numbers and bytes. Inputs are checked above.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly #col: Collection<any>;
  readonly #maxTimeMS: number;
  /** The store's own write concern, the floor of the migration protocol's writes (`RequestScope.marker`). */
  readonly #writeConcern: WriteConcern | undefined;
  #ready: Promise<void> | null = null;
  /** `#ready` has resolved: a call then skips waiting on it (a promise and an abort listener per call). */
  #connected = false;
  /** Abort the calls when their deadline passes: on `systemClock` (nearly all), or a caller's own clock. */
  readonly #watchdogs = new DeadlineWatchdogs(systemClock);
  #closed = false;

  /** Creates the store; the client connects on first use. Prefer `MongoStore.connect` to fail early. */
  constructor(options: MongoStoreOptions) {
    const { shardId, uri, client, collection } = (options ?? {}) as Partial<MongoStoreOptions>; // plain JS may pass nothing
    if (typeof shardId !== 'string' || shardId.length === 0) throw new ShardkitInvalidArgumentError('new MongoStore(options): options.shardId must be a non-empty string');
    if (typeof collection !== 'string' || collection.length === 0) throw new ShardkitInvalidArgumentError('MongoStore needs a collection name');
    const opTimeoutMs = options.opTimeoutMs ?? 10_000;
    if (!Number.isFinite(opTimeoutMs) || opTimeoutMs <= 0) {
      throw new ShardkitInvalidArgumentError(`opTimeoutMs must be a positive number; got ${String(opTimeoutMs)}`);
    }
    this.shardId = shardId;
    this.#maxTimeMS = Math.ceil(opTimeoutMs);
    // `${NAME}` references in the stored URI are resolved here, where the client connects (a URI that
    // is one reference also has its database path only once resolved).
    let resolved: string | undefined;
    if (client !== undefined) {
      this.#client = client;
      this.#ownsClient = false;
      // With a client given, the URI only names the database, if `db` does not.
      resolved = uri === undefined || options.db !== undefined ? undefined : resolveUri(uri);
    } else {
      if (typeof uri !== 'string' || uri.length === 0) throw new ShardkitInvalidArgumentError(`shard ${shardId}: MongoStore needs a uri or a client`);
      try {
        resolved = resolveUri(uri);
        this.#client = new MongoClient(resolved, {
          serverSelectionTimeoutMS: this.#maxTimeMS,
          connectTimeoutMS: this.#maxTimeMS,
          // The client-wide bound on the pool's queue; a call's own deadline (its signal) is usually sooner.
          waitQueueTimeoutMS: this.#maxTimeMS,
          // A hung server never answers maxTimeMS; the socket timeout bounds the wait (with slack).
          socketTimeoutMS: this.#maxTimeMS * 2 + 1000,
          ...options.clientOptions,
        });
      } catch (error) {
        throw new ShardkitInvalidArgumentError(`shard ${shardId}: bad connection string: ${wrapDriverError(shardId, 'connect', error).message}`, {
          cause: error,
          shardId,
        });
      }
      this.#ownsClient = true;
    }
    const dbName = options.db ?? (resolved === undefined ? undefined : dbFromUri(resolved)) ?? 'shardkit';
    this.#col = this.#client.db(dbName).collection(collection);
    // Fixed for the collection handle's life (its own, else its database's): read once, not per call.
    this.#writeConcern = this.#col.writeConcern;
  }

  /** Create a store and check the shard answers `ping`; fails with `shardkit.store.unavailable` otherwise. */
  static async connect(options: MongoStoreOptions): Promise<MongoStore> {
    const store = new MongoStore(options);
    try {
      await store.ping();
    } catch (error) {
      await store.close().catch(() => undefined);
      throw error;
    }
    return store;
  }

  /** The driver collection (for tools and tests that need a raw view). */
  get collection(): Collection<StoredDocument> {
    return this.#col as Collection<StoredDocument>;
  }

  /**
   * Connect explicitly, and again after a failure: driver 6 closes the topology for good when the
   * implicit connect of a first operation fails ("Topology is closed" ever after), so a shard that
   * is down when first used would otherwise stay unusable after it comes back.
   */
  #ensureConnected(): Promise<void> {
    if (this.#ready === null) {
      const ready = this.#client.connect().then(() => {
        if (this.#ready === ready) this.#connected = true;
      });
      ready.catch(() => {
        if (this.#ready === ready) this.#ready = null;
      });
      this.#ready = ready;
    }
    return this.#ready;
  }

  /**
   * Run one contract call under one deadline: the caller's (`currentDeadline`, read here as the call
   * begins), cut to `opTimeoutMs` from now. Its signal aborts server selection, the wait for a pooled
   * connection, the connect and any send at the deadline, and each request carries the time left as
   * `maxTimeMS`, so the call cannot start at the shard later and what already runs there is bounded
   * (ADR 0003, "The bound"). `fn` gets the call's {@link RequestScope}, which builds every request's
   * options from that deadline: nothing of the call depends on an async context.
   * The signal is a `DeadlineSignal` under the store's watchdog (`deadline-signal.ts` says why).
   */
  async #run<T>(op: string, fn: (call: RequestScope) => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new ShardkitStoreError(ErrorCode.storeUnavailable, `shard ${this.shardId}: ${op} failed: store is closed`, { shardId: this.shardId });
    }
    const bound = earlier(currentDeadline(), deadlineIn(systemClock, this.#maxTimeMS)) as Deadline;
    const left = remainingMs(bound);
    if (left <= 0) throw deadlineError(this.shardId, op);
    const signal = new DeadlineSignal(bound.at, this.shardId, op, left);
    const watchdog = this.#watchdogs.on(bound.clock);
    watchdog.watch(signal);
    const call = new RequestScope(this.shardId, this.#maxTimeMS, { at: bound.at, clock: bound.clock, signal }, currentDriverOptions(), this.#writeConcern);
    try {
      if (this.#connected) return await fn(call);
      // Not connected by the deadline: the call never reached the shard, which is "unavailable".
      await untilAborted(this.#ensureConnected(), signal, () => this.#unreachable(op, left, signal.reason));
      return await fn(call);
    } catch (error) {
      if ((error as { name?: unknown } | null)?.name === 'MongoTopologyClosedError') {
        this.#ready = null;
        this.#connected = false;
      }
      // The deadline fired: a timeout for callers (the migrator retries it), whatever the driver wrapped it in.
      if (signal.aborted && signal.reason instanceof ShardkitStoreError && !(error instanceof ShardkitStoreError)) throw signal.reason;
      throw wrapDriverError(this.shardId, op, error);
    } finally {
      watchdog.release(signal);
    }
  }

  #unreachable(op: string, waitedMs: number, cause: unknown): ShardkitStoreError {
    return new ShardkitStoreError(ErrorCode.storeUnavailable, `shard ${this.shardId}: ${op} failed: not connected within ${Math.ceil(waitedMs)} ms`, {
      shardId: this.shardId,
      cause,
    });
  }

  async ensureRoutingIndex(): Promise<void> {
    await this.#run('ensureRoutingIndex', (c) => this.#col.createIndex(ORDER, c.internal({ name: ROUTING_INDEX_NAME })));
  }

  async hasRoutingIndex(): Promise<boolean> {
    return this.#run('hasRoutingIndex', async (c) => {
      let indexes: Document[];
      try {
        indexes = await this.#col.listIndexes(c.internal()).toArray();
      } catch (error) {
        if ((error as { code?: unknown }).code === 26) return false; // NamespaceNotFound: no collection yet
        throw error;
      }
      return indexes.some((ix) => {
        const keys = Object.entries((ix['key'] ?? {}) as Record<string, unknown>);
        return keys.length === 2 && keys[0]?.[0] === '_h' && keys[0][1] === 1 && keys[1]?.[0] === '_id' && keys[1][1] === 1;
      });
    });
  }

  async createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    if (specs.length === 0) return [];
    return this.#run('createIndexes', (c) =>
      this.#col.createIndexes(
        specs.map((s) => ({ key: s.key, ...(s.name === undefined ? {} : { name: s.name }), ...(s.unique === undefined ? {} : { unique: s.unique }) })),
        c.internal(),
      ),
    );
  }

  async ping(): Promise<void> {
    await this.#run('ping', (c) => this.#col.db.command({ ping: 1 }, c.internal()));
  }

  get(id: unknown): Promise<StoredDocument | null> {
    // One `find` command, not the driver's findOne and its cursor (mongo-point-read.ts).
    return this.#run('get', (c) => pointRead(this.#col, c, id, this.#client.options.retryReads !== false));
  }

  async find(filter: StoreFilter, options: StoreFindOptions = {}): Promise<StoredDocument[]> {
    return this.#run('find', async (c) => {
      // Bodies read to be written again (a repair, a relic) are the protocol's: at the primary.
      const exactTypes = options.exactTypes === true;
      const docs = await this.#col.find(filter, exactTypes ? c.internal({ ...findOptions(options), ...EXACT_TYPES }) : c.read(findOptions(options))).toArray();
      return exactTypes ? docs.map(withProtocolValues) : docs;
    });
  }

  findBatches(filter: StoreFilter, options: StoreBatchOptions): StoreBatchCursor {
    // The application's read preference, read concern and comment apply (mongo-batches.ts).
    return driverBatches(
      options,
      (opts, c: RequestScope) => this.#col.find(filter, { ...cursorOptions(c.read()), ...opts }),
      (batch) => this.#run('findBatches', batch),
    );
  }

  async count(filter: StoreFilter): Promise<number> {
    return this.#run('count', (c) => this.#col.countDocuments(filter, c.read()));
  }

  /** The driver's estimate (collection metadata, markers included); no filter, no scan. */
  async estimatedDocumentCount(): Promise<number> {
    return this.#run('estimatedDocumentCount', (c) => this.#col.estimatedDocumentCount(c.read()));
  }

  /** The guarded pipeline (`store-aggregate.ts`); with `exactTypes` its answers keep their BSON types. */
  async aggregate(pipeline: readonly Document[], options: StoreAggregateOptions = {}): Promise<Document[]> {
    return this.#run('aggregate', (c) => this.#col.aggregate(guardedPipeline(pipeline), c.read(options.exactTypes === true ? EXACT_TYPES : {})).toArray());
  }

  async insert(doc: StoredDocument): Promise<void> {
    assertStorable(doc);
    await this.#run('insert', (c) => this.#col.insertOne({ ...doc }, c.write()));
  }

  async insertIfAbsent(docs: readonly StoredDocument[]): Promise<number> {
    docs.forEach(assertStorable);
    if (docs.length === 0) return 0;
    return this.#run('insertIfAbsent', async (c) => {
      try {
        const res = await this.#col.insertMany(
          docs.map((d) => ({ ...d })),
          c.marker({ ordered: false }),
        );
        return res.insertedCount;
      } catch (error) {
        // Unordered: every non-duplicate was inserted; duplicates are the point of "if absent".
        if (isDuplicateKeyError(error)) return (error as { result?: { insertedCount?: number } }).result?.insertedCount ?? 0;
        throw error;
      }
    });
  }

  /** One round trip where the driver needs one, `modified` as the driver reports it (`mongo-writes.ts`). */
  updateOne(filter: StoreFilter, update: UpdateFilter<Document> | Document[], options: { upsert?: boolean } = {}): Promise<WriteOutcome> {
    return this.#run('updateOne', (c) => updateLive(c, this.#col, filter, update, options?.upsert === true));
  }

  /** Compare-and-set on the version read (`mongo-writes.ts`): FerretDB has no pipelines to bump `_v` in a replacement. */
  async replaceOne(filter: StoreFilter, replacement: StoredDocument, options: { upsert?: boolean } = {}): Promise<WriteOutcome> {
    assertReplacement(replacement);
    return this.#run('replaceOne', (c) => replaceLive(c, this.#col, filter, replacement, options.upsert === true));
  }

  deleteOne(filter: StoreFilter): Promise<number> {
    return this.#run('deleteOne', async (c) => (await this.#col.deleteOne(liveFilter(filter), c.write())).deletedCount);
  }

  /** Inserts in one unordered `insertMany`, the other ops as single calls in parallel (`mongo-bulk-write.ts`). */
  async bulkWrite(ops: readonly StoreWriteOp[]): Promise<StoreBulkResult> {
    assertBulkOps(ops);
    // One deadline for the whole bulk: its single writes run inside it and inherit it.
    return this.#run('bulkWrite', (c) => callWithDeadline(c.deadline, () => splitBulkWrite(this, (docs) => this.#col.insertMany(docs, c.write({ ordered: false })), ops)));
  }

  /**
   * Placeholders first, then fence whatever exists: an insert racing with us then fails on the
   * placeholder, and a document deleted in between is found missing on read-back and retried.
   */
  async fence(keys: ReadonlyArray<{ readonly id: unknown; readonly h: number }>, epoch: number): Promise<StoredDocument[]> {
    assertEpoch(epoch);
    if (keys.length === 0) return [];
    return this.#run('fence', async (c) => {
      const ids = keys.map((k) => k.id);
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        try {
          await this.#col.insertMany(
            keys.map((k) => placeholder(k.id, k.h, epoch)),
            c.marker({ ordered: false }),
          );
        } catch (error) {
          if (!isDuplicateKeyError(error)) throw error;
        }
        await this.#col.updateMany({ _id: { $in: ids }, ...UNFENCED }, { $set: { _moved: epoch } }, c.marker());
        // Exact types: a router copies what it fenced to the new owner (8.0 stays a double, a long a long).
        const found = (await this.#col.find({ _id: { $in: ids } }, c.internal(EXACT_TYPES)).toArray()).map(withProtocolValues);
        const byKey = new Map(found.map((d) => [idKey(d._id), d]));
        const out = keys.map((k) => byKey.get(idKey(k.id)));
        if (out.every((d) => d !== undefined && isFenced(d))) return out as StoredDocument[];
      }
      throw new ShardkitStoreError(ErrorCode.storeFailure, `shard ${this.shardId}: fence failed: keys kept changing concurrently`, { shardId: this.shardId });
    });
  }

  async fenceRange(range: HashRange, after: RangeCursor | null, limit: number, epoch: number): Promise<StoredDocument[]> {
    assertRange(range);
    assertLimit(limit);
    assertEpoch(epoch);
    return this.#run('fenceRange', async (c) => {
      const picked = await this.#col
        .find(andFilters(rangeFilter(range, after), UNFENCED), c.internal({ projection: { _id: 1 } }))
        .sort(ORDER)
        .limit(limit)
        .toArray();
      if (picked.length === 0) return [];
      return this.#fenceAndRead(c, picked.map((d) => d._id), epoch, { _moved: { $exists: true } });
    });
  }

  /**
   * Fence the unfenced of `ids` at `epoch`, read back those matching `fenced` in exact BSON types (copied: 8.0 stays a double).
   */
  async #fenceAndRead(c: RequestScope, ids: readonly unknown[], epoch: number, fenced: StoreFilter): Promise<StoredDocument[]> {
    await this.#col.updateMany({ _id: { $in: ids }, ...UNFENCED }, { $set: { _moved: epoch } }, c.marker());
    return (await this.#col.find({ _id: { $in: ids }, ...fenced }, c.internal(EXACT_TYPES)).sort(ORDER).toArray()).map(withProtocolValues);
  }

  async unfencedKeys(spans: readonly RangeSpan[], limit: number): Promise<RangeKey[]> {
    return this.spanKeys(spans, limit, UNFENCED);
  }

  async spanKeys(spans: readonly RangeSpan[], limit: number, filter: StoreFilter): Promise<RangeKey[]> {
    spans.forEach((s) => assertRange(s.range));
    assertLimit(limit);
    if (spans.length === 0) return [];
    const budget = passBudget(this.shardId, 'spanKeys', this.#maxTimeMS);
    const ranges = spans.map((s) => s.range);
    if (await this.#rangeIndexed('spanKeys', budget, ranges[0]!)) {
      return callWithDeadline(budget.next(), () => this.#run('spanKeys', (c) => indexedSpanKeys(this.#col, c.internal.bind(c), spans, limit, filter)));
    }
    // A server that scans meets the keys in no order: the whole pass, a batch at a time, keeping the
    // page's smallest. One scan per page, as the server's own sort cost, but no batch waits for it all.
    const keys = new SmallestKeys(spans, limit);
    await rangePass(this.#col, (fn) => this.#run('spanKeys', fn), budget, ranges, false, filter, (_at, d) => keys.offer({ _id: d['_id'], _h: d['_h'] as number }));
    return keys.result();
  }

  async fenceIds(ids: readonly unknown[], epoch: number): Promise<StoredDocument[]> {
    assertEpoch(epoch);
    if (ids.length === 0) return [];
    return this.#run('fenceIds', (c) => this.#fenceAndRead(c, ids, epoch, { _moved: epoch }));
  }

  async scanRange(range: HashRange, after: RangeCursor | null, limit: number, filter?: StoreFilter): Promise<StoredDocument[]> {
    assertRange(range);
    assertLimit(limit);
    return this.#run('scanRange', async (c) => {
      const docs = await this.#col.find(andFilters(rangeFilter(range, after), filter), c.internal(EXACT_TYPES)).sort(ORDER).limit(limit).toArray();
      return docs.map(withProtocolValues);
    });
  }

  async countRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
    const { result, indexed } = await this.#tally('countRanges', ranges, { counts: [filter ?? {}] });
    return { counts: result.counts[0] ?? [], indexed };
  }

  async countRange(range: HashRange, filter?: StoreFilter): Promise<number> {
    assertRange(range);
    return this.#run('countRange', (c) => this.#col.countDocuments(andFilters(rangeFilter(range, null), filter), c.internal()));
  }

  async checksumRange(range: HashRange, filter?: StoreFilter): Promise<RangeChecksumResult> {
    assertRange(range);
    return this.#run('checksumRange', async (c) => {
      const sum = new RangeChecksum();
      const cursor = this.#col.find(andFilters(rangeFilter(range, null), filter), c.internal({ projection: { _id: 1, _v: 1 }, batchSize: 1000 }));
      for await (const d of cursor) sum.add(d._id, d._v);
      return sum.result();
    });
  }

  async checksumRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeChecksumResult[]> {
    return (await this.#tally('checksumRanges', ranges, { checksums: [filter ?? {}] })).result.checksums[0] ?? [];
  }

  async tallyRanges(ranges: readonly HashRange[], tallies: RangeTallies): Promise<RangeTallyResult> {
    return (await this.#tally('tallyRanges', ranges, tallies)).result;
  }

  /**
   * The figures of `tallies` over `ranges`, as `op`. Counts alone on a server that uses the
   * `(_h, _id)` index are counted by it, one count per range and filter; anything else is a pass
   * (`tallyPass`), one for all the figures where it can.
   */
  async #tally(op: string, ranges: readonly HashRange[], tallies: RangeTallies): Promise<{ result: RangeTallyResult; indexed: boolean }> {
    ranges.forEach(assertRange);
    const counts = tallies.counts ?? [];
    const checksums = tallies.checksums ?? [];
    if (ranges.length === 0) return { result: { counts: counts.map(() => []), checksums: checksums.map(() => []) }, indexed: true };
    const budget = passBudget(this.shardId, op, this.#maxTimeMS);
    const indexed = await this.#rangeIndexed(op, budget, ranges[0]!);
    if (indexed && checksums.length === 0) {
      const counted = await callWithDeadline(budget.next(), () =>
        this.#run(op, (c) => Promise.all(counts.map((f) => Promise.all(ranges.map((r) => this.#col.countDocuments(andFilters(rangeFilter(r, null), f), c.internal())))))),
      );
      return { result: { counts: counted, checksums: [] }, indexed };
    }
    return { result: await tallyPass(this.#col, (fn) => this.#run(op, fn), budget, ranges, indexed, tallies), indexed };
  }

  /** Whether the server answers a range filter from the `(_h, _id)` index (asked once per collection handle). */
  #rangeIndexed(op: string, budget: PassBudget, range: HashRange): Promise<boolean> {
    return callWithDeadline(budget.next(), () => this.#run(op, (c) => isRangeIndexed(this.#col, c.internal.bind(c), range)));
  }

  async deleteIds(ids: readonly unknown[], filter: StoreFilter): Promise<number> {
    if (ids.length === 0) return 0;
    return this.#run('deleteIds', (c) => deleteIdsOf(this.#col, c.internal.bind(c), ids, filter));
  }

  async deleteRange(range: HashRange, filter: StoreFilter, limit: number): Promise<number> {
    assertRange(range);
    assertLimit(limit);
    return this.#run('deleteRange', async (c) => {
      const where = andFilters(rangeFilter(range, null), filter);
      const picked = await this.#col.find(where, c.internal({ projection: { _id: 1 } })).sort(ORDER).limit(limit).toArray();
      if (picked.length === 0) return 0;
      // The filter goes again with the ids: a document that changed since it was read stays.
      const res = await this.#col.deleteMany(andFilters({ _id: { $in: picked.map((d) => d._id) } }, where), c.marker());
      return res.deletedCount;
    });
  }

  async tombstone(id: unknown, h: number, version: number, expectedVersion?: number): Promise<boolean> {
    return this.#run('tombstone', async (c) => {
      if (expectedVersion !== undefined) {
        // One conditional replace: atomic on the server, so a concurrent write either precedes it
        // (and changes `_v`, so nothing matches) or follows it (and meets the tombstone).
        const r = await this.#col.replaceOne(liveFilter({ _id: id, _v: expectedVersion }), { _id: id, _h: h, _v: version, _ts: true }, c.marker({}));
        return r.matchedCount === 1;
      }
      try {
        await this.#col.replaceOne({ _id: id, ...UNFENCED }, { _id: id, _h: h, _v: version, _ts: true }, c.marker({ upsert: true }));
        return true;
      } catch (error) {
        // No unfenced match, so the upsert tried to insert and met the fenced document.
        if (isDuplicateKeyError(error)) return false;
        throw error;
      }
    });
  }

  /** Replace the unfenced tombstone of `doc._id` with `doc` in one step (a re-insert after a delete); false when none is there. */
  async replaceTombstone(doc: StoredDocument): Promise<boolean> {
    assertStorable(doc);
    return this.#run('replaceTombstone', async (c) => {
      const r = await this.#col.replaceOne({ _id: doc._id, _ts: true, ...UNFENCED }, doc, c.marker({}));
      return r.matchedCount === 1;
    });
  }

  /** Close the store; a client it created is closed too, a shared one is left to its owner. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#watchdogs.close();
    if (!this.#ownsClient) return;
    try {
      await this.#client.close();
    } catch (error) {
      throw wrapDriverError(this.shardId, 'close', error);
    }
  }
}
