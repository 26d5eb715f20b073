/**
 * `shardkit demo` as a library: the whole online-rebalance story on embedded shards (or on servers),
 * returning a report of invariants instead of printing, so tests assert on it and the CLI renders it.
 *
 * 1. load `docs` documents on `shards` shards through `ShardedCollection`;
 * 2. plan adding one more shard (moved vs minimal share, documents per move);
 * 3. run the `Migrator` while `writers` application writers, each behind its own router following
 *    the config store on a lease, keep inserting, updating, deleting and reading their own keys;
 * 4. check every invariant the protocol promises: each acknowledged write present at its latest
 *    version, no deleted document back, no duplicate, no orphan, every document on the shard its key
 *    routes to, no fence/placeholder/tombstone left, and every read saw the latest acknowledged write.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { auditPlacement, type PlacementAuditReport } from '../audit/placement-audit.js';
import { ShardedCollection } from '../collection/sharded-collection.js';
import type { RoutingState } from '../router/routing-state.js';
import { ShardkitInvalidArgumentError } from '../errors.js';
import { planRebalance } from '../rebalance/plan.js';
import type { MigrationEvent } from '../rebalance/events.js';
import { Migrator, type MigrationReport } from '../rebalance/migrator.js';
import { applyChange } from '../ring/placement.js';
import { TopologyFollower } from '../router/follower.js';
import { StaticRoutingSource } from '../router/routing-source.js';
import type { ShardStore } from '../stores/shard-store.js';
import { StoreDecorator, type StoreOp } from '../stores/store-decorator.js';
import { LIVE } from '../stores/store-filters.js';
import { Topology } from '../topology/topology.js';
import { memoryBackend, mongoBackend, type DemoBackend } from './backend.js';
import { checkInvariants, type InvariantResult } from './invariants.js';
import { DemoWriter, sumCounters, type DemoDoc, type WriterCounters } from './writers.js';


/** Options of {@link runDemo}. Every field has a default that runs in seconds on a laptop. */
export interface DemoOptions {
  /** Documents loaded before the rebalance (default 100 000). */
  readonly docs?: number;
  /** Shards before the rebalance (default 4); the demo adds one. */
  readonly shards?: number;
  /** Concurrent application writers during the migration (default 2). */
  readonly writers?: number;
  /** Seed of the writers' operation mix (default 1). */
  readonly seed?: number;
  /** MongoDB URIs: run on servers instead of embedded shards (the first hosts the config store). */
  readonly mongoUris?: readonly string[];
  /** Routers' lease on the routing state (ms, default 1000): the migrator waits it out three times (before the sweep, the cleanup and the purge). */
  readonly leaseMs?: number;
  /** Per-request bound (ms, default 1000). */
  readonly opTimeoutMs?: number;
  /** Migration batch size (default 500). */
  readonly batchSize?: number;
  /** Migration pace in documents per second (default unthrottled). */
  readonly throttleDocsPerSec?: number;
  /** Pause between one writer's operations (ms, default 0: as fast as the loop allows). */
  readonly writerPauseMs?: number;
  /** Keep the demo's documents on the servers afterwards (default false). */
  readonly keepData?: boolean;
  /** Stop the migration at its next checkpoint (Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Progress, for a renderer. */
  readonly onEvent?: (event: DemoEvent) => void;
}

/** Documents to move between two shards, counted at the source before the migration. */
export interface PairEstimate {
  readonly from: string;
  readonly to: string;
  /** Ranges of the hash space. */
  readonly ranges: number;
  readonly docs: number;
}

/** The plan of the demo's change. */
export interface DemoPlan {
  readonly change: string;
  readonly fromEpoch: number;
  readonly toEpoch: number;
  readonly moves: number;
  readonly movedFraction: number;
  readonly minimalFraction: number;
  readonly docsToMove: number;
  readonly pairs: readonly PairEstimate[];
}

/** Something the demo reports while it runs. */
export type DemoEvent =
  | { readonly type: 'stage'; readonly stage: 'setup' | 'load' | 'plan' | 'migrate' | 'verify'; readonly message: string }
  | { readonly type: 'loading'; readonly loaded: number; readonly total: number }
  | { readonly type: 'loaded'; readonly docs: number; readonly ms: number; readonly perShard: Readonly<Record<string, number>> }
  | { readonly type: 'planned'; readonly plan: DemoPlan; readonly moves: readonly { from: string; to: string; estimated: number }[] }
  | { readonly type: 'migration'; readonly event: MigrationEvent; readonly writes: WriterCounters };

/** What {@link runDemo} found. `ok` is true iff every invariant holds. */
export interface DemoReport {
  readonly ok: boolean;
  readonly backend: 'memory' | 'mongo';
  readonly docs: number;
  readonly shards: number;
  readonly writers: number;
  readonly seed: number;
  readonly load: { readonly docs: number; readonly ms: number; readonly perShard: Readonly<Record<string, number>> };
  readonly plan: DemoPlan;
  readonly migration: {
    readonly migrationId: string;
    readonly outcome: MigrationReport['outcome'];
    readonly epoch: number;
    readonly ms: number;
    readonly docsMoved: number;
    readonly docsRead: number;
    readonly readsPerMoved: number;
    readonly docsPerSec: number;
  };
  /** Operations the writers had acknowledged (or saw fail) while the migration ran. */
  readonly writes: WriterCounters & { readonly redirects: number };
  /** Live documents per shard at the end. */
  readonly final: { readonly docs: number; readonly perShard: Readonly<Record<string, number>> };
  readonly audit: PlacementAuditReport['totals'];
  readonly invariants: readonly InvariantResult[];
}

const DEFAULTS = { docs: 100_000, shards: 4, writers: 2, seed: 1, leaseMs: 1000, opTimeoutMs: 1000, batchSize: 500 } as const;
const LOAD_BATCH = 1000;

/** A store whose every call first lets the event loop run other work (timers, writers). */
class YieldingStore extends StoreDecorator {
  protected async around<T>(_op: StoreOp, fn: () => Promise<T>): Promise<T> {
    await yieldToLoop();
    return fn();
  }
}

/** A store provider handing out {@link YieldingStore}s, one per shard. */
function yielding(pool: { store(id: string): ShardStore }): { store(id: string): ShardStore } {
  const wrapped = new Map<string, ShardStore>();
  return {
    store(id) {
      let store = wrapped.get(id);
      if (store === undefined) {
        store = new YieldingStore(pool.store(id));
        wrapped.set(id, store);
      }
      return store;
    },
  };
}

function positiveInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ShardkitInvalidArgumentError(`demo: ${name} must be an integer in ${min}..${max}, got ${String(value)}`);
  }
  return value;
}

async function liveCounts(stores: ReadonlyMap<string, ShardStore>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [id, store] of stores) out[id] = await store.count(LIVE);
  return out;
}

/** The demo's two topologies and the pool over the backend's stores. */
interface DemoSetup {
  readonly from: Topology;
  readonly to: Topology;
  readonly stable: RoutingState;
  readonly pool: { store(id: string): ShardStore };
}

/** Publish the first topology on fresh routing indexes; `to` adds `newShard`. */
async function setUp(backend: DemoBackend, ids: readonly string[], shardCount: number, newShard: string): Promise<DemoSetup> {
  const shardSpec = (id: string): { id: string; weight: number; uri?: string } => {
    const uri = backend.uris.get(id);
    return uri === undefined ? { id, weight: 1 } : { id, weight: 1, uri };
  };
  const from = Topology.from({
    name: backend.name,
    epoch: 1,
    hash: 'xxhash32',
    vnodes: 160,
    placement: 'hashed',
    shards: ids.slice(0, shardCount).map(shardSpec),
  });
  const to = applyChange(from, { kind: 'add', shard: shardSpec(newShard) });
  for (const store of backend.stores.values()) await store.ensureRoutingIndex();
  const stable: RoutingState = { phase: 'stable', epoch: from.epoch, topology: from.toJSON() };
  await backend.config.compareAndSet(null, stable);
  const pool = {
    store: (id: string): ShardStore => {
      const store = backend.stores.get(id);
      if (store === undefined) throw new ShardkitInvalidArgumentError(`demo: no store for shard ${id}`);
      return store;
    },
  };
  return { from, to, stable, pool };
}

/** Insert `docs` documents in batches, each adopted by the writer whose books it belongs to. */
async function loadDocuments(loader: ShardedCollection<DemoDoc>, books: readonly DemoWriter[], docs: number, emit: (e: DemoEvent) => void): Promise<void> {
  for (let i = 0; i < docs; i += LOAD_BATCH) {
    const batch: DemoDoc[] = [];
    for (let j = i; j < Math.min(docs, i + LOAD_BATCH); j++) {
      const owner = j % books.length;
      batch.push({ _id: `user:${j}`, n: j, owner, note: 'loaded before the rebalance' });
      books[owner]!.adopt(`user:${j}`, j);
    }
    await loader.insertMany(batch);
    emit({ type: 'loading', loaded: Math.min(docs, i + LOAD_BATCH), total: docs });
  }
}

/** The plan of the change, with the documents each move carries counted at its source. */
async function planMoves(
  setup: DemoSetup,
  newShard: string,
): Promise<{ plan: DemoPlan; estimates: Array<{ from: string; to: string; estimated: number }> }> {
  const rebalance = planRebalance(setup.from, setup.to);
  const pairs = new Map<string, { from: string; to: string; ranges: number; docs: number }>();
  const estimates: Array<{ from: string; to: string; estimated: number }> = [];
  for (const m of rebalance.moves) {
    const key = `${m.from}\u0000${m.to}`;
    const pair = pairs.get(key) ?? { from: m.from, to: m.to, ranges: 0, docs: 0 };
    const estimated = await setup.pool.store(m.from).countRange(m, LIVE);
    estimates.push({ from: m.from, to: m.to, estimated });
    pair.ranges += 1;
    pair.docs += estimated;
    pairs.set(key, pair);
  }
  const plan: DemoPlan = {
    change: `add ${newShard}`,
    fromEpoch: rebalance.fromEpoch,
    toEpoch: rebalance.toEpoch,
    moves: rebalance.moves.length,
    movedFraction: rebalance.movedFraction,
    minimalFraction: rebalance.minimalFraction,
    docsToMove: [...pairs.values()].reduce((s, p) => s + p.docs, 0),
    pairs: [...pairs.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to)),
  };
  return { plan, estimates };
}

/** Run the migration to `setup.to` while the writers keep writing; they stop when it ends. */
async function migrateUnderWriters(
  backend: DemoBackend,
  setup: DemoSetup,
  writers: readonly DemoWriter[],
  options: DemoOptions,
  timing: { leaseMs: number; opTimeoutMs: number },
  emit: (e: DemoEvent) => void,
): Promise<{ report: MigrationReport; ms: number }> {
  const { pool } = setup;
  const { leaseMs, opTimeoutMs } = timing;
  let stopWriters = false;
  const running = writers.map((w) => w.run(() => stopWriters, options.writerPauseMs ?? 0));
  const migrator = new Migrator({
    config: backend.config,
    // Embedded stores answer without I/O: without a turn of the event loop per call, the copier
    // would run each range start to end and the writers would only write during the lease waits.
    pool: backend.kind === 'memory' ? yielding(pool) : pool,
    owner: 'shardkit-demo',
    leaseMs,
    // Nobody takes the demo's migration over, so a long lock lease costs nothing and keeps a busy
    // machine's pauses between two checkpoints from lapsing it.
    lockLeaseMs: Math.max(leaseMs, 10_000),
    opTimeoutMs,
    batchSize: options.batchSize ?? DEFAULTS.batchSize,
    ...(options.throttleDocsPerSec === undefined ? {} : { throttleDocsPerSec: options.throttleDocsPerSec }),
    onEvent: (event) => emit({ type: 'migration', event, writes: sumCounters(writers.map((w) => w.counters)) }),
  });
  const started = performance.now();
  try {
    const report = await migrator.start(setup.to, options.signal === undefined ? {} : { signal: options.signal });
    return { report, ms: performance.now() - started };
  } finally {
    stopWriters = true;
    await Promise.allSettled(running);
  }
}

/** The report of a finished run from the figures each stage measured. */
function toReport(
  kind: DemoBackend['kind'],
  p: {
    docs: number;
    shards: number;
    writers: number;
    seed: number;
    loadMs: number;
    loadedPerShard: Record<string, number>;
    plan: DemoPlan;
    migrateMs: number;
    finalPerShard: Record<string, number>;
  },
  report: MigrationReport,
  writers: readonly DemoWriter[],
  audit: PlacementAuditReport,
  invariants: InvariantResult[],
): DemoReport {
  return {
    ok: invariants.every((i) => i.ok),
    backend: kind,
    docs: p.docs,
    shards: p.shards,
    writers: p.writers,
    seed: p.seed,
    load: { docs: p.docs, ms: p.loadMs, perShard: p.loadedPerShard },
    plan: p.plan,
    migration: {
      migrationId: report.migrationId,
      outcome: report.outcome,
      epoch: report.epoch,
      ms: p.migrateMs,
      docsMoved: report.counters.docsMoved,
      docsRead: report.counters.docsRead,
      readsPerMoved: report.readsPerMoved,
      docsPerSec: p.migrateMs > 0 ? (report.counters.docsMoved * 1000) / p.migrateMs : 0,
    },
    writes: { ...sumCounters(writers.map((w) => w.counters)), redirects: writers.reduce((s, w) => s + w.redirects, 0) },
    final: { docs: Object.values(p.finalPerShard).reduce((s, n) => s + n, 0), perShard: p.finalPerShard },
    audit: audit.totals,
    invariants,
  };
}

/** Run the demo end to end. Closes everything it opened, also on failure. */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const docs = positiveInt('docs', options.docs ?? DEFAULTS.docs, 1, 10_000_000);
  const shardCount = positiveInt('shards', options.shards ?? DEFAULTS.shards, 1, 64);
  const writerCount = positiveInt('writers', options.writers ?? DEFAULTS.writers, 0, 64);
  const seed = positiveInt('seed', options.seed ?? DEFAULTS.seed, 0, 2 ** 31);
  const leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
  const opTimeoutMs = options.opTimeoutMs ?? DEFAULTS.opTimeoutMs;
  const emit = options.onEvent ?? (() => undefined);

  const ids = Array.from({ length: shardCount + 1 }, (_, i) => `s${i + 1}`);
  const newShard = ids[shardCount]!;
  emit({ type: 'stage', stage: 'setup', message: options.mongoUris === undefined ? `${shardCount + 1} embedded shards` : 'connecting to the servers' });
  const backend: DemoBackend =
    options.mongoUris === undefined ? memoryBackend(ids) : await mongoBackend(ids, options.mongoUris, opTimeoutMs);
  const followers: TopologyFollower[] = [];
  try {
    const setup = await setUp(backend, ids, shardCount, newShard);

    // 1. load
    emit({ type: 'stage', stage: 'load', message: `loading ${docs} documents on ${shardCount} shards` });
    const loader = new ShardedCollection<DemoDoc>({ name: 'demo', pool: setup.pool, routing: new StaticRoutingSource(setup.stable) });
    const writers: DemoWriter[] = [];
    for (let w = 0; w < writerCount; w++) {
      const follower = await TopologyFollower.start(backend.config, { leaseMs, refreshIntervalMs: Math.max(1, Math.floor(leaseMs / 3)) });
      followers.push(follower);
      writers.push(new DemoWriter(w, new ShardedCollection<DemoDoc>({ name: 'demo', pool: setup.pool, routing: follower }), seed));
    }
    // With no writers, an idle one still keeps the books of the loaded documents.
    const books = writerCount > 0 ? writers : [new DemoWriter(0, loader, seed)];
    const loadStarted = performance.now();
    await loadDocuments(loader, books, docs, emit);
    const loadMs = performance.now() - loadStarted;
    const loadedPerShard = await liveCounts(backend.stores);
    emit({ type: 'loaded', docs, ms: loadMs, perShard: loadedPerShard });

    // 2. plan
    emit({ type: 'stage', stage: 'plan', message: `planning: add ${newShard}` });
    const { plan, estimates } = await planMoves(setup, newShard);
    emit({ type: 'planned', plan, moves: estimates });

    // 3. migrate under writers
    emit({ type: 'stage', stage: 'migrate', message: `rebalancing with ${writerCount} writer(s) running` });
    const { report, ms: migrateMs } = await migrateUnderWriters(backend, setup, writers, options, { leaseMs, opTimeoutMs }, emit);

    // 4. verify
    emit({ type: 'stage', stage: 'verify', message: 'checking every invariant' });
    const state = await backend.config.load();
    if (state === null) throw new ShardkitInvalidArgumentError('demo: the config store lost its state');
    const audit = await auditPlacement({ state, stores: backend.stores });
    const invariants = await checkInvariants({ state, toEpoch: report.epoch, writers: books, stores: backend.stores, audit, report });
    const finalPerShard = await liveCounts(backend.stores);
    const parts = { docs, shards: shardCount, writers: writerCount, seed, loadMs, loadedPerShard, plan, migrateMs, finalPerShard };
    return toReport(backend.kind, parts, report, writers, audit, invariants);
  } finally {
    for (const f of followers) f.close();
    await backend.close(options.keepData === true ? { keepData: true } : {});
  }
}
