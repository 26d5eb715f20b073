/**
 * Where the data path and the migrator get one `ShardStore` per shard id: created on demand from
 * the topology's shard specs, kept for reuse, all closed together.
 */
import { MongoClient } from 'mongodb';
import type { MongoClientOptions } from 'mongodb';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import type { ShardSpec, TopologySpec } from '../topology/types.js';
import { MemoryStore } from './memory-store.js';
import type { MemoryStoreOptions } from './memory-store.js';
import { resolveUri } from '../topology/credentials.js';
import { MongoStore } from './mongo-store.js';
import type { ShardStore } from './shard-store.js';
import type { StoreProvider } from './store-provider.js';
import { optionalObject, requireObject } from '../arguments.js';

/** One store per shard id. */
export interface ShardPool extends StoreProvider {
  /** The store of `shardId`; throws `shardkit.topology.unknownShard` for a shard the pool cannot reach. */
  store(shardId: string): ShardStore;
  /** Close every store (and client) the pool created. */
  close(): Promise<void>;
}

/** Dresses each store as it is created (e.g. `wrapStore` for retries, breaker and metrics). */
export type StoreWrapper = (store: ShardStore) => ShardStore;

/** Options of `MemoryShardPool`. */
export interface MemoryShardPoolOptions extends MemoryStoreOptions {
  readonly wrap?: StoreWrapper;
}

/** A pool of `MemoryStore`s, one per shard id, created on first use (any id is accepted). */
export class MemoryShardPool implements ShardPool {
  readonly #stores = new Map<string, ShardStore>();
  readonly #memory = new Map<string, MemoryStore>();
  readonly #options: MemoryShardPoolOptions;

  constructor(options: MemoryShardPoolOptions = {}) {
    optionalObject(options, 'new MemoryShardPool(options): options');
    this.#options = options;
  }

  store(shardId: string): ShardStore {
    let store = this.#stores.get(shardId);
    if (store === undefined) {
      const memory = new MemoryStore(shardId, this.#options);
      this.#memory.set(shardId, memory);
      store = this.#options.wrap?.(memory) ?? memory;
      this.#stores.set(shardId, store);
    }
    return store;
  }

  /** The bare `MemoryStore` of a shard (for fault injection and inspection in tests and simulations). */
  memory(shardId: string): MemoryStore {
    this.store(shardId);
    return this.#memory.get(shardId) as MemoryStore;
  }

  /** Shard ids created so far. */
  shardIds(): string[] {
    return [...this.#stores.keys()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#stores.values()].map((s) => s.close()));
    this.#stores.clear();
    this.#memory.clear();
  }
}

/** Options of `MongoShardPool`. */
export interface MongoShardPoolOptions {
  /** Collection name on every shard. */
  readonly collection: string;
  /** Shards to know from the start (a topology, or the shards of several, e.g. both sides of a migration). */
  readonly topology?: TopologySpec | readonly TopologySpec[];
  /** Per-operation time limit for each `MongoStore` (default 10000). */
  readonly opTimeoutMs?: number;
  /** Extra driver options for every client. */
  readonly clientOptions?: MongoClientOptions;
  readonly wrap?: StoreWrapper;
}

/**
 * A pool of `MongoStore`s built from shard specs (`uri`, `db`). Shards on the same URI share one
 * `MongoClient` (one connection pool per server, whatever the database).
 */
export class MongoShardPool implements ShardPool {
  readonly #options: MongoShardPoolOptions;
  readonly #specs = new Map<string, ShardSpec>();
  readonly #stores = new Map<string, ShardStore>();
  readonly #clients = new Map<string, MongoClient>();
  /** Stores of shards whose URI changed, closed with the pool. */
  #retired: ShardStore[] = [];

  constructor(options: MongoShardPoolOptions) {
    requireObject(options, 'new MongoShardPool(options): options', 'an object with a collection name');
    if (typeof options.collection !== 'string' || options.collection.length === 0) {
      throw new ShardkitInvalidArgumentError('MongoShardPool needs a collection name');
    }
    this.#options = options;
    const tops = options.topology === undefined ? [] : Array.isArray(options.topology) ? options.topology : [options.topology as TopologySpec];
    for (const t of tops) this.addTopology(t);
  }

  /**
   * Learn the shards of a (newer) topology. A removed shard stays reachable, since a migration may
   * still read from it. A shard whose `uri` or `db` changed is reopened: its next `store()` connects
   * where the topology now says. The old store is not closed here (a call may still be running on
   * it); it is closed with the pool. Call it in epoch order, as the collection does (R1, then R2).
   */
  addTopology(topology: TopologySpec): void {
    for (const spec of topology.shards) {
      const known = this.#specs.get(spec.id);
      if (known !== undefined && known.uri === spec.uri && known.db === spec.db) continue;
      this.#specs.set(spec.id, spec);
      const open = this.#stores.get(spec.id);
      if (known !== undefined && open !== undefined) {
        this.#retired.push(open);
        this.#stores.delete(spec.id);
      }
    }
  }

  store(shardId: string): ShardStore {
    const existing = this.#stores.get(shardId);
    if (existing !== undefined) return existing;
    const spec = this.#specs.get(shardId);
    if (spec === undefined) {
      throw new ShardkitInputError(ErrorCode.topologyUnknownShard, `unknown shard '${shardId}': not in any topology this pool knows`, { shardId });
    }
    if (spec.uri === undefined || spec.uri.length === 0) {
      throw new ShardkitInputError(ErrorCode.topologyInvalid, `shard '${shardId}' has no uri`, { shardId });
    }
    let client = this.#clients.get(spec.uri);
    if (client === undefined) {
      const timeout = this.#options.opTimeoutMs ?? 10_000;
      // `${NAME}` references are resolved here, where the client connects; the pool keys clients by the stored URI.
      client = new MongoClient(resolveUri(spec.uri), {
        serverSelectionTimeoutMS: timeout,
        connectTimeoutMS: timeout,
        socketTimeoutMS: timeout * 2 + 1000,
        ...this.#options.clientOptions,
      });
      this.#clients.set(spec.uri, client);
    }
    const mongo = new MongoStore({
      shardId,
      client,
      uri: spec.uri,
      ...(spec.db === undefined ? {} : { db: spec.db }),
      collection: this.#options.collection,
      ...(this.#options.opTimeoutMs === undefined ? {} : { opTimeoutMs: this.#options.opTimeoutMs }),
    });
    const store = this.#options.wrap?.(mongo) ?? mongo;
    this.#stores.set(shardId, store);
    return store;
  }

  async close(): Promise<void> {
    const stores = [...this.#stores.values(), ...this.#retired];
    const clients = [...this.#clients.values()];
    this.#retired = [];
    this.#stores.clear();
    this.#clients.clear();
    await Promise.all(stores.map((s) => s.close()));
    await Promise.all(clients.map((c) => c.close()));
  }
}
