/**
 * A routing state resolved for the data path: the routers of its topologies (one per epoch, cached),
 * the shards a scatter-gather must ask, and where a key lives under it.
 */
import type { Deadline } from '../stores/deadline.js';
import type { RoutingState } from '../router/routing-state.js';
import type { ShardKey } from '../hash/types.js';
import { ShardRouter } from '../router/router.js';
import { shardKeyOf } from '../topology/shard-key.js';
import type { TopologySpec } from '../topology/types.js';

/** A routing state with its routers built. */
export interface RoutingView {
  readonly state: RoutingState;
  /** Epoch of the routing state (the migration epoch while migrating: the epoch fences carry). */
  readonly epoch: number;
  /** Router of R (stable) or R2 (migrating): the owners now. */
  readonly to: ShardRouter;
  /** Router of R1 while migrating, the owners before; undefined when stable. */
  readonly from: ShardRouter | undefined;
  /** On a stable state that is `settling`: the router of the owners before the migration it committed. */
  readonly settling: ShardRouter | undefined;
  /** Shards that may hold a live key: the non-draining shards of R, or of R1 and R2. */
  readonly scatter: readonly string[];
  /** Every shard the state names, draining ones included. */
  readonly all: readonly string[];
  /** The field path whose value routes documents (ADR 0008): `_id` unless the topology names another. */
  readonly shardKey: string;
  /**
   * The deadline of the attempt this view was handed to (`RedirectExecutor.run`), which every shard call
   * of the attempt carries (`RedirectExecutor.callShard`); absent on a view no attempt was admitted under.
   */
  readonly deadline?: Deadline;
}

/** Where one key lives under a view. */
export interface KeyPlace {
  /** The document's `_id`: fences, placeholders and tombstones are per `_id` (ADR 0002, ADR 0003). */
  readonly id: ShardKey;
  /** The document's shard-key value, which routes it (the `_id` itself when the shard key is `_id`). */
  readonly value: ShardKey;
  /** The ring point of the shard-key value (its `_h`). */
  readonly h: number;
  /** Owner now (R or R2). */
  readonly owner: string;
  /** The R1 owner while migrating when it differs from `owner` (the key is moving); else undefined. */
  readonly old: string | undefined;
  /**
   * On a settling stable state: true when the committed migration moved the key (its owner before
   * differs from `owner`), so a delete must leave a tombstone. False otherwise.
   */
  readonly settling: boolean;
}

const MAX_ROUTERS = 8;

function shardIds(spec: TopologySpec, activeOnly: boolean): string[] {
  return spec.shards.filter((s) => !activeOnly || s.draining !== true).map((s) => s.id);
}

function union(a: readonly string[], b: readonly string[]): string[] {
  return [...new Set([...a, ...b])];
}

/**
 * Builds views of routing states, keeping one router per topology epoch so a router's key cache
 * survives refreshes that return the same topology (a config store hands out new objects each time).
 */
export class RoutingViews {
  readonly #routers = new Map<string, { readonly fingerprint: string; readonly router: ShardRouter }>();
  readonly #views = new WeakMap<RoutingState, RoutingView>();

  /** The view of `state` (built once per state object). */
  view(state: RoutingState): RoutingView {
    const cached = this.#views.get(state);
    if (cached !== undefined) return cached;
    const to = this.router(state.topology);
    const from = state.phase === 'migrating' ? this.router(state.from) : undefined;
    const settling = state.phase === 'stable' && state.settling !== undefined ? this.router(state.settling.from) : undefined;
    const active = shardIds(state.topology, true);
    const all = shardIds(state.topology, false);
    const view: RoutingView = {
      state,
      epoch: state.epoch,
      to,
      from,
      settling,
      scatter: state.phase === 'migrating' ? union(shardIds(state.from, true), active) : active,
      all: state.phase === 'migrating' ? union(shardIds(state.from, false), all) : all,
      shardKey: shardKeyOf(state.topology),
    };
    this.#views.set(state, view);
    return view;
  }

  /** The router of a topology, reused while the same topology (by epoch and content) comes back. */
  router(spec: TopologySpec): ShardRouter {
    const key = `${spec.name}@${spec.epoch}`;
    const fingerprint = JSON.stringify(spec);
    const hit = this.#routers.get(key);
    if (hit !== undefined && hit.fingerprint === fingerprint) return hit.router;
    const router = ShardRouter.fromTopology(spec);
    this.#routers.delete(key);
    this.#routers.set(key, { fingerprint, router });
    // Old epochs are only needed while a lagging state is still in use; keep a few, drop the oldest.
    while (this.#routers.size > MAX_ROUTERS) {
      const oldest = this.#routers.keys().next().value as string;
      this.#routers.delete(oldest);
    }
    return router;
  }
}

/**
 * Where the document `id` whose shard-key value is `value` lives under `view`: the value's ring point,
 * its owner, and its R1 owner when it is moving. The point and the owners come from the shard-key
 * value; the protocol's entries stay per `_id` (ADR 0008).
 */
export function placeKey(view: RoutingView, id: ShardKey, value: ShardKey): KeyPlace {
  const owner = view.to.route(value);
  const h = view.to.point(value);
  let old: string | undefined;
  if (view.from !== undefined) {
    const before = view.from.route(value);
    if (before !== owner) old = before;
  }
  const settling = view.settling !== undefined && view.settling.route(value) !== owner;
  return { id, value, h, owner, old, settling };
}

/** The owner of a stored ring point under `router` (a document's `_h`, or its `_id` when `_h` is absent). */
export function ownerOfStored(router: ShardRouter, doc: { readonly _id: unknown; readonly _h?: unknown }): string {
  if (typeof doc._h === 'number' && Number.isInteger(doc._h) && doc._h >= 0 && doc._h <= 0xffffffff) {
    return router.ring.ownerOfPoint(doc._h);
  }
  return router.route(doc._id as ShardKey);
}
