/**
 * `FindCursor<T>`: what `ShardedCollection.find` returns, shaped like the driver's `FindCursor`. Builder
 * methods (`filter`, `sort`, `skip`, `limit`, `project`, `batchSize`, and the base's `map`) refine the
 * query until the first read; reading runs it:
 * - a filter pinning `_id` reads that one key through the single-key protocol (one shard, two while the
 *   key moves);
 * - any other filter is a streaming scatter-gather (`scatter-merge.ts`): one batched read per shard,
 *   merged in the server's sort order with `_id` as the last key, at most `batchSize` documents held per
 *   shard, skip and limit applied in the merge (and `skip + limit` pushed down to every shard). Without a
 *   sort the documents come in `_id` order (the driver promises no order; one order makes the merge exact).
 *
 * A cursor open while ranges move neither fails nor repeats nor skips a document because of the move:
 * each batch is read under the live routing state, and a new state restarts the merge past its last
 * position (see `scatter-merge.ts`). As with the driver, a document written while the cursor is open may
 * be seen before or after the write, or (if the write moved it past the cursor) twice or not at all.
 */
import type { Document, Filter, Sort } from 'mongodb';
import { ShardkitInvalidArgumentError } from '../errors.js';
import { withCallOptions } from './call-options.js';
import { ShardedCursor } from './cursor.js';
import { applyProjection, filterKey, stripMarkers } from './documents.js';
import type { KeyProtocol } from './key-protocol.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { DEFAULT_BATCH_SIZE, ScatterMerge } from './scatter-merge.js';
import { pinnedPair } from './targeting.js';
import type { ShardKey } from '../hash/types.js';

/** The single-key read's answer when the filter cannot be served by one key. */
const SCATTER = Symbol('scatter');
import type { ShardedFilter, ShardedFindOptions } from './types.js';

/** A skip or limit: an integer >= 0 (0: none); undefined is 0. */
export function checkCount(value: number | undefined, what: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ShardkitInvalidArgumentError(`${what} must be an integer >= 0 (got ${String(value)})`);
  }
  return value;
}

function checkBatchSize(value: number | undefined): number {
  if (value === undefined || value === 0) return DEFAULT_BATCH_SIZE;
  if (!Number.isSafeInteger(value) || value < 0) throw new ShardkitInvalidArgumentError(`batchSize must be an integer >= 0 (got ${String(value)})`);
  return value;
}

function checkFilter(filter: unknown): Filter<Document> {
  if (filter === null || typeof filter !== 'object' || Array.isArray(filter)) throw new ShardkitInvalidArgumentError('find: filter must be a document');
  return filter as Filter<Document>;
}

/** How a `FindCursor` reaches the shards (the collection's parts). */
export interface FindCursorParts {
  readonly exec: RedirectExecutor;
  readonly keys: KeyProtocol;
  /** Counts the query as targeted or scattered (ADR 0008's metric) when it starts; never fails it. */
  readonly countRouted?: (filter: Filter<Document>) => Promise<void> | undefined;
}

/**
 * A cursor over the documents matching a `find`.
 *
 * @typeParam T - the documents it yields (the collection's, or a projection's).
 */
export class FindCursor<T = Document> extends ShardedCursor<T> {
  readonly #parts: FindCursorParts;
  #filter: Filter<Document>;
  #sort: Sort | undefined;
  #skip: number;
  #limit: number;
  #projection: Document | undefined;
  #batchSize: number;
  #merge: ScatterMerge | undefined;
  readonly #around: <R>(fn: () => Promise<R>) => Promise<R>;

  /** Built by `ShardedCollection.find`; options are checked here, as the driver checks them. */
  constructor(parts: FindCursorParts, filter: ShardedFilter = {}, options: ShardedFindOptions = {}) {
    super();
    this.#parts = parts;
    this.#filter = checkFilter(filter);
    this.#sort = options.sort;
    this.#skip = checkCount(options.skip, 'skip');
    this.#limit = checkCount(options.limit, 'limit');
    this.#projection = options.projection;
    this.#batchSize = checkBatchSize(options.batchSize);
    // The driver options (read preference, read concern, comment, maxTimeMS) are carried around every
    // read of the cursor, checked before each; a bad one fails the first read, as the driver's cursor
    // reports a server's refusal at its first read. maxTimeMS bounds each read.
    this.#around = (fn) => withCallOptions('read', 'find', options, fn);
  }

  /** Replaces the query's filter. */
  filter(filter: ShardedFilter): this {
    this.assertNotStarted('filter');
    this.#filter = checkFilter(filter);
    return this;
  }

  /** Sorts by `sort` (the driver's forms); `_id` breaks ties. */
  sort(sort: Sort): this {
    this.assertNotStarted('sort');
    this.#sort = sort;
    return this;
  }

  /** Skips the first `n` documents of the merged order. */
  skip(n: number): this {
    this.assertNotStarted('skip');
    this.#skip = checkCount(n, 'skip');
    return this;
  }

  /** At most `n` documents; 0: no limit. */
  limit(n: number): this {
    this.assertNotStarted('limit');
    this.#limit = checkCount(n, 'limit');
    return this;
  }

  /** Returns only the fields of `projection` (the driver's projection; the cursor, retyped). */
  project<U extends Document = Document>(projection: Document): FindCursor<U> {
    this.assertNotStarted('project');
    this.#projection = projection;
    return this as unknown as FindCursor<U>;
  }

  /** Documents per shard batch (0: the default, 1000): the merge holds at most this many per shard. */
  batchSize(n: number): this {
    this.assertNotStarted('batchSize');
    this.#batchSize = checkBatchSize(n);
    return this;
  }

  /** Restarts of the scatter-gather under a new routing state so far (0 for a single-key read). */
  get restarts(): number {
    return this.#merge?.restarts ?? 0;
  }

  protected override open(): AsyncIterator<unknown> {
    void this.#parts.countRouted?.(this.#filter);
    const key = filterKey(this.#filter);
    return key === undefined ? this.#scatter() : this.#single(key);
  }

  async *#single(key: ShardKey): AsyncGenerator<Document> {
    const doc = await this.#around(() => readPinned(this.#parts, this.#filter, key));
    if (doc === SCATTER) {
      yield* this.#scatter();
      return;
    }
    if (doc === null || this.#skip > 0) return;
    yield present(doc, this.#projection);
  }

  async *#scatter(): AsyncGenerator<Document> {
    const merge = new ScatterMerge(this.#parts.exec, {
      filter: this.#filter,
      sort: this.#sort,
      skip: this.#skip,
      limit: this.#limit,
      projection: this.#projection,
      batchSize: this.#batchSize,
    });
    this.#merge = merge;
    try {
      const next = (): Promise<Document | undefined> => this.#around(() => merge.next());
      for (let doc = await next(); doc !== undefined; doc = await next()) yield present(doc, this.#projection);
    } finally {
      await merge.close();
    }
  }
}

/** The application's view of a stored document, projected. */
function present(doc: Document, projection: Document | undefined): Document {
  const app = stripMarkers<Document>(doc);
  return projection === undefined ? app : (applyProjection<Document>([app], projection)[0] as Document);
}

/**
 * The stored document a filter pinning `key` reads through the single-key protocol, or null; `SCATTER`
 * when it pins `_id` but not a shard key other than `_id`, so it does not say where the document lives
 * (ADR 0008) and scatters to the shards its filter targets. Decided before anything is read.
 */
function readPinned(parts: FindCursorParts, filter: Filter<Document>, key: ShardKey): Promise<Document | null | typeof SCATTER> {
  const { exec, keys } = parts;
  return exec.run<Document | null | typeof SCATTER>((view) => {
    const value = pinnedPair(view, filter, key);
    return value === undefined ? Promise.resolve(SCATTER) : keys.readMatching(view, key, filter, value);
  });
}

/**
 * `findOne`: the first document of `find(filter, {...options, limit: 1})`, answered as that cursor
 * answers it, without one when the filter pins a key: a point read then costs the single-key protocol
 * and no cursor, async generator and close around it (issue 11, the data path's overhead).
 *
 * @throws ShardkitInvalidArgumentError at once for a bad filter, skip or batch size, as `find`.
 */
export async function findOne(parts: FindCursorParts, filter: ShardedFilter, options: Omit<ShardedFindOptions, 'limit'>): Promise<Document | null> {
  const checked = checkFilter(filter);
  const skip = checkCount(options.skip, 'skip');
  checkBatchSize(options.batchSize);
  // Counted when it starts, once, as the cursor counts it.
  void parts.countRouted?.(checked);
  const key = filterKey(checked);
  const doc = key === undefined ? SCATTER : await withCallOptions('read', 'find', options, () => readPinned(parts, checked, key));
  if (doc === SCATTER) {
    const cursor = new FindCursor<Document>({ exec: parts.exec, keys: parts.keys }, checked, Object.assign({}, options, { limit: 1 }));
    try {
      return await cursor.next();
    } finally {
      // The shards' cursors are released now, not when the driver's idle timeout reaps them.
      await cursor.close();
    }
  }
  if (doc === null || skip > 0) return null;
  return present(doc, options.projection);
}
