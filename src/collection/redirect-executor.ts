/**
 * The one redirect loop of the data path: every operation runs under a routing view, and a shard that
 * answers "moved" (a fence newer than the view, ADR 0002) sends it back through a refreshed routing
 * state, at most `maxRedirects` times. Also the one way to call a shard (its errors mapped to errors
 * naming it) and the "is the migration still running?" check that ADR 0003 requires before a router
 * uses an old owner's fenced copy that the new owner lacks.
 */
import { systemClock } from '../clock.js';
import { ErrorCode, hasErrorCode, ShardkitRouterError } from '../errors.js';
import { keyToString } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import type { RoutingSource } from '../router/routing-source.js';
import type { RoutingState } from '../router/routing-state.js';
import type { ShardStore, StoredDocument } from '../stores/shard-store.js';
import { callWithDeadline, deadlineIn } from '../stores/deadline.js';
import type { StoreProvider } from '../stores/store-provider.js';
import { type RoutingView, RoutingViews } from './routing-view.js';
import { moved, shardError } from './shard-errors.js';

/** Runs operations under routing views and calls shards on their behalf. */
export class RedirectExecutor {
  readonly #name: string;
  readonly #routing: RoutingSource;
  readonly #pool: StoreProvider;
  readonly #maxRedirects: number;
  readonly #operationTimeoutMs: number;
  readonly #views = new RoutingViews();
  #redirects = 0;
  /** The view a "moved" error was raised under a state just fetched for it: `run` retries there without fetching again. */
  readonly #freshViews = new WeakMap<Error, RoutingView>();
  /** The last routing state whose topologies were handed to the pool (states are immutable). */
  #learned: RoutingState | undefined;

  /** Arguments are checked by the caller (`ShardedCollection`'s constructor). */
  constructor(name: string, routing: RoutingSource, pool: StoreProvider, maxRedirects: number, operationTimeoutMs = 0) {
    this.#name = name;
    this.#routing = routing;
    this.#pool = pool;
    this.#maxRedirects = maxRedirects;
    this.#operationTimeoutMs = operationTimeoutMs;
  }

  /** Redirects taken so far (operations sent again after a shard said "moved"). */
  get redirects(): number {
    return this.#redirects;
  }

  /**
   * The view of the current routing state (refreshed first when the source's lease lapsed); the view
   * itself, not a promise, while the lease holds, so a point operation waits on nothing before its
   * first shard call.
   */
  view(): RoutingView | Promise<RoutingView> {
    let state: RoutingState;
    try {
      state = this.#routing.current();
    } catch (error) {
      // A lapsed lease means "refresh before serving", not "fail".
      if (!hasErrorCode(error, ErrorCode.leaseExpired)) return Promise.reject(error as Error);
      return this.#refreshed();
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

  /**
   * Run `fn` under the current routing view; on "moved", refresh and run again, within the redirect
   * budget. `used` counts redirects an earlier attempt already took (the run then starts refreshed).
   */
  async run<R>(fn: (view: RoutingView) => Promise<R>, used = 0): Promise<R> {
    const first = used > 0 ? this.#refreshed() : this.view();
    let view = first instanceof Promise ? await first : first;
    for (let redirects = used; ; redirects++) {
      try {
        return await fn(this.#admitted(view));
      } catch (error) {
        if (!hasErrorCode(error, ErrorCode.keyMoved)) throw error;
        if (redirects >= this.#maxRedirects) {
          throw new ShardkitRouterError(
            ErrorCode.redirectLimit,
            `${this.#name}: gave up after ${String(redirects)} redirects at epoch ${String(view.epoch)} (${error.message})`,
            { cause: error, shardId: error.shardId },
          );
        }
        this.#redirects++;
        view = this.#freshViews.get(error) ?? (await this.#refreshed());
      }
    }
  }

  /**
   * The view of one attempt, admitted now under a view whose lease holds: all its shard calls share
   * one deadline (`callShard` hands it to each), so its last call cannot land later than the first
   * could (ADR 0003, "The bound"). Carried by the view rather than the async context: see `deadline.ts`.
   */
  #admitted(view: RoutingView): RoutingView {
    if (this.#operationTimeoutMs <= 0) return view;
    // Field by field, one shape for every attempt: a spread of the view cost more than the attempt's routing.
    const { state, epoch, to, from, settling, scatter, all, shardKey } = view;
    return { state, epoch, to, from, settling, scatter, all, shardKey, deadline: deadlineIn(systemClock, this.#operationTimeoutMs) };
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
   * between the two: a window of one store call (the copy), closed by the settling state (ADR 0003).
   */
  async confirmMigrating(view: RoutingView, shardId: string, id: ShardKey): Promise<void> {
    const state = await this.#routing.refresh();
    this.#learn(state);
    if (state.phase === 'migrating' && state.epoch === view.epoch) return;
    const error = moved(shardId, `_id ${keyToString(id)}: fenced here, nothing at the new owner, and epoch ${String(view.epoch)} is over (now ${String(state.epoch)})`);
    this.#freshViews.set(error, this.#views.view(state));
    throw error;
  }

  /**
   * Call one shard for an operation under `view`; any failure comes back as an error naming it
   * (`shardError`). The call carries the deadline of the attempt `view` was handed to (`run`).
   */
  async callShard<R>(view: RoutingView, shardId: string, fn: (store: ShardStore) => Promise<R>): Promise<R> {
    try {
      const pooled = this.#pool.store(shardId);
      const store = pooled instanceof Promise ? await pooled : pooled;
      const { deadline } = view;
      return await (deadline === undefined ? fn(store) : callWithDeadline(deadline, () => fn(store)));
    } catch (error) {
      throw shardError(shardId, error);
    }
  }

  /**
   * The raw entry (markers included) `shardId` holds for `id`, or null. `exactTypes` when the entry may
   * be copied to another shard (a relic taken back): its values keep their BSON types.
   */
  async readAt(view: RoutingView, shardId: string, id: ShardKey, exactTypes = false): Promise<StoredDocument | null> {
    if (!exactTypes) return this.callShard(view, shardId, (s) => s.get(id));
    const [doc] = await this.callShard(view, shardId, (s) => s.find({ _id: id }, { exactTypes: true }));
    return doc ?? null;
  }
}
