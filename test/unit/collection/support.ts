/**
 * Shared fixtures of the collection tests: a few shards of real `MemoryStore`s behind hooked stores
 * that count calls (and let a test act before any call), topologies, and routing sources that lag on
 * purpose.
 */
import type { RoutingState } from '../../../src/router/routing-state.js';
import type { RoutingSource } from '../../../src/router/routing-source.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import type { StoreOp } from '../../../src/stores/store-decorator.js';
import { Topology } from '../../../src/topology/topology.js';
import { type HookedStore, hooked } from '../../support/hooked-store.js';

/** `MemoryStore`s by shard id, with per-shard call counts. */
export class SpyPool {
  readonly stores = new Map<string, MemoryStore>();
  readonly calls = new Map<string, Map<string, number>>();
  /** Runs ahead of each call a router makes, once counted, so a test can act between two calls. */
  before: ((shardId: string, op: StoreOp) => Promise<void>) | undefined;
  /** Runs on each answer a store gave a router, before the router sees it (a test may alter it). */
  after: ((shardId: string, op: StoreOp, result: unknown) => void) | undefined;
  readonly #hooked = new Map<string, HookedStore>();

  constructor(ids: readonly string[]) {
    for (const id of ids) this.add(id);
  }

  add(id: string): MemoryStore {
    const store = new MemoryStore(id);
    const counts = new Map<string, number>();
    this.stores.set(id, store);
    this.calls.set(id, counts);
    const before = async (shardId: string, op: StoreOp): Promise<void> => {
      counts.set(op, (counts.get(op) ?? 0) + 1);
      await this.before?.(shardId, op);
    };
    const after = (shardId: string, op: StoreOp, result: unknown): void => this.after?.(shardId, op, result);
    this.#hooked.set(id, hooked(store, { before, after }));
    return store;
  }

  store(shardId: string): ShardStore {
    const store = this.#hooked.get(shardId);
    if (store === undefined) throw new Error(`no store for shard ${shardId}`);
    return store;
  }

  /** Calls of `method` on `shardId`'s store since the last reset. */
  count(shardId: string, method: string): number {
    return this.calls.get(shardId)?.get(method) ?? 0;
  }

  /** Every method called on `shardId`'s store since the last reset, with its count. */
  counts(shardId: string): Record<string, number> {
    return Object.fromEntries(this.calls.get(shardId) ?? []);
  }

  resetCounts(): void {
    for (const m of this.calls.values()) m.clear();
  }

  raw(shardId: string): MemoryStore {
    const store = this.stores.get(shardId);
    if (store === undefined) throw new Error(`no store for shard ${shardId}`);
    return store;
  }
}

/** A hashed xxhash32 topology over `ids` at `epoch`. */
export function topology(ids: readonly string[], epoch = 1, vnodes = 32): Topology {
  return Topology.from({
    name: 'unit',
    epoch,
    hash: 'xxhash32',
    vnodes,
    placement: 'hashed',
    shards: ids.map((id) => ({ id, weight: 1 })),
  });
}

export function stable(t: Topology, epoch = t.epoch): RoutingState {
  return { phase: 'stable', epoch, topology: t.toJSON() };
}

/** The stable state a migration from `from` to `to` commits (what `Migrator` publishes). */
export function committed(from: Topology, to: Topology, epoch: number): RoutingState {
  return { phase: 'stable', epoch, topology: to.toJSON(), settling: { from: from.toJSON(), migrationId: 'm1' } };
}

export function migrating(from: Topology, to: Topology, epoch: number): RoutingState {
  return { phase: 'migrating', epoch, from: from.toJSON(), topology: to.toJSON(), migrationId: 'm1' };
}

/**
 * A routing source that keeps serving `stale` from `current()` until a refresh, which returns
 * `fresh` (or `stale` again when `stuck`), counting refreshes.
 */
export class LaggingSource implements RoutingSource {
  refreshes = 0;
  #state: RoutingState;
  readonly #fresh: RoutingState;
  readonly #stuck: boolean;

  constructor(stale: RoutingState, fresh: RoutingState, stuck = false) {
    this.#state = stale;
    this.#fresh = fresh;
    this.#stuck = stuck;
  }

  current(): RoutingState {
    return this.#state;
  }

  async refresh(): Promise<RoutingState> {
    this.refreshes++;
    if (!this.#stuck) this.#state = this.#fresh;
    return this.#state;
  }
}

/** Every document of every store, raw (markers included), by shard. */
export async function dump(pool: SpyPool): Promise<Map<string, Array<Record<string, unknown>>>> {
  const out = new Map<string, Array<Record<string, unknown>>>();
  for (const [id, store] of pool.stores) out.set(id, (await store.find({})) as Array<Record<string, unknown>>);
  return out;
}
