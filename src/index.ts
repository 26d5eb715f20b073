/**
 * shardkit's public API: the one barrel, and a promise. Everything exported here stays compatible
 * within a major version, so it holds only what an application's data-access layer or an operator's
 * tooling calls. Test doubles and embedded pools live behind `shardkit/testing` (src/testing.ts).
 * Internal code imports the file it needs, never this one, so the barrel can change without import
 * cycles. Values and types are exported separately: `verbatimModuleSyntax` erases `export type` and
 * keeps the rest.
 *
 * What stays out, and why (the test in test/unit/index.test.ts pins both entry points' lists):
 * - Hash internals (`md5`, `xxhash32`, `xxhash32String`, `ketamaPoint`, `canonicalKeyBytes`,
 *   `ringHash`, `HASH_NAMES`, `keyToString`, `assertShardKey`): an application asks the router for a
 *   key's shard or point (`ShardRouter.route`, `.point`); the collection validates keys itself. The
 *   byte form keys hash as is documented in ADR 0001, not exported as a function to keep in step.
 * - Ring arithmetic (`MAX_POINT`, `RING_SIZE`, `moveSize`, `moveContains`) and placement helpers
 *   (`balancedTokens`, `withBalancedTokens`): a plan already reports fractions, and `applyChange` is
 *   the one way to derive a target topology, tokens included.
 * - Topology file plumbing (`parseTopologyText`, `detectFormat`, `formatOfPath`,
 *   `validateTopologySpec`, `TOPOLOGY_DEFAULTS`, `MAX_SHARDS`, `MAX_VNODES`): `Topology.parse` and
 *   `Topology.from` parse and validate; the limits are documented in the README.
 * - Redaction (`REDACTED`, `redactText`, `redactUri`, `redactedConfig`): the CLI's and the error
 *   messages' job; `Topology#redacted()` covers a tool that prints a topology.
 * - Config file internals (`parseConfigFile`, `CONFIG_DEFAULTS`, `DEFAULT_CONFIG_COLLECTION`):
 *   `loadConfigFile` applies the defaults, docs/configuration.md lists them.
 * - Store internals (`Field`, `RETRIED_OPS`, `ResilientStore`, `CircuitBreaker`, `BreakerState`,
 *   `InstrumentedStore`): `wrapStore` is the one way to dress a store with timeouts, retries, breaker
 *   and metrics; their options stay exported as types.
 * - `runDemo` (the CLI's `shardkit demo`) and `DEFAULT_CACHE_SIZE` (an option's documented default).
 * - `FileConfigStore` stays here, not in testing: it is a production config store for single-host
 *   deployments (`configStore.file` in docs/configuration.md). `StaticRoutingSource`,
 *   `MemoryShardPool`, `MemoryStore` and `MemoryConfigStore` serve embedding, simulations and tests
 *   only, so they moved to `shardkit/testing`.
 */

// errors: what an application catches, and the predicates that decide a retry
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

// keys and time
export type { RingHash, ShardKey } from './hash/types.js';
export type { Clock } from './clock.js';

// topology
export { HashName } from './hash/types.js';
export { Placement } from './topology/types.js';
export type { ShardSpec, TopologyChange, TopologySpec } from './topology/types.js';
export { Topology } from './topology/topology.js';
export type { TopologyFormat } from './topology/parse.js';
export { serializeTopology } from './topology/serialize.js';
export { applyChange } from './ring/placement.js';

// ring and router
export type { Move } from './ring/move.js';
export { Ring } from './ring/ring.js';
export type { RingParts } from './ring/ring.js';
export { ShardRouter } from './router/router.js';
export type { RouterStats, ShardRouterOptions } from './router/router.js';
export type { RoutingSource } from './router/routing-source.js';
export type { RoutingState, RoutingStateReader, Settling } from './router/routing-state.js';
export { TopologyFollower } from './router/follower.js';
export type { StateListener, TopologyFollowerOptions } from './router/follower.js';

// plan
export { planRebalance } from './rebalance/plan.js';
export type { RebalancePlan, ShardFlow } from './rebalance/plan.js';

// shard stores: the contract, MongoDB, and the one way to add timeouts, retries, breaker and metrics
export type {
  HashRange,
  RangeChecksumResult,
  RangeCursor,
  RangeTallies,
  RangeTallyResult,
  ShardStore,
  StoreBatchCursor,
  StoreBatchOptions,
  StoreBulkResult,
  StoreFilter,
  StoreFindOptions,
  StoreWriteOp,
  StoredDocument,
  WriteOutcome,
} from './stores/shard-store.js';
export type { StoreProvider } from './stores/store-provider.js';
export { MongoStore } from './stores/mongo-store.js';
export type { MongoStoreOptions } from './stores/mongo-store.js';
export { MongoShardPool } from './stores/shard-pool.js';
export type { MongoShardPoolOptions, ShardPool, StoreWrapper } from './stores/shard-pool.js';
export { wrapStore } from './stores/instrumented-store.js';
export type { WrapStoreOptions } from './stores/instrumented-store.js';
export type { ResilienceOptions } from './stores/resilience.js';
export type { BreakerState, CircuitBreakerOptions } from './stores/circuit-breaker.js';
export { StoreMetrics } from './metrics/store-metrics.js';
export type { StoreOpSignals } from './metrics/store-metrics.js';

// config stores and the operator's config file
export type { ConfigStore, LockInfo } from './config-store/types.js';
export { MongoConfigStore } from './config-store/mongo-config-store.js';
export type { MongoConfigStoreConnectOptions, MongoConfigStoreOptions } from './config-store/mongo-config-store.js';
export { FileConfigStore } from './config-store/file-config-store.js';
export type { FileConfigStoreOptions } from './config-store/file-config-store.js';
export { loadConfigFile, openConfigStore } from './config-store/config-file.js';
export type { ConfigStoreLocation, ShardkitConfig } from './config-store/config-file.js';

// data access
export { ShardedCollection } from './collection/sharded-collection.js';
export type {
  ExplainOp,
  FindOneAndModifyOptions,
  NewDocument,
  RoutedOperationsMetric,
  ShardedBulkWriteResult,
  ShardedCallOptions,
  ShardedCollectionOptions,
  ShardedCountOptions,
  ShardedDeleteResult,
  ShardedExplain,
  ShardedFilter,
  ShardedFindOptions,
  ShardedInsertManyResult,
  ShardedInsertOneResult,
  ShardedReadOptions,
  ShardedUpdateOptions,
  ShardedUpdateResult,
  ShardedWriteOp,
  ShardedWriteOptions,
} from './collection/types.js';
export type { AggregationCursor } from './collection/aggregate/aggregation-cursor.js';
// `find()`'s cursor: applications name its type; only the collection builds one.
export type { FindCursor } from './collection/find-cursor.js';
export type { Target } from './collection/targeting.js';
export { connectShardedCollection } from './connect.js';
export type { ConnectedCollection, ConnectOptions } from './connect.js';

// operators' checks and migration
export { auditPlacement } from './audit/placement-audit.js';
export type { AuditSample, PlacementAuditOptions, PlacementAuditReport, ShardAudit } from './audit/placement-audit.js';
export { Migrator } from './rebalance/migrator.js';
export type { MigrationEvent } from './rebalance/events.js';
export type {
  MigrationReport,
  MigrationStatus,
  MigratorOptions,
  RunOptions as MigrationRunOptions,
} from './rebalance/migrator.js';
export type { Remedy as MigrationRemedy, RemedyState as MigrationRemedyState } from './rebalance/remedy.js';
export { Phase as MigrationPhase } from './rebalance/journal.js';
export type { MigrationCounters, MigrationJournal, MoveProgress } from './rebalance/journal.js';
