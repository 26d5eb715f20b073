/**
 * shardkit's public API: the one barrel. Internal code imports the file it needs, never this one
 * (after the MongoDB driver), so the barrel can grow without import cycles. Values and types are
 * exported separately: `verbatimModuleSyntax` erases `export type` and keeps the rest.
 */

// errors
export {
  ErrorCode,
  ShardkitConflictError,
  ShardkitError,
  ShardkitInputError,
  ShardkitInvalidArgumentError,
  ShardkitRouterError,
  ShardkitStoreError,
  hasErrorCode,
  isInputError,
  isRetryableError,
} from './errors.js';
export type { ShardkitErrorOptions } from './errors.js';

// key + hash
export { assertShardKey, canonicalKeyBytes, keyToString } from './hash/key.js';
export { xxhash32, xxhash32String } from './hash/xxhash32.js';
export { ketamaPoint } from './hash/ketama.js';
export { md5 } from './hash/md5.js';
export { HASH_NAMES, ringHash } from './hash/registry.js';
export type { RingHash, ShardKey } from './hash/types.js';

// topology
export { HashName } from './hash/types.js';
export { Placement } from './topology/types.js';
export type { ShardSpec, TopologyChange, TopologySpec } from './topology/types.js';
export { Topology } from './topology/topology.js';
export { MAX_SHARDS, MAX_VNODES, TOPOLOGY_DEFAULTS, validateTopologySpec } from './topology/validate.js';
export { detectFormat, formatOfPath, parseTopologyText } from './topology/parse.js';
export type { TopologyFormat } from './topology/parse.js';
export { serializeTopology } from './topology/serialize.js';
export { REDACTED, redactText, redactUri } from './topology/redact.js';

// ring
export { MAX_POINT, RING_SIZE, moveContains, moveSize } from './ring/move.js';
export type { Move } from './ring/move.js';
export { Ring } from './ring/ring.js';
export type { RingParts } from './ring/ring.js';
export { applyChange, balancedTokens, withBalancedTokens } from './ring/placement.js';

// router
export { DEFAULT_CACHE_SIZE, ShardRouter } from './router/router.js';
export type { RouterStats, ShardRouterOptions } from './router/router.js';
export { StaticRoutingSource } from './router/routing-source.js';
export type { RoutingSource } from './router/routing-source.js';
export { TopologyFollower } from './router/follower.js';
export type { StateListener, TopologyFollowerOptions } from './router/follower.js';

// plan
export { planRebalance } from './rebalance/plan.js';
export type { RebalancePlan, ShardFlow } from './rebalance/plan.js';

// stores
export { Field } from './stores/shard-store.js';
export type {
  HashRange,
  RangeChecksumResult,
  RangeCursor,
  ShardStore,
  StoreBulkResult,
  StoreFilter,
  StoreFindOptions,
  StoreWriteOp,
  StoredDocument,
  WriteOutcome,
} from './stores/shard-store.js';
export type { StoreProvider } from './stores/store-provider.js';
export { MemoryStore } from './stores/memory-store.js';
export type { MemoryStoreOptions } from './stores/memory-store.js';

// config store
export type { ConfigStore, LockInfo } from './config-store/types.js';
export type { RoutingState, RoutingStateReader, Settling } from './router/routing-state.js';
export { FileConfigStore } from './config-store/file-config-store.js';
export type { FileConfigStoreOptions } from './config-store/file-config-store.js';
export { MemoryConfigStore } from './config-store/memory-config-store.js';
export type { MemoryConfigStoreOptions } from './config-store/memory-config-store.js';
export { DEFAULT_CONFIG_COLLECTION, MongoConfigStore } from './config-store/mongo-config-store.js';
export type { MongoConfigStoreConnectOptions, MongoConfigStoreOptions } from './config-store/mongo-config-store.js';
export { CONFIG_DEFAULTS, loadConfigFile, openConfigStore, parseConfigFile, redactedConfig } from './config-store/config-file.js';
export type { ConfigStoreLocation, ShardkitConfig } from './config-store/config-file.js';

// stores backed by MongoDB
export { MongoStore } from './stores/mongo-store.js';
export type { MongoStoreOptions } from './stores/mongo-store.js';

// data access
export { ShardedCollection } from './collection/sharded-collection.js';
export type {
  NewDocument,
  ShardedBulkWriteResult,
  ShardedCollectionOptions,
  ShardedFilter,
  ShardedFindOptions,
  ShardedUpdateResult,
  ShardedWriteOp,
} from './collection/sharded-collection.js';

// connecting an application to a deployment
export { connectShardedCollection } from './connect.js';
export type { ConnectedCollection, ConnectOptions } from './connect.js';
export { StoreMetrics } from './metrics/store-metrics.js';
export type { StoreOpSignals } from './metrics/store-metrics.js';
export { MetricsRegistry } from './metrics/registry.js';
export type { Labels, MetricsSnapshot } from './metrics/registry.js';
export { RETRIED_OPS, ResilientStore } from './stores/resilience.js';
export type { ResilienceOptions } from './stores/resilience.js';
export { BreakerState, CircuitBreaker } from './stores/circuit-breaker.js';
export type { CircuitBreakerOptions } from './stores/circuit-breaker.js';
export { InstrumentedStore, wrapStore } from './stores/instrumented-store.js';
export type { WrapStoreOptions } from './stores/instrumented-store.js';
export { MemoryShardPool, MongoShardPool } from './stores/shard-pool.js';
export type { MemoryShardPoolOptions, MongoShardPoolOptions, ShardPool, StoreWrapper } from './stores/shard-pool.js';

// operators' checks
export { auditPlacement } from './audit/placement-audit.js';
export type { PlacementAuditOptions, PlacementAuditReport } from './audit/placement-audit.js';
export { runDemo } from './demo/demo.js';
export type { DemoOptions, DemoReport } from './demo/demo.js';
export type { InvariantResult } from './demo/invariants.js';

// migration
export { Migrator } from './rebalance/migrator.js';
export type { MigrationEvent } from './rebalance/events.js';
export type {
  MigrationReport,
  MigrationStatus,
  MigratorOptions,
  RunOptions as MigrationRunOptions,
} from './rebalance/migrator.js';
export { Phase as MigrationPhase } from './rebalance/journal.js';
export type { MigrationCounters, MigrationJournal, MoveProgress } from './rebalance/journal.js';
