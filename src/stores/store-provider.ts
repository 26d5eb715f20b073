import type { TopologySpec } from '../topology/types.js';
import type { ShardStore } from './shard-store.js';

/**
 * Where the data path and the migrator get a shard's store: a `ShardPool`, or anything with its `store`.
 * The one provider type of the library.
 */
export interface StoreProvider {
  /** The store of one shard's collection; may connect on first use. */
  store(shardId: string): ShardStore | Promise<ShardStore>;
  /**
   * Learn the shards (ids, URIs) of a topology. The collection calls it with every topology of every
   * routing state it routes by (R1 and R2 while migrating) before it asks for a store of that state, so
   * a pool built from yesterday's topology reaches a shard an operator added today. Optional: a
   * provider that can reach any shard already may leave it out.
   */
  addTopology?(topology: TopologySpec): void;
}
