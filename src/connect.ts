/**
 * `connectShardedCollection`: the one call an application makes to use a deployment the operator set
 * up with `shardkit init`. It reads the operator's config file, follows the routing state on its lease,
 * and reaches every shard through timeouts, retries, a circuit breaker and metrics.
 */
import type { Document } from 'mongodb';
import type { Registry } from 'prom-client';
import { ShardedCollection } from './collection/sharded-collection.js';
import { loadConfigFile, openConfigStore } from './config-store/config-file.js';
import type { ShardkitConfig } from './config-store/config-file.js';
import type { ConfigStore } from './config-store/types.js';
import type { RoutingState } from './router/routing-state.js';
import { ShardkitInvalidArgumentError } from './errors.js';
import { StoreMetrics } from './metrics/store-metrics.js';
import { TopologyFollower } from './router/follower.js';
import { wrapStore } from './stores/instrumented-store.js';
import type { ResilienceOptions } from './stores/resilience.js';
import { MongoShardPool } from './stores/shard-pool.js';
import type { TopologySpec } from './topology/types.js';

/** Options of {@link connectShardedCollection}. */
export interface ConnectOptions {
  /** Path of the operator's config file (JSON or YAML, docs/configuration.md), or the parsed config. */
  readonly config: string | ShardkitConfig;
  /**
   * Timeouts, retries and circuit breaker around every shard store, or false for none. Default: the
   * `ResilientStore` defaults with the config's `opTimeoutMs` as the per-attempt timeout and as the
   * budget of a whole call (retries included), so no request outlives the `leaseMs + opTimeoutMs` a
   * migration waits for stragglers.
   */
  readonly resilience?: ResilienceOptions | false;
  /**
   * Where store calls are measured: a `StoreMetrics`, or `{ registry }` to register shardkit's metrics
   * in the application's own prom-client `Registry` (e.g. prom-client's default `register`), so its
   * existing `/metrics` endpoint shows them. Default: a `StoreMetrics` on a registry of its own.
   */
  readonly metrics?: StoreMetrics | { readonly registry: Registry };
  /** Redirect budget of the collection (default 3). */
  readonly maxRedirects?: number;
  /** What `aggregate` pushes to the shards: `'portable'` (default) or `'mongodb'` for MongoDB shards (ADR 0009). */
  readonly aggregatePushdown?: 'portable' | 'mongodb';
}

/** A connected collection and what it runs on. */
export interface ConnectedCollection<T extends Document = Document> {
  /** The application's collection, following the deployment's routing state. */
  readonly collection: ShardedCollection<T>;
  /** The routing state follower (lease, background refresh, `onChange`). */
  readonly routing: TopologyFollower;
  /** Golden signals of every shard call. */
  readonly metrics: StoreMetrics;
  /** The config the connection was made from. */
  readonly config: ShardkitConfig;
  /** Stop following, close every shard connection and the config store. */
  close(): Promise<void>;
}

function topologiesOf(state: RoutingState): TopologySpec[] {
  return state.phase === 'migrating' ? [state.from, state.topology] : [state.topology];
}

/**
 * Connect to the deployment a config file describes: open its config store, start a
 * `TopologyFollower` with the config's `leaseMs` and `refreshIntervalMs`, build a `MongoShardPool`
 * over the current topologies (it learns later ones from the collection), wrap each shard store with
 * resilience and metrics, and return the collection named by the config.
 *
 * @throws ShardkitInputError `shardkit.file.notFound` / `shardkit.config.invalid` for a bad config file.
 * @throws ShardkitError `shardkit.config.noState` when nothing was published yet (run `shardkit init`).
 */
export async function connectShardedCollection<T extends Document = Document>(options: ConnectOptions): Promise<ConnectedCollection<T>> {
  if (options === null || typeof options !== 'object') throw new ShardkitInvalidArgumentError('connectShardedCollection needs options');
  if (typeof options.config !== 'string' && (options.config === null || typeof options.config !== 'object')) {
    throw new ShardkitInvalidArgumentError('connectShardedCollection: config must be a config file path or a ShardkitConfig');
  }
  const config = typeof options.config === 'string' ? await loadConfigFile(options.config) : options.config;
  const metrics = options.metrics instanceof StoreMetrics ? options.metrics : new StoreMetrics(options.metrics?.registry);
  const resilience: ResilienceOptions | false =
    options.resilience === false ? false : { opTimeoutMs: config.opTimeoutMs, deadlineMs: config.opTimeoutMs, ...options.resilience };

  const configStore: ConfigStore = await openConfigStore(config);
  let routing: TopologyFollower;
  try {
    routing = await TopologyFollower.start(configStore, { leaseMs: config.leaseMs, refreshIntervalMs: config.refreshIntervalMs });
  } catch (error) {
    await configStore.close().catch(() => undefined);
    throw error;
  }
  const pool = new MongoShardPool({
    collection: config.collection,
    topology: topologiesOf(routing.state),
    opTimeoutMs: config.opTimeoutMs,
    wrap: (store) => wrapStore(store, { metrics, resilience }),
  });
  const collection = new ShardedCollection<T>({
    name: config.collection,
    routing,
    pool,
    // One deadline per operation attempt, so the bound of ADR 0003 holds for its last call too.
    operationTimeoutMs: config.opTimeoutMs,
    metrics,
    ...(options.maxRedirects === undefined ? {} : { maxRedirects: options.maxRedirects }),
    ...(options.aggregatePushdown === undefined ? {} : { aggregatePushdown: options.aggregatePushdown }),
  });
  let closing: Promise<void> | undefined;
  return {
    collection,
    routing,
    metrics,
    config,
    close() {
      closing ??= (async () => {
        routing.close();
        const results = await Promise.allSettled([pool.close(), configStore.close()]);
        const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed !== undefined) throw failed.reason;
      })();
      return closing;
    },
  };
}
