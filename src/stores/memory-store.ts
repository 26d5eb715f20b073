/**
 * `MemoryStore`: one shard's collection held in process, with the semantics of `MongoStore` (the
 * same contract suite runs on both). Filters, projections and update operators are `mingo`'s;
 * `(_h, _id)` order and `_id` identity follow MongoDB's BSON comparison (see `bson-order.ts`).
 *
 * Documents are copied through BSON on the way in and out, so callers can never mutate stored
 * state and values come back with the types the driver would return (`Uint8Array` -> `Binary`).
 */
import { Aggregator, Query, updateOne as mingoUpdateOne } from 'mingo';
import { BSON, ObjectId } from 'mongodb';
import type { Document, UpdateFilter } from 'mongodb';
import { ErrorCode, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { compareBson, idKey, normalizeSort, sortComparator } from './bson-order.js';
import { asError, assertBulkOps, bulkResult, deleteResult, emptyResults, INSERTED, writeResult } from './bulk-result.js';
import { selectedBatches } from './batch-cursor.js';
import { assertBeforeDeadline } from './deadline.js';
import { sameData } from './exact-types.js';
import { isFenced, isLive, isTombstone } from './markers.js';
import { applySimpleUpdate } from './simple-update.js';
import { guardedPipeline } from './store-aggregate.js';
import type { HashRange, RangeChecksumResult, RangeCursor, RangeCounts, RangeKey, RangeSpan, RangeTallies, RangeTallyResult, ShardStore, StoreAggregateOptions, StoreBatchCursor,
  StoreBatchOptions, StoreBulkResult, StoredDocument, StoreFilter, StoreFindOptions, StoreWriteOp, WriteOutcome } from './shard-store.js';
import {
  assertEpoch,
  assertLimit,
  assertRange,
  assertReplacement,
  assertStorable,
  isOperatorObject,
  placeholder,
  RangeChecksum,
  seedFromFilter,
  UNFENCED,
  withVersionBump,
} from './store-filters.js';
import { optionalObject } from '../arguments.js';

const ROUTING_INDEX = '_h_1__id_1';

function clone<T extends Document>(doc: T): T {
  return BSON.deserialize(BSON.serialize(doc)) as T;
}

/** `(_h, _id)` order of the routing index. */
function compareOrder(a: StoredDocument, b: StoredDocument): number {
  if (typeof a._h === 'number' && typeof b._h === 'number') {
    if (a._h !== b._h) return a._h < b._h ? -1 : 1;
  } else {
    const byH = compareBson(a._h, b._h);
    if (byH !== 0) return byH;
  }
  return compareBson(a._id, b._id);
}

/** Options of `MemoryStore`. */
export interface MemoryStoreOptions {
  /**
   * Copy documents through BSON on the way in and out (default true). Turn off only for trusted,
   * read-only hot paths in simulations: callers then share stored objects.
   */
  readonly copy?: boolean;
}

/** In-process `ShardStore` with the semantics of `MongoStore`; for demos, simulations and fast tests. */
export class MemoryStore implements ShardStore {
  readonly shardId: string;
  /** A call that starts before its deadline applies in one synchronous step (`#check`). */
  readonly endsCallsByDeadline = true;
  readonly #byId = new Map<string, StoredDocument>();
  /** All documents in `(_h, _id)` order: the routing index. */
  #ordered: StoredDocument[] = [];
  readonly #indexes = new Set<string>();
  readonly #copy: boolean;
  #offline = false;
  #closed = false;

  constructor(shardId: string, options: MemoryStoreOptions = {}) {
    if (typeof shardId !== 'string' || shardId.length === 0) {
      throw new ShardkitInvalidArgumentError('MemoryStore needs a shard id');
    }
    optionalObject(options, 'new MemoryStore(shardId, options): options');
    this.shardId = shardId;
    this.#copy = options.copy ?? true;
  }

  /** Number of documents held, markers included (for tests and simulations). */
  get size(): number {
    return this.#byId.size;
  }

  /**
   * Simulate an unreachable shard: while offline every call fails with `shardkit.store.unavailable`,
   * as `MongoStore` does when its server is down.
   */
  setOffline(offline: boolean): void {
    this.#offline = offline;
  }

  // --- internals -----------------------------------------------------------------------

  #check(): void {
    if (this.#closed) throw this.#error(ErrorCode.storeUnavailable, 'store is closed');
    if (this.#offline) throw this.#error(ErrorCode.storeUnavailable, 'shard is unreachable (offline)');
    // Every call applies in one synchronous step from here, so "not started after its deadline" is
    // the whole bound: what MongoStore gets from the driver's timeoutMS and the server's maxTimeMS.
    assertBeforeDeadline(this.shardId, 'call');
  }

  #error(code: ErrorCode, message: string, cause?: unknown): ShardkitStoreError {
    return new ShardkitStoreError(code, `shard ${this.shardId}: ${message}`, { shardId: this.shardId, cause });
  }

  #in<T extends Document>(doc: T): T {
    return this.#copy ? clone(doc) : doc;
  }

  #out<T extends Document>(doc: T): T {
    return this.#copy ? clone(doc) : doc;
  }

  #position(doc: StoredDocument): number {
    let lo = 0;
    let hi = this.#ordered.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareOrder(this.#ordered[mid] as StoredDocument, doc) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose `(_h, _id)` is after the cursor, or after `range.start`. */
  #startIndex(range: HashRange, after: RangeCursor | null): number {
    const probe: StoredDocument =
      after !== null && after.h > range.start ? { _id: after.id, _h: after.h, _v: 0 } : { _id: null, _h: range.start + 1, _v: 0 };
    let i = this.#position(probe);
    if (after !== null && after.h > range.start) {
      const at = this.#ordered[i];
      if (at !== undefined && compareOrder(at, probe) === 0) i++;
    }
    return i;
  }

  #put(doc: StoredDocument): void {
    const key = idKey(doc._id);
    const old = this.#byId.get(key);
    if (old !== undefined && compareOrder(old, doc) === 0) {
      // Same (_h, _id): same slot in the routing index, so no splicing.
      let i = this.#position(old);
      while (i < this.#ordered.length && this.#ordered[i] !== old) i++;
      if (this.#ordered[i] === old) {
        this.#ordered[i] = doc;
        this.#byId.set(key, doc);
        return;
      }
    }
    if (old !== undefined) this.#remove(old);
    this.#byId.set(key, doc);
    this.#ordered.splice(this.#position(doc), 0, doc);
  }

  #remove(doc: StoredDocument): void {
    this.#byId.delete(idKey(doc._id));
    let i = this.#position(doc);
    while (i < this.#ordered.length && this.#ordered[i] !== doc) i++;
    if (this.#ordered[i] === doc) this.#ordered.splice(i, 1);
  }

  /** Documents matching `filter`, using the `_id` map when the filter names ids. */
  *#matching(filter: StoreFilter, liveOnly: boolean): Generator<StoredDocument> {
    const { _id: idCond, ...rest } = filter as Document;
    let candidates: Iterable<StoredDocument>;
    let restFilter: Document = filter;
    if (idCond !== undefined && !isOperatorObject(idCond)) {
      const doc = this.#byId.get(idKey(idCond));
      candidates = doc === undefined ? [] : [doc];
      restFilter = rest;
    } else if (isOperatorObject(idCond) && Object.keys(idCond as Document).length === 1 && Array.isArray((idCond as Document)['$in'])) {
      const seen = new Set<string>();
      const docs: StoredDocument[] = [];
      for (const id of (idCond as { $in: unknown[] }).$in) {
        const key = idKey(id);
        const doc = seen.has(key) ? undefined : this.#byId.get(key);
        seen.add(key);
        if (doc !== undefined) docs.push(doc);
      }
      candidates = docs;
      restFilter = rest;
    } else {
      candidates = [...this.#byId.values()];
    }
    const query = Object.keys(restFilter).length > 0 ? new Query(restFilter) : null;
    for (const doc of candidates) {
      if (liveOnly && !isLive(doc)) continue;
      if (query === null || query.test(doc)) yield doc;
    }
  }

  #first(filter: StoreFilter, liveOnly: boolean): StoredDocument | undefined {
    for (const doc of this.#matching(filter, liveOnly)) return doc;
    return undefined;
  }

  #insertNew(doc: StoredDocument): void {
    if (this.#byId.has(idKey(doc._id))) {
      throw this.#error(ErrorCode.storeDuplicateKey, `duplicate key: _id ${idKey(doc._id).slice(1)} already exists`);
    }
    this.#put(doc);
  }

  #updateOneSync(filter: StoreFilter, update: UpdateFilter<Document> | Document[], upsert: boolean): WriteOutcome {
    const bumped = withVersionBump(update);
    const found = this.#first(filter, true);
    if (found !== undefined) {
      const next = this.#applyUpdate(found, bumped, false);
      if (idKey(next._id) !== idKey(found._id)) {
        throw this.#error(ErrorCode.storeFailure, "performing an update on the path '_id' would modify the immutable field '_id'");
      }
      this.#put(next);
      // An update that changed nothing but the version is no modification, as on a server (the version
      // is bumped all the same, as MongoStore's one atomic update does).
      return { matched: 1, modified: sameData(found, next) ? 0 : 1 };
    }
    if (!upsert) return { matched: 0, modified: 0 };
    const seed = seedFromFilter(filter) as StoredDocument;
    const next = this.#applyUpdate(seed, bumped, true);
    next._id ??= new ObjectId();
    this.#insertNew(next);
    return { matched: 0, modified: 0, upsertedId: this.#out({ id: next._id }).id };
  }

  #applyUpdate(doc: StoredDocument, update: UpdateFilter<Document> | Document[], inserting: boolean): StoredDocument {
    const target = [clone(doc)];
    let modifier: unknown = update;
    if (!Array.isArray(update)) {
      const { $setOnInsert, ...ops } = update as Document;
      modifier = inserting && $setOnInsert !== undefined ? { ...ops, $set: { ...(ops['$set'] as Document), ...($setOnInsert as Document) } } : ops;
      // mingo builds a fresh operator context per call (most of an update's cost); plain
      // $set/$inc/$unset on object paths are applied directly, anything else goes to mingo.
      if (applySimpleUpdate(target[0] as StoredDocument, modifier as Document)) return this.#in(target[0] as StoredDocument);
    }
    try {
      mingoUpdateOne(target, {}, modifier as Parameters<typeof mingoUpdateOne>[2]);
    } catch (cause) {
      throw this.#error(ErrorCode.storeFailure, `update failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
    }
    return this.#in(target[0] as StoredDocument);
  }

  #replaceOneSync(filter: StoreFilter, replacement: StoredDocument, upsert: boolean): WriteOutcome {
    assertReplacement(replacement);
    const found = this.#first(filter, true);
    if (found !== undefined) {
      if (replacement._id !== undefined && idKey(replacement._id) !== idKey(found._id)) {
        throw this.#error(ErrorCode.storeFailure, "the replacement would modify the immutable field '_id'");
      }
      const next = this.#in({ ...replacement, _id: found._id, _v: (found._v ?? 0) + 1 });
      if (sameData(found, next)) return { matched: 1, modified: 0 };
      this.#put(next);
      return { matched: 1, modified: 1 };
    }
    if (!upsert) return { matched: 0, modified: 0 };
    const id = replacement._id ?? seedFromFilter(filter)['_id'] ?? new ObjectId();
    const next = this.#in({ ...replacement, _id: id, _v: 1 });
    this.#insertNew(next);
    return { matched: 0, modified: 0, upsertedId: this.#out({ id: next._id }).id };
  }

  #deleteOneSync(filter: StoreFilter): number {
    const found = this.#first(filter, true);
    if (found === undefined) return 0;
    this.#remove(found);
    return 1;
  }

  *#range(range: HashRange, after: RangeCursor | null, filter?: StoreFilter): Generator<StoredDocument> {
    assertRange(range);
    const query = filter !== undefined && Object.keys(filter).length > 0 ? new Query(filter) : null;
    // Callers collect what they need before changing the index: splicing under a live generator would skip entries.
    const ordered = this.#ordered;
    for (let i = this.#startIndex(range, after); i < ordered.length; i++) {
      const doc = ordered[i] as StoredDocument;
      if (doc._h > range.end) return;
      if (query === null || query.test(doc)) yield doc;
    }
  }

  // --- ShardStore ------------------------------------------------------------------------

  async ensureRoutingIndex(): Promise<void> {
    this.#check();
    this.#indexes.add(ROUTING_INDEX);
  }

  async hasRoutingIndex(): Promise<boolean> {
    this.#check();
    return this.#indexes.has(ROUTING_INDEX);
  }

  /** Records the index names; unique constraints other than `_id` are not enforced in memory. */
  async createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    this.#check();
    return specs.map((spec) => {
      const name = spec.name ?? Object.entries(spec.key).map(([k, v]) => `${k}_${String(v)}`).join('_');
      this.#indexes.add(name);
      return name;
    });
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async get(id: unknown): Promise<StoredDocument | null> {
    this.#check();
    const doc = this.#byId.get(idKey(id));
    return doc === undefined ? null : this.#out(doc);
  }

  async find(filter: StoreFilter, options: StoreFindOptions = {}): Promise<StoredDocument[]> {
    this.#check();
    return this.#present(this.#select(filter, options), options.projection);
  }

  /** What `find` answers, in its order: the stored objects themselves (neither copied nor projected). */
  #select(filter: StoreFilter, options: StoreFindOptions): StoredDocument[] {
    const docs = [...this.#matching(filter, false)];
    if (options.sort !== undefined) {
      // The server's sort rules (array fields, empty arrays), shared with the collection's merge.
      docs.sort(sortComparator(normalizeSort(options.sort)));
    }
    const skip = options.skip ?? 0;
    const limit = options.limit !== undefined && options.limit > 0 ? options.limit : Number.POSITIVE_INFINITY;
    return skip === 0 && limit >= docs.length ? docs : docs.slice(skip, skip + limit);
  }

  #present(docs: StoredDocument[], projection: Document | undefined): StoredDocument[] {
    const out = projection !== undefined && Object.keys(projection).length > 0 ? (new Query({}).find(docs, projection).all() as StoredDocument[]) : docs;
    return out.map((d) => this.#out(d));
  }

  /** The query's documents chosen at the first batch, copied out a batch at a time (`batch-cursor.ts`). */
  findBatches(filter: StoreFilter, options: StoreBatchOptions): StoreBatchCursor {
    return selectedBatches(
      options.batchSize,
      () => this.#check(),
      () => this.#select(filter, options),
      (batch) => this.#present(batch, options.projection),
    );
  }

  async count(filter: StoreFilter): Promise<number> {
    this.#check();
    let n = 0;
    for (const _ of this.#matching(filter, false)) n++;
    return n;
  }

  /** Every entry held, markers included: as MongoDB's metadata count, an estimate of the documents. */
  async estimatedDocumentCount(): Promise<number> {
    this.#check();
    return this.#byId.size;
  }

  async insert(doc: StoredDocument): Promise<void> {
    this.#check();
    assertStorable(doc);
    this.#insertNew(this.#in(doc));
  }

  async insertIfAbsent(docs: readonly StoredDocument[]): Promise<number> {
    this.#check();
    docs.forEach(assertStorable);
    let inserted = 0;
    for (const doc of docs) {
      if (this.#byId.has(idKey(doc._id))) continue;
      this.#put(this.#in(doc));
      inserted++;
    }
    return inserted;
  }

  async updateOne(
    filter: StoreFilter,
    update: UpdateFilter<Document> | Document[],
    options: { upsert?: boolean } = {},
  ): Promise<WriteOutcome> {
    this.#check();
    return this.#updateOneSync(filter, update, options.upsert === true);
  }

  async replaceOne(filter: StoreFilter, replacement: StoredDocument, options: { upsert?: boolean } = {}): Promise<WriteOutcome> {
    this.#check();
    return this.#replaceOneSync(filter, replacement, options.upsert === true);
  }

  async deleteOne(filter: StoreFilter): Promise<number> {
    this.#check();
    return this.#deleteOneSync(filter);
  }

  async bulkWrite(ops: readonly StoreWriteOp[]): Promise<StoreBulkResult> {
    this.#check();
    assertBulkOps(ops);
    const errors: Array<{ index: number; error: Error }> = [];
    const results = emptyResults(ops.length);
    ops.forEach((op, index) => {
      try {
        if ('insertOne' in op) {
          this.#insertNew(this.#in(op.insertOne.document));
          results[index] = INSERTED;
        } else if ('deleteOne' in op) {
          results[index] = deleteResult(this.#deleteOneSync(op.deleteOne.filter));
        } else if ('updateOne' in op) {
          results[index] = writeResult(this.#updateOneSync(op.updateOne.filter, op.updateOne.update, op.updateOne.upsert === true));
        } else {
          results[index] = writeResult(this.#replaceOneSync(op.replaceOne.filter, op.replaceOne.replacement, op.replaceOne.upsert === true));
        }
      } catch (error) {
        errors.push({ index, error: asError(error) });
      }
    });
    return bulkResult(results, errors);
  }

  async fence(keys: ReadonlyArray<{ readonly id: unknown; readonly h: number }>, epoch: number): Promise<StoredDocument[]> {
    this.#check();
    assertEpoch(epoch);
    return keys.map(({ id, h }) => {
      const existing = this.#byId.get(idKey(id));
      let doc: StoredDocument;
      if (existing === undefined) {
        doc = this.#in(placeholder(id, h, epoch));
        this.#put(doc);
      } else if (!isFenced(existing)) {
        doc = { ...existing, _moved: epoch };
        this.#put(doc);
      } else {
        doc = existing;
      }
      return this.#out(doc);
    });
  }

  async fenceRange(range: HashRange, after: RangeCursor | null, limit: number, epoch: number): Promise<StoredDocument[]> {
    this.#check();
    assertLimit(limit);
    assertEpoch(epoch);
    const picked: StoredDocument[] = [];
    for (const doc of this.#range(range, after)) {
      if (isFenced(doc)) continue;
      picked.push(doc);
      if (picked.length >= limit) break;
    }
    return picked.map((doc) => {
      // Only `_moved` changes, so the position in the routing index stays: replace in place.
      const fenced = { ...doc, _moved: epoch };
      this.#byId.set(idKey(doc._id), fenced);
      this.#ordered[this.#position(doc)] = fenced;
      return this.#out(fenced);
    });
  }

  async unfencedKeys(spans: readonly RangeSpan[], limit: number): Promise<RangeKey[]> {
    return this.spanKeys(spans, limit, UNFENCED);
  }

  async spanKeys(spans: readonly RangeSpan[], limit: number, filter: StoreFilter): Promise<RangeKey[]> {
    this.#check();
    spans.forEach((s) => assertRange(s.range));
    assertLimit(limit);
    const keys: StoredDocument[] = [];
    for (const span of spans) keys.push(...[...this.#range(span.range, span.after, filter)].slice(0, limit));
    keys.sort(compareOrder);
    return keys.slice(0, limit).map((d) => this.#out({ _id: d._id, _h: d._h }));
  }

  async fenceIds(ids: readonly unknown[], epoch: number): Promise<StoredDocument[]> {
    this.#check();
    assertEpoch(epoch);
    const found = new Map<string, StoredDocument>();
    for (const id of ids) {
      const doc = this.#byId.get(idKey(id));
      if (doc === undefined) continue;
      const fenced = isFenced(doc) ? doc : { ...doc, _moved: epoch };
      if (fenced !== doc) this.#put(fenced);
      if (fenced._moved === epoch) found.set(idKey(id), fenced);
    }
    return [...found.values()].sort(compareOrder).map((d) => this.#out(d));
  }

  async scanRange(range: HashRange, after: RangeCursor | null, limit: number, filter?: StoreFilter): Promise<StoredDocument[]> {
    this.#check();
    assertLimit(limit);
    const out: StoredDocument[] = [];
    for (const doc of this.#range(range, after, filter)) {
      out.push(this.#out(doc));
      if (out.length >= limit) break;
    }
    return out;
  }

  /**
   * mingo's `Aggregator` over copies of the live documents the guard's `$match` selects (stages may
   * change documents in place, so they never get stored objects). `exactTypes` changes nothing: held
   * values are JS values already.
   */
  async aggregate(pipeline: readonly Document[], _options: StoreAggregateOptions = {}): Promise<Document[]> {
    this.#check();
    const [guard, ...stages] = guardedPipeline(pipeline);
    const input = [...this.#matching((guard as { $match: Document }).$match, true)].map((d) => clone(d));
    try {
      return new Aggregator(stages, {}).run(input);
    } catch (cause) {
      throw this.#error(ErrorCode.storeFailure, `aggregate failed: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
    }
  }

  async countRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
    return { counts: await Promise.all(ranges.map((r) => this.countRange(r, filter))), indexed: true };
  }

  async countRange(range: HashRange, filter?: StoreFilter): Promise<number> {
    this.#check();
    return [...this.#range(range, null, filter)].length;
  }

  async checksumRange(range: HashRange, filter?: StoreFilter): Promise<RangeChecksumResult> {
    this.#check();
    const sum = new RangeChecksum();
    for (const doc of this.#range(range, null, filter)) sum.add(doc._id, doc._v);
    return sum.result();
  }

  async checksumRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeChecksumResult[]> {
    return Promise.all(ranges.map((r) => this.checksumRange(r, filter)));
  }

  /** Every figure is read at once, with no other call in between: one pass, as the contract says. */
  async tallyRanges(ranges: readonly HashRange[], { counts = [], checksums = [] }: RangeTallies): Promise<RangeTallyResult> {
    const counted = counts.map(async (f) => (await this.countRanges(ranges, f)).counts);
    return { counts: await Promise.all(counted), checksums: await Promise.all(checksums.map((f) => this.checksumRanges(ranges, f))) };
  }

  async deleteIds(ids: readonly unknown[], filter: StoreFilter): Promise<number> {
    this.#check();
    const query = new Query(filter);
    let deleted = 0;
    for (const id of ids) {
      const doc = this.#byId.get(idKey(id));
      if (doc === undefined || !query.test(doc)) continue;
      this.#remove(doc);
      deleted++;
    }
    return deleted;
  }

  async deleteRange(range: HashRange, filter: StoreFilter, limit: number): Promise<number> {
    this.#check();
    assertLimit(limit);
    const victims: StoredDocument[] = [];
    for (const doc of this.#range(range, null, filter)) {
      victims.push(doc);
      if (victims.length >= limit) break;
    }
    for (const doc of victims) this.#remove(doc);
    return victims.length;
  }

  async tombstone(id: unknown, h: number, version: number, expectedVersion?: number): Promise<boolean> {
    this.#check();
    const existing = this.#byId.get(idKey(id));
    if (existing !== undefined && isFenced(existing)) return false;
    // Conditioned on a version, it replaces only the live document of that version (ADR 0003).
    if (expectedVersion !== undefined && (existing === undefined || !isLive(existing) || existing._v !== expectedVersion)) {
      return false;
    }
    this.#put(this.#in({ _id: id, _h: h, _v: version, _ts: true }));
    return true;
  }

  /**
   * Replace the unfenced tombstone of `doc._id` with `doc` in one step: a delete-then-insert would show,
   * between the two, the old owner's fenced copy of a deleted document to readers. False when no
   * unfenced tombstone holds the `_id`.
   */
  async replaceTombstone(doc: StoredDocument): Promise<boolean> {
    this.#check();
    assertStorable(doc);
    const current = this.#byId.get(idKey(doc._id));
    // A tombstone a newer migration has fenced is final, like any fence.
    if (current === undefined || !isTombstone(current) || isFenced(current)) return false;
    this.#put(this.#in(doc));
    return true;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
