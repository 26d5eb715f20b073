/**
 * A live deployment as the operator's config file describes it: the config store, and a store per
 * shard of a routing state. What `shardkit init`, `status`, `verify`, `plan --config` and `rebalance`
 * work on. It sits above both the config store and the shard stores (it opens `MongoStore`s), so the
 * config-store layer never imports a store implementation.
 */
import { ErrorCode, ShardkitError } from '../errors.js';
import { MongoStore } from '../stores/mongo-store.js';
import type { ShardStore } from '../stores/shard-store.js';
import type { ShardSpec } from '../topology/types.js';
import type { RoutingState } from '../router/routing-state.js';
import { loadConfigFile, openConfigStore, type ShardkitConfig } from '../config-store/config-file.js';
import type { ConfigStore } from '../config-store/types.js';

/** The config file's deployment, with its config store open. */
export interface Deployment {
  readonly config: ShardkitConfig;
  readonly configStore: ConfigStore;
  /** The routing state; throws `shardkit.config.noState` when nothing was published. */
  requireState(): Promise<RoutingState>;
  /** Close the config store and every shard store opened through {@link openShard}. */
  close(): Promise<void>;
  /**
   * A store on `shard`'s copy of the configured collection (connected and pinged), with the config
   * file's `opTimeoutMs` per call unless `opTimeoutMs` is given (the migrator's own, ADR 0006).
   */
  openShard(shard: ShardSpec, options?: { readonly opTimeoutMs?: number }): Promise<ShardStore>;
}

/** Every shard a state names (R, or R1 and R2 while migrating), draining ones included, once each. */
export function shardsOfState(state: RoutingState): ShardSpec[] {
  const byId = new Map<string, ShardSpec>();
  for (const shard of state.topology.shards) byId.set(shard.id, shard);
  if (state.phase === 'migrating') for (const shard of state.from.shards) if (!byId.has(shard.id)) byId.set(shard.id, shard);
  return [...byId.values()];
}

/** Open the deployment of the config file at `path`. */
export async function openDeployment(path: string): Promise<Deployment> {
  const config = await loadConfigFile(path);
  const configStore = await openConfigStore(config);
  const opened: ShardStore[] = [];
  return {
    config,
    configStore,
    async requireState() {
      const state = await configStore.load();
      if (state === null) {
        throw new ShardkitError(
          ErrorCode.configNoState,
          `the config store holds no topology "${config.name}" yet: publish one with \`shardkit init --config ${path}\``,
        );
      }
      return state;
    },
    async openShard(shard, options = {}) {
      if (shard.uri === undefined) {
        throw new ShardkitError(ErrorCode.storeUnavailable, `shard ${shard.id} has no uri in the topology`, { shardId: shard.id });
      }
      const store = await MongoStore.connect({
        shardId: shard.id,
        uri: shard.uri,
        collection: config.collection,
        opTimeoutMs: options.opTimeoutMs ?? config.opTimeoutMs,
        ...(shard.db === undefined ? {} : { db: shard.db }),
      });
      opened.push(store);
      return store;
    },
    async close() {
      await Promise.allSettled([...opened.map((s) => s.close()), configStore.close()]);
    },
  };
}
