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
import type { ShardStore, StoredDocument } from '../stores/shard-store.js';
import { LIVE } from '../stores/store-filters.js';
import { Topology } from '../topology/topology.js';
import { memoryBackend, mongoBackend, type DemoBackend } from './backend.js';
import { DemoWriter, sumCounters, type DemoDoc, type Expected, type WriterCounters } from './writers.js';

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
  /** Routers' lease on the routing state (ms, default 1000): the migrator waits it out twice. */
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

/** One checked invariant. */
export interface InvariantResult {
  readonly name: string;
  readonly ok: boolean;
  /** Counts, and a few example keys when it failed. */
  readonly detail: string;
}

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
const SAMPLES = 5;

/** A store provider whose every call first lets the event loop run other work (timers, writers). */
function yielding(pool: { store(id: string): ShardStore }): { store(id: string): ShardStore } {
  const wrapped = new Map<string, ShardStore>();
  return {
    store(id) {
      let store = wrapped.get(id);
      if (store === undefined) {
        store = new Proxy(pool.store(id), {
          get(target, prop, receiver) {
            const value = Reflect.get(target, prop, receiver) as unknown;
            if (typeof value !== 'function') return value;
            return async (...args: unknown[]) => {
              await yieldToLoop();
              return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            };
          },
        });
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

function samples(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  return `; e.g. ${ids.slice(0, SAMPLES).join(', ')}${ids.length > SAMPLES ? ', …' : ''}`;
}

async function liveCounts(stores: ReadonlyMap<string, ShardStore>): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const [id, store] of stores) out[id] = await store.count(LIVE);
  return out;
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

    // 1. load
    emit({ type: 'stage', stage: 'load', message: `loading ${docs} documents on ${shardCount} shards` });
    const loader = new ShardedCollection<DemoDoc>({ name: 'demo', pool, routing: new StaticRoutingSource(stable) });
    const writers: DemoWriter[] = [];
    for (let w = 0; w < writerCount; w++) {
      const follower = await TopologyFollower.start(backend.config, { leaseMs, refreshIntervalMs: Math.max(1, Math.floor(leaseMs / 3)) });
      followers.push(follower);
      writers.push(new DemoWriter(w, new ShardedCollection<DemoDoc>({ name: 'demo', pool, routing: follower }), seed));
    }
    // With no writers, an idle one still keeps the books of the loaded documents.
    const books = writerCount > 0 ? writers : [new DemoWriter(0, loader, seed)];
    const loadStarted = performance.now();
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
    const loadMs = performance.now() - loadStarted;
    const loadedPerShard = await liveCounts(backend.stores);
    emit({ type: 'loaded', docs, ms: loadMs, perShard: loadedPerShard });

    // 2. plan
    emit({ type: 'stage', stage: 'plan', message: `planning: add ${newShard}` });
    const rebalance = planRebalance(from, to);
    const pairs = new Map<string, { from: string; to: string; ranges: number; docs: number }>();
    const estimates: Array<{ from: string; to: string; estimated: number }> = [];
    for (const m of rebalance.moves) {
      const key = `${m.from}\u0000${m.to}`;
      const pair = pairs.get(key) ?? { from: m.from, to: m.to, ranges: 0, docs: 0 };
      const estimated = await pool.store(m.from).countRange(m, LIVE);
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
    emit({ type: 'planned', plan, moves: estimates });

    // 3. migrate under writers
    emit({ type: 'stage', stage: 'migrate', message: `rebalancing with ${writerCount} writer(s) running` });
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
    const migrateStarted = performance.now();
    let report: MigrationReport;
    try {
      report = await migrator.start(to, options.signal === undefined ? {} : { signal: options.signal });
    } finally {
      stopWriters = true;
      await Promise.allSettled(running);
    }
    const migrateMs = performance.now() - migrateStarted;

    // 4. verify
    emit({ type: 'stage', stage: 'verify', message: 'checking every invariant' });
    const state = await backend.config.load();
    if (state === null) throw new ShardkitInvalidArgumentError('demo: the config store lost its state');
    const audit = await auditPlacement({ state, stores: backend.stores });
    const invariants = await checkInvariants({ state, toEpoch: report.epoch, writers: books, stores: backend.stores, audit, report });
    const writes = { ...sumCounters(writers.map((w) => w.counters)), redirects: writers.reduce((s, w) => s + w.redirects, 0) };
    const finalPerShard = await liveCounts(backend.stores);
    return {
      ok: invariants.every((i) => i.ok),
      backend: backend.kind,
      docs,
      shards: shardCount,
      writers: writerCount,
      seed,
      load: { docs, ms: loadMs, perShard: loadedPerShard },
      plan,
      migration: {
        migrationId: report.migrationId,
        outcome: report.outcome,
        epoch: report.epoch,
        ms: migrateMs,
        docsMoved: report.counters.docsMoved,
        docsRead: report.counters.docsRead,
        readsPerMoved: report.readsPerMoved,
        docsPerSec: migrateMs > 0 ? (report.counters.docsMoved * 1000) / migrateMs : 0,
      },
      writes,
      final: { docs: Object.values(finalPerShard).reduce((s, n) => s + n, 0), perShard: finalPerShard },
      audit: audit.totals,
      invariants,
    };
  } finally {
    for (const f of followers) f.close();
    await backend.close(options.keepData === true ? { keepData: true } : {});
  }
}

interface CheckInput {
  readonly state: RoutingState;
  readonly toEpoch: number;
  readonly writers: readonly DemoWriter[];
  readonly stores: ReadonlyMap<string, ShardStore>;
  readonly audit: PlacementAuditReport;
  readonly report: MigrationReport;
}

function isMarker(doc: StoredDocument): boolean {
  return doc._moved !== undefined || doc._ph === true || doc._ts === true;
}

/**
 * Compare every shard's content with what the writers were told: reads all documents of every
 * shard (markers included) directly from the stores, bypassing the data path under test.
 */
export async function checkInvariants(input: CheckInput): Promise<InvariantResult[]> {
  const { state, writers, stores, audit, report } = input;
  const live = new Map<string, { shards: string[]; n: unknown }>();
  let markers = 0;
  for (const [shard, store] of stores) {
    for (const doc of await store.find({})) {
      if (isMarker(doc)) {
        markers += 1;
        continue;
      }
      const key = String(doc._id);
      const entry = live.get(key) ?? { shards: [] as string[], n: doc['n'] };
      entry.shards.push(shard);
      live.set(key, entry);
    }
  }
  const lost: string[] = [];
  const wrongVersion: string[] = [];
  const resurrected: string[] = [];
  const known = new Set<string>();
  const acceptable = (id: string, allowed: readonly Expected[]): void => {
    known.add(id);
    const entry = live.get(id);
    const ok = allowed.some((want) => (want === null ? entry === undefined : entry !== undefined && entry.n === want));
    if (ok) return;
    if (entry === undefined) lost.push(id);
    else if (allowed.every((want) => want === null)) resurrected.push(id);
    else wrongVersion.push(`${id} (n ${String(entry.n)}, expected ${allowed.map(String).join(' or ')})`);
  };
  let acknowledgedLive = 0;
  let acknowledgedDeleted = 0;
  for (const w of writers) {
    for (const [id, want] of w.expected) {
      if (w.uncertain.has(id)) continue;
      if (want === null) acknowledgedDeleted += 1;
      else acknowledgedLive += 1;
      acceptable(id, [want]);
    }
    for (const [id, allowed] of w.uncertain) acceptable(id, allowed);
  }
  const duplicates = [...live].filter(([, e]) => e.shards.length > 1).map(([id, e]) => `${id} on ${e.shards.join('+')}`);
  const orphans = [...live.keys()].filter((id) => !known.has(id));
  const t = audit.totals;
  const misplaced = t.misplaced + t.badHash + t.missingHash + t.fencedAtOwner;
  const staleReads = writers.reduce((s, w) => s + w.counters.staleReads, 0);
  const reads = writers.reduce((s, w) => s + w.counters.reads, 0);
  const uncertain = writers.reduce((s, w) => s + w.uncertain.size, 0);
  return [
    {
      name: 'migration completed and the new topology is live',
      ok: report.outcome === 'completed' && state.phase === 'stable' && state.epoch === input.toEpoch,
      detail: `outcome ${report.outcome}, state ${state.phase} at epoch ${state.epoch}`,
    },
    {
      name: 'every acknowledged write is there, at its latest version',
      ok: lost.length === 0 && wrongVersion.length === 0,
      detail:
        `${acknowledgedLive} live keys checked (${uncertain} with an unacknowledged last write accepted either way): ` +
        `${lost.length} missing, ${wrongVersion.length} at an older version${samples([...lost, ...wrongVersion])}`,
    },
    {
      name: 'no deleted document came back',
      ok: resurrected.length === 0,
      detail: `${acknowledgedDeleted} deleted keys checked, ${resurrected.length} back${samples(resurrected)}`,
    },
    {
      name: 'no duplicates',
      ok: duplicates.length === 0 && t.duplicates === 0,
      detail: `${duplicates.length} _id(s) live on two shards${samples(duplicates)}`,
    },
    {
      name: 'no orphans',
      ok: orphans.length === 0,
      detail: `${orphans.length} live document(s) no writer wrote${samples(orphans)}`,
    },
    {
      name: 'every document on the shard its key routes to',
      ok: misplaced === 0,
      detail: `${t.live} live: ${t.misplaced} misplaced, ${t.badHash + t.missingHash} bad _h, ${t.fencedAtOwner} fenced at their owner`,
    },
    {
      name: 'no fence, placeholder or tombstone left after cleanup',
      ok: markers === 0,
      detail: `${markers} marker(s) left`,
    },
    {
      name: 'every read during the migration saw the latest acknowledged write',
      ok: staleReads === 0,
      detail: `${reads} reads, ${staleReads} stale`,
    },
  ];
}
