/**
 * Cursor benchmark (issue 9: "a cursor over 1,000,000 matching documents on the embedded shards keeps the
 * router's heap flat"): the documents on `MemoryStore` shards, as `shardkit demo` runs them, read by a
 * sorted scatter-gather `find()` twice in one run: iterated through the cursor (`for await`), and
 * buffered by `toArray()` (the peer: what `find()` returned before it was a cursor). For each, the heap
 * the read adds over the loaded baseline, sampled after a full GC every `--every` documents. Not a timed
 * test: durations are printed for orientation only.
 *
 *   node --import tsx bench/cursor.ts [--docs=1000000] [--shards=4] [--batch=1000] [--quick] [--write]
 *
 * It re-runs itself with `--expose-gc` (samples after a full GC) and a heap large enough for the peer.
 * `--write` writes bench/results/cursor.json and the "## Cursor" section of docs/benchmarks.md; without
 * it the run only prints.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardedCollection } from '../src/collection/sharded-collection.js';
import { ShardRouter } from '../src/router/router.js';
import { StaticRoutingSource } from '../src/router/routing-source.js';
import { MemoryShardPool } from '../src/stores/shard-pool.js';
import type { StoredDocument } from '../src/stores/shard-store.js';
import { Topology } from '../src/topology/topology.js';
import { writeBenchmarksSection } from './lib/benchmarks-doc.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => Number(argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback);
const QUICK = argv.includes('--quick');
const WRITE = argv.includes('--write');
const DOCS = flag('docs', QUICK ? 100_000 : 1_000_000);
const SHARDS = flag('shards', 4);
const BATCH = flag('batch', 1000);
const EVERY = flag('every', Math.max(1000, Math.floor(DOCS / 20)));
const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const heapMb = Math.max(2048, Math.ceil(DOCS / 1_000_000) * 3072);
  const r = spawnSync(process.execPath, ['--expose-gc', `--max-old-space-size=${heapMb}`, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}

const MB = 1024 * 1024;
const mb = (bytes: number): number => Math.round((bytes / MB) * 10) / 10;
function heapAfterGc(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/**
 * The shards loaded directly, each in its routing-index order (`_h`, `_id`), as the routers would have
 * placed the documents: inserting 1,000,000 documents one by one at random ring points would spend the
 * run splicing the memory store's ordered index, which is not what is measured here.
 */
async function load(): Promise<ShardedCollection> {
  const ids = Array.from({ length: SHARDS }, (_, i) => `s${i + 1}`);
  const topology = Topology.from({ name: 'bench', epoch: 1, hash: 'xxhash32', vnodes: 160, placement: 'hashed', shards: ids.map((id) => ({ id, weight: 1 })) });
  const router = ShardRouter.fromTopology(topology);
  const pool = new MemoryShardPool();
  const perShard = new Map<string, StoredDocument[]>(ids.map((id) => [id, []]));
  // A fixed pseudo-random sort key, so the merge interleaves the shards at every step.
  let x = 0x9e3779b9;
  for (let k = 0; k < DOCS; k++) {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    perShard.get(router.route(k))?.push({ _id: k, _h: router.point(k), _v: 1, v: x, g: k % 100, name: `user-${k}` });
  }
  for (const [id, docs] of perShard) {
    docs.sort((a, b) => a._h - b._h || (a._id as number) - (b._id as number));
    const store = pool.store(id);
    for (let i = 0; i < docs.length; i += 10_000) await store.insertIfAbsent(docs.slice(i, i + 10_000));
    perShard.set(id, []);
  }
  return new ShardedCollection({ name: 'bench', routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: topology.toJSON() }), pool });
}

interface Reading {
  readonly documents: number;
  /** Most heap the read held over the baseline, at any sample (MB). */
  readonly peakMb: number;
  /** Every sample (MB over the baseline), in reading order. */
  readonly samplesMb: readonly number[];
  readonly seconds: number;
}

async function viaCursor(coll: ShardedCollection, base: number): Promise<Reading> {
  const started = performance.now();
  let n = 0;
  const samples: number[] = [];
  let last: unknown;
  for await (const doc of coll.find({}, { sort: { v: 1 }, batchSize: BATCH })) {
    n++;
    last = doc;
    if (n % EVERY === 0) samples.push(mb(heapAfterGc() - base));
  }
  if (last === undefined) throw new Error('no documents read');
  return { documents: n, peakMb: Math.max(0, ...samples), samplesMb: samples, seconds: (performance.now() - started) / 1000 };
}

async function viaToArray(coll: ShardedCollection, base: number): Promise<Reading> {
  const started = performance.now();
  const docs = await coll.find({}, { sort: { v: 1 }, batchSize: BATCH }).toArray();
  const seconds = (performance.now() - started) / 1000;
  // Measured while the result is still held: what a caller of toArray() keeps.
  const peak = mb(heapAfterGc() - base);
  return { documents: docs.length, peakMb: peak, samplesMb: [peak], seconds };
}

function section(report: { meta: Record<string, unknown>; cursor: Reading; toArray: Reading; ratio: number; baselineMb: number }): string {
  const { cursor, toArray, ratio, baselineMb } = report;
  const routerMb = Math.max(0, Math.round((cursor.peakMb - mb(DOCS * 8)) * 10) / 10);
  const load = Number(report.meta['loadavg']);
  // Heap is not time: other jobs on the machine change only the durations, which the note says.
  const loadNote = load > os.cpus().length ? `\nThe machine ran other jobs (load average ${load.toFixed(1)} on ${os.cpus().length} CPUs): the durations are slow, the heap figures are not affected.` : '';
  return `## Cursor

\`node --import tsx bench/cursor.ts --write\` (${String(report.meta['date']).slice(0, 10)}, Node ${String(report.meta['node'])}, ${String(report.meta['cpus'])} CPUs):
${DOCS.toLocaleString('en-US')} documents on ${SHARDS} embedded \`MemoryStore\` shards (as \`shardkit demo\` runs them), read by one
scatter-gather \`find({}, {sort: {v: 1}})\` (a pseudo-random key, so the merge interleaves every shard at
every step), \`batchSize\` ${BATCH}. Heap is \`process.memoryUsage().heapUsed\` after a full GC, over the
loaded baseline (${baselineMb} MB: the shards' own documents), sampled every ${EVERY.toLocaleString('en-US')} documents.

| read | documents | heap held at most over the baseline | time (not a timed test) |
|---|---|---|---|
| cursor, \`for await\` | ${cursor.documents.toLocaleString('en-US')} | ${cursor.peakMb} MB | ${cursor.seconds.toFixed(1)} s |
| \`toArray()\` (the peer: \`find()\` before it was a cursor) | ${toArray.documents.toLocaleString('en-US')} | ${toArray.peakMb} MB | ${toArray.seconds.toFixed(1)} s |

The cursor holds **${(ratio * 100).toFixed(1)}%** of what \`toArray()\` holds. What it does hold is the merge's
batches (${SHARDS} x ${BATCH} documents) and, because the shards are embedded, the shards' own cursors: a
\`MemoryStore\` chooses its query's documents at the first batch, as a server's blocking sort does, and
keeps them as references (8 bytes a document: ${mb(DOCS * 8)} MB here, in the shards, not in the router; on
MongoDB that state is the server's). Without them the router's merge holds about ${routerMb} MB, ${((routerMb / toArray.peakMb) * 100).toFixed(1)}% of
\`toArray()\`. The samples, from the first to the last, do not grow with the documents read:
${cursor.samplesMb.join(', ')} MB.${loadNote}
`;
}

async function main(): Promise<void> {
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(`cursor benchmark: ${DOCS} documents on ${SHARDS} MemoryStore shards, batchSize ${BATCH}`);
  const t0 = performance.now();
  const coll = await load();
  log(`  loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const base = heapAfterGc();
  log(`  baseline heap ${mb(base)} MB`);
  const cursor = await viaCursor(coll, base);
  log(`  cursor:  ${cursor.documents} documents, at most ${cursor.peakMb} MB over the baseline, ${cursor.seconds.toFixed(1)} s`);
  const toArray = await viaToArray(coll, heapAfterGc());
  log(`  toArray: ${toArray.documents} documents, ${toArray.peakMb} MB over the baseline, ${toArray.seconds.toFixed(1)} s`);
  const ratio = toArray.peakMb > 0 ? cursor.peakMb / toArray.peakMb : 0;
  log(`  cursor / toArray heap: ${(ratio * 100).toFixed(2)}%`);
  const meta = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model ?? 'unknown', cpus: os.cpus().length, loadavg: os.loadavg()[0], quick: QUICK, parameters: { documents: DOCS, shards: SHARDS, batchSize: BATCH, every: EVERY } };
  const report = { meta, baselineMb: mb(base), cursor, toArray, ratio };
  if (WRITE) {
    const out = join(root, 'bench', 'results', 'cursor.json');
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
    writeBenchmarksSection('## Cursor', section(report));
    log('wrote bench/results/cursor.json and the "## Cursor" section of docs/benchmarks.md');
  }
}

await main();
