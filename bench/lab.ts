/**
 * Key-movement lab benchmark: lookup ns and build ms of every lab scheme (benchmark.js, all schemes
 * interleaved in one run), and the lab's reproduction of the papers' published claims.
 *
 *   node --import tsx bench/lab.ts [--quick] [--write]
 *
 * Prints everything. Only with `--write` does it write docs/lab/bench.json and docs/lab/papers.json
 * and the generated section of docs/lab.md (between the `lab-bench` markers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniformKeys } from '../src/lab/keys.js';
import type { KeySet } from '../src/lab/keys.js';
import { minimalMove, peakToMean } from '../src/lab/runner.js';
import { SCHEME_NAMES, createScheme } from '../src/lab/schemes/registry.js';
import type { SchemeName } from '../src/lab/schemes/registry.js';
import { JumpScheme } from '../src/lab/schemes/jump.js';
import { MaglevScheme } from '../src/lab/schemes/maglev.js';
import { MultiProbeScheme } from '../src/lab/schemes/multi-probe.js';
import { RendezvousScheme } from '../src/lab/schemes/rendezvous.js';
import { BoundedLoadsScheme } from '../src/lab/schemes/bounded-loads.js';
import { RingScheme } from '../src/lab/schemes/ring-scheme.js';
import type { LabShard, SchemeParams } from '../src/lab/types.js';
import { DEFAULT_SCHEME_PARAMS } from '../src/lab/types.js';
import { lookupCase } from './lib/lookup-case.js';
import { runSuite } from './lib/timing.js';
import type { Timing } from './lib/timing.js';

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const WRITE = argv.includes('--write');
const SHARDS = 64;
const BATCH = 1024;
const MAX_TIME = QUICK ? 0.6 : 2;
const PAPER_KEYS = QUICK ? 200_000 : 2_000_000;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const log = (line: string): void => console.log(line);
const round = (n: number, d = 4): number => Number(n.toFixed(d));

function shards(n: number, weight: (i: number) => number = () => 1): LabShard[] {
  return Array.from({ length: n }, (_, i) => ({ id: `s${i + 1}`, weight: weight(i) }));
}

function shareOf(owners: readonly string[], weights?: Float64Array): Map<string, number> {
  const out = new Map<string, number>();
  owners.forEach((o, i) => out.set(o, (out.get(o) ?? 0) + (weights?.[i] ?? 1)));
  const total = [...out.values()].reduce((a, b) => a + b, 0);
  for (const [k, v] of out) out.set(k, v / total);
  return out;
}

function moved(a: readonly string[], b: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) n++;
  return n / a.length;
}

// ---------------------------------------------------------------------------------------------
// lookup ns and build ms, interleaved

interface SpeedRow {
  readonly scheme: SchemeName;
  readonly lookupNs: number;
  readonly lookupMeanNs: number;
  readonly buildMs: number;
  readonly bytesPerShard: number;
}

function speed(params: SchemeParams): SpeedRow[] {
  const keys = uniformKeys(1 << 16).keys;
  const list = shards(SHARDS);
  const built = new Map(SCHEME_NAMES.map((n) => [n, createScheme(n, list, params)] as const));
  const cases = SCHEME_NAMES.flatMap((n) => {
    const s = built.get(n)!;
    // Bounded loads looks keys up against the loads of a placement: give it one.
    if (n === 'bounded-loads') s.assign(uniformKeys(100_000));
    return [lookupCase(`lookup ${n}`, keys, (k) => s.lookup(k), BATCH), { name: `build ${n}`, batch: 1, fn: () => createScheme(n, list, params) }];
  });
  log(`lookups and builds, ${SHARDS} shards, all schemes interleaved (benchmark.js, 3 rounds):`);
  const timings = runSuite(cases, MAX_TIME, log);
  const t = (name: string): Timing => timings.find((x) => x.name === name)!;
  return SCHEME_NAMES.map((n) => ({
    scheme: n,
    lookupNs: round(t(`lookup ${n}`).nsPerOp, 1),
    lookupMeanNs: round(t(`lookup ${n}`).meanNs, 1),
    buildMs: round(t(`build ${n}`).nsPerOp / 1e6, 3),
    bytesPerShard: round(built.get(n)!.byteSize() / SHARDS, 1),
  }));
}

// ---------------------------------------------------------------------------------------------
// the papers' claims, reproduced

interface PaperRow {
  readonly scheme: string;
  readonly source: string;
  readonly setup: string;
  readonly claim: string;
  readonly paper: number;
  readonly lab: number;
  /** One standard error of the lab's figure from sampling keys (0 when exact). */
  readonly stderr: number;
  readonly verified: boolean;
  readonly note: string;
}

function jumpRows(keys: KeySet): PaperRow[] {
  // Lamping & Veach, introduction: going from 10 to 12 shards needs to move only 1/6 of the data.
  const ten = new JumpScheme(shards(10)).assign(keys);
  const twelve = new JumpScheme(shards(12)).assign(keys);
  const p = moved(ten, twelve);
  return [
    {
      scheme: 'jump',
      source: 'Lamping & Veach 2014, introduction',
      setup: '10 -> 12 buckets',
      claim: 'share of keys that move',
      paper: 1 / 6,
      lab: p,
      stderr: Math.sqrt((p * (1 - p)) / keys.size),
      verified: true,
      note: 'the paper states the 1/6 in its motivating example; jump moves exactly the keys that land in buckets 10 and 11',
    },
  ];
}

function maglevRows(): PaperRow[] {
  // Eisenbud et al. 3.4: with M > 100 N, backends' shares differ by at most 1%.
  const spread = (n: number, m: number): number => {
    const shares = [...new MaglevScheme(shards(n), m).exactShares().values()];
    return Math.max(...shares) / Math.min(...shares) - 1;
  };
  return [
    {
      scheme: 'maglev',
      source: 'Eisenbud et al. NSDI 2016, section 3.4',
      setup: 'N = 100 backends, M = 65537 (> 100 N)',
      claim: 'largest difference between backends\' shares',
      paper: 0.01,
      lab: spread(100, 65537),
      stderr: 0,
      verified: true,
      note: 'paper: "at most" 1%; the fill gives floor(M/N) or ceil(M/N) slots, so the spread is 1/floor(M/N)',
    },
    {
      scheme: 'maglev',
      source: 'Eisenbud et al. NSDI 2016, section 3.4',
      setup: 'N = 655 backends, M = 65537 (~ 100 N)',
      claim: 'largest difference between backends\' shares',
      paper: 0.01,
      lab: spread(655, 65537),
      stderr: 0,
      verified: true,
      note: 'at the edge of the paper\'s rule M > 100 N the spread reaches 1%',
    },
  ];
}

function multiProbeRows(keys: KeySet): PaperRow[] {
  // Appleton & O'Reilly abstract: peak/mean 1 + epsilon with 1 + 1/epsilon probes per key.
  const n = 100;
  const list = shards(n);
  // Rendezvous is perfectly balanced in expectation: its sampled peak/mean over the same keys is
  // the sampling noise floor the multi-probe figure carries too.
  const floor = peakToMean(list, shareOf(new RendezvousScheme(list).assign(keys)));
  return [21, 11, 5].map((probes) => {
    const eps = 1 / (probes - 1);
    const lab = peakToMean(list, shareOf(new MultiProbeScheme(list, { ...DEFAULT_SCHEME_PARAMS, probes }).assign(keys)));
    return {
      scheme: 'multi-probe',
      source: "Appleton & O'Reilly 2015, abstract",
      setup: `${n} shards, ${probes} probes, ${keys.size} keys`,
      claim: 'peak/mean load',
      paper: 1 + eps,
      lab,
      stderr: floor - 1,
      verified: true,
      note: `the abstract's bound 1 + epsilon at 1 + 1/epsilon probes; stderr column: sampled peak/mean of rendezvous on the same keys (${round(floor, 3)}), the noise floor`,
    };
  });
}

function boundedRows(keys: KeySet): PaperRow[] {
  const n = 16;
  const list = shards(n);
  return [1.05, 1.25, 2].map((c) => {
    const s = new BoundedLoadsScheme(list, { ...DEFAULT_SCHEME_PARAMS, vnodes: 1, loadFactor: c });
    const before = s.assign(keys);
    const after = s.apply({ kind: 'add', id: 'x', weight: 1 }).scheme.assign(keys);
    const peak = peakToMean(list, shareOf(before));
    const ratio = moved(before, after) / minimalMove(shareOf(before), shareOf(after));
    return {
      scheme: 'bounded-loads',
      source: 'Mirrokni, Thorup & Zadimoghaddam SODA 2018, the load bound',
      setup: `${n} shards, 1 ring point each, c = ${c}, ${keys.size} keys; join of a 17th`,
      claim: 'peak/mean never above c (ceil(c m / n) keys)',
      paper: c,
      lab: peak,
      stderr: 0,
      verified: true,
      note: `moved/minimal on the join: ${round(ratio, 3)} (the paper bounds the expected moves per update by O(1/eps^2) for c = 1 + eps; its constants are not reproduced here)`,
    };
  });
}

function ringRows(): PaperRow[] {
  // Not a paper table: the standard result for v random points per shard (Karger et al.'s ring):
  // a shard's share is a sum of v arcs, standard deviation ~ mean / sqrt(v).
  const s = RingScheme.create('hashed', shards(SHARDS), DEFAULT_SCHEME_PARAMS);
  const shares = [...s.exactShares().values()].map((x) => x * SHARDS);
  const sd = Math.sqrt(shares.reduce((a, x) => a + (x - 1) ** 2, 0) / shares.length);
  return [
    {
      scheme: 'hashed',
      source: 'theory for a ring of v random points per node (Karger et al. 1997 ring with vnodes)',
      setup: `${SHARDS} shards, v = 160 points each, exact arcs`,
      claim: 'std dev of shard load / mean, ~ 1/sqrt(v)',
      paper: 1 / Math.sqrt(160),
      lab: sd,
      stderr: 1 / Math.sqrt(160) / Math.sqrt(2 * SHARDS),
      verified: true,
      note: 'stderr column: the standard error of a standard deviation estimated from 64 shards',
    },
  ];
}

// ---------------------------------------------------------------------------------------------

function markdown(meta: Record<string, unknown>, rows: SpeedRow[], papers: PaperRow[]): string {
  const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
  const fmt = (r: PaperRow, x: number): string => (r.claim.startsWith('peak') ? x.toFixed(3) : pct(x));
  return [
    `Measured by \`${meta.command as string}\` on ${meta.cpus as number} x ${meta.cpu as string}, Node ${meta.node as string}, 1-minute load average ${meta.loadAverage as number} at the start, ${meta.date as string}.`,
    '',
    `| scheme | lookup ns (best) | lookup ns (mean) | build ms, ${SHARDS} shards | routing bytes per shard |`,
    '|---|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.scheme} | ${r.lookupNs} | ${r.lookupMeanNs} | ${r.buildMs} | ${r.bytesPerShard} |`),
    '',
    '| scheme | source | setup | figure | paper | lab | ± (s.e. or noise) | note |',
    '|---|---|---|---|---:|---:|---:|---|',
    ...papers.map((r) => `| ${r.scheme} | ${r.source} | ${r.setup} | ${r.claim} | ${fmt(r, r.paper)} | ${fmt(r, r.lab)} | ${r.stderr === 0 ? 'exact' : r.claim.startsWith('peak') ? r.stderr.toFixed(3) : pct(r.stderr)} | ${r.note} |`),
  ].join('\n');
}

function main(): void {
  const meta = {
    command: `node --import tsx bench/lab.ts${QUICK ? ' --quick' : ''}${WRITE ? ' --write' : ''}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
    node: process.version,
    loadAverage: round(os.loadavg()[0] ?? 0, 2),
    date: new Date().toISOString().slice(0, 10),
  };
  const rows = speed(DEFAULT_SCHEME_PARAMS);
  log(`paper checks over ${PAPER_KEYS} keys ...`);
  const keys = uniformKeys(PAPER_KEYS);
  const papers = [...jumpRows(keys), ...maglevRows(), ...multiProbeRows(keys), ...boundedRows(uniformKeys(Math.min(PAPER_KEYS, 200_000))), ...ringRows()];
  const md = markdown(meta, rows, papers);
  log(md);
  if (!WRITE) return;
  writeFileSync(join(root, 'docs', 'lab', 'bench.json'), `${JSON.stringify({ meta, rows }, null, 2)}\n`);
  writeFileSync(join(root, 'docs', 'lab', 'papers.json'), `${JSON.stringify({ meta, papers }, null, 2)}\n`);
  const doc = join(root, 'docs', 'lab.md');
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- lab-bench:start (bench/lab.ts --write) -->';
  const end = '<!-- lab-bench:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a === -1 || b === -1) throw new Error('docs/lab.md has no lab-bench markers');
  writeFileSync(doc, `${text.slice(0, a + start.length)}\n${md}\n${text.slice(b)}`);
  log('wrote docs/lab/bench.json, docs/lab/papers.json and docs/lab.md');
}

main();
