/**
 * Migration benchmark: the online migrator's copy throughput against a raw bulk copy of the same
 * documents between the same servers in the same run, documents read per document moved, and an
 * application's latency while a migration runs against its latency before.
 *
 *   bash scripts/with-test-servers.sh node --import tsx bench/migration.ts [--docs N] [--shards N] [--concurrency N] [--max-p99-impact=X] [--write]
 *   node --import tsx bench/migration.ts --render   (rewrite the docs section from the last results)
 *   (or SHARDKIT_MONGO_URIS=mongodb://a,mongodb://b node --import tsx bench/migration.ts)
 *
 * Sequence, on `--shards` shards plus one added (servers reused round-robin):
 * 1. load N documents through ShardedCollection;
 * 2. **raw copies** of exactly the documents adding the shard moves, pair by pair at the migrator's
 *    pair concurrency, into scratch collections on the added shard's server: by `_id` batches
 *    (`find({_id: {$in}})` + `insertMany`), then the fence writes alone (`updateMany` by `_id` of the
 *    same batches, on the scratch copy), then the per-document alternative on a sample (one
 *    conditional `updateOne` per document in one unordered `bulkWrite`), then by `_h` range queries,
 *    one range at a time, then the migrator's listing alone (`spanKeys` of each pair's ranges);
 * 3. **migration A** (add the shard), nobody else writing: copy-phase throughput, time per phase, reads per move;
 * 4. **application baseline**: `APP_CONCURRENCY` loops of point reads and updates through
 *    ShardedCollection for `APP_MS`, latency per operation;
 * 5. **migration B** (the same documents back) with the application running and the adaptive
 *    throttle (`--max-p99-impact`, default 1.5): its latency during the copy phase against step 4, and
 *    while cleanup deletes the markers (from its first batch to the purge);
 * 6. the application alone again for `APP_MS`: a second baseline, after the migration.
 * With `--write`: bench/results/migration.json and the "## Migration" section of docs/benchmarks.md.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MongoClient, type Document, type Filter } from 'mongodb';
import { ShardedCollection } from '../src/collection/sharded-collection.js';
import { MemoryConfigStore } from '../src/config-store/memory-config-store.js';
import type { MigrationEvent } from '../src/rebalance/events.js';
import { Migrator, type MigrationReport } from '../src/rebalance/migrator.js';
import { LISTING_PAGE, nextSpans } from '../src/rebalance/move-work.js';
import { planRebalance } from '../src/rebalance/plan.js';
import { TopologyFollower } from '../src/router/follower.js';
import { ShardRouter } from '../src/router/router.js';
import { MongoStore } from '../src/stores/mongo-store.js';
import type { HashRange, RangeSpan, ShardStore } from '../src/stores/shard-store.js';
import { redactUri } from '../src/redact.js';
import type { TopologySpec } from '../src/topology/types.js';
import { writeBenchmarksSection } from './lib/benchmarks-doc.js';
import { quantileRatioInterval, verdict, type Interval, type Verdict } from './lib/paired.js';

const argv = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  const raw = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
}
const DOCS = flag('docs', 3000);
const SHARDS = flag('shards', 4);
const CONCURRENCY = flag('concurrency', 4);
const BATCH = flag('batch-size', 500);
const VNODES = flag('vnodes', 160);
const APP_MS = flag('app-ms', 5000);
const APP_CONCURRENCY = flag('app-concurrency', 2);
const FENCE_SAMPLE = flag('fence-sample', 50);
// Tracked files (docs/benchmarks.md, bench/results/) change only when asked: a quick look must leave the tree clean.
const IMPACT_ARG = argv.find((a) => a.startsWith('--max-p99-impact='))?.slice('--max-p99-impact='.length);
const MAX_P99_IMPACT = IMPACT_ARG === undefined ? 1.5 : Number(IMPACT_ARG);
const WRITE = argv.includes('--write');
// scripts/with-test-servers.sh exports the test servers' flavour: runs on SQLite and on PostgreSQL must read apart.
const SERVER_KIND =
  process.env['SHARDKIT_SERVER_KIND'] ??
  (process.env['SHARDKIT_FLAVOUR'] === 'postgresql' ? 'FerretDB 1.24 (PostgreSQL)' : 'FerretDB 1.24 (SQLite) unless SHARDKIT_MONGO_URIS names MongoDB');
const LEASE_MS = 1000;
const OP_TIMEOUT_MS = 2000;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Stats {
  readonly ops: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
}

function stats(samples: readonly number[]): Stats {
  const sorted = Float64Array.from(samples).sort();
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? Number.NaN;
  const r = (x: number): number => Math.round(x * 1000) / 1000;
  return { ops: samples.length, p50: r(q(0.5)), p99: r(q(0.99)), mean: r(samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length)) };
}

function payload(i: number): { _id: string; n: number; name: string; tags: string[]; bio: string } {
  return { _id: `user-${i}`, n: i, name: `name ${i}`, tags: ['a', 'b', String(i % 7)], bio: 'x'.repeat(120) };
}

/**
 * Application traffic: point reads and updates on random loaded keys, latency per operation; with
 * `moving`, the latencies of operations on keys the migration moves also go to `outMoving`.
 */
async function application(
  coll: ShardedCollection,
  stop: () => boolean,
  record: () => boolean,
  out: number[],
  moving?: {
    readonly ids: ReadonlySet<string>;
    readonly out: number[];
    readonly still: number[];
    readonly reads: number[];
    readonly writes: number[];
    readonly stillWrites: number[];
  },
  /** A second window to record into (the cleanup's deletes), when it is on. */
  also?: { readonly record: () => boolean; readonly out: number[] },
): Promise<{ errors: number }> {
  let errors = 0;
  let x = 2463534242;
  const next = (): number => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
  await Promise.all(
    Array.from({ length: APP_CONCURRENCY }, async (_, worker) => {
      for (let i = 0; !stop(); i++) {
        const id = `user-${next() % DOCS}`;
        const t0 = performance.now();
        const read = (i + worker) % 2 === 0;
        try {
          if (read) await coll.findOne({ _id: id });
          else await coll.updateOne({ _id: id }, { $set: { n: i } });
        } catch {
          errors += 1;
          continue;
        }
        const ms = performance.now() - t0;
        if (also?.record() === true) also.out.push(ms);
        if (!record()) continue;
        out.push(ms);
        if (moving === undefined) continue;
        if (!moving.ids.has(id)) {
          moving.still.push(ms);
          if (!read) moving.stillWrites.push(ms);
        } else {
          moving.out.push(ms);
          (read ? moving.reads : moving.writes).push(ms);
        }
      }
    }),
  );
  return { errors };
}

interface MigrationRun {
  readonly report: MigrationReport;
  readonly totalMs: number;
  readonly copyMs: number;
  readonly copyDocsPerSec: number;
  /** Milliseconds per phase, router-lease waits excluded (they are `LEASE_MS + OP_TIMEOUT_MS` each, by protocol). */
  readonly phaseMs: Record<string, number>;
  /** The adaptive throttle's decisions during the copy, by action (`slowed`, `raised`, `released`). */
  readonly copyDecisions: Record<string, number>;
}

async function migrate(
  config: MemoryConfigStore,
  stores: ReadonlyMap<string, ShardStore>,
  to: TopologySpec,
  onCopy?: (copying: boolean) => void,
  maxP99Impact?: number,
  onCleanup?: (deleting: boolean) => void,
): Promise<MigrationRun> {
  let copyStart = 0;
  let copyEnd = 0;
  const phaseMs: Record<string, number> = {};
  let phase = '';
  let phaseAt = 0;
  const copyDecisions: Record<string, number> = {};
  const endPhase = (now: number): void => {
    if (phase !== '') phaseMs[phase] = Math.round((phaseMs[phase] ?? 0) + now - phaseAt);
  };
  const migrator = new Migrator({
    config,
    pool: { store: (id: string) => stores.get(id)! },
    owner: 'bench',
    leaseMs: LEASE_MS,
    lockLeaseMs: 60_000,
    opTimeoutMs: OP_TIMEOUT_MS,
    batchSize: BATCH,
    concurrency: CONCURRENCY,
    ...(maxP99Impact === undefined ? {} : { maxP99Impact }),
    onEvent: (e: MigrationEvent) => {
      // The router-lease waits are the protocol's, not work: left out of the phase they precede.
      if (e.type === 'wait' && e.reason === 'routerLease') phaseAt += e.ms;
      if (e.type === 'throttle' && phase === 'copy') copyDecisions[e.action] = (copyDecisions[e.action] ?? 0) + 1;
      // The cleanup's deletes, from the first batch (after its router-lease wait) to the purge.
      if (e.type === 'markersDeleted' && e.phase === 'cleanup') onCleanup?.(true);
      if (e.type === 'phase' && e.phase === 'purge') onCleanup?.(false);
      if (e.type !== 'phase') return;
      endPhase(performance.now());
      phase = e.phase;
      phaseAt = performance.now();
      if (e.phase === 'copy') {
        copyStart = performance.now();
        onCopy?.(true);
      } else if (e.phase === 'sweep' && copyEnd === 0) {
        copyEnd = performance.now();
        onCopy?.(false);
      }
    },
  });
  const t0 = performance.now();
  const report = await migrator.start(to);
  const totalMs = performance.now() - t0;
  endPhase(performance.now());
  const copyMs = copyEnd - copyStart;
  return { report, totalMs, copyMs, copyDocsPerSec: (report.counters.docsMoved * 1000) / copyMs, phaseMs, copyDecisions };
}

/** Each range from its start, as the migrator's listing takes them. */
function spansOf(ranges: readonly HashRange[]): RangeSpan[] {
  return ranges.map((range) => ({ range, after: null }));
}

/** Run `fn` on every item, `n` at a time (the migrator's pair concurrency, for the raw peers too). */
async function inPool<T>(items: readonly T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await fn(item);
    }),
  );
}

interface Pair {
  readonly from: string;
  readonly to: string;
  readonly ids: string[];
  readonly ranges: Array<{ start: number; end: number }>;
}

async function main(): Promise<void> {
  const uris = (process.env['SHARDKIT_MONGO_URIS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (uris.length === 0) {
    throw new Error('no server: run through `bash scripts/with-test-servers.sh node --import tsx bench/migration.ts` or set SHARDKIT_MONGO_URIS');
  }
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  // Every engineer's jobs share the machine's cores: the doc states the load the numbers were taken at.
  const loadAtStart = loadAverage();
  const prefix = `bench_mig_${Date.now().toString(36)}`;
  const uriOf = (i: number): string => uris[i % uris.length]!;
  const shards = Array.from({ length: SHARDS + 1 }, (_, i) => ({ id: `s${i}`, weight: 1, uri: uriOf(i), db: `${prefix}_s${i}` }));
  const added = shards[SHARDS]!;
  const from: TopologySpec = { name: 'bench', epoch: 1, hash: 'xxhash32', vnodes: VNODES, placement: 'hashed', shards: shards.slice(0, SHARDS) };
  const to: TopologySpec = { ...from, epoch: 2, shards };
  const stores = new Map<string, MongoStore>();
  for (const s of shards) {
    const store = await MongoStore.connect({ shardId: s.id, uri: s.uri, db: s.db, collection: 'users', opTimeoutMs: 60_000 });
    await store.ensureRoutingIndex();
    stores.set(s.id, store);
  }
  const clients = new Map<string, MongoClient>();
  const clientOf = async (uri: string): Promise<MongoClient> => {
    let c = clients.get(uri);
    if (c === undefined) {
      c = await MongoClient.connect(uri);
      clients.set(uri, c);
    }
    return c;
  };
  const config = new MemoryConfigStore();
  await config.compareAndSet(null, { phase: 'stable', epoch: 1, topology: from });
  const follower = await TopologyFollower.start(config, { leaseMs: LEASE_MS });
  const coll = new ShardedCollection({ name: 'users', pool: { store: (id: string) => stores.get(id)! }, routing: follower });
  try {
    log(`servers: ${SERVER_KIND}`);
    log(`loading ${DOCS} documents on ${SHARDS} shards (${uris.map(redactUri).join(', ')})`);
    for (let i = 0; i < DOCS; i += 1000) {
      await coll.insertMany(Array.from({ length: Math.min(1000, DOCS - i) }, (_, j) => payload(i + j)));
    }

    // 2. the raw peers copy exactly the documents the migration will move, pair by pair, at the
    // migrator's pair concurrency, into scratch collections on the target's server
    const plan = planRebalance(from, to);
    const pairs = new Map<string, Pair>();
    for (const m of plan.moves) {
      const key = `${m.from}>${m.to}`;
      const pair = pairs.get(key) ?? { from: m.from, to: m.to, ids: [], ranges: [] };
      pair.ranges.push({ start: m.start, end: m.end });
      pairs.set(key, pair);
    }
    const before = ShardRouter.fromTopology(from);
    const after = ShardRouter.fromTopology(to);
    for (let i = 0; i < DOCS; i++) {
      const id = payload(i)._id;
      const f = before.route(id);
      const t = after.route(id);
      if (f !== t) pairs.get(`${f}>${t}`)?.ids.push(id);
    }
    const sourceOf = async (id: string) => {
      const s = shards.find((x) => x.id === id)!;
      return (await clientOf(s.uri)).db(s.db).collection('users');
    };
    const scratch = async (name: string) => (await clientOf(added.uri)).db(`${prefix}_${name}`).collection('users');

    // 2a. by `_id` batches: find({_id: {$in}}) + insertMany, the ids known up front
    const byIdTarget = await scratch('raw_id');
    let rawIdDocs = 0;
    const i0 = performance.now();
    await inPool([...pairs.values()], CONCURRENCY, async (pair) => {
      const source = await sourceOf(pair.from);
      for (let k = 0; k < pair.ids.length; k += BATCH) {
        const docs = await source.find({ _id: { $in: pair.ids.slice(k, k + BATCH) } } as unknown as Filter<Document>).toArray();
        if (docs.length > 0) await byIdTarget.insertMany(docs, { ordered: false });
        rawIdDocs += docs.length;
      }
    });
    const rawIdMs = performance.now() - i0;
    log(`raw copy by _id batches: ${rawIdDocs} documents in ${rawIdMs.toFixed(0)} ms (${((rawIdDocs * 1000) / rawIdMs).toFixed(0)} docs/s)`);

    // 2a'. what bounds any copy that fences: the fence is one write per document at the source. Timed
    // on the scratch copy (same server kind, same batches): updateMany by `_id` of each batch.
    const f0 = performance.now();
    await inPool([...pairs.values()], CONCURRENCY, async (pair) => {
      for (let k = 0; k < pair.ids.length; k += BATCH) {
        await byIdTarget.updateMany({ _id: { $in: pair.ids.slice(k, k + BATCH) } } as unknown as Filter<Document>, { $set: { _moved: 1 } });
      }
    });
    const fenceMs = performance.now() - f0;
    log(`fence writes alone (updateMany by _id batches): ${rawIdDocs} documents in ${fenceMs.toFixed(0)} ms (${((rawIdDocs * 1000) / fenceMs).toFixed(0)} docs/s)`);

    // 2a''. the alternative the issue suggests: one conditional update per document ({_id, _v}, so the
    // body read before needs no re-read), as one unordered bulkWrite per batch. On a sample (the first
    // FENCE_SAMPLE ids of each pair): FerretDB runs each as its own statement and transaction.
    let perDocDocs = 0;
    const d0 = performance.now();
    await inPool([...pairs.values()], CONCURRENCY, async (pair) => {
      const ids = pair.ids.slice(0, FENCE_SAMPLE);
      if (ids.length === 0) return;
      await byIdTarget.bulkWrite(
        ids.map((id) => ({ updateOne: { filter: { _id: id, _moved: 1 } as unknown as Filter<Document>, update: { $set: { _moved: 2 } } } })),
        { ordered: false },
      );
      perDocDocs += ids.length;
    });
    const perDocMs = performance.now() - d0;
    log(`fence by per-document bulkWrite ({_id, condition}), sample: ${perDocDocs} documents in ${perDocMs.toFixed(0)} ms (${((perDocDocs * 1000) / perDocMs).toFixed(0)} docs/s)`);

    // 2b. by `_h` range queries, one range at a time per pair, resuming after the last (_h, _id)
    const byHTarget = await scratch('raw_h');
    let rawDocs = 0;
    const r0 = performance.now();
    await inPool([...pairs.values()], CONCURRENCY, async (pair) => {
      const source = await sourceOf(pair.from);
      for (const m of pair.ranges) {
        let low = m.start;
        let afterId: unknown = null;
        for (;;) {
          const range: Document =
            afterId === null ? { _h: { $gt: low, $lte: m.end } } : { $or: [{ _h: low, _id: { $gt: afterId } }, { _h: { $gt: low, $lte: m.end } }] };
          const docs = await source.find(range as Filter<Document>).sort({ _h: 1, _id: 1 }).limit(BATCH).toArray();
          if (docs.length === 0) break;
          await byHTarget.insertMany(docs, { ordered: false });
          rawDocs += docs.length;
          const last = docs[docs.length - 1]!;
          low = last['_h'] as number;
          afterId = last._id;
          if (docs.length < BATCH) break;
        }
      }
    });
    const rawMs = performance.now() - r0;
    const rawDocsPerSec = (rawDocs * 1000) / rawMs;
    log(`raw copy by _h ranges: ${rawDocs} documents in ${rawMs.toFixed(0)} ms (${rawDocsPerSec.toFixed(0)} docs/s)`);
    await byIdTarget.drop().catch(() => undefined);
    await byHTarget.drop().catch(() => undefined);

    // 2c. what any copy that must find its documents pays and the raw `_id` copy does not: the
    // migrator's listing of each pair's moved keys (pages of all its ranges, of the migrator's size), at
    // the same concurrency.
    const PAGE = Math.max(BATCH, LISTING_PAGE);
    let listedKeys = 0;
    const l0 = performance.now();
    await inPool([...pairs.values()], CONCURRENCY, async (pair) => {
      for (let spans = spansOf(pair.ranges); spans.length > 0; ) {
        const keys = await stores.get(pair.from)!.spanKeys(spans, PAGE, { _moved: { $exists: false } });
        listedKeys += keys.length;
        spans = nextSpans(spans, keys, PAGE);
      }
    });
    const listMs = performance.now() - l0;
    log(`listing alone (spanKeys of each pair's ranges): ${listedKeys} keys in ${listMs.toFixed(0)} ms`);

    // 3. migration A: add s2, no application traffic
    const a = await migrate(config, stores, to);
    log(
      `migration A (add ${added.id}): ${a.report.counters.docsMoved} documents, copy ${a.copyMs.toFixed(0)} ms (${a.copyDocsPerSec.toFixed(0)} docs/s), ` +
        `total ${a.totalMs.toFixed(0)} ms, ${a.report.readsPerMoved.toFixed(3)} reads per moved document`,
    );

    // 4. application baseline on the new topology
    await follower.refresh();
    const baselineSamples: number[] = [];
    let stopApp = false;
    // The keys migration B moves back, split in the baseline too: their writes land on the shard the
    // copy will read, which the baseline shows before any copy runs.
    const movingIds = new Set([...pairs.values()].flatMap((p) => p.ids));
    const beforeSplit = { ids: movingIds, out: [] as number[], still: [] as number[], reads: [] as number[], writes: [] as number[], stillWrites: [] as number[] };
    const baseline = application(coll, () => stopApp, () => true, baselineSamples, beforeSplit);
    await new Promise((resolve) => setTimeout(resolve, APP_MS));
    stopApp = true;
    const baselineErrors = (await baseline).errors;
    log(`application before: ${JSON.stringify(stats(baselineSamples))}`);
    log(`  keys that will move, writes: ${JSON.stringify(stats(beforeSplit.writes))}; keys that stay, writes: ${JSON.stringify(stats(beforeSplit.stillWrites))}`);

    // 5. migration B: remove s2 with the application running; latency recorded during the copy
    const during: number[] = [];
    let copying = false;
    stopApp = false;
    const live = (await config.load())!;
    const back: TopologySpec = { ...from, epoch: live.epoch + 1 };
    // Split by key: an operation on a key that moves pays the migrating state's protocol (read both
    // owners; write at the old owner until the copy fences it, then move it and write at the new one)
    // on top of the copy's load, which the keys that stay show alone.
    const duringMoving: number[] = [];
    const duringStill: number[] = [];
    const movingReads: number[] = [];
    const movingWrites: number[] = [];
    const stillWrites: number[] = [];
    // And while cleanup deletes the markers (a marker costs a quarter of a copied document, ADR 0002 item 6).
    const duringCleanup: number[] = [];
    let deleting = false;
    const app = application(
      coll,
      () => stopApp,
      () => copying,
      during,
      {
        ids: movingIds,
        out: duringMoving,
        still: duringStill,
        reads: movingReads,
        writes: movingWrites,
        stillWrites,
      },
      { record: () => deleting, out: duringCleanup },
    );
    const b = await migrate(
      config,
      stores,
      back,
      (c) => {
        copying = c;
      },
      MAX_P99_IMPACT,
      (d) => {
        deleting = d;
      },
    );
    stopApp = true;
    const duringErrors = (await app).errors;
    log(
      `migration B (remove ${added.id}, under load): ${b.report.counters.docsMoved} documents, copy ${b.copyMs.toFixed(0)} ms ` +
        `(${b.copyDocsPerSec.toFixed(0)} docs/s), ${b.report.readsPerMoved.toFixed(3)} reads per moved document; throttle decisions during the copy ${JSON.stringify(b.copyDecisions)}`,
    );
    log(`application during: ${JSON.stringify(stats(during))}`);
    log(`  keys that move: ${JSON.stringify(stats(duringMoving))}; keys that stay: ${JSON.stringify(stats(duringStill))}`);
    log(`  keys that move, reads: ${JSON.stringify(stats(movingReads))}; writes: ${JSON.stringify(stats(movingWrites))}`);
    log(`  keys that stay, writes: ${JSON.stringify(stats(stillWrites))}`);
    log(`application during cleanup: ${JSON.stringify(stats(duringCleanup))} (${b.report.counters.deleted} markers deleted in ${b.phaseMs['cleanup'] ?? '?'} ms)`);

    // 6. the baseline again once the migration is over: the machine's other jobs change its load
    // during a long copy, and the before/after pair says how much of the difference is theirs.
    await follower.refresh();
    const afterSamples: number[] = [];
    stopApp = false;
    const afterApp = application(coll, () => stopApp, () => true, afterSamples);
    await new Promise((resolve) => setTimeout(resolve, APP_MS));
    stopApp = true;
    await afterApp;
    log(`application after: ${JSON.stringify(stats(afterSamples))}`);

    const beforeStats = stats(baselineSamples);
    const duringStats = stats(during);
    const result = {
      meta: {
        date: new Date().toISOString(),
        node: process.version,
        cpu: os.cpus()[0]?.model ?? 'unknown',
        cpus: os.cpus().length,
        servers: uris.length,
        server: SERVER_KIND,
        parameters: { docs: DOCS, shards: SHARDS, concurrency: CONCURRENCY, maxP99Impact: MAX_P99_IMPACT, batchSize: BATCH, vnodes: VNODES, ranges: plan.moves.length, appMs: APP_MS, appConcurrency: APP_CONCURRENCY, leaseMs: LEASE_MS, opTimeoutMs: OP_TIMEOUT_MS },
      },
      raw: { docs: rawDocs, ms: Math.round(rawMs), docsPerSec: Math.round(rawDocsPerSec) },
      rawById: { docs: rawIdDocs, ms: Math.round(rawIdMs), docsPerSec: Math.round((rawIdDocs * 1000) / rawIdMs) },
      fenceWrites: { docs: rawIdDocs, ms: Math.round(fenceMs), docsPerSec: Math.round((rawIdDocs * 1000) / fenceMs) },
      fencePerDocument: { docs: perDocDocs, ms: Math.round(perDocMs), docsPerSec: Math.round((perDocDocs * 1000) / perDocMs) },
      listing: { docs: listedKeys, ms: Math.round(listMs), docsPerSec: Math.round((listedKeys * 1000) / listMs) },
      load: { atStart: loadAtStart, atEnd: loadAverage() },
      migrationA: {
        docsMoved: a.report.counters.docsMoved,
        copyMs: Math.round(a.copyMs),
        totalMs: Math.round(a.totalMs),
        copyDocsPerSec: Math.round(a.copyDocsPerSec),
        readsPerMoved: a.report.readsPerMoved,
        counters: a.report.counters,
        phaseMs: a.phaseMs,
      },
      migrationB: {
        docsMoved: b.report.counters.docsMoved,
        copyMs: Math.round(b.copyMs),
        totalMs: Math.round(b.totalMs),
        copyDocsPerSec: Math.round(b.copyDocsPerSec),
        readsPerMoved: b.report.readsPerMoved,
        counters: b.report.counters,
        phaseMs: b.phaseMs,
        copyDecisions: b.copyDecisions,
      },
      application: {
        before: beforeStats,
        during: duringStats,
        duringMoving: stats(duringMoving),
        duringStill: stats(duringStill),
        duringMovingReads: stats(movingReads),
        duringMovingWrites: stats(movingWrites),
        duringStillWrites: stats(stillWrites),
        duringCleanup: stats(duringCleanup),
        beforeMovingWrites: stats(beforeSplit.writes),
        beforeStillWrites: stats(beforeSplit.stillWrites),
        after: stats(afterSamples),
        errorsBefore: baselineErrors,
        errorsDuring: duringErrors,
      },
      targets: {
        throughputVsRaw: a.copyDocsPerSec / rawDocsPerSec,
        throughputVsRawById: (a.copyDocsPerSec * rawIdMs) / (rawIdDocs * 1000),
        readsPerMoved: a.report.readsPerMoved,
        readsPerMovedUnderLoad: b.report.readsPerMoved,
        p99Ratio: duringStats.p99 / beforeStats.p99,
        // Over a few thousand operations a p99 rests on its few dozen slowest: bracketed by resampling both.
        p99RatioInterval: quantileRatioInterval(during, baselineSamples, 0.99),
      },
    };
    log(`throughput vs raw _id-batch copy: ${(result.targets.throughputVsRawById * 100).toFixed(1)}% (target >= 50%)`);
    log(`throughput vs raw _h-range copy: ${(result.targets.throughputVsRaw * 100).toFixed(1)}% (target >= 100%)`);
    const p99i = result.targets.p99RatioInterval;
    log(`p99 during / before: ${result.targets.p99Ratio.toFixed(2)}x [95% interval ${p99i.low.toFixed(2)}, ${p99i.high.toFixed(2)}]: ${verdict(p99i, 1.5)}`);
    if (WRITE) {
      const dir = join(root, 'bench', 'results');
      if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'migration.json'), `${JSON.stringify(result, null, 2)}\n`);
      writeBenchmarksSection('## Migration', section(result));
      log('wrote bench/results/migration.json and the "## Migration" section of docs/benchmarks.md');
    }
  } finally {
    follower.close();
    for (const s of shards) {
      const c = await clientOf(s.uri);
      await c.db(s.db).dropDatabase().catch(() => undefined);
    }
    for (const name of ['raw_id', 'raw_h']) await (await clientOf(added.uri)).db(`${prefix}_${name}`).dropDatabase().catch(() => undefined);
    await Promise.allSettled([...stores.values()].map((s) => s.close()));
    await Promise.allSettled([...clients.values()].map((c) => c.close()));
  }
}

/** The 1, 5 and 15 minute load averages, rounded. */
function loadAverage(): number[] {
  return os.loadavg().map((x) => Math.round(x * 100) / 100);
}

type Result = {
  meta: { date: string; node: string; cpu: string; cpus: number; servers: number; server: string; parameters: Record<string, number> };
  raw: { docs: number; ms: number; docsPerSec: number };
  rawById: { docs: number; ms: number; docsPerSec: number };
  fenceWrites: { docs: number; ms: number; docsPerSec: number };
  fencePerDocument: { docs: number; ms: number; docsPerSec: number };
  listing?: { docs: number; ms: number; docsPerSec: number };
  load: { atStart: number[]; atEnd: number[] };
  migrationA: { docsMoved: number; copyMs: number; totalMs: number; copyDocsPerSec: number; readsPerMoved: number; phaseMs: Record<string, number> };
  migrationB: { docsMoved: number; copyMs: number; totalMs: number; copyDocsPerSec: number; readsPerMoved: number; phaseMs: Record<string, number>; counters?: { deleted: number }; copyDecisions?: Record<string, number> };
  application: {
    before: Stats;
    /** The baseline's writes to the keys migration B moves (at the shard the copy reads) and to the others. */
    beforeMovingWrites?: Stats;
    beforeStillWrites?: Stats;
    during: Stats;
    duringMoving?: Stats;
    duringStill?: Stats;
    duringMovingReads?: Stats;
    duringMovingWrites?: Stats;
    duringStillWrites?: Stats;
    /** While cleanup deleted the markers (from its first batch to the purge). */
    duringCleanup?: Stats;
    after?: Stats;
    errorsBefore: number;
    errorsDuring: number;
  };
  targets: { throughputVsRaw: number; throughputVsRawById: number; readsPerMoved: number; readsPerMovedUnderLoad: number; p99Ratio: number; p99RatioInterval?: Interval };
};

/** What migration B's cleanup deleted, how fast, and what the application met meanwhile. */
function cleanupNote(r: Result): string {
  const b = r.migrationB;
  const ms = b.phaseMs['cleanup'];
  const during = r.application.duringCleanup;
  if (b.counters === undefined || ms === undefined || during === undefined) return '';
  return (
    `\nMigration B's cleanup deleted ${b.counters.deleted} markers (the moved documents' fences; this application inserts nothing, so no placeholders) in ` +
    `${ms} ms, ${Math.round((b.counters.deleted * 1000) / ms)} a second, a marker booked at a quarter of a copied document ` +
    `(ADR 0002, item 6); the application's p99 meanwhile was ${during.p99} ms over ${during.ops} operations, ` +
    `${(during.p99 / r.application.before.p99).toFixed(2)}x the baseline.`
  );
}

/** One row of the application table (errors are counted for all keys together). */
function appRow(name: string, st: Stats | undefined): string {
  return st === undefined ? `| ${name} | - | - | - | - | - |` : `| ${name} | ${st.ops} | ${st.p50} | ${st.p99} | ${st.mean} | - |`;
}

/** What bounds the p99 during the copy: the keys that move against the keys that stay. */
function splitNote(r: Result): string {
  const { before, duringMoving: moving, duringStill: still } = r.application;
  if (moving === undefined || still === undefined) return '';
  return (
    `Operations on keys that stay put measure the copy's load on the shards: p99 ${still.p99} ms, ` +
    `${(still.p99 / before.p99).toFixed(2)}x the baseline, over ${still.ops} operations. Operations on keys that move ` +
    `(${moving.ops}) pay the migrating state's protocol (ADR 0002, decisions 7 and 8: a read asks ` +
    `both owners at once; a write to a key the copy has not fenced yet goes to the old owner, one \`_id\`-indexed round trip, ` +
    `the new owner read meanwhile; a write to a key the copy has landed is turned away there and written at the new owner, ` +
    `two round trips, one once the router has met the key there; between the copy's fence and its insert, a write ` +
    `fences, copies and writes the key itself, four): p99 ${moving.p99} ms, ` +
    `${(moving.p99 / before.p99).toFixed(2)}x the baseline` +
    (r.application.duringMovingReads === undefined || r.application.duringMovingWrites === undefined
      ? '.'
      : `: their reads ${r.application.duringMovingReads.p99} ms (${(r.application.duringMovingReads.p99 / before.p99).toFixed(2)}x), ` +
        `their writes ${r.application.duringMovingWrites.p99} ms (${(r.application.duringMovingWrites.p99 / before.p99).toFixed(2)}x)` +
        (r.application.beforeMovingWrites === undefined
          ? '.'
          : `. The same keys' writes before the copy, at the shard the copy reads: p50 ${r.application.beforeMovingWrites.p50} ms, ` +
            `p99 ${r.application.beforeMovingWrites.p99} ms; during it their p50 is ${r.application.duringMovingWrites.p50} ms. ` +
            'In the migrating state with the throttle probing the shards but nothing copied (a scratch run that held the copy ' +
            'back 8 s), those writes cost what the writes of keys that stay cost (p50 3.38 vs 3.00 ms, p99 9.1 vs 8.3 ms): what ' +
            "slows them is the copy's requests. Each batch sends the pair's shards about four (ping, fence, read back, insert) " +
            'whatever its size, so the pace in documents alone did not change them; since batches hold 1 s of work at the ' +
            "throttle's pace instead of 100 ms (ADR 0002, item 6), a tenth as many go."))
  );
}

/** The share of the raw `_id` copy that the listing and the fence alone leave to any copy that must find and fence its documents. */
function boundNote(r: Result): string {
  if (r.listing === undefined) return '';
  return `; the listing and the fence writes alone, their times summed: ${((r.rawById.ms / (r.listing.ms + r.fenceWrites.ms)) * 100).toFixed(1)}%`;
}

/** `phaseMs` as one table cell per phase. */
function phaseCells(phaseMs: Record<string, number> | undefined): string {
  return ['copy', 'sweep', 'verify', 'cleanup', 'purge'].map((p) => String(phaseMs?.[p] ?? '-')).join(' | ');
}

function section(r: Result): string {
  const p = r.meta.parameters;
  const t = r.targets;
  const met = (ok: boolean): string => (ok ? 'yes' : '**no**');
  const verdictCell = (v: Verdict): string => (v === 'met' ? 'yes' : v === 'missed' ? '**no**' : 'within noise');
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
  const a = r.migrationA;
  const b = r.migrationB;
  const fenceShare = r.fenceWrites.docsPerSec / r.rawById.docsPerSec;
  return `## Migration

The online migrator (\`Migrator\`: per source/target pair one listing of the keys of all its moved
ranges per page, fence and read the bodies by \`_id\`, insert-if-absent at the target, checkpointed;
verify, cleanup and purge likewise one pass or listing per pair; ${p['concurrency']} pairs at once) against two raw
copies of exactly the documents it moves, between the same servers in the same run, at the same pair
concurrency and batch size: by \`_id\` batches (\`find({_id: {$in}})\` + \`insertMany\`, the ids known up
front) and by \`_h\` range queries (one range at a time, \`insertMany\`). ${p['docs']} documents of ~250 bytes on
${p['shards']} shards; adding one more moves ${a.docsMoved} of them in ${p['ranges']} ranges (${p['vnodes']} vnodes per shard); batch
${p['batchSize']}. The application runs ${p['appConcurrency']} loops of point reads and updates through \`ShardedCollection\` for
${p['appMs']} ms (baseline), then during a second migration that moves the same documents back with
\`maxP99Impact: ${p['maxP99Impact']}\` (\`shardkit rebalance --max-p99-impact ${p['maxP99Impact']}\`); its latency is recorded during
that migration's copy phase, and for another ${p['appMs']} ms once it is over (a second baseline: other jobs change the
machine's load during a long copy). Config store in memory (in-process), \`leaseMs\` ${p['leaseMs']}, \`opTimeoutMs\` ${p['opTimeoutMs']}.

\`\`\`sh
bash scripts/with-test-servers.sh node --import tsx bench/migration.ts --docs ${p['docs']} --shards ${p['shards']} --concurrency ${p['concurrency']} --max-p99-impact=${p['maxP99Impact']} --write
\`\`\`

${r.meta.server}, ${r.meta.servers} server(s), Node ${r.meta.node}, ${r.meta.cpu} (${r.meta.cpus} CPUs), ${r.meta.date.slice(0, 10)}; load
average ${r.load.atStart.join(' / ')} (1 / 5 / 15 min) at the start and ${r.load.atEnd.join(' / ')} at the end: the
servers, this benchmark and other jobs share the ${r.meta.cpus} CPUs. Raw numbers: \`bench/results/migration.json\`.

| what | goal | measured | met |
|---|---|---|---|
| migration copy vs raw copy by \`_id\` batches | >= 50% | ${pct(t.throughputVsRawById)} (${a.copyDocsPerSec} vs ${r.rawById.docsPerSec} docs/s); the fence writes alone: ${pct(fenceShare)}${boundNote(r)} | ${met(t.throughputVsRawById >= 0.5)} |
| migration copy vs raw copy by \`_h\` range queries | >= 100% | ${pct(t.throughputVsRaw)} (${a.copyDocsPerSec} vs ${r.raw.docsPerSec} docs/s) | ${met(t.throughputVsRaw >= 1)} |
| application p99 during migration vs before (\`--max-p99-impact ${p['maxP99Impact']}\`) | <= 1.5x | ${t.p99Ratio.toFixed(2)}x${t.p99RatioInterval === undefined ? '' : `, 95% interval [${t.p99RatioInterval.low.toFixed(2)}, ${t.p99RatioInterval.high.toFixed(2)}]`} (${r.application.during.p99.toFixed(2)} ms vs ${r.application.before.p99.toFixed(2)} ms, ${r.application.during.ops} vs ${r.application.before.ops} operations${r.application.after === undefined ? '' : `; ${r.application.after.p99.toFixed(2)} ms after the migration`}) | ${t.p99RatioInterval === undefined ? met(t.p99Ratio <= 1.5) : verdictCell(verdict(t.p99RatioInterval, 1.5))} |
| document bodies read per document moved (no writers) | <= 1.05 | ${t.readsPerMoved.toFixed(3)} | ${met(t.readsPerMoved <= 1.05)} |
| document bodies read per document moved (under application load) | <= 1.05 | ${t.readsPerMovedUnderLoad.toFixed(3)} | ${met(t.readsPerMovedUnderLoad <= 1.05)} |

| run | documents | ms | docs/s |
|---|---:|---:|---:|
| raw copy by \`_id\` batches | ${r.rawById.docs} | ${r.rawById.ms} | ${r.rawById.docsPerSec} |
| raw copy by \`_h\` ranges | ${r.raw.docs} | ${r.raw.ms} | ${r.raw.docsPerSec} |
| fence writes alone (\`updateMany\` by \`_id\` batches, what the migrator sends) | ${r.fenceWrites.docs} | ${r.fenceWrites.ms} | ${r.fenceWrites.docsPerSec} |
| fence by per-document conditional updates (one unordered \`bulkWrite\` per pair, sample) | ${r.fencePerDocument.docs} | ${r.fencePerDocument.ms} | ${r.fencePerDocument.docsPerSec} |
${r.listing === undefined ? '' : `| the migrator's listing alone (\`spanKeys\` of each pair's ranges, keys) | ${r.listing.docs} | ${r.listing.ms} | ${r.listing.docsPerSec} |\n`}| migration A copy (add a shard, idle) | ${a.docsMoved} | ${a.copyMs} | ${a.copyDocsPerSec} |
| migration B copy (move back, under load, adaptive) | ${b.docsMoved} | ${b.copyMs} | ${b.copyDocsPerSec} |

Time per phase in ms, the three router-lease waits (${(p['leaseMs'] ?? 0) + (p['opTimeoutMs'] ?? 0)} ms each, by protocol) left out:

| migration | copy | sweep | verify | cleanup | purge | total with waits |
|---|---:|---:|---:|---:|---:|---:|
| A (idle) | ${phaseCells(a.phaseMs)} | ${a.totalMs} |
| B (under load) | ${phaseCells(b.phaseMs)} | ${b.totalMs} |
${cleanupNote(r)}

| application | ops | p50 ms | p99 ms | mean ms | errors |
|---|---:|---:|---:|---:|---:|
| before | ${r.application.before.ops} | ${r.application.before.p50} | ${r.application.before.p99} | ${r.application.before.mean} | ${r.application.errorsBefore} |
${r.application.beforeMovingWrites === undefined ? '' : `${appRow('before, keys that will move: writes', r.application.beforeMovingWrites)}\n`}${r.application.beforeStillWrites === undefined ? '' : `${appRow('before, keys that stay: writes', r.application.beforeStillWrites)}\n`}| during copy | ${r.application.during.ops} | ${r.application.during.p50} | ${r.application.during.p99} | ${r.application.during.mean} | ${r.application.errorsDuring} |
${appRow('during copy, keys that move', r.application.duringMoving)}
${r.application.duringMovingReads === undefined ? '' : `${appRow('during copy, keys that move: reads', r.application.duringMovingReads)}\n`}${r.application.duringMovingWrites === undefined ? '' : `${appRow('during copy, keys that move: writes', r.application.duringMovingWrites)}\n`}${appRow('during copy, keys that stay', r.application.duringStill)}${r.application.duringStillWrites === undefined ? '' : `\n${appRow('during copy, keys that stay: writes', r.application.duringStillWrites)}`}
${r.application.duringCleanup === undefined ? '' : `${appRow('during cleanup (markers deleted)', r.application.duringCleanup)}\n`}${appRow('after the migration (same load, no copy)', r.application.after)}

How to read these numbers:

- On FerretDB 1.x (SQLite, with the test servers' \`_id\` index patch, ADR 0005) every \`_id\` lookup,
  \`_id: {$in}\` batch and conditional write by \`_id\` is an index lookup, and every \`_h\` range filter a
  collection scan. What the raw \`_id\` copy does not pay is finding the documents: the migrator lists
  each pair's moved keys (one scan of the source per page, the "listing alone" row: read in batches of
  500 entries, each under its own deadline, with the ranges and the protocol's filter tested by the
  client, so a page never outlasts \`opTimeoutMs\` on a large shard; ADR 0003, "Passes over ranges"), then fences
  (\`updateMany\` by \`_id\`, the "fence writes alone" row) and reads the fenced bodies back by \`_id\`.
  The copy cannot be faster than the listing plus the fence (the bound in the first row: the raw
  copy's time over theirs summed; the copy overlaps the next page's listing with this page's fence
  only when a pair has more than one page). On this shared 2-CPU machine the ratio moves with the
  load: from 22% to 58% in runs of the same code. On MongoDB the listing is an index range scan (not
  measured here: no MongoDB server in this environment).
- The per-document fence (\`{_id, _v}\` conditions, no read-back) is not used: FerretDB runs each
  statement as its own transaction (the sample row against the fence row), and a matched \`_v\` does
  not prove the body listed is the body fenced, since an insert starts at \`_v: 1\` again after a
  delete (a lagging router may delete and re-insert a key between listing and fence; ADR 0002).
- Per batch the migrator pings the target (while the page is listed), fences, reads back, and
  inserts (\`insertMany\`); a page holds up to 10,000 keys and the batches (the adaptive throttle's
  smaller ones too) are taken from it, the next page listed while this one is carried: on FerretDB
  each page is a pass over the whole source, one per 10,000 moved keys.
- The sweep, verify, cleanup and purge work per pair too: the sweep lists what late writers left and
  looks for relics once per pair (after an abort it lifts them from the same listing, a page at a time), verify is one
  pass per shard of a pair, a checksum and a count each (no keys read when nobody wrote), cleanup and purge
  list the pair's markers a page at a time and delete them by \`_id\`.
- Reads per moved document: each moved body is read once (by the fence's read-back); keys listed
  without bodies are counted apart (\`keysListed\`).
- The application's latency is measured on one 2-CPU machine that also runs every server and other
  jobs: the two baselines, before and after the migration, differ by what those jobs did meanwhile. A
  p99 over a few thousand operations rests on its few dozen slowest, so the p99 row carries a
  bootstrap 95% interval of the ratio (both samples resampled, seeded): \`yes\` when all of it is at
  or under 1.5x, \`**no**\` when all of it is over, \`within noise\` otherwise. ${splitNote(r)} The adaptive throttle probes the pair's shards with point reads and updates that match nothing, takes a baseline p99 before
  the copy, starts at 50 docs/s in batches of 1 s of work, decides every 8 probes (~100 ms),
  halving its pace when their largest exceeds the allowed impact times the baseline's 8/9 quantile (the
  quantile the largest of 8 estimates) in two windows in a row (one alone is too often noise: ADR 0002,
  item 6), and raising it by a quarter after a quiet window in which the copy booked documents.
`;
}

if (argv.includes('--render')) {
  // Re-render the docs section from the last results without re-running (the run takes minutes).
  writeBenchmarksSection('## Migration', section(JSON.parse(readFileSync(join(root, 'bench', 'results', 'migration.json'), 'utf8')) as Result));
} else {
  await main();
}
