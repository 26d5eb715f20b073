/**
 * `ShardedCollection<T>`: the application's data path. Routes every single-key operation by `_id`
 * to the owning shard, follows the online migration protocol of ADR 0002 while a migration runs,
 * and answers other queries by scatter-gather with a merge in the server's sort order.
 */
import { ObjectId } from 'mongodb';
import { updateOne as mingoUpdateOne } from 'mingo';
import type { Document, Filter, Sort, UpdateFilter } from 'mongodb';
import type { RoutingState } from '../router/routing-state.js';
import {
  ErrorCode,
  hasErrorCode,
  ShardkitError,
  ShardkitInputError,
  ShardkitInvalidArgumentError,
  ShardkitRouterError,
  ShardkitStoreError,
} from '../errors.js';
import { assertShardKey, keyToString } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import type { RoutingSource } from '../router/routing-source.js';
import { idKey } from '../stores/bson-order.js';
import type { StoreProvider } from '../stores/store-provider.js';
import type { ShardStore, StoreBulkResult, StoredDocument, StoreWriteOp, WriteOutcome } from '../stores/shard-store.js';
import { withVersionBump } from '../stores/store-filters.js';
import { compareValues, documentComparator, normalizeSort, sortDocument } from './compare.js';
import {
  applyProjection,
  assertNoReserved,
  copyForTarget,
  fenceEpoch,
  filterKey,
  hasData,
  isFence,
  isLive,
  isTombstone,
  matchesFilter,
  pushedProjection,
  requireFilterKey,
  stripMarkers,
} from './documents.js';
import { type KeyPlace, ownerOfStored, placeKey, type RoutingView, RoutingViews } from './routing-view.js';

/**
 * A query filter on the application's documents. The driver's `Filter<T>` pins `_id` to `ObjectId` when
 * `T` does not declare it, while shard keys are also strings, numbers and bytes; any document is accepted.
 */
export type ShardedFilter<T extends Document = Document> = Filter<T> | Document;

/** A document to insert: `_id` may be omitted (an ObjectId is assigned) or be any shard key. */
export type NewDocument<T extends Document = Document> = Omit<T, '_id'> & { _id?: unknown };

/** Options of {@link ShardedCollection}. */
export interface ShardedCollectionOptions {
  /** Collection name, for messages (the provider already knows which collection its stores hold). */
  readonly name: string;
  /** The routing state to follow. */
  readonly routing: RoutingSource;
  /** Where shard stores come from. */
  readonly pool: StoreProvider;
  /** How many times one operation may be sent elsewhere after a shard said "moved" (default 3). */
  readonly maxRedirects?: number;
}

/** Options of {@link ShardedCollection.find}. */
export interface ShardedFindOptions {
  /** Sort spec; `_id` is appended as a tiebreaker so merged pages are deterministic. */
  readonly sort?: Sort;
  /** At most this many documents; 0 or absent: no limit. */
  readonly limit?: number;
  /** Skip this many documents of the merged order. */
  readonly skip?: number;
  /** MongoDB projection (plain 0/1 projections are pushed down; operator projections apply client-side). */
  readonly projection?: Document;
}

/** Result of a single-document update or replace. */
export interface ShardedUpdateResult {
  readonly matchedCount: number;
  readonly modifiedCount: number;
  readonly upsertedCount: number;
  readonly upsertedId: unknown;
}

/** One write of {@link ShardedCollection.bulkWrite}. Every filter must pin `_id` by equality. */
export type ShardedWriteOp<T extends Document = Document> =
  | { readonly insertOne: { readonly document: NewDocument<T> } }
  | { readonly updateOne: { readonly filter: ShardedFilter<T>; readonly update: UpdateFilter<T> | Document[]; readonly upsert?: boolean } }
  | { readonly replaceOne: { readonly filter: ShardedFilter<T>; readonly replacement: Document; readonly upsert?: boolean } }
  | { readonly deleteOne: { readonly filter: ShardedFilter<T> } };

/** Result of {@link ShardedCollection.bulkWrite} (unordered: every op is attempted). */
export interface ShardedBulkWriteResult {
  readonly insertedCount: number;
  readonly matchedCount: number;
  readonly modifiedCount: number;
  readonly deletedCount: number;
  readonly upsertedCount: number;
  /** `_id` of each insert that succeeded, by op index. */
  readonly insertedIds: Record<number, unknown>;
  /** Failed ops by index in the submitted array, ascending; every other op was applied. */
  readonly errors: ReadonlyArray<{ readonly index: number; readonly error: Error }>;
}

type Prepared =
  | { readonly kind: 'insert'; readonly key: ShardKey; readonly data: Document }
  | { readonly kind: 'update'; readonly key: ShardKey; readonly filter: Filter<Document>; readonly update: UpdateFilter<Document> | Document[]; readonly upsert: boolean }
  | { readonly kind: 'replace'; readonly key: ShardKey; readonly filter: Filter<Document>; readonly replacement: Document; readonly upsert: boolean }
  | { readonly kind: 'delete'; readonly key: ShardKey; readonly filter: Filter<Document> };

interface OpOutcome {
  readonly inserted: number;
  readonly matched: number;
  readonly modified: number;
  readonly deleted: number;
  readonly upserted: number;
  readonly upsertedId?: unknown;
}

const NO_MARKERS: Readonly<Document> = { _ph: { $exists: false }, _ts: { $exists: false } };
const LIVE_ONLY: Readonly<Document> = { _moved: { $exists: false }, _ph: { $exists: false }, _ts: { $exists: false } };
const FENCED_DATA: Readonly<Document> = { _moved: { $exists: true }, _ph: { $exists: false }, _ts: { $exists: false } };
const MAX_WRITE_RETRIES = 4;

function and(filter: Filter<Document>, extra: Readonly<Document>): Filter<Document> {
  const keys = Object.keys(filter);
  if (keys.length === 0) return { ...extra };
  if (Object.keys(extra).some((k) => keys.includes(k))) return { $and: [filter, extra] };
  return { ...filter, ...extra };
}

function redactText(text: string): string {
  return text.replace(/(mongodb(?:\+srv)?:\/\/)[^@/\s]+@/gi, '$1****@');
}

/** Map any failure of a shard call to an error that names the shard and keeps the original as `cause`. */
function shardError(shardId: string, error: unknown): Error {
  if (error instanceof ShardkitError) {
    if (error.shardId === shardId) return error;
    // Misuse and bad input are the caller's, whichever shard noticed them.
    if (error instanceof ShardkitInvalidArgumentError || error instanceof ShardkitInputError) return error;
  }
  const message = redactText(error instanceof Error ? error.message : String(error));
  let code: ErrorCode = ErrorCode.storeFailure;
  if (error instanceof ShardkitError) code = error.code;
  else if ((error as { code?: unknown } | null)?.code === 11000) code = ErrorCode.storeDuplicateKey;
  else if (/Network|ServerSelection|Timeout/.test((error as Error | null)?.name ?? '')) code = ErrorCode.storeUnavailable;
  return new ShardkitStoreError(code, `shard ${shardId}: ${message}`, { shardId, cause: error });
}

function isDuplicate(error: unknown): boolean {
  return hasErrorCode(error, ErrorCode.storeDuplicateKey);
}

function moved(shardId: string, why: string): ShardkitRouterError {
  return new ShardkitRouterError(ErrorCode.keyMoved, `shard ${shardId}: ${why}`, { shardId });
}

function duplicate(shardId: string, key: ShardKey): ShardkitStoreError {
  return new ShardkitStoreError(ErrorCode.storeDuplicateKey, `shard ${shardId}: duplicate key: _id ${keyToString(key)} already exists`, {
    shardId,
  });
}

/** A single-key write that met a changed entry on every one of its attempts. */
function keptRacing(shardId: string, what: 'insert' | 'upsert' | 'delete', key: ShardKey): ShardkitStoreError {
  return new ShardkitStoreError(ErrorCode.storeFailure, `shard ${shardId}: ${what} of _id ${keyToString(key)} kept racing with other writers`, { shardId });
}

function checkCount(value: number | undefined, what: string): number {
  if (value === undefined) return 0;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new ShardkitInvalidArgumentError(`${what} must be an integer >= 0 (got ${String(value)})`);
  }
  return value;
}

/** Refuse updates that would write shardkit's fields, before anything is routed. */
function assertUpdate(update: UpdateFilter<Document> | Document[]): void {
  withVersionBump(update);
  if (Array.isArray(update)) return;
  for (const [op, fields] of Object.entries(update)) {
    if (fields === null || typeof fields !== 'object') continue;
    for (const path of Object.keys(fields)) {
      const target = op === '$rename' ? [path, String((fields as Document)[path])] : [path];
      for (const p of target) {
        if (p === '_h' || p.startsWith('_h.')) {
          throw new ShardkitInvalidArgumentError(`update must not touch the reserved field '_h' (${op} ${p})`);
        }
      }
    }
  }
}

/** The update with the key's ring point set on insert, so an upsert stores `_h`. */
function withPoint(update: UpdateFilter<Document> | Document[], h: number): UpdateFilter<Document> | Document[] {
  if (Array.isArray(update)) return [...update, { $set: { _h: h } }];
  const onInsert = (update as { $setOnInsert?: Document }).$setOnInsert;
  return { ...update, $setOnInsert: { ...onInsert, _h: h } };
}

/** The document an upsert creates: the filter's top-level equalities, then the update. */
function upsertDocument(filter: Filter<Document>, update: UpdateFilter<Document> | Document[], id: ShardKey): Document {
  const seed: Document = {};
  for (const [k, v] of Object.entries(filter)) {
    if (k.startsWith('$') || k.includes('.')) continue;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some((x) => x.startsWith('$'))) continue;
    seed[k] = v;
  }
  seed['_id'] = id;
  let modifier: unknown = update;
  if (!Array.isArray(update)) {
    const { $setOnInsert, ...ops } = update as Document;
    modifier = $setOnInsert === undefined ? ops : { ...ops, $set: { ...(ops['$set'] as Document | undefined), ...($setOnInsert as Document) } };
  }
  const target = [seed];
  mingoUpdateOne(target, {}, modifier as Parameters<typeof mingoUpdateOne>[2]);
  const out = target[0] as Document;
  delete out['_h'];
  delete out['_v'];
  return out;
}

const ZERO: OpOutcome = { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 };

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
  readonly #routing: RoutingSource;
  readonly #pool: StoreProvider;
  readonly #maxRedirects: number;
  readonly #views = new RoutingViews();
  #redirects = 0;
  /** The view a "moved" error was raised under a state just fetched for it: #run retries there without fetching again. */
  readonly #freshViews = new WeakMap<Error, RoutingView>();
  /** The last routing state whose topologies were handed to the pool (states are immutable). */
  #learned: RoutingState | undefined;

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
    this.name = options.name;
    this.#routing = options.routing;
    this.#pool = options.pool;
    this.#maxRedirects = maxRedirects;
  }

  /** Redirects taken so far (operations sent again after a shard said "moved"). */
  get redirects(): number {
    return this.#redirects;
  }

  // --- routing ---------------------------------------------------------------------------

  async #view(): Promise<RoutingView> {
    let state: RoutingState;
    try {
      state = this.#routing.current();
    } catch (error) {
      // A lapsed lease means "refresh before serving", not "fail".
      if (!hasErrorCode(error, ErrorCode.leaseExpired)) throw error;
      state = await this.#routing.refresh();
    }
    this.#learn(state);
    return this.#views.view(state);
  }

  async #refreshed(): Promise<RoutingView> {
    const state = await this.#routing.refresh();
    this.#learn(state);
    return this.#views.view(state);
  }

  /** Hand a routing state's topologies to the pool, once per state object (sources hand out the same one). */
  #learn(state: RoutingState): void {
    if (state === this.#learned) return;
    this.#learned = state;
    if (this.#pool.addTopology === undefined) return;
    if (state.phase === 'migrating') this.#pool.addTopology(state.from);
    this.#pool.addTopology(state.topology);
  }

  /** Run `fn` under the current routing view; on "moved", refresh and run again, within the redirect budget. */
  async #run<R>(fn: (view: RoutingView) => Promise<R>, used = 0): Promise<R> {
    let view = used > 0 ? await this.#refreshed() : await this.#view();
    for (let redirects = used; ; redirects++) {
      try {
        return await fn(view);
      } catch (error) {
        if (!hasErrorCode(error, ErrorCode.keyMoved)) throw error;
        if (redirects >= this.#maxRedirects) {
          throw new ShardkitRouterError(
            ErrorCode.redirectLimit,
            `${this.name}: gave up after ${String(redirects)} redirects at epoch ${String(view.epoch)} (${error.message})`,
            { cause: error, shardId: error.shardId },
          );
        }
        this.#redirects++;
        view = this.#freshViews.get(error) ?? (await this.#refreshed());
      }
    }
  }

  /**
   * Called when an operation under a migrating view is about to use, or copy to the new owner, a fenced
   * copy at a key's old owner because the new owner had nothing for the key (no document, no tombstone).
   * While the migration runs that layout is the window between a fence and its copy (a copier or a
   * router in flight or dead between the two), and the fenced copy is the latest value. Once
   * `stable(e+2)` is published it never is: verify saw a document or tombstone at the new owner for every
   * fenced `_id`, so "nothing there" means a router on the stable state deleted it (stable-phase deletes
   * leave no tombstone) and the fenced copy is stale until cleanup removes it. So: refresh, and unless
   * the published state is still this view's, answer "moved" so the whole operation runs again under
   * the new state (within the redirect budget), as for any other fence (ADR 0002).
   *
   * Why this is enough for a read: the read of the new owner that found nothing completed before this
   * refresh was sent, and the refresh still saw `migrating(e+1)`, so `stable(e+2)` was published after
   * that read and no stable-phase delete (which needs a router on `e+2`) can precede it. The read is
   * then linearized where the migrating-phase argument puts it: at that read, or at the fence if the
   * fence came later, when the fenced copy was the key's latest value. This needs `refresh()` to read
   * the config store (a cached answer would break it).
   *
   * A write copies after the refresh, and `stable(e+2)` plus a stable-phase delete can still land
   * between the two: a window of one store call (the copy), where without this check it was the rest of
   * the router's lease. Closing it needs the migrator or the stable state's help (ADR 0003).
   */
  async #confirmMigrating(view: RoutingView, shardId: string, id: ShardKey): Promise<void> {
    const state = await this.#routing.refresh();
    this.#learn(state);
    if (state.phase === 'migrating' && state.epoch === view.epoch) return;
    const error = moved(shardId, `_id ${keyToString(id)}: fenced here, nothing at the new owner, and epoch ${String(view.epoch)} is over (now ${String(state.epoch)})`);
    this.#freshViews.set(error, this.#views.view(state));
    throw error;
  }

  async #on<R>(shardId: string, fn: (store: ShardStore) => Promise<R>): Promise<R> {
    try {
      return await fn(await this.#pool.store(shardId));
    } catch (error) {
      throw shardError(shardId, error);
    }
  }

  #get(shardId: string, id: ShardKey): Promise<StoredDocument | null> {
    return this.#on(shardId, (s) => s.get(id));
  }

  // --- single-key reads ------------------------------------------------------------------

  /** The stored document (markers included) an application read of `id` sees, or null. */
  async #readKey(view: RoutingView, id: ShardKey): Promise<StoredDocument | null> {
    const place = placeKey(view, id);
    if (place.old === undefined) return this.#atOwner(view, place.owner, await this.#get(place.owner, id));
    const atNew = await this.#get(place.owner, id);
    if (atNew !== null) {
      if (isLive(atNew)) return atNew;
      if (isTombstone(atNew)) return null;
      if (fenceEpoch(atNew) > view.epoch) throw moved(place.owner, `_id ${keyToString(id)} moved on at epoch ${String(fenceEpoch(atNew))}`);
      // A fence left at the new owner by an earlier migration is no copy: the old owner still has the data.
    }
    const atOld = await this.#get(place.old, id);
    if (atOld !== null && fenceEpoch(atOld) > view.epoch) throw moved(place.old, `_id ${keyToString(id)} moved at epoch ${String(fenceEpoch(atOld))}`);
    if (atOld !== null && hasData(atOld)) {
      if (isFence(atOld)) await this.#confirmMigrating(view, place.old, id);
      return atOld;
    }
    // A tombstone at the old owner is a delete, whatever a relic elsewhere still holds.
    if (atOld !== null && isTombstone(atOld)) return null;
    // Nothing (or a placeholder) at the old owner: a relic at the new one (an aborted migration's fence on
    // data that never reached the shard it was leaving for) still holds the latest data (ADR 0003).
    return atNew !== null && hasData(atNew) ? atNew : null;
  }

  /**
   * Stable-phase meaning of a raw read at the owner: a fence or placeholder there means we are behind,
   * except a leftover placeholder (`#isLeftover`), which stands for no document.
   */
  #atOwner(view: RoutingView, shardId: string, doc: StoredDocument | null): StoredDocument | null {
    if (doc === null || isTombstone(doc) || this.#isLeftover(view, doc)) return null;
    if (isFence(doc)) throw moved(shardId, `_id is fenced for migration epoch ${String(fenceEpoch(doc))}`);
    return doc;
  }

  // --- single-key writes -----------------------------------------------------------------

  /**
   * Make the new owner hold the key before a write there: fence it at the old owner, copy what was
   * there insert-if-absent. Returns what the new owner held before (live or tombstone), or null.
   */
  async #prepareNew(view: RoutingView, place: KeyPlace & { old: string }): Promise<StoredDocument | null> {
    const atNew = await this.#reclaimed(view, place, await this.#get(place.owner, place.id));
    if (atNew !== null) {
      if (isLive(atNew) || isTombstone(atNew)) return atNew;
      // Either a newer migration fenced it here, or an older one left a fence we cannot write over.
      throw moved(place.owner, `_id ${keyToString(place.id)} is fenced at the new owner (epoch ${String(fenceEpoch(atNew))})`);
    }
    const fenced = await this.#fence(view, place);
    if (fenced !== null && hasData(fenced)) {
      await this.#confirmMigrating(view, place.old, place.id);
      await this.#on(place.owner, (s) => s.insertIfAbsent([copyForTarget(fenced)]));
    }
    return null;
  }

  /**
   * What the new owner holds for a write, once a relic there is dealt with. A relic is a fence older than
   * our epoch at the key's new owner: the new owner gave the key away in an earlier (aborted) leg and
   * takes it back now, before the reverse copier reached it (ADR 0003). Without this step such writes
   * would be answered "moved" until the copier came by. The steps are the copier's for one key:
   * 1. a relic with data that the old owner lacks is copied there first (rule 1), so the old owner holds
   *    the latest data and a reader that finds nothing at the new owner falls back to the right copy;
   * 2. the key is fenced at the old owner with our epoch: what it holds is final from now on;
   * 3. the relic (only a fence older than our epoch: never a write made on this epoch) is deleted and the
   *    old owner's entry installed insert-if-absent: its data, or its tombstone (a delete made while the
   *    key was away must stay a delete); a placeholder there means the key exists nowhere.
   * Between 3's delete and insert a reader finds nothing at the new owner and reads the old owner's
   * fenced, final copy. Anything else returns `atNew` unchanged.
   */
  async #reclaimed(view: RoutingView, place: KeyPlace & { old: string }, atNew: StoredDocument | null): Promise<StoredDocument | null> {
    if (atNew === null || isLive(atNew) || !isFence(atNew) || fenceEpoch(atNew) >= view.epoch) return atNew;
    // Insert-if-absent: whatever the old owner holds (newer data, a tombstone) wins.
    if (hasData(atNew)) await this.#on(place.old, (s) => s.insertIfAbsent([copyForTarget(atNew)]));
    const final = await this.#fence(view, place);
    const h = typeof atNew._h === 'number' ? atNew._h : place.h;
    await this.#on(place.owner, (s) => s.deleteRange({ start: h - 1, end: h }, { _id: place.id, _moved: { $lt: view.epoch } }, 1));
    if (final !== null && hasData(final)) {
      await this.#on(place.owner, (s) => s.insertIfAbsent([copyForTarget(final)]));
    } else if (final !== null && isTombstone(final)) {
      await this.#on(place.owner, (s) => s.insertIfAbsent([{ _id: final._id, _h: final._h, _v: final._v, _ts: true }]));
    }
    return this.#get(place.owner, place.id);
  }

  async #fence(view: RoutingView, place: KeyPlace & { old: string }): Promise<StoredDocument | null> {
    const [fenced] = await this.#on(place.old, (s) => s.fence([{ id: place.id, h: place.h }], view.epoch));
    if (fenced === undefined) return null;
    if (fenceEpoch(fenced) > view.epoch) {
      throw moved(place.old, `_id ${keyToString(place.id)} was fenced by a newer migration (epoch ${String(fenceEpoch(fenced))})`);
    }
    return fenced;
  }

  /** After a conditional write at `shardId` matched nothing: a fence there means "moved" (a leftover does not). */
  async #checkNoMatch(view: RoutingView, shardId: string, id: ShardKey): Promise<void> {
    const doc = await this.#get(shardId, id);
    if (doc !== null && isFence(doc) && !this.#isLeftover(view, doc)) throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(fenceEpoch(doc))})`);
  }

  /**
   * Replace a tombstone with `doc` in one atomic store call (a delete-then-insert would show a reader the
   * old owner's fenced copy of the deleted document in between); false when the tombstone was gone.
   */
  async #replaceTombstone(shardId: string, tomb: StoredDocument, doc: StoredDocument): Promise<boolean> {
    const next: StoredDocument = { ...doc, _v: Math.max(doc._v, (tomb._v ?? 0) + 1) };
    return this.#on(shardId, (s) => s.replaceTombstone(next));
  }

  /**
   * A placeholder at a key's owner under a stable view, fenced by an epoch older than the view's: a
   * leftover of a finished migration awaiting cleanup, typically a placeholder the forward leg of an
   * aborted migration left at the original owner, which `stable(e+3)` names owner again (ADR 0003).
   * It is no "moved" signal: a migration this router has not seen fences with an epoch above the view's,
   * and a refresh cannot change anything (before this rule, every write on such a key ended in
   * `redirectLimit`). It stands for no document: under a stable state the owner is the only shard whose
   * entry counts (verify saw every moved key's entry there), and a placeholder holds no data. Only
   * placeholders: a fence with data at the owner is left alone (verify allows none, and if one were
   * there its data might be the latest, ADR 0003's relic case), so it still answers "moved".
   * Callers pass only entries read at the key's owner.
   */
  #isLeftover(view: RoutingView, doc: StoredDocument): boolean {
    return view.state.phase === 'stable' && doc._ph === true && !isTombstone(doc) && fenceEpoch(doc) < view.epoch;
  }

  /**
   * Remove the leftover placeholder `marker` (`#isLeftover`) so a write can take the key, conditionally:
   * only an entry with this `_id` that is still a placeholder with this exact fence epoch is deleted.
   * The caller then retries its own write, which the store still checks (insert fails on any `_id`).
   * Why no acknowledged write or delete is lost:
   * - the placeholder holds no data and no delete (a delete at the owner leaves nothing or a tombstone),
   *   so removing it removes nothing a reader could have seen: before and after, the key is absent;
   * - cleanup may delete the same placeholder at the same time: our delete then matches nothing and the
   *   retried write proceeds as it would after cleanup;
   * - another writer may take the key between our delete and our write: the write meets its live
   *   document (a duplicate, or a conditional update that matches it), as on one server;
   * - the entry may have changed since we read it (a newer placeholder, a document): the filter no longer
   *   matches, nothing is deleted, and the retried write meets the new entry and answers for it;
   * - a newer migration cannot rely on this placeholder as its fence (`fence` keeps an existing fence's
   *   epoch): a migration starts only once the previous one's journal is done, and its cleanup deletes
   *   every placeholder of its ranges at the targets first. While it runs, our view is not stable.
   */
  async #clearLeftover(shardId: string, marker: StoredDocument): Promise<void> {
    const h = marker._h;
    await this.#on(shardId, (s) => s.deleteRange({ start: h - 1, end: h }, { _id: marker._id, _ph: true, _moved: marker._moved }, 1));
  }

  /** Insert at the shard that must hold the key; a duplicate there is resolved by what holds the `_id`. */
  async #insertAt(view: RoutingView, shardId: string, id: ShardKey, doc: StoredDocument): Promise<void> {
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      try {
        await this.#on(shardId, (s) => s.insert(doc));
        return;
      } catch (error) {
        if (!isDuplicate(error)) throw error;
      }
      const current = await this.#get(shardId, id);
      if (current === null) continue;
      if (isLive(current)) throw duplicate(shardId, id);
      if (isTombstone(current)) {
        if (await this.#replaceTombstone(shardId, current, doc)) return;
        continue;
      }
      if (this.#isLeftover(view, current)) {
        await this.#clearLeftover(shardId, current);
        continue;
      }
      throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(fenceEpoch(current))})`);
    }
    throw keptRacing(shardId, 'insert', id);
  }

  async #insertKey(view: RoutingView, id: ShardKey, data: Document): Promise<OpOutcome> {
    const place = placeKey(view, id);
    const doc: StoredDocument = { ...data, _id: id, _h: place.h, _v: 1 };
    if (place.old !== undefined) {
      const atNew = await this.#prepareNewForInsert(view, { ...place, old: place.old });
      if (atNew !== null) {
        if (!(await this.#replaceTombstone(place.owner, atNew, doc))) {
          throw moved(place.owner, `tombstone of _id ${keyToString(id)} changed under the insert`);
        }
        return { ...ZERO, inserted: 1 };
      }
    }
    await this.#insertAt(view, place.owner, id, doc);
    return { ...ZERO, inserted: 1 };
  }

  /**
   * Insert while the key moves: a live document at either owner is a duplicate, as on one server.
   * Returns a tombstone at the new owner to replace, or null when the key is free there.
   */
  async #prepareNewForInsert(view: RoutingView, place: KeyPlace & { old: string }): Promise<StoredDocument | null> {
    const atNew = await this.#reclaimed(view, place, await this.#get(place.owner, place.id));
    if (atNew !== null) {
      if (isLive(atNew)) throw duplicate(place.owner, place.id);
      if (isTombstone(atNew)) return atNew;
      throw moved(place.owner, `_id ${keyToString(place.id)} is fenced at the new owner (epoch ${String(fenceEpoch(atNew))})`);
    }
    const fenced = await this.#fence(view, place);
    if (fenced !== null && hasData(fenced)) {
      await this.#confirmMigrating(view, place.old, place.id);
      await this.#on(place.owner, (s) => s.insertIfAbsent([copyForTarget(fenced)]));
      throw duplicate(place.old, place.id);
    }
    return null;
  }

  async #updateKey(
    view: RoutingView,
    id: ShardKey,
    filter: Filter<Document>,
    update: UpdateFilter<Document> | Document[],
    upsert: boolean,
  ): Promise<OpOutcome> {
    const place = placeKey(view, id);
    if (place.old !== undefined) await this.#prepareNew(view, { ...place, old: place.old });
    const sent = withPoint(update, place.h);
    return this.#writeOne(
      view,
      place.owner,
      id,
      upsert,
      (s) => s.updateOne(filter, sent, { upsert }),
      () => ({ ...upsertDocument(filter, update, id), _id: id, _h: place.h, _v: 1 }),
    );
  }

  async #replaceKey(
    view: RoutingView,
    id: ShardKey,
    filter: Filter<Document>,
    replacement: Document,
    upsert: boolean,
  ): Promise<OpOutcome> {
    const place = placeKey(view, id);
    if (place.old !== undefined) await this.#prepareNew(view, { ...place, old: place.old });
    const doc: StoredDocument = { ...replacement, _id: id, _h: place.h, _v: 1 };
    return this.#writeOne(view, place.owner, id, upsert, (s) => s.replaceOne(filter, doc, { upsert }), () => doc);
  }

  /**
   * One conditional single-key write at its owner (an update or a replace). An upsert that meets a
   * duplicate looks at what holds the `_id`: a live document (a racing insert) or nothing means try
   * again; a leftover placeholder is cleared; a fence means "moved"; a tombstone is replaced by the
   * upserted document in one conditional call.
   */
  async #writeOne(
    view: RoutingView,
    shardId: string,
    id: ShardKey,
    upsert: boolean,
    write: (store: ShardStore) => Promise<WriteOutcome>,
    upserted: () => StoredDocument,
  ): Promise<OpOutcome> {
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      let outcome: WriteOutcome;
      try {
        outcome = await this.#on(shardId, write);
      } catch (error) {
        if (!(upsert && isDuplicate(error))) throw error;
        const current = await this.#get(shardId, id);
        if (current === null || isLive(current)) continue;
        if (this.#isLeftover(view, current)) {
          await this.#clearLeftover(shardId, current);
          continue;
        }
        if (isFence(current)) throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(fenceEpoch(current))})`);
        if (await this.#replaceTombstone(shardId, current, upserted())) return { ...ZERO, upserted: 1, upsertedId: id };
        continue;
      }
      if (outcome.matched === 0 && outcome.upsertedId === undefined) await this.#checkNoMatch(view, shardId, id);
      return {
        ...ZERO,
        matched: outcome.matched,
        modified: outcome.modified,
        upserted: outcome.upsertedId === undefined ? 0 : 1,
        upsertedId: outcome.upsertedId,
      };
    }
    throw keptRacing(shardId, 'upsert', id);
  }

  async #deleteKey(view: RoutingView, id: ShardKey, filter: Filter<Document>): Promise<OpOutcome> {
    const place = placeKey(view, id);
    const shardId = place.owner;
    if (place.old === undefined && !place.settling) {
      const deleted = await this.#on(shardId, (s) => s.deleteOne(filter));
      if (deleted === 0) await this.#checkNoMatch(view, shardId, id);
      return { ...ZERO, deleted };
    }
    // While migrating, make the new owner hold the key first. On a settling stable state the key moved
    // in the migration just committed: the old owner's fenced copy may still be in flight to us from a
    // router on the migrating state, so the delete must leave a tombstone for that copy to meet.
    if (place.old !== undefined) await this.#prepareNew(view, { ...place, old: place.old });
    for (let attempt = 0; attempt < MAX_WRITE_RETRIES; attempt++) {
      const current = await this.#get(shardId, id);
      if (current === null || isTombstone(current) || this.#isLeftover(view, current)) return ZERO;
      if (!isLive(current)) throw moved(shardId, `_id ${keyToString(id)} is fenced (epoch ${String(fenceEpoch(current))})`);
      if (!matchesFilter(filter, stripMarkers(current))) return ZERO;
      // The tombstone, not an absence, is what keeps the old owner's fenced copy from coming back. It
      // replaces exactly the version the filter matched: a write that changed the document since is
      // not overwritten, and the next turn reads what it left (a fence there means "moved").
      // (A document stored without a numeric `_v`, which shardkit never writes, is tombstoned as found.)
      const version = typeof current._v === 'number' ? current._v : undefined;
      if (await this.#on(shardId, (s) => s.tombstone(id, place.h, (version ?? 0) + 1, version))) return { ...ZERO, deleted: 1 };
    }
    throw keptRacing(shardId, 'delete', id);
  }

  async #apply(view: RoutingView, op: Prepared): Promise<OpOutcome> {
    switch (op.kind) {
      case 'insert':
        return this.#insertKey(view, op.key, op.data);
      case 'update':
        return this.#updateKey(view, op.key, op.filter, op.update, op.upsert);
      case 'replace':
        return this.#replaceKey(view, op.key, op.filter, op.replacement, op.upsert);
      case 'delete':
        return this.#deleteKey(view, op.key, op.filter);
    }
  }

  // --- input checks ----------------------------------------------------------------------

  #prepareInsert(doc: NewDocument<T>): Prepared {
    assertNoReserved(doc, 'insertOne: the document');
    const record = doc as Document;
    // As the driver does: an id-less document gets an ObjectId, visible to the caller afterwards.
    if (record['_id'] === undefined) record['_id'] = new ObjectId();
    const key: unknown = record['_id'];
    assertShardKey(key);
    return { kind: 'insert', key, data: { ...record } };
  }

  #prepareUpdate(filter: ShardedFilter<T>, update: UpdateFilter<T> | Document[], upsert: boolean): Prepared {
    const key = requireFilterKey(filter as Filter<Document>, 'updateOne');
    assertUpdate(update as UpdateFilter<Document>);
    return { kind: 'update', key, filter: filter as Filter<Document>, update: update as UpdateFilter<Document>, upsert };
  }

  #prepareReplace(filter: ShardedFilter<T>, replacement: Document, upsert: boolean): Prepared {
    const key = requireFilterKey(filter as Filter<Document>, 'replaceOne');
    assertNoReserved(replacement, 'replaceOne: the replacement');
    for (const k of Object.keys(replacement)) {
      if (k.startsWith('$')) throw new ShardkitInvalidArgumentError(`replaceOne: the replacement must not contain operators ('${k}')`);
    }
    const replacementId: unknown = replacement['_id'];
    if (replacementId !== undefined && compareValues(replacementId, key) !== 0) {
      throw new ShardkitInvalidArgumentError("replaceOne: the replacement would change the immutable field '_id'");
    }
    const { _id: _ignored, ...rest } = replacement;
    return { kind: 'replace', key, filter: filter as Filter<Document>, replacement: rest, upsert };
  }

  #prepareDelete(filter: ShardedFilter<T>): Prepared {
    return { kind: 'delete', key: requireFilterKey(filter as Filter<Document>, 'deleteOne'), filter: filter as Filter<Document> };
  }

  // --- public single-document API ----------------------------------------------------------

  /**
   * Insert one document at the shard its `_id` routes to (an ObjectId is assigned when `_id` is absent).
   *
   * @throws ShardkitInputError `shardkit.key.invalid` for an `_id` that is not a shard key (nothing written).
   * @throws ShardkitStoreError `shardkit.store.duplicateKey` when the `_id` exists (on either owner while it moves).
   */
  async insertOne(doc: NewDocument<T>): Promise<{ insertedId: unknown }> {
    const op = this.#prepareInsert(doc);
    await this.#run((view) => this.#apply(view, op));
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
    let docs: StoredDocument[];
    if (key !== undefined) {
      const doc = await this.#run((view) => this.#readKey(view, key));
      docs = doc !== null && matchesFilter(f, stripMarkers(doc)) ? [doc] : [];
      docs = docs.slice(skip, limit > 0 ? skip + limit : undefined);
    } else {
      docs = await this.#run((view) => this.#scatterFind(view, f, options.sort, skip, limit, options.projection));
    }
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
    const op = this.#prepareUpdate(filter, update, options.upsert === true);
    return toUpdateResult(await this.#run((view) => this.#apply(view, op)));
  }

  /**
   * Replace the one document `filter` pins by `_id` (the replacement may repeat the same `_id`).
   *
   * @throws ShardkitInputError `shardkit.key.invalid` when the filter does not pin a valid `_id`.
   */
  async replaceOne(filter: ShardedFilter<T>, replacement: Document, options: { upsert?: boolean } = {}): Promise<ShardedUpdateResult> {
    const op = this.#prepareReplace(filter, replacement, options.upsert === true);
    return toUpdateResult(await this.#run((view) => this.#apply(view, op)));
  }

  /**
   * Delete the one document `filter` pins by `_id`. While the key moves, the delete leaves a tombstone at
   * the new owner so the old owner's fenced copy cannot come back.
   */
  async deleteOne(filter: ShardedFilter<T>): Promise<{ deletedCount: number }> {
    const op = this.#prepareDelete(filter);
    const outcome = await this.#run((view) => this.#apply(view, op));
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
    let total: number;
    if (key !== undefined) {
      const doc = await this.#run((view) => this.#readKey(view, key));
      total = doc !== null && matchesFilter(f, stripMarkers(doc)) ? 1 : 0;
    } else {
      total = await this.#run((view) => this.#scatterCount(view, f));
    }
    const afterSkip = Math.max(0, total - skip);
    return limit > 0 ? Math.min(afterSkip, limit) : afterSkip;
  }

  /** Create application indexes on every shard of the current routing state (both topologies while migrating). */
  async createIndexes(specs: ReadonlyArray<{ key: Document; name?: string; unique?: boolean }>): Promise<string[]> {
    const view = await this.#view();
    const names = await Promise.all(view.all.map((id) => this.#on(id, (s) => s.createIndexes(specs))));
    return names[0] ?? [];
  }

  /** Create the `{_h: 1, _id: 1}` routing index on every shard of the current routing state. */
  async ensureRoutingIndexes(): Promise<void> {
    const view = await this.#view();
    await Promise.all(view.all.map((id) => this.#on(id, (s) => s.ensureRoutingIndex())));
  }

  // --- bulk ----------------------------------------------------------------------------------

  /**
   * Apply writes grouped by shard: one `store.bulkWrite` round trip per shard for keys that do not move,
   * then the keys that move (while migrating), deletes of keys a settling state's migration moved, and
   * any op a shard turned away, one by one through the migration protocol. Unordered: every op is attempted and failures are reported by index. Invalid
   * keys and misused updates are refused before anything is written.
   *
   * Only an op whose own outcome says it did not apply (matched, deleted and upserted nothing) and whose
   * key is fenced is sent to the new owner: an op that applied just before a migration fenced its key in
   * the same round trip was copied with the document, and must not apply a second time there.
   */
  async bulkWrite(ops: ReadonlyArray<ShardedWriteOp<T>>): Promise<ShardedBulkWriteResult> {
    if (!Array.isArray(ops)) throw new ShardkitInvalidArgumentError('bulkWrite: ops must be an array');
    const prepared = ops.map((op, index) => this.#prepareOp(op, index));
    const view = await this.#view();
    const groups = new Map<string, number[]>();
    const slow: Array<{ index: number; used: number }> = [];
    const places: KeyPlace[] = [];
    prepared.forEach((op, index) => {
      const place = placeKey(view, op.key);
      places[index] = place;
      // Keys that move, and deletes of keys the committed migration moved (they leave a tombstone).
      if (place.old !== undefined || (place.settling && op.kind === 'delete')) slow.push({ index, used: 0 });
      else {
        const group = groups.get(place.owner);
        if (group === undefined) groups.set(place.owner, [index]);
        else group.push(index);
      }
    });
    const totals = { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 };
    const failed = new Map<number, Error>();
    const succeededInserts = new Set<number>();
    await Promise.all(
      [...groups].map(async ([shardId, indices]) => {
        const outcome = await this.#bulkGroup(view, shardId, indices, prepared, places);
        totals.inserted += outcome.result.inserted;
        totals.matched += outcome.result.matched;
        totals.modified += outcome.result.modified;
        totals.deleted += outcome.result.deleted;
        totals.upserted += outcome.result.upserted;
        for (const [index, error] of outcome.errors) failed.set(index, error);
        for (const index of outcome.insertsDone) succeededInserts.add(index);
        slow.push(...outcome.again);
      }),
    );
    slow.sort((a, b) => a.index - b.index);
    for (const { index, used } of slow) {
      const op = prepared[index] as Prepared;
      try {
        const outcome = await this.#run((v) => this.#apply(v, op), used);
        totals.inserted += outcome.inserted;
        totals.matched += outcome.matched;
        totals.modified += outcome.modified;
        totals.deleted += outcome.deleted;
        totals.upserted += outcome.upserted;
        if (op.kind === 'insert') succeededInserts.add(index);
      } catch (error) {
        failed.set(index, error instanceof Error ? error : new Error(String(error)));
      }
    }
    const insertedIds: Record<number, unknown> = {};
    for (const index of [...succeededInserts].sort((a, b) => a - b)) insertedIds[index] = (prepared[index] as Prepared).key;
    return {
      insertedCount: totals.inserted,
      matchedCount: totals.matched,
      modifiedCount: totals.modified,
      deletedCount: totals.deleted,
      upsertedCount: totals.upserted,
      insertedIds,
      errors: [...failed].sort((a, b) => a[0] - b[0]).map(([index, error]) => ({ index, error })),
    };
  }

  #prepareOp(op: ShardedWriteOp<T>, index: number): Prepared {
    try {
      if (op === null || typeof op !== 'object') throw new ShardkitInvalidArgumentError('bulk op must be an object');
      if ('insertOne' in op) return this.#prepareInsert(op.insertOne.document);
      if ('updateOne' in op) return this.#prepareUpdate(op.updateOne.filter, op.updateOne.update, op.updateOne.upsert === true);
      if ('replaceOne' in op) return this.#prepareReplace(op.replaceOne.filter, op.replaceOne.replacement, op.replaceOne.upsert === true);
      if ('deleteOne' in op) return this.#prepareDelete(op.deleteOne.filter);
      throw new ShardkitInvalidArgumentError('bulk op must be one of insertOne, updateOne, replaceOne, deleteOne');
    } catch (error) {
      if (error instanceof Error) error.message = `bulkWrite op ${String(index)}: ${error.message}`;
      throw error;
    }
  }

  /** One shard's share of a bulk: one round trip, then sort out what the shard turned away. */
  async #bulkGroup(
    view: RoutingView,
    shardId: string,
    indices: readonly number[],
    prepared: readonly Prepared[],
    places: readonly KeyPlace[],
  ): Promise<{
    result: Omit<StoreBulkResult, 'errors' | 'results'>;
    errors: Map<number, Error>;
    insertsDone: number[];
    again: Array<{ index: number; used: number }>;
  }> {
    const storeOps: StoreWriteOp[] = indices.map((index) => toStoreOp(prepared[index] as Prepared, places[index] as KeyPlace));
    const errors = new Map<number, Error>();
    const again: Array<{ index: number; used: number }> = [];
    let result: StoreBulkResult;
    try {
      result = await this.#on(shardId, (s) => s.bulkWrite(storeOps));
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      for (const index of indices) errors.set(index, e);
      return { result: { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 }, errors, insertsDone: [], again };
    }
    const failedAt = new Map<number, Error>();
    for (const { index, error } of result.errors) {
      const opIndex = indices[index];
      if (opIndex !== undefined) failedAt.set(opIndex, error instanceof ShardkitError ? error : shardError(shardId, error));
    }
    // Conditional ops that did nothing here: a fence may have turned them away (or their filter missed).
    const unapplied = indices.filter((i, k) => {
      if ((prepared[i] as Prepared).kind === 'insert' || failedAt.has(i)) return false;
      const r = result.results[k];
      if (r === undefined) throw new ShardkitStoreError(ErrorCode.storeFailure, `shard ${shardId}: bulkWrite returned no outcome for op ${String(k)}`, { shardId });
      return r.matched + r.upserted + r.deleted === 0;
    });
    const suspects = [...failedAt].filter(([, e]) => isDuplicate(e)).map(([i]) => i);
    suspects.push(...unapplied);
    let raw = new Map<string, StoredDocument>();
    if (suspects.length > 0) {
      const ids = suspects.map((i) => (prepared[i] as Prepared).key);
      const found = await this.#on(shardId, (s) => s.find({ _id: { $in: ids } })).catch(() => [] as StoredDocument[]);
      raw = new Map(found.map((d) => [idKey(d._id), d]));
    }
    for (const [index, error] of failedAt) {
      const op = prepared[index] as Prepared;
      const current = raw.get(idKey(op.key));
      // A duplicate on a fence was a turn-away; on a tombstone it is a re-insert after a delete; an upsert
      // that raced an insert is retried (as the server retries it). Anything else stays a duplicate.
      // A leftover placeholder (`#isLeftover`) is no turn-away: the single-key path replaces it, no refresh needed.
      if (isDuplicate(error) && current !== undefined && this.#isLeftover(view, current)) again.push({ index, used: 0 });
      else if (isDuplicate(error) && current !== undefined && isFence(current)) again.push({ index, used: 1 });
      else if (isDuplicate(error) && ((current !== undefined && isTombstone(current)) || op.kind !== 'insert')) again.push({ index, used: 0 });
      else errors.set(index, error);
    }
    for (const index of unapplied) {
      const current = raw.get(idKey((prepared[index] as Prepared).key));
      // A fenced key matched nothing here: the op was turned away, so it goes to the new owner.
      // A leftover placeholder is no fence: the op matched nothing because the key does not exist.
      if (current !== undefined && isFence(current) && !this.#isLeftover(view, current)) again.push({ index, used: 1 });
    }
    const insertsDone = indices.filter((i) => (prepared[i] as Prepared).kind === 'insert' && !failedAt.has(i));
    return { result, errors, insertsDone, again };
  }

  // --- scatter-gather --------------------------------------------------------------------

  /**
   * Which fenced documents found at `shardId` count. While migrating, a document fenced at its old owner
   * counts unless the new owner holds the key (a document or a tombstone), and only once a refresh confirms
   * the migration still runs (`#confirmMigrating`); fenced anywhere else it is a
   * leftover of a finished migration. A fence at a key's current owner, or a fence newer than our epoch,
   * means we are behind: "moved". Returns the kept fenced documents, plus the new owner's copies of
   * dropped ones (fetched by `_id`) so a copy made between our queries is not lost.
   */
  async #resolveFenced(
    view: RoutingView,
    shardId: string,
    fenced: readonly StoredDocument[],
  ): Promise<{ kept: StoredDocument[]; replacements: StoredDocument[] }> {
    const kept: StoredDocument[] = [];
    const byNewOwner = new Map<string, StoredDocument[]>();
    for (const doc of fenced) {
      if (!hasData(doc)) continue;
      if (fenceEpoch(doc) > view.epoch) throw moved(shardId, `a document here was fenced at epoch ${String(fenceEpoch(doc))}`);
      const owner = ownerOfStored(view.to, doc);
      const before = view.from === undefined ? owner : ownerOfStored(view.from, doc);
      if (owner === shardId) {
        if (before === shardId) throw moved(shardId, `a document it owns is fenced (epoch ${String(fenceEpoch(doc))})`);
        continue;
      }
      if (before !== shardId) continue;
      const list = byNewOwner.get(owner);
      if (list === undefined) byNewOwner.set(owner, [doc]);
      else list.push(doc);
    }
    const replacements: StoredDocument[] = [];
    await Promise.all(
      [...byNewOwner].map(async ([owner, docs]) => {
        const atNew = await this.#on(owner, (s) => s.find({ _id: { $in: docs.map((d) => d._id) } }));
        const present = new Map<string, StoredDocument>();
        for (const d of atNew) {
          if (fenceEpoch(d) > view.epoch) throw moved(owner, `a document here was fenced at epoch ${String(fenceEpoch(d))}`);
          if (isLive(d) || isTombstone(d)) present.set(idKey(d._id), d);
        }
        for (const doc of docs) {
          const copy = present.get(idKey(doc._id));
          if (copy === undefined) kept.push(doc);
          else if (isLive(copy)) replacements.push(copy);
        }
      }),
    );
    // Fenced copies the new owners had nothing for count only while the migration still runs.
    const [first] = kept;
    if (first !== undefined) await this.#confirmMigrating(view, shardId, first._id as ShardKey);
    return { kept, replacements };
  }

  async #scatterFind(
    view: RoutingView,
    filter: Filter<Document>,
    sort: Sort | undefined,
    skip: number,
    limit: number,
    projection: Document | undefined,
  ): Promise<StoredDocument[]> {
    const fields = normalizeSort(sort);
    if (fields.length > 0 && !fields.some((f) => f.path === '_id')) fields.push({ path: '_id', dir: 1 });
    const sortDoc = fields.length > 0 ? sortDocument(fields) : undefined;
    const want = limit > 0 ? skip + limit : Infinity;
    const pushed = and(filter, NO_MARKERS);
    const proj = pushedProjection(projection, fields.map((f) => f.path));
    const perShard = await Promise.all(
      view.scatter.map(async (shardId) => {
        let batch = want;
        for (;;) {
          const docs = await this.#on(shardId, (s) =>
            s.find(pushed, {
              ...(sortDoc === undefined ? {} : { sort: sortDoc }),
              ...(Number.isFinite(batch) ? { limit: batch } : {}),
              ...(proj === undefined ? {} : { projection: proj }),
            }),
          );
          const live = docs.filter(isLive);
          const resolved = live.length === docs.length ? { kept: [], replacements: [] } : await this.#resolveFenced(view, shardId, docs.filter((d) => !isLive(d)));
          const keptHere = live.length + resolved.kept.length;
          // Dropped fenced copies may have pushed kept documents past the pushed-down limit: ask for more.
          if (!Number.isFinite(batch) || docs.length < batch || keptHere >= want) {
            return { docs: [...live, ...resolved.kept], replacements: resolved.replacements };
          }
          batch = batch * 2 + (docs.length - keptHere);
        }
      }),
    );
    const byId = new Map<string, StoredDocument>();
    for (const { docs } of perShard) for (const d of docs) if (!byId.has(idKey(d._id))) byId.set(idKey(d._id), d);
    for (const { replacements } of perShard) {
      for (const d of replacements) if (matchesFilter(filter, stripMarkers(d))) byId.set(idKey(d._id), d);
    }
    const merged = [...byId.values()];
    if (fields.length > 0) merged.sort(documentComparator(fields));
    return merged.slice(skip, Number.isFinite(want) ? want : undefined);
  }

  async #scatterCount(view: RoutingView, filter: Filter<Document>): Promise<number> {
    const counts = await Promise.all(
      view.scatter.map(async (shardId) => {
        const [live, fenced] = await Promise.all([
          this.#on(shardId, (s) => s.count(and(filter, LIVE_ONLY))),
          this.#on(shardId, (s) => s.find(and(filter, FENCED_DATA), { projection: { _id: 1, _h: 1, _v: 1, _moved: 1, _ph: 1, _ts: 1 } })),
        ]);
        if (fenced.length === 0) return live;
        const { kept } = await this.#resolveFenced(view, shardId, fenced);
        return live + kept.length;
      }),
    );
    return counts.reduce((a, b) => a + b, 0);
  }
}

function toUpdateResult(outcome: OpOutcome): ShardedUpdateResult {
  return {
    matchedCount: outcome.matched,
    modifiedCount: outcome.modified,
    upsertedCount: outcome.upserted,
    upsertedId: outcome.upsertedId ?? null,
  };
}

function toStoreOp(op: Prepared, place: KeyPlace): StoreWriteOp {
  switch (op.kind) {
    case 'insert':
      return { insertOne: { document: { ...op.data, _id: op.key, _h: place.h, _v: 1 } } };
    case 'update':
      return { updateOne: { filter: op.filter, update: withPoint(op.update, place.h), upsert: op.upsert } };
    case 'replace':
      return { replaceOne: { filter: op.filter, replacement: { ...op.replacement, _id: op.key, _h: place.h, _v: 1 }, upsert: op.upsert } };
    case 'delete':
      return { deleteOne: { filter: op.filter } };
  }
}
