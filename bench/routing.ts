/**
 * Routing benchmark: shardkit's hash, ring, router and planner against hashring 3.2.0, measured in
 * the same process and run.
 *
 *   node --import tsx bench/routing.ts [--quick] [--write]
 *
 * With `--write`, writes bench/results/routing.json and the "## Routing" section of docs/benchmarks.md
 * (other sections of that file are kept as they are); without it, prints only, so `npm run
 * bench:quick` leaves tracked files alone. `--quick` uses 2^18 instead of 2^20 keys, shorter timings
 * and fewer balance points; `--report-only` rewrites the docs section from bench/results/routing.json
 * without measuring.
 */
import { createHash, hash as cryptoHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { xxh32 as nodeRsXxh32 } from '@node-rs/xxhash';
import xxhashWasm from 'xxhash-wasm';
import { ketamaPoint } from '../src/hash/ketama.js';
import { xxhash32String } from '../src/hash/xxhash32.js';
import { planRebalance } from '../src/rebalance/plan.js';
import { RING_SIZE } from '../src/ring/move.js';
import { applyChange } from '../src/ring/placement.js';
import { Ring } from '../src/ring/ring.js';
import { ShardRouter } from '../src/router/router.js';
import { Topology } from '../src/topology/topology.js';
import type { HashName } from '../src/hash/types.js';
import type { Placement, TopologyChange } from '../src/topology/types.js';
import { makeHashRing, ringOfHashRing } from './lib/hashring-ring.js';
import { bestMs, runSuite } from './lib/timing.js';
import type { Case, Timing } from './lib/timing.js';
import { mulberry32, zipfSequence } from './lib/zipf.js';
import { writeBenchmarksSection } from './lib/benchmarks-doc.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
// Tracked files (docs/benchmarks.md, bench/results/) change only when asked: a quick look must leave the tree clean.
const WRITE = argv.includes('--write');
// Rewrite the docs section from the recorded JSON without measuring again (after editing the text).
const REPORT_ONLY = argv.includes('--report-only');
const KEY_BITS = QUICK ? 18 : 20;
const KEY_COUNT = 2 ** KEY_BITS;
const MAX_TIME = QUICK ? 0.4 : 1.5;
const SHARDS = 10;
const POINTS = 160; // points per shard of average weight: libketama's and hashring's default
const CACHE = 5000; // hashring's default cache size
const BATCH = 1024;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string): void => console.log(line);

// ---------------------------------------------------------------------------------------------
// inputs

/** Distinct ASCII keys of 8..40 characters, shaped like real ids (prefix, counter, random tail). */
function makeKeys(n: number, seed: number): string[] {
  const rand = mulberry32(seed);
  const prefixes = ['user:', 'order:', 'sess-', 'acct/', 'evt_', ''];
  const keys = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const prefix = prefixes[i % prefixes.length]!;
    let k = `${prefix}${i.toString(36)}:`;
    const want = 8 + Math.floor(rand() * 33);
    while (k.length < want) k += Math.floor(rand() * 36).toString(36);
    keys[i] = k.slice(0, Math.max(want, k.length));
  }
  return keys;
}

function weightsOf(n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < n; i++) out[`s${i}`] = 1;
  return out;
}

function topology(n: number, hash: HashName, placement: Placement, vnodes: number): Topology {
  return Topology.from({
    name: 'bench',
    epoch: 1,
    hash,
    vnodes,
    placement,
    shards: Array.from({ length: n }, (_, i) => ({ id: `s${i}`, weight: 1 })),
  });
}

/** Ketama/hashring count md5 digests per server, 4 points each. */
const ketamaVnodes = (points: number): number => points / 4;

// ---------------------------------------------------------------------------------------------
// timing cases

/**
 * A batch of lookups over `keys` (cycled) or over `keys[seq[i]]`. Each case gets its own compiled
 * loop (a fresh Function) so its call site stays monomorphic: a loop shared by every case would
 * make `lookup` megamorphic and charge each case the dispatch of all the others.
 */
function lookupCase<K = string>(name: string, keys: readonly K[], lookup: (k: K) => unknown, seq?: Uint32Array): Case {
  const n = seq === undefined ? keys.length : seq.length;
  if ((n & (n - 1)) !== 0) throw new Error(`${name}: sequence length ${n} is not a power of two`);
  const body = seq === undefined ? 'keys[i]' : 'keys[seq[i]]';
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const factory = new Function(
    'lookup',
    'keys',
    'seq',
    `let i = 0; let sink = 0;
     return function batch() {
       for (let j = 0; j < ${BATCH}; j++) {
         if (lookup(${body}) === undefined) sink++;
         i = (i + 1) & ${n - 1};
       }
       return sink;
     };`,
  ) as (l: (k: K) => unknown, k: readonly K[], s: Uint32Array | undefined) => () => number;
  return { name, batch: BATCH, fn: factory(lookup, keys, seq) };
}

const byName = (timings: readonly Timing[], name: string): Timing => {
  const t = timings.find((x) => x.name === name);
  if (t === undefined) throw new Error(`no timing named ${name}`);
  return t;
};

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

// ---------------------------------------------------------------------------------------------
// sections

async function hashSection(): Promise<{ timings: Timing[] }> {
  log('\n# hash functions, 8-40 byte ASCII keys (ns per key, incl. call overhead)');
  const keys = makeKeys(4096, 7);
  const wasm = await xxhashWasm();
  const timings = runSuite(
    [
      lookupCase('xxhash32String (shardkit, pure TS)', keys, (k) => xxhash32String(k)),
      lookupCase('xxhash-wasm h32(string)', keys, (k) => wasm.h32(k)),
      lookupCase('@node-rs/xxhash xxh32(string)', keys, (k) => nodeRsXxh32(k)),
      lookupCase('ketamaPoint (shardkit, pure TS md5)', keys, (k) => ketamaPoint(k)),
      lookupCase("createHash('md5') first word (hashring)", keys, (k) => createHash('md5').update(k).digest().readUInt32LE(0)),
      lookupCase("crypto.hash('md5') first word", keys, (k) => cryptoHash('md5', k, 'buffer').readUInt32LE(0)),
    ],
    MAX_TIME,
    log,
  );
  return { timings };
}

interface LookupResults {
  cold: Timing[];
  hot: Timing[];
  hotFresh: Timing[];
  zipf: Timing[];
}

function lookupSections(keys: readonly string[]): LookupResults {
  const weights = weightsOf(SHARDS);
  const xx = topology(SHARDS, 'xxhash32', 'hashed', POINTS);
  const ket = topology(SHARDS, 'ketama', 'hashed', ketamaVnodes(POINTS));
  // Fresh routers and rings per section, so no section starts with another's cache.
  const peers = () => {
    const hr = makeHashRing(weights, ketamaVnodes(POINTS), CACHE);
    const cached = ShardRouter.fromTopology(xx, { cacheSize: CACHE });
    const uncached = ShardRouter.fromTopology(xx, { cacheSize: 0 });
    const ketCached = ShardRouter.fromTopology(ket, { cacheSize: CACHE });
    const ketUncached = ShardRouter.fromTopology(ket, { cacheSize: 0 });
    return { hr, cached, uncached, ketCached, ketUncached };
  };

  log(`\n# cold lookups: ${keys.length} distinct keys cycled, ${SHARDS} shards x ${POINTS} points (ns per lookup)`);
  let p = peers();
  const cold = runSuite(
    [
      lookupCase('hashring.get (cache 5000)', keys, (k) => p.hr.get(k)),
      lookupCase('router xxhash32 (cache 5000)', keys, (k) => p.cached.route(k)),
      lookupCase('router xxhash32 (no cache)', keys, (k) => p.uncached.route(k)),
      lookupCase('bare xxhash32String', keys, (k) => xxhash32String(k)),
      lookupCase('router ketama (cache 5000)', keys, (k) => p.ketCached.route(k)),
      lookupCase('router ketama (no cache)', keys, (k) => p.ketUncached.route(k)),
      lookupCase('bare ketamaPoint', keys, (k) => ketamaPoint(k)),
    ],
    MAX_TIME,
    log,
  );

  log('\n# hot lookups: 1024 keys cycled (ns per lookup)');
  p = peers();
  const hotKeys = keys.slice(0, 1024);
  const hot = runSuite(
    [
      lookupCase('hashring.get (cache 5000)', hotKeys, (k) => p.hr.get(k)),
      lookupCase('router xxhash32 (cache 5000)', hotKeys, (k) => p.cached.route(k)),
      lookupCase('router xxhash32 (no cache)', hotKeys, (k) => p.uncached.route(k)),
      lookupCase('router ketama (cache 5000)', hotKeys, (k) => p.ketCached.route(k)),
    ],
    MAX_TIME,
    log,
  );

  // Keys that arrive in requests are decoded from bytes into new string objects each time: no
  // engine-cached hash, not internalized. Repeating the same string objects (above) favours
  // hashring's object-dictionary cache, which internalizes them once; here every lookup decodes.
  log('\n# hot lookups, keys decoded per lookup: 1024 keys cycled, each lookup on a new string (ns per lookup)');
  p = peers();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const hotBytes = hotKeys.map((k) => encoder.encode(k));
  const hotFresh = runSuite(
    [
      lookupCase('decode only (baseline)', hotBytes, (b) => decoder.decode(b)),
      lookupCase('hashring.get (cache 5000)', hotBytes, (b) => p.hr.get(decoder.decode(b))),
      lookupCase('router xxhash32 (cache 5000)', hotBytes, (b) => p.cached.route(decoder.decode(b))),
      lookupCase('router xxhash32 (no cache)', hotBytes, (b) => p.uncached.route(decoder.decode(b))),
      lookupCase('router ketama (cache 5000)', hotBytes, (b) => p.ketCached.route(decoder.decode(b))),
    ],
    MAX_TIME,
    log,
  );

  log(`\n# Zipf(0.99) lookups over ${keys.length} keys (ns per lookup)`);
  p = peers();
  const seq = zipfSequence(keys.length, 0.99, keys.length, 42);
  const zipf = runSuite(
    [
      lookupCase('hashring.get (cache 5000)', keys, (k) => p.hr.get(k), seq),
      lookupCase('router xxhash32 (cache 5000)', keys, (k) => p.cached.route(k), seq),
      lookupCase('router xxhash32 (no cache)', keys, (k) => p.uncached.route(k), seq),
      lookupCase('router ketama (cache 5000)', keys, (k) => p.ketCached.route(k), seq),
      lookupCase('router ketama (no cache)', keys, (k) => p.ketUncached.route(k), seq),
    ],
    MAX_TIME,
    log,
  );
  const s = p.cached.stats();
  log(`  router xxhash32 (cache 5000) hit rate over the Zipf run: ${((100 * s.hits) / (s.hits + s.misses)).toFixed(1)}%`);
  return { cold, hot, hotFresh, zipf };
}

interface BuildRow {
  shards: number;
  pointsPerShard: number;
  hashedMs: number;
  ketamaMs: number;
  balancedMs: number;
  hashringMs: number;
  bytesPerPoint: number;
  hashringBytesPerPoint: number;
}

/** Heap bytes retained by what `make` returns, by GC before and after (needs a gc function). */
function retainedBytes(make: () => unknown, gc: () => void): number {
  gc();
  const before = process.memoryUsage().heapUsed;
  const keep = make();
  gc();
  const after = process.memoryUsage().heapUsed;
  if (keep === undefined) throw new Error('unreachable');
  return after - before;
}

async function exposeGc(): Promise<() => void> {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}

async function buildSection(): Promise<BuildRow[]> {
  log(`\n# ring build (best ms) and memory, ${POINTS} points per shard`);
  const gc = await exposeGc();
  const rows: BuildRow[] = [];
  for (const n of [10, 100, 1000]) {
    const xx = topology(n, 'xxhash32', 'hashed', POINTS);
    const ket = topology(n, 'ketama', 'hashed', ketamaVnodes(POINTS));
    const bal = topology(n, 'xxhash32', 'balanced', POINTS);
    const weights = weightsOf(n);
    const hashedMs = bestMs(() => Ring.fromTopology(xx));
    const ketamaMs = bestMs(() => Ring.fromTopology(ket));
    const balancedMs = bestMs(() => Ring.fromTopology(bal));
    const hashringMs = bestMs(() => makeHashRing(weights, ketamaVnodes(POINTS)), 3);
    const ring = Ring.fromTopology(xx);
    // Several instances of a small ring, so the heap delta stands out of the GC's noise.
    const copies = Math.max(1, Math.round(40_000 / (n * POINTS)));
    const hrBytes = retainedBytes(() => Array.from({ length: copies }, () => makeHashRing(weights, ketamaVnodes(POINTS))), gc) / copies;
    const row: BuildRow = {
      shards: n,
      pointsPerShard: POINTS,
      hashedMs: round(hashedMs),
      ketamaMs: round(ketamaMs),
      balancedMs: round(balancedMs),
      hashringMs: round(hashringMs),
      bytesPerPoint: round(ring.byteSize() / ring.points.length, 2),
      hashringBytesPerPoint: round(hrBytes / (n * POINTS), 1),
    };
    rows.push(row);
    log(
      `  ${String(n).padStart(4)} shards: hashed ${row.hashedMs} ms, ketama ${row.ketamaMs} ms, balanced ${row.balancedMs} ms,` +
        ` hashring ${row.hashringMs} ms; ${row.bytesPerPoint} B/point (hashring ~${row.hashringBytesPerPoint} B/point retained heap)`,
    );
  }
  return rows;
}

interface BalanceRow {
  shards: number;
  pointsPerShard: number;
  hashed: number;
  balanced: number;
  ketama: number;
  hashring: number;
}

/** max share / mean share, from exact arc sizes. */
function peakToMean(ring: Ring): number {
  const arcs = [...ring.arcs().values()].filter((a) => a > 0);
  return Math.max(...arcs) / (RING_SIZE / arcs.length);
}

/** A balanced ring grown the way a cluster grows: one shard, then joins one at a time. */
function grownBalanced(n: number, points: number): Topology {
  let t = topology(1, 'xxhash32', 'balanced', points);
  for (let i = 1; i < n; i++) t = applyChange(t, { kind: 'add', shard: { id: `s${i}`, weight: 1 } });
  return t;
}

function balanceSection(): BalanceRow[] {
  log('\n# peak/mean load by exact arc share (1.000 = perfect)');
  const rows: BalanceRow[] = [];
  const pointCounts = QUICK ? [40, 160] : [16, 40, 160, 640];
  for (const n of [10, 100]) {
    for (const points of pointCounts) {
      const row: BalanceRow = {
        shards: n,
        pointsPerShard: points,
        hashed: round(peakToMean(Ring.fromTopology(topology(n, 'xxhash32', 'hashed', points)))),
        balanced: round(peakToMean(Ring.fromTopology(grownBalanced(n, points)))),
        ketama: round(peakToMean(Ring.fromTopology(topology(n, 'ketama', 'hashed', ketamaVnodes(points))))),
        hashring: round(peakToMean(ringOfHashRing(makeHashRing(weightsOf(n), ketamaVnodes(points))))),
      };
      rows.push(row);
      log(
        `  ${String(n).padStart(3)} shards x ${String(points).padStart(3)} points: hashed ${row.hashed}, balanced (grown by joins) ${row.balanced},` +
          ` ketama ${row.ketama}, hashring ${row.hashring}`,
      );
    }
  }
  return rows;
}

interface MoveRow {
  change: string;
  scheme: string;
  moved: number;
  minimal: number;
  ratio: number;
  sampled?: number;
}

function movementSection(keys: readonly string[]): MoveRow[] {
  log(`\n# key movement, ${SHARDS} shards x ${POINTS} points: moved share of the hash space vs the minimum`);
  const changes: Array<[string, TopologyChange]> = [
    ['add s10', { kind: 'add', shard: { id: `s${SHARDS}`, weight: 1 } }],
    ['remove s3', { kind: 'remove', id: 's3' }],
    ['reweight s3 1->2', { kind: 'reweight', id: 's3', weight: 2 }],
  ];
  const rows: MoveRow[] = [];
  const sample = keys.slice(0, QUICK ? 20_000 : 100_000);
  for (const [label, change] of changes) {
    const schemes: Array<[string, Topology]> = [
      ['shardkit hashed', topology(SHARDS, 'xxhash32', 'hashed', POINTS)],
      ['shardkit balanced', topology(SHARDS, 'xxhash32', 'balanced', POINTS)],
      ['shardkit ketama', topology(SHARDS, 'ketama', 'hashed', ketamaVnodes(POINTS))],
    ];
    for (const [scheme, from] of schemes) {
      const plan = planRebalance(from, applyChange(from, change));
      rows.push({
        change: label,
        scheme,
        moved: round(plan.movedFraction, 4),
        minimal: round(plan.minimalFraction, 4),
        ratio: round(plan.movedFraction / plan.minimalFraction),
      });
    }
    // hashring: exact shares from its continuum, cross-checked by routing sample keys through it.
    const before = weightsOf(SHARDS);
    const after: Record<string, number> = { ...before };
    if (change.kind === 'add') after[change.shard.id] = change.shard.weight;
    if (change.kind === 'remove') delete after[change.id];
    if (change.kind === 'reweight') after[change.id] = change.weight;
    // A 1-entry cache: hashring's LRU cannot be turned off (size 0 crashes simple-lru-cache).
    const hrA = makeHashRing(before, ketamaVnodes(POINTS), 1);
    const hrB = makeHashRing(after, ketamaVnodes(POINTS), 1);
    const ra = ringOfHashRing(hrA, 1);
    const rb = ringOfHashRing(hrB, 2);
    const moved = ra.diff(rb).reduce((s, m) => s + (m.end - m.start), 0) / RING_SIZE;
    const arcsA = ra.arcs();
    const arcsB = rb.arcs();
    let minimal = 0;
    for (const id of new Set([...arcsA.keys(), ...arcsB.keys()])) minimal += Math.max(0, (arcsB.get(id) ?? 0) - (arcsA.get(id) ?? 0));
    minimal /= RING_SIZE;
    let changed = 0;
    for (const k of sample) if (hrA.get(k) !== hrB.get(k)) changed++;
    rows.push({
      change: label,
      scheme: 'hashring 3.2.0',
      moved: round(moved, 4),
      minimal: round(minimal, 4),
      ratio: round(moved / minimal),
      sampled: round(changed / sample.length, 4),
    });
  }
  for (const r of rows) {
    log(
      `  ${r.change.padEnd(17)} ${r.scheme.padEnd(18)} moved ${r.moved.toFixed(4)}  minimal ${r.minimal.toFixed(4)}  ratio ${r.ratio.toFixed(3)}` +
        (r.sampled === undefined ? '' : `  (keys sampled through hashring.get: ${r.sampled.toFixed(4)})`),
    );
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// report

interface Target {
  what: string;
  target: string;
  measured: string;
  met: boolean;
}

function markdown(
  meta: Record<string, unknown>,
  targets: readonly Target[],
  lookups: LookupResults,
  hashTimings: readonly Timing[],
  build: readonly BuildRow[],
  balance: readonly BalanceRow[],
  moves: readonly MoveRow[],
): string {
  const t = (rows: readonly Timing[], ref?: string): string => {
    const base = ref === undefined ? undefined : byName(rows, ref).nsPerOp;
    return [
      `| case | ns/lookup (best sample) | ns/lookup (mean) |${base === undefined ? '' : ' speed vs hashring (best) |'}`,
      `|---|---:|---:|${base === undefined ? '' : '---:|'}`,
      ...rows.map(
        (r) =>
          `| ${r.name} | ${r.nsPerOp.toFixed(1)} | ${r.meanNs.toFixed(1)} |${base === undefined ? '' : ` ${(base / r.nsPerOp).toFixed(2)}x |`}`,
      ),
    ].join('\n');
  };
  return `## Routing

Command: \`${meta.command as string}\` (${meta.quick === true ? 'quick run' : 'full run'}).
Machine: ${meta.cpus as number} x ${meta.cpu as string}, ${meta.memoryGiB as number} GiB, Node ${meta.node as string}, ${meta.platform as string}, 1-minute load average ${meta.loadAverage as number} at the start. Date: ${meta.date as string}.
Peer: hashring 3.2.0 (md5 ketama, ${CACHE}-entry LRU), measured in the same process and run.
${SHARDS} shards, ${POINTS} points per shard (hashring: vnode count ${ketamaVnodes(POINTS)} x 4 replicas), ${meta.keys as number} distinct keys of 8-40 ASCII characters.
Raw numbers: \`bench/results/routing.json\`. This is a small 2-core VM: absolute times are several times a
desktop's${(meta.loadAverage as number) > 1.5 ? ', and other jobs shared it during the run (see the load average)' : ''}. Peers run interleaved in 3 rounds in one process, and
ratios use each case's fastest benchmark.js sample, the one least disturbed by other load.

### Targets

| what | target | measured | met |
|---|---|---|---|
${targets.map((x) => `| ${x.what} | ${x.target} | ${x.measured} | ${x.met ? 'yes' : '**no**'} |`).join('\n')}

${notes(targets, lookups)}

### Cold lookups (every key new to the cache)

${t(lookups.cold, 'hashring.get (cache 5000)')}

### Hot lookups (1024 keys)

${t(lookups.hot, 'hashring.get (cache 5000)')}

### Hot lookups (1024 keys), each key decoded from bytes per lookup

Keys that arrive in requests are new string objects every time (decoded from a buffer): no engine-cached
hash, not internalized. The decode costs the same for every peer (first row).

${t(lookups.hotFresh, 'hashring.get (cache 5000)')}

### Zipf(0.99) over ${meta.keys as number} keys

${t(lookups.zipf, 'hashring.get (cache 5000)')}

### Hash functions on 8-40 byte keys

${t(hashTimings)}

### Ring build and memory

Times are the fastest of at least 5 runs.

| shards | points/shard | hashed ms | ketama ms | balanced ms | hashring ms | bytes/point | hashring heap bytes/point |
|---:|---:|---:|---:|---:|---:|---:|---:|
${build.map((r) => `| ${r.shards} | ${r.pointsPerShard} | ${r.hashedMs} | ${r.ketamaMs} | ${r.balancedMs} | ${r.hashringMs} | ${r.bytesPerPoint} | ${r.hashringBytesPerPoint} |`).join('\n')}

### Peak/mean load (exact arc shares; 1.000 is perfect)

Balanced rings here are grown the way a cluster grows (one shard, then one join at a time), not laid out
evenly at once.

| shards | points/shard | hashed (xxhash32) | balanced | ketama | hashring |
|---:|---:|---:|---:|---:|---:|
${balance.map((r) => `| ${r.shards} | ${r.pointsPerShard} | ${r.hashed} | ${r.balanced} | ${r.ketama} | ${r.hashring} |`).join('\n')}

### Key movement (${SHARDS} shards x ${POINTS} points; shares of the hash space)

"minimal" is the least any placement reaching the same new shares must move: the sum of the shards' gains.

| change | scheme | moved | minimal | moved/minimal | hashring keys sampled |
|---|---|---:|---:|---:|---:|
${moves.map((r) => `| ${r.change} | ${r.scheme} | ${r.moved.toFixed(4)} | ${r.minimal.toFixed(4)} | ${r.ratio.toFixed(3)} | ${r.sampled === undefined ? '' : r.sampled.toFixed(4)} |`).join('\n')}
`;
}

/** Why a missed target was missed, from what this run measured. */
function notes(targets: readonly Target[], lookups: LookupResults): string {
  const missed = new Set(targets.filter((x) => !x.met).map((x) => x.what));
  const ns = (rows: readonly Timing[], name: string): string => byName(rows, name).nsPerOp.toFixed(0);
  const out: string[] = [];
  const hrCold = byName(lookups.cold, 'hashring.get (cache 5000)').nsPerOp;
  const bare = byName(lookups.cold, 'bare xxhash32String').nsPerOp;
  if (missed.has('cold route, cache on, vs hashring')) {
    out.push(
      `- **Cold, cache on.** Out of reach on this machine: the bare hash of the same keys (${bare.toFixed(0)} ns) is itself only` +
        ` ${(hrCold / bare).toFixed(1)}x faster than hashring's cold lookup (${hrCold.toFixed(0)} ns), and a lookup cannot cost less than` +
        ` its hash. With the cache on, a cold lookup costs about an uncached one (${ns(lookups.cold, 'router xxhash32 (no cache)')} ns):` +
        ' below a 25% hit rate the router bypasses its cache, probing 1 lookup in 16.',
    );
  }
  if (missed.has('hot lookups (1k keys) vs hashring')) {
    out.push(
      '- **Hot, same string objects.** This case repeats the same string objects, which hashring\'s object-dictionary' +
        ' cache internalizes once and then finds by pointer (about 18 ns). shardkit\'s cache is `lru-cache`, as the brief' +
        ' chooses: its `get` relinks its recency list and takes an options object per call (about 40-48 ns here). A' +
        ' hand-written CLOCK cache measured about 2.5x cheaper per hit; it is recorded as a proposal in ADR 0004, not' +
        ' adopted. On keys decoded per lookup, as from requests (next table), the two are close. A shardkit hit also counts' +
        ' its shard for `stats()`.',
    );
  }
  if (missed.has('Zipf(0.99) vs hashring')) {
    const hrZipf = byName(lookups.zipf, 'hashring.get (cache 5000)').nsPerOp;
    const uncached = byName(lookups.zipf, 'router xxhash32 (no cache)').nsPerOp;
    out.push(
      '- **Zipf(0.99).** With 5000 entries for a million keys, about 40% of Zipf(0.99) lookups miss in any cache (an ideal' +
        ' frequency cache holds about 63% of the traffic), and a miss costs at least an uncached lookup on a cold key string' +
        ` (${uncached.toFixed(0)} ns here): 40% of that alone caps the ratio at about ${(hrZipf / (0.4 * uncached)).toFixed(1)}x on this machine.` +
        ' A miss through the cache costs more still: its probe touches entries that a million-key stream has pushed out of the' +
        ' CPU caches, so the measured ratio stays well under that cap.',
    );
  }
  return out.length === 0 ? '' : `Missed targets, and why:\n\n${out.join('\n')}`;
}


function reportOnly(): void {
  const r = JSON.parse(readFileSync(join(root, 'bench', 'results', 'routing.json'), 'utf8')) as {
    meta: Record<string, unknown>;
    targets: Target[];
    hash: Timing[];
    cold: Timing[];
    hot: Timing[];
    hotFresh: Timing[];
    zipf: Timing[];
    build: BuildRow[];
    balance: BalanceRow[];
    movement: MoveRow[];
  };
  const lookups: LookupResults = { cold: r.cold, hot: r.hot, hotFresh: r.hotFresh, zipf: r.zipf };
  writeBenchmarksSection('## Routing', markdown(r.meta, r.targets, lookups, r.hash, r.build, r.balance, r.movement));
  log('rewrote the Routing section of docs/benchmarks.md from bench/results/routing.json');
}

async function main(): Promise<void> {
  if (REPORT_ONLY) return reportOnly();
  const meta = {
    // A run under `nice` (a raised priority on a shared machine) says so in the command it records.
    command: `${os.getPriority() === 0 ? '' : `nice -n ${os.getPriority()} `}node --import tsx bench/routing.ts${QUICK ? ' --quick' : ''}`,
    date: new Date().toISOString().slice(0, 10),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    // Other jobs share this machine; the 1-minute load average at the start tells how much.
    loadAverage: round(os.loadavg()[0] ?? 0, 2),
    quick: QUICK,
    keys: KEY_COUNT,
    shards: SHARDS,
    pointsPerShard: POINTS,
    cacheSize: CACHE,
  };
  log(`routing benchmark (${QUICK ? 'quick' : 'full'}): ${meta.cpus} x ${meta.cpu}, Node ${meta.node}`);
  const keys = makeKeys(KEY_COUNT, 1);

  const { timings: hashTimings } = await hashSection();
  const lookups = lookupSections(keys);
  const build = await buildSection();
  const balance = balanceSection();
  const moves = movementSection(keys);

  const ns = (rows: readonly Timing[], name: string): number => byName(rows, name).nsPerOp;
  const HR = 'hashring.get (cache 5000)';
  const coldRatio = ns(lookups.cold, HR) / ns(lookups.cold, 'router xxhash32 (cache 5000)');
  const coldKetama = ns(lookups.cold, HR) / ns(lookups.cold, 'router ketama (cache 5000)');
  const uncachedVsHash = ns(lookups.cold, 'router xxhash32 (no cache)') / ns(lookups.cold, 'bare xxhash32String');
  const hotRatio = ns(lookups.hot, HR) / ns(lookups.hot, 'router xxhash32 (cache 5000)');
  const zipfRatio = ns(lookups.zipf, HR) / ns(lookups.zipf, 'router xxhash32 (cache 5000)');
  const build1000 = build.find((r) => r.shards === 1000)!;
  const maxBytes = Math.max(...build.map((r) => r.bytesPerPoint));
  const balanced = balance.filter((r) => r.pointsPerShard >= 160);
  const worstBalanced = Math.max(...balanced.map((r) => r.balanced));
  const single = moves.filter((r) => r.scheme === 'shardkit hashed' || r.scheme === 'shardkit balanced');
  const worstMove = Math.max(...single.map((r) => r.ratio));

  const targets: Target[] = [
    { what: 'cold route, cache on, vs hashring', target: '>= 25x', measured: `${coldRatio.toFixed(1)}x`, met: coldRatio >= 25 },
    { what: 'cold route, ketama mode, vs hashring', target: '>= 5x', measured: `${coldKetama.toFixed(1)}x`, met: coldKetama >= 5 },
    { what: 'uncached lookup vs bare hash', target: '<= 2x', measured: `${uncachedVsHash.toFixed(2)}x`, met: uncachedVsHash <= 2 },
    { what: 'hot lookups (1k keys) vs hashring', target: '>= 1.2x', measured: `${hotRatio.toFixed(2)}x`, met: hotRatio >= 1.2 },
    { what: 'Zipf(0.99) vs hashring', target: '>= 10x', measured: `${zipfRatio.toFixed(1)}x`, met: zipfRatio >= 10 },
    { what: 'build 1000 shards x 160', target: '<= 50 ms', measured: `${build1000.hashedMs} ms`, met: build1000.hashedMs <= 50 },
    { what: 'bytes per vnode (point)', target: '<= 8', measured: `${maxBytes}`, met: maxBytes <= 8 },
    { what: 'peak/mean, balanced, >= 160 points/shard', target: '<= 1.02', measured: `${worstBalanced}`, met: worstBalanced <= 1.02 },
    { what: 'moved/minimal, single-shard changes (hashed, balanced)', target: '1.000', measured: `<= ${worstMove.toFixed(3)}`, met: worstMove <= 1.0000001 },
  ];
  log('\n# targets');
  for (const x of targets) log(`  ${x.met ? 'ok  ' : 'MISS'} ${x.what}: ${x.measured} (target ${x.target})`);

  if (WRITE) {
    const result = { meta, targets, hash: hashTimings, ...lookups, build, balance, movement: moves };
    mkdirSync(join(root, 'bench', 'results'), { recursive: true });
    writeFileSync(join(root, 'bench', 'results', 'routing.json'), `${JSON.stringify(result, null, 2)}\n`);
    writeBenchmarksSection('## Routing', markdown(meta, targets, lookups, hashTimings, build, balance, moves));
    log('\nwrote bench/results/routing.json and the Routing section of docs/benchmarks.md');
  }
}

await main();
