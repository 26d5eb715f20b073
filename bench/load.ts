/**
 * Load test at twice the peak: the data path's sustainable throughput on the test servers, then
 * twice that rate held for a fixed time while a migration adds a shard, with every invariant checked.
 *
 *   bash scripts/with-test-servers.sh node --import tsx bench/load.ts [--quick] [--hold-s=60] [--write]
 *   (or SHARDKIT_MONGO_URIS=mongodb://a,mongodb://b,mongodb://c,mongodb://d node --import tsx bench/load.ts)
 *
 * 1. Idle: the mix one operation at a time; its p99 sets the bound.
 * 2. Ramp: the mix offered open loop at rising rates (x1.5 per step; halving first while the first
 *    rate is over the bound). A step passes when its p99 is
 *    at most `P99_FACTOR` x the idle p99, no operation failed or was shed, and the rate achieved is
 *    at least 95% of the rate offered. The peak is the highest rate that passed: the highest at
 *    which p99 is still acceptable, not the highest the servers can absorb.
 * 3. Hold: twice the peak, open loop, for `--hold-s` seconds (longer if the migration is not done),
 *    while a `Migrator` adds a shard (3 shards -> 4). Requests start on schedule whether or not
 *    earlier ones finished, up to `MAX_IN_FLIGHT` at once; later ones wait in a queue of at most
 *    `MAX_QUEUE` and beyond it are shed (counted, never sent). Latency counts from the scheduled
 *    start, so queueing is in it (no coordinated omission).
 * 4. Check: the invariants of `shardkit demo` (src/demo/invariants.ts) over everything acknowledged
 *    during all steps: each acknowledged write present exactly once, at its owner, at its latest
 *    version; no deleted document back; no marker left; every by-key read saw the latest write.
 *
 * The mix: findOne by key 35%, updateOne by key 30%, insertOne 15%, deleteOne 10%, and a scatter
 * `find` with a limit 10%. No two operations in flight touch the same key, so the books know
 * the expected state of every key; a key whose operation failed is left alone afterwards with
 * both outcomes accepted.
 *
 * Not a timed test: figures depend on the machine (the servers, the migrator and this load
 * generator share its cores). With `--write`: bench/results/load.json and the "## Load test at
 * twice the peak" section of docs/benchmarks.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { auditPlacement } from '../src/audit/placement-audit.js';
import { ShardedCollection } from '../src/collection/sharded-collection.js';
import { MemoryConfigStore } from '../src/config-store/memory-config-store.js';
import { errorCodeOf } from '../src/demo/errors.js';
import { checkInvariants, type InvariantResult, type WriterBooks } from '../src/demo/invariants.js';
import { LiveKeys } from '../src/demo/live-keys.js';
import { prng, type Expected } from '../src/demo/writers.js';
import { ErrorCode } from '../src/errors.js';
import { Migrator, type MigrationReport } from '../src/rebalance/migrator.js';
import type { MigrationEvent } from '../src/rebalance/events.js';
import { TopologyFollower } from '../src/router/follower.js';
import { redactUri } from '../src/redact.js';
import { MongoStore } from '../src/stores/mongo-store.js';
import type { ShardStore } from '../src/stores/shard-store.js';
import type { TopologySpec } from '../src/topology/types.js';
import { writeBenchmarksSection } from './lib/benchmarks-doc.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
// Tracked files (docs/benchmarks.md, bench/results/) change only when asked.
const WRITE = argv.includes('--write');
const flag = (name: string, fallback: number): number => {
  const raw = argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${String(raw)}`);
  return value;
};
/** Shards before the migration; the migration adds one more (on the next server). */
const SHARDS = 3;
// FerretDB scans a collection for any filter beyond `{_id}` (the conditional writes and the scatter
// find), so the collection stays small enough for the servers to answer in milliseconds.
const DOCS = QUICK ? 600 : 1500;
const IDLE_OPS = QUICK ? 100 : 300;
const STEP_S = flag('step-s', QUICK ? 5 : 10);
const HOLD_S = flag('hold-s', QUICK ? 20 : 60);
const START_RATE = flag('start-rate', 10);
const MIN_RATE = 2;
const STEP_FACTOR = 1.5;
const MAX_STEPS = 14;
/** A ramp step passes while its p99 is at most this multiple of the idle p99. */
const P99_FACTOR = 3;
const MIN_ACHIEVED = 0.95;
const MAX_IN_FLIGHT = 64;
const MAX_QUEUE = 256;
/** The migration starts this long into the hold, so the hold has a before. */
const MIGRATION_DELAY_S = QUICK ? 3 : 5;
const LEASE_MS = 2000;
/** How often the hold says how far it got (a migration on a loaded machine takes minutes). */
const TICK_MS = 10_000;
const OP_TIMEOUT_MS = 5000;
/** The migrator's own per-call timeout (the CLI's `--op-timeout-ms`), as bench/migration.ts has it. */
const MIGRATOR_OP_TIMEOUT_MS = 60_000;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Doc {
  _id: string;
  n: number;
  pad: string;
}

const KINDS = ['findOne', 'updateOne', 'insertOne', 'deleteOne', 'scatterFind'] as const;
type Kind = (typeof KINDS)[number];
/** Cumulative weights of the mix, in KINDS order. */
const MIX: readonly number[] = [0.35, 0.65, 0.8, 0.9, 1];

/** Latency summary of one kind of operation (or all), in ms. */
interface Stats {
  readonly ops: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function stats(samples: readonly number[]): Stats {
  if (samples.length === 0) return { ops: 0, p50: Number.NaN, p99: Number.NaN, max: Number.NaN };
  const sorted = Float64Array.from(samples).sort();
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { ops: sorted.length, p50: q(0.5), p99: q(0.99), max: sorted[sorted.length - 1]! };
}

/** What one phase (idle, a ramp step, the hold) measured. */
interface Recorder {
  readonly latency: Map<Kind, number[]>;
  readonly errors: Map<string, number>;
  ok: number;
  failed: number;
}

function recorder(): Recorder {
  return { latency: new Map(KINDS.map((k) => [k, []])), errors: new Map(), ok: 0, failed: 0 };
}

const allLatencies = (r: Recorder): number[] => [...r.latency.values()].flat();

/**
 * The expected state of every key, as `shardkit demo`'s writers keep it, for one open-loop client:
 * keys are busy while an operation on them is in flight, so operations on one key never overlap.
 */
class Books implements WriterBooks {
  readonly expected = new Map<string, Expected>();
  readonly uncertain = new Map<string, Expected[]>();
  readonly counters = { reads: 0, staleReads: 0 };
  readonly #live = new LiveKeys();
  readonly #busy = new Set<string>();
  #serial = 0;
  #next = 0;

  /** A document loaded before the load starts. */
  adopt(id: string, n: number): void {
    this.expected.set(id, n);
    this.#live.add(id);
  }

  nextValue(): number {
    return ++this.#serial;
  }

  /** A fresh key, busy until {@link release}. */
  freshKey(): string {
    const id = `l${(this.#next++).toString(36)}`;
    this.#busy.add(id);
    return id;
  }

  /** A live key no operation is working on, busy until {@link release}; null when none was found. */
  pickLive(random: () => number): string | null {
    for (let attempt = 0; attempt < 8; attempt++) {
      const id = this.#live.pick(random);
      if (id === undefined) return null;
      if (this.#busy.has(id)) continue;
      this.#busy.add(id);
      return id;
    }
    return null;
  }

  release(id: string): void {
    this.#busy.delete(id);
  }

  /** An acknowledged write: the key's state is now `value` (null: deleted). */
  acknowledged(id: string, value: Expected): void {
    this.expected.set(id, value);
    if (value === null) this.#live.delete(id);
    else this.#live.add(id);
  }

  /** A write that failed: the key may be in either state, and no operation touches it again. */
  failed(id: string, value: Expected): void {
    const before = this.expected.get(id) ?? null;
    this.uncertain.set(id, [before, value]);
    this.#live.delete(id);
  }
}

/** One operation of the mix against `coll`, booked in `books`; throws what the collection threw. */
async function runOp(kind: Kind, coll: ShardedCollection<Doc>, books: Books, random: () => number): Promise<void> {
  if (kind === 'scatterFind') {
    // Reads through the collection's find whatever it returns (an array today, a cursor later).
    const found: unknown = await coll.find({ n: { $gte: Math.floor(random() * books.nextValue()) } }, { limit: 10 }).toArray();
    const docs = Array.isArray(found) ? found : await (found as { toArray(): Promise<unknown[]> }).toArray();
    if (docs.length > 10) throw new Error(`scatter find returned ${docs.length} documents past its limit of 10`);
    return;
  }
  const id = kind === 'insertOne' ? books.freshKey() : books.pickLive(random);
  if (id === null) return;
  const value = kind === 'deleteOne' ? null : books.nextValue();
  try {
    switch (kind) {
      case 'insertOne':
        await coll.insertOne({ _id: id, n: value!, pad: 'x'.repeat(64) });
        break;
      case 'updateOne':
        if ((await coll.updateOne({ _id: id }, { $set: { n: value! } })).matchedCount !== 1) books.counters.staleReads += 1;
        break;
      case 'deleteOne':
        if ((await coll.deleteOne({ _id: id })).deletedCount !== 1) books.counters.staleReads += 1;
        break;
      case 'findOne': {
        const doc = await coll.findOne({ _id: id });
        books.counters.reads += 1;
        if ((doc?.n ?? null) !== books.expected.get(id)) books.counters.staleReads += 1;
        return;
      }
    }
    books.acknowledged(id, value);
  } catch (error) {
    if (kind !== 'findOne') books.failed(id, value);
    throw error;
  } finally {
    books.release(id);
  }
}

/** Picks the next kind of the mix. */
function pickKind(random: () => number): Kind {
  const r = random();
  return KINDS[MIX.findIndex((w) => r < w)]!;
}

/** What an open-loop phase did besides its latencies. */
interface OpenLoopResult {
  readonly offeredRate: number;
  /** Operations finished (acknowledged or failed) per second of the phase. */
  readonly achievedRate: number;
  readonly seconds: number;
  readonly scheduled: number;
  readonly completed: number;
  /** Operations never sent: the queue was full when they fell due, or still queued at the end. */
  readonly shed: number;
  /** The longest the queue of due but unstarted operations got. */
  readonly maxBacklog: number;
  readonly maxInFlight: number;
}

/**
 * Offer `rate` operations per second until `until(elapsedMs)` says stop: each operation falls due
 * at its scheduled time whether or not earlier ones finished, starts when fewer than MAX_IN_FLIGHT
 * run, waits in a queue of at most MAX_QUEUE otherwise, and is shed beyond it. `op` gets its due
 * time, so its latency includes the wait.
 */
async function openLoop(
  rate: number,
  until: (elapsedMs: number) => boolean,
  op: (dueAt: number) => Promise<void>,
  rec: Recorder,
  onTick?: (figures: string) => void,
): Promise<OpenLoopResult> {
  const t0 = performance.now();
  const queue: number[] = [];
  const running = new Set<Promise<void>>();
  let scheduled = 0;
  let shed = 0;
  let maxBacklog = 0;
  let maxInFlight = 0;
  let completed = 0;
  const start = (dueAt: number): void => {
    const p: Promise<void> = op(dueAt)
      .then(
        () => void (rec.ok += 1),
        (error: unknown) => {
          rec.failed += 1;
          const code = errorCodeOf(error);
          rec.errors.set(code, (rec.errors.get(code) ?? 0) + 1);
        },
      )
      .finally(() => {
        completed += 1;
        running.delete(p);
        while (running.size < MAX_IN_FLIGHT && queue.length > 0) start(queue.shift()!);
      });
    running.add(p);
    maxInFlight = Math.max(maxInFlight, running.size);
  };
  let elapsed = 0;
  let nextTick = TICK_MS;
  while (!until((elapsed = performance.now() - t0))) {
    // Operation k falls due at k / rate: the ones due by now are 0 ..= floor(rate * elapsed), so each
    // starts at its due time, not one interval after it (which would count the interval as latency).
    const due = Math.floor((rate * elapsed) / 1000) + 1;
    for (; scheduled < due; scheduled++) {
      const dueAt = t0 + (scheduled * 1000) / rate;
      if (running.size < MAX_IN_FLIGHT) start(dueAt);
      else if (queue.length < MAX_QUEUE) queue.push(dueAt);
      else shed += 1;
    }
    maxBacklog = Math.max(maxBacklog, queue.length);
    if (onTick !== undefined && elapsed >= nextTick) {
      nextTick += TICK_MS;
      onTick(`${(elapsed / 1000).toFixed(0)}s: ${completed} done, ${rec.failed} failed, ${running.size} in flight, backlog ${queue.length}, shed ${shed}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const seconds = elapsed / 1000;
  shed += queue.length;
  queue.length = 0;
  const finishedInTime = completed;
  while (running.size > 0) await Promise.all([...running]);
  return { offeredRate: rate, achievedRate: finishedInTime / seconds, seconds, scheduled, completed, shed, maxBacklog, maxInFlight };
}

/** One operation of the mix, its latency counted from `dueAt` (failed ones too) by kind. */
function mix(coll: ShardedCollection<Doc>, books: Books, random: () => number, rec: Recorder): (dueAt: number) => Promise<void> {
  return async (dueAt) => {
    const kind = pickKind(random);
    try {
      await runOp(kind, coll, books, random);
    } finally {
      rec.latency.get(kind)!.push(performance.now() - dueAt);
    }
  };
}

/** A ramp step, or the hold, as reported. */
interface PhaseReport extends OpenLoopResult {
  readonly all: Stats;
  readonly byKind: Record<Kind, Stats>;
  readonly errors: Record<string, number>;
  readonly timeouts: number;
}

function report(loop: OpenLoopResult, rec: Recorder): PhaseReport {
  const errors = Object.fromEntries(rec.errors);
  const timeouts = (errors[ErrorCode.storeTimeout] ?? 0) + (errors[ErrorCode.configTimeout] ?? 0);
  const byKind = Object.fromEntries(KINDS.map((k) => [k, stats(rec.latency.get(k)!)])) as Record<Kind, Stats>;
  return { ...loop, all: stats(allLatencies(rec)), byKind, errors, timeouts };
}

const ms = (x: number): string => (Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));

function line(label: string, r: PhaseReport): string {
  return (
    `${label}: offered ${r.offeredRate.toFixed(0)}/s, achieved ${r.achievedRate.toFixed(1)}/s, p50 ${ms(r.all.p50)} ms, p99 ${ms(r.all.p99)} ms, ` +
    `errors ${Object.values(r.errors).reduce((a, b) => a + b, 0)}, shed ${r.shed}, max backlog ${r.maxBacklog}, max in flight ${r.maxInFlight}`
  );
}

/** Whether a ramp step's rate is sustainable: p99 within the bound, nothing failed or shed, the rate achieved. */
function sustainable(r: PhaseReport, boundMs: number): boolean {
  return r.all.p99 <= boundMs && Object.keys(r.errors).length === 0 && r.shed === 0 && r.achievedRate >= MIN_ACHIEVED * r.offeredRate;
}

interface World {
  readonly coll: ShardedCollection<Doc>;
  readonly config: MemoryConfigStore;
  readonly follower: TopologyFollower;
  readonly stores: Map<string, ShardStore>;
  readonly migratorStores: Map<string, ShardStore>;
  readonly from: TopologySpec;
  readonly to: TopologySpec;
  readonly books: Books;
  readonly random: () => number;
}

async function setUp(uris: readonly string[]): Promise<World> {
  const prefix = `bench_load_${Date.now().toString(36)}`;
  const shards = Array.from({ length: SHARDS + 1 }, (_, i) => ({ id: `s${i}`, weight: 1, uri: uris[i % uris.length]!, db: `${prefix}_s${i}` }));
  const from: TopologySpec = { name: 'load', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: shards.slice(0, SHARDS) };
  const to: TopologySpec = { ...from, epoch: 2, shards };
  const stores = new Map<string, ShardStore>();
  const migratorStores = new Map<string, ShardStore>();
  for (const s of shards) {
    const store = await MongoStore.connect({ shardId: s.id, uri: s.uri, db: s.db, collection: 'users', opTimeoutMs: OP_TIMEOUT_MS });
    await store.ensureRoutingIndex();
    stores.set(s.id, store);
    // The migrator runs as its own process would, on its own clients: under a load average of 36 a
    // range count (a full scan on FerretDB) outlasted the application's 5 s timeout and failed the run.
    migratorStores.set(s.id, await MongoStore.connect({ shardId: s.id, uri: s.uri, db: s.db, collection: 'users', opTimeoutMs: MIGRATOR_OP_TIMEOUT_MS }));
  }
  const config = new MemoryConfigStore();
  await config.compareAndSet(null, { phase: 'stable', epoch: 1, topology: from });
  const follower = await TopologyFollower.start(config, { leaseMs: LEASE_MS });
  const coll = new ShardedCollection<Doc>({ name: 'users', pool: { store: (id: string) => stores.get(id)! }, routing: follower });
  const books = new Books();
  for (let i = 0; i < DOCS; i += 500) {
    const batch = Array.from({ length: Math.min(500, DOCS - i) }, (_, j) => ({ _id: `d${i + j}`, n: 0, pad: 'x'.repeat(64) }));
    await coll.insertMany(batch);
    for (const d of batch) books.adopt(d._id, 0);
  }
  return { coll, config, follower, stores, migratorStores, from, to, books, random: prng(20261201) };
}

/** The mix one operation at a time: the latency of an idle deployment. */
async function idle(w: World): Promise<PhaseReport> {
  const rec = recorder();
  const op = mix(w.coll, w.books, w.random, rec);
  const t0 = performance.now();
  for (let i = 0; i < IDLE_OPS; i++) {
    try {
      await op(performance.now());
      rec.ok += 1;
    } catch (error) {
      rec.failed += 1;
      rec.errors.set(errorCodeOf(error), (rec.errors.get(errorCodeOf(error)) ?? 0) + 1);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const loop = { offeredRate: IDLE_OPS / seconds, achievedRate: IDLE_OPS / seconds, seconds, scheduled: IDLE_OPS, completed: IDLE_OPS, shed: 0, maxBacklog: 0, maxInFlight: 1 };
  return report(loop, rec);
}

/**
 * Rising rates until one is not sustainable; the peak is the last that was. When the first rate is
 * over the bound already (a busy machine), halve it until one passes, then rise from there.
 */
async function ramp(w: World, boundMs: number, log: (s: string) => void): Promise<{ steps: PhaseReport[]; peak: number | null }> {
  const steps: PhaseReport[] = [];
  const step = async (rate: number): Promise<boolean> => {
    const rec = recorder();
    const r = report(await openLoop(rate, (e) => e >= STEP_S * 1000, mix(w.coll, w.books, w.random, rec), rec), rec);
    steps.push(r);
    const ok = sustainable(r, boundMs);
    log(`${line(`ramp ${String(rate).padStart(4)}/s`, r)}${ok ? '' : '  <- over the bound'}`);
    return ok;
  };
  let rate = START_RATE;
  while (!(await step(rate))) {
    if (rate <= MIN_RATE) return { steps, peak: null };
    rate = Math.max(MIN_RATE, Math.floor(rate / 2));
  }
  let peak = rate;
  for (let i = 0; i < MAX_STEPS; i++) {
    rate = Math.round(rate * STEP_FACTOR);
    if (!(await step(rate))) break;
    peak = rate;
  }
  return { steps, peak };
}

/** Twice the peak for HOLD_S seconds (or until the migration ends, if later), a migration adding a shard. */
async function hold(w: World, rate: number, log: (s: string) => void): Promise<{ hold: PhaseReport; migration: MigrationReport; migrationS: number; phases: string[]; stoppedUnderLoad: string | null }> {
  const rec = recorder();
  const phases: string[] = [];
  let migration: MigrationReport | null = null;
  let migrationError: unknown = null;
  let migrationS = 0;
  const t0 = performance.now();
  const migrating = (async () => {
    await new Promise((resolve) => setTimeout(resolve, MIGRATION_DELAY_S * 1000));
    const m0 = performance.now();
    const migrator = new Migrator({
      config: w.config,
      pool: { store: (id: string) => w.migratorStores.get(id)! },
      owner: 'bench-load',
      leaseMs: LEASE_MS,
      // The default lock lease (5 s) lapsed on the 2-core machine under a load average of 26 while
      // this process was saturated: no other migrator competes here, so a long lease costs nothing.
      lockLeaseMs: 30_000,
      opTimeoutMs: OP_TIMEOUT_MS,
      onEvent: (e: MigrationEvent) => {
        if (e.type === 'phase') phases.push(`${((performance.now() - t0) / 1000).toFixed(1)}s ${e.phase}`);
      },
    });
    try {
      migration = await migrator.start(w.to);
    } catch (error) {
      migrationError = error;
    }
    migrationS = (performance.now() - m0) / 1000;
    return migrator;
  })();
  let done = false;
  void migrating.then(() => (done = true));
  const tick = (figures: string): void => log(`  hold ${figures}; migration ${phases.at(-1) ?? 'not started'}`);
  const loop = await openLoop(rate, (e) => e >= HOLD_S * 1000 && done, mix(w.coll, w.books, w.random, rec), rec, tick);
  const migrator = await migrating;
  const r = report(loop, rec);
  log(`${line(`hold ${rate}/s`, r)}; errors by code ${JSON.stringify(r.errors)}`);
  let stoppedUnderLoad: string | null = null;
  if (migration === null) {
    // A migrator that gives up (its retry budget spent) leaves a consistent journal; an operator
    // resumes it once the load has passed, and the invariants are checked after that.
    stoppedUnderLoad = `${errorCodeOf(migrationError)} after ${migrationS.toFixed(0)} s: ${String(migrationError).slice(0, 200)}`;
    log(`the migration stopped under the load (${stoppedUnderLoad}); resuming it with the load off`);
    const r0 = performance.now();
    migration = await migrator.resume();
    log(`resumed: ${migration.outcome} in ${((performance.now() - r0) / 1000).toFixed(1)} s`);
  }
  return { hold: r, migration, migrationS, phases, stoppedUnderLoad };
}

async function main(): Promise<void> {
  const uris = (process.env['SHARDKIT_MONGO_URIS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (uris.length === 0) throw new Error('no server: run through `bash scripts/with-test-servers.sh node --import tsx bench/load.ts` or set SHARDKIT_MONGO_URIS');
  const log = (s: string): void => void process.stdout.write(`${s}\n`);
  log(`load test: ${SHARDS} shards + 1 added during the hold, on ${uris.length} server(s) (${uris.map(redactUri).join(', ')}); ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(2)}`);
  const w = await setUp(uris);
  try {
    const idleReport = await idle(w);
    const boundMs = P99_FACTOR * idleReport.all.p99;
    log(`idle (one at a time, ${IDLE_OPS} ops): p50 ${ms(idleReport.all.p50)} ms, p99 ${ms(idleReport.all.p99)} ms -> bound p99 <= ${ms(boundMs)} ms`);
    const { steps, peak } = await ramp(w, boundMs, log);
    if (peak === null) throw new Error(`even ${MIN_RATE}/s was over the bound: the servers are too busy to measure`);
    log(`peak (highest rate with p99 <= ${ms(boundMs)} ms, no error, nothing shed): ${peak}/s; holding ${2 * peak}/s for ${HOLD_S}s with a migration`);
    const held = await hold(w, 2 * peak, log);
    const state = await w.config.load();
    if (state === null) throw new Error('no routing state after the migration');
    const audit = await auditPlacement({ state, stores: w.migratorStores });
    const invariants = await checkInvariants({ state, toEpoch: held.migration.epoch, writers: [w.books], stores: w.migratorStores, audit, report: held.migration });
    for (const inv of invariants) log(`${inv.ok ? 'ok  ' : 'FAIL'} ${inv.name}: ${inv.detail}`);
    const result = { idle: idleReport, boundMs, steps, peak, ...held, invariants, loadAverage: os.loadavg(), cores: os.cpus().length };
    log(`hold by kind: ${KINDS.map((k) => `${k} p50 ${ms(held.hold.byKind[k].p50)} / p99 ${ms(held.hold.byKind[k].p99)} ms (${held.hold.byKind[k].ops})`).join('; ')}`);
    log(`migration: ${held.migration.outcome} in ${held.migrationS.toFixed(1)}s, ${held.migration.counters.docsMoved} documents moved; phases ${held.phases.join(', ')}`);
    if (WRITE) write(result);
    if (invariants.some((i) => !i.ok)) process.exitCode = 1;
  } finally {
    w.follower.close();
    for (const s of [...w.stores.values(), ...w.migratorStores.values()]) await s.close();
  }
}

type Result = {
  readonly idle: PhaseReport;
  readonly boundMs: number;
  readonly steps: readonly PhaseReport[];
  readonly peak: number;
  readonly hold: PhaseReport;
  readonly migration: MigrationReport;
  readonly migrationS: number;
  readonly phases: readonly string[];
  /** Why the migration stopped during the hold (it was resumed after it), or null. */
  readonly stoppedUnderLoad: string | null;
  readonly invariants: readonly InvariantResult[];
  readonly loadAverage: readonly number[];
  readonly cores: number;
};

function write(r: Result): void {
  const dir = join(root, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const params = { docs: DOCS, shards: SHARDS, idleOps: IDLE_OPS, stepS: STEP_S, holdS: HOLD_S, startRate: START_RATE, p99Factor: P99_FACTOR, maxInFlight: MAX_IN_FLIGHT, maxQueue: MAX_QUEUE, quick: QUICK };
  writeFileSync(join(dir, 'load.json'), `${JSON.stringify({ params, ...r }, null, 2)}\n`);
  writeBenchmarksSection('## Load test at twice the peak', section(r, params));
}

function section(r: Result, params: Record<string, unknown>): string {
  const kindRows = KINDS.map((k) => `| ${k} | ${r.hold.byKind[k].ops} | ${ms(r.idle.byKind[k].p50)} / ${ms(r.idle.byKind[k].p99)} | ${ms(r.hold.byKind[k].p50)} / ${ms(r.hold.byKind[k].p99)} |`);
  const stepRows = r.steps.map((s) => `| ${s.offeredRate} | ${s.achievedRate.toFixed(1)} | ${ms(s.all.p50)} | ${ms(s.all.p99)} | ${Object.values(s.errors).reduce((a, b) => a + b, 0)} | ${s.shed} | ${sustainable(s, r.boundMs) ? 'yes' : 'no'} |`);
  const errors = Object.entries(r.hold.errors).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';
  return `## Load test at twice the peak

\`bench/load.ts\`, on the FerretDB test servers: ${params['shards']} shards of ${params['docs']} documents in all, a
mix of findOne by key 35%, updateOne by key 30%, insertOne 15%, deleteOne 10% and a scatter \`find\`
with limit 10 (10%), through \`ShardedCollection\`. The load runs open loop: operations fall due at the rate
whether or not earlier ones finished, at most ${params['maxInFlight']} in flight, then a queue of ${params['maxQueue']}, then shed; latency
counts from the due time, so queueing is in it.

- **Idle** (one operation at a time, ${params['idleOps']} operations): p50 ${ms(r.idle.all.p50)} ms, p99 ${ms(r.idle.all.p99)} ms. The bound for
  "sustainable": p99 at most ${params['p99Factor']}x the idle p99 (${ms(r.boundMs)} ms), no error, nothing shed, 95% of the rate achieved.
- **Peak: ${r.peak} operations/s**, the highest step of the ramp (${params['stepS']} s per step, x1.5, halving first while over the bound) within that bound.
- **Hold: ${2 * r.peak}/s offered for ${r.hold.seconds.toFixed(0)} s** while a migration added a 4th shard: achieved
  ${r.hold.achievedRate.toFixed(1)} operations/s, p50 ${ms(r.hold.all.p50)} ms, p99 ${ms(r.hold.all.p99)} ms, errors ${errors}, ${r.hold.timeouts} timeouts,
  ${r.hold.shed} shed (max backlog ${r.hold.maxBacklog}). ${
    r.stoppedUnderLoad === null
      ? `The migration ${r.migration.outcome} in ${r.migrationS.toFixed(1)} s during the hold`
      : `The migration **did not finish under the load**: it stopped (${r.stoppedUnderLoad.replace(/\n/g, ' ')}) with its journal consistent, and \`resume\` with the load off ended it ${r.migration.outcome}`
  }; it moved ${r.migration.counters.docsMoved} documents (${r.migration.counters.repaired} more repaired by verify).
- **Invariants after the migration:** ${r.invariants.every((i) => i.ok) ? 'all held' : 'SOME FAILED'}:
${r.invariants.map((i) => `  ${i.ok ? 'ok' : 'FAILED'}: ${i.name} (${i.detail})`).join('\n')}

| ramp offered/s | achieved/s | p50 ms | p99 ms | errors | shed | sustainable |
|---:|---:|---:|---:|---:|---:|---|
${stepRows.join('\n')}

| during the hold | ops | idle p50 / p99 ms | hold p50 / p99 ms |
|---|---:|---:|---:|
${kindRows.join('\n')}

What bounds these figures: the machine has ${r.cores} cores (load average ${r.loadAverage.map((x) => x.toFixed(2)).join(' / ')} at the end) shared by
the shard servers (FerretDB on SQLite, which scans a collection for any filter beyond \`_id\`), the migrator and
this load generator, so the peak is this machine's, not shardkit's: on dedicated servers the same run
measures the deployment.

\`\`\`sh
bash scripts/with-test-servers.sh node --import tsx bench/load.ts --hold-s=${params['holdS']} --write
\`\`\`
`;
}

await main();
