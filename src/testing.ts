/**
 * `shardkit/testing`: in-memory doubles for an application's tests, simulations and embedded use.
 * They implement the same contracts as the production classes of `shardkit` (the store contract
 * suite runs against `MemoryStore` and `MongoStore` alike), so a `ShardedCollection` or a `Migrator`
 * behaves the same over them; they keep everything in one process and nothing survives it.
 * Kept out of the main entry point so the API an application promises its operators holds only what
 * runs against real servers.
 */

export { MemoryStore } from './stores/memory-store.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';
export { MemoryShardPool } from './stores/shard-pool.js';
export type { MemoryShardPoolOptions } from './stores/shard-pool.js';
export { MemoryConfigStore } from './config-store/memory-config-store.js';
export type { MemoryConfigStoreOptions } from './config-store/memory-config-store.js';
export { StaticRoutingSource } from './router/routing-source.js';
