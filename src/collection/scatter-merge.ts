/**
 * The streaming scatter-gather behind `find()`'s cursor: one batched read per shard (`findBatches`),
 * merged in the server's sort order with `_id` as the last key, so the router holds at most one batch
 * per shard (plus the new owners' copies of fenced documents, below), never the whole result.
 *
 * **Fenced copies, per batch.** A batch's fenced documents are resolved as `scatterFind` resolves them
 * (`resolveFenced`, ADR 0002/0003): kept while the new owner has nothing for the key, else replaced by
 * the new owner's copy, which joins the merge at its own sort position.
 *
 * **One emission per position.** The merge emits in strictly increasing `(sort key, _id)` order and drops
 * anything at or before the last position it passed. A document that only the migration touched has the
 * same sort key on both owners, so whichever way its copies arrive (the old owner's live or kept copy, the
 * new owner's own stream, a replacement) they meet at one position and it is emitted once.
 *
 * **Each batch admitted under the live routing state.** Every refill runs through the redirect executor
 * (`RedirectExecutor.run`): under the current routing view, whose lease holds, with the operation's
 * deadline (`operationTimeoutMs`), so a batch read under a replaced state lands within ADR 0003's bound
 * like any other call, and the migrator's cleanup cannot delete an old owner's copy under a read that
 * still routes by the old state. When the view's layout changed since the last batch (another phase or
 * epoch), the merge restarts: every shard's cursor is closed and opened again under the new view, and
 * what it re-reads up to the last position passed is dropped. A "moved" answer restarts it the same way
 * (within the redirect budget). So a cursor never fails because ranges moved, and never repeats or skips a
 * document because of it; a restart costs the re-read of the prefix.
 */
import type { Document } from 'mongodb';
import type { ShardStore, StoreBatchCursor, StoredDocument } from '../stores/shard-store.js';
import { isLive } from '../stores/markers.js';
import { documentComparator, normalizeSort, sortDocument, type SortField } from './compare.js';
import { matchesFilter, pushedProjection, stripMarkers } from './documents.js';
import type { RedirectExecutor } from './redirect-executor.js';
import type { RoutingView } from './routing-view.js';
import { applicationFilter, resolveFenced, targetShards, type ScatterQuery } from './scatter-gather.js';

/** Documents per shard batch when the caller names no `batchSize`. */
export const DEFAULT_BATCH_SIZE = 1000;

/** What the merge asks every shard for. */
export interface MergeQuery extends ScatterQuery {
  /** Documents per shard batch (>= 1). */
  readonly batchSize: number;
}

/** What every shard's stream shares: the pushed-down query and the order. */
interface StreamContext {
  readonly exec: RedirectExecutor;
  readonly view: RoutingView;
  readonly filter: Document;
  readonly sort: Document;
  readonly projection: Document | undefined;
  readonly batchSize: number;
  /** The pushed-down limit (`skip + limit`), 0 for none. */
  readonly limit: number;
  readonly compare: (a: Document, b: Document) => number;
}

/** One shard's part: its batched read, the current batch with fenced copies resolved, and its position. */
class ShardStream {
  readonly shardId: string;
  readonly #ctx: StreamContext;
  #cursor: StoreBatchCursor | undefined;
  #buffer: StoredDocument[] = [];
  #at = 0;
  #done = false;
  /** Pushed-down limit of the current store cursor. */
  #limit: number;
  /** Raw documents the current store cursor returned, and fenced copies dropped among them. */
  #raw = 0;
  #dropped = 0;
  /** The last raw document read, and after a reopen the one to skip through. */
  #last: StoredDocument | undefined;
  #skipThrough: StoredDocument | undefined;

  constructor(shardId: string, ctx: StreamContext) {
    this.shardId = shardId;
    this.#ctx = ctx;
    this.#limit = ctx.limit;
  }

  /** The next document of this shard, or undefined when it needs a batch or is done. */
  get head(): StoredDocument | undefined {
    return this.#buffer[this.#at];
  }

  /** True when the next document is unknown until a batch is read. */
  get hungry(): boolean {
    return !this.#done && this.#at >= this.#buffer.length;
  }

  shift(): void {
    this.#at++;
  }

  /**
   * Read batches until one leaves a document (or the shard is done); returns the new owners' copies of
   * the fenced documents dropped on the way.
   */
  async fill(attempt: RoutingView): Promise<StoredDocument[]> {
    const { exec } = this.#ctx;
    const replacements: StoredDocument[] = [];
    this.#buffer = [];
    this.#at = 0;
    while (this.#buffer.length === 0 && !this.#done) {
      // Under the admission this refill runs in (its deadline), whichever view opened the stream.
      const r = await exec.callShard(attempt, this.shardId, (s) => (this.#cursor ??= this.#open(s)).next());
      if (r.done === true) {
        this.#cursor = undefined;
        this.#afterEnd();
        continue;
      }
      this.#raw += r.value.length;
      this.#last = r.value[r.value.length - 1] ?? this.#last;
      const skipThrough = this.#skipThrough;
      const docs = skipThrough === undefined ? r.value : r.value.filter((d) => this.#ctx.compare(d, skipThrough) > 0);
      const fenced = docs.filter((d) => !isLive(d));
      if (fenced.length === 0) {
        this.#buffer = docs;
        continue;
      }
      const resolved = await resolveFenced(exec, attempt.deadline === undefined ? this.#ctx.view : { ...this.#ctx.view, deadline: attempt.deadline }, this.shardId, fenced);
      const kept = new Set(resolved.kept);
      this.#dropped += fenced.length - kept.size;
      this.#buffer = docs.filter((d) => isLive(d) || kept.has(d));
      replacements.push(...resolved.replacements);
    }
    return replacements;
  }

  #open(store: ShardStore): StoreBatchCursor {
    const { filter, sort, projection, batchSize } = this.#ctx;
    const limit = this.#limit;
    return store.findBatches(filter, {
      sort,
      batchSize: limit > 0 ? Math.min(batchSize, limit) : batchSize,
      ...(limit > 0 ? { limit } : {}),
      ...(projection === undefined ? {} : { projection }),
    });
  }

  /**
   * The store cursor ended. If it stopped at the pushed-down limit after dropping fenced copies, kept
   * documents may lie past that limit: read again with a larger one, skipping what was read.
   */
  #afterEnd(): void {
    if (this.#limit > 0 && this.#raw >= this.#limit && this.#dropped > 0) {
      this.#limit = this.#limit * 2 + this.#dropped;
      this.#skipThrough = this.#last;
      this.#raw = 0;
      this.#dropped = 0;
      return;
    }
    this.#done = true;
  }

  async close(): Promise<void> {
    this.#done = true;
    this.#buffer = [];
    const cursor = this.#cursor;
    this.#cursor = undefined;
    await cursor?.close();
  }
}

/** Two views route the query alike: same phase and epoch, same shards asked. */
function sameLayout(a: RoutingView, b: RoutingView, shardsA: readonly string[], shardsB: readonly string[]): boolean {
  if (a === b) return true;
  return a.epoch === b.epoch && a.state.phase === b.state.phase && shardsA.length === shardsB.length && shardsA.every((s, i) => s === shardsB[i]);
}

/** Insert `doc` into `sorted` at its position under `compare`. */
function insertSorted(sorted: StoredDocument[], doc: StoredDocument, compare: (a: Document, b: Document) => number): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(sorted[mid] as StoredDocument, doc) <= 0) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, doc);
}

/**
 * A streaming scatter-gather: `next()` gives the documents of `query` in order (markers included, for
 * the caller to strip), skip and limit applied.
 */
export class ScatterMerge {
  readonly #exec: RedirectExecutor;
  readonly #query: MergeQuery;
  readonly #fields: SortField[];
  readonly #compare: (a: Document, b: Document) => number;
  #view: RoutingView | undefined;
  #shards: readonly string[] = [];
  #streams: ShardStream[] = [];
  /** New owners' copies of dropped fenced documents, waiting for their position. */
  #pending: StoredDocument[] = [];
  /** The last document passed (skipped or emitted), and how many were. */
  #last: StoredDocument | undefined;
  #passed = 0;
  #closed = false;
  /** Times the merge reopened its shards under a new routing view (for tests and metrics). */
  restarts = 0;

  constructor(exec: RedirectExecutor, query: MergeQuery) {
    this.#exec = exec;
    this.#query = query;
    const fields = normalizeSort(query.sort);
    // `_id`, then `_h`, last make the order total: a position names one document, which is what drops
    // duplicates. Under a shard key other than `_id`, `_id` is unique per shard only: two documents may
    // share it on two shards, while the copies of one document share its `_h` too (ADR 0008).
    if (!fields.some((f) => f.path === '_id')) fields.push({ path: '_id', dir: 1 });
    if (!fields.some((f) => f.path === '_h')) fields.push({ path: '_h', dir: 1 });
    this.#fields = fields;
    this.#compare = documentComparator(fields);
  }

  /** The next document, or undefined when the query is exhausted. */
  async next(): Promise<StoredDocument | undefined> {
    const { skip, limit } = this.#query;
    for (;;) {
      if (this.#closed) return undefined;
      if (limit > 0 && this.#passed >= skip + limit) {
        await this.close();
        return undefined;
      }
      if (this.#view === undefined || this.#streams.some((s) => s.hungry)) await this.#exec.run((view) => this.#fill(view));
      const doc = this.#takeFirst();
      if (doc === undefined) return undefined;
      if (this.#last !== undefined && this.#compare(doc, this.#last) <= 0) continue;
      this.#last = doc;
      this.#passed++;
      if (this.#passed > skip) return doc;
    }
  }

  /** Closes every shard's cursor; idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#pending = [];
    await this.#closeStreams();
  }

  async #closeStreams(): Promise<void> {
    const streams = this.#streams;
    this.#streams = [];
    await Promise.all(streams.map((s) => s.close()));
  }

  /** One admission under `view`: reopen every shard if the view's layout changed, then refill the hungry ones. */
  async #fill(view: RoutingView): Promise<void> {
    const shards = targetShards(view, this.#query.filter);
    if (this.#view === undefined || !sameLayout(this.#view, view, this.#shards, shards)) {
      if (this.#last !== undefined || this.#view !== undefined) this.restarts++;
      await this.#closeStreams();
      this.#pending = [];
      this.#view = view;
      this.#shards = shards;
      this.#streams = shards.map((shardId) => new ShardStream(shardId, this.#context(view)));
    }
    let replaced: StoredDocument[][];
    try {
      replaced = await Promise.all(this.#streams.filter((s) => s.hungry).map((s) => s.fill(view)));
    } catch (error) {
      // A stream may have consumed a batch it could not resolve: the next attempt ("moved" sends one)
      // must reopen every shard rather than go on from past that batch.
      await this.#closeStreams();
      this.#view = undefined;
      throw error;
    }
    const filter = this.#query.filter;
    for (const list of replaced) for (const d of list) if (matchesFilter(filter, stripMarkers(d))) insertSorted(this.#pending, d, this.#compare);
  }

  #context(view: RoutingView): StreamContext {
    const { filter, skip, limit, projection, batchSize } = this.#query;
    return {
      exec: this.#exec,
      view,
      filter: applicationFilter(filter),
      sort: sortDocument(this.#fields),
      projection: pushedProjection(projection, this.#fields.map((f) => f.path)),
      batchSize,
      limit: limit > 0 ? skip + limit : 0,
      compare: this.#compare,
    };
  }

  /** Removes and returns the first document among the shards' heads and the pending copies. */
  #takeFirst(): StoredDocument | undefined {
    let best: ShardStream | undefined;
    let bestDoc = this.#pending[0];
    for (const s of this.#streams) {
      const head = s.head;
      if (head !== undefined && (bestDoc === undefined || this.#compare(head, bestDoc) < 0)) {
        best = s;
        bestDoc = head;
      }
    }
    if (best !== undefined) best.shift();
    else if (bestDoc !== undefined) this.#pending.shift();
    return bestDoc;
  }
}
