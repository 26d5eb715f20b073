import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { labCharts } from '../../lab/charts.js';
import { KeySet, keysFromText, parseKeySpec, uniformKeys, zipfKeys } from '../../lab/keys.js';
import { runLab, summarize } from '../../lab/runner.js';
import type { LabResult } from '../../lab/runner.js';
import { SCHEME_NAMES, parseSchemes, type SchemeName } from '../../lab/schemes/registry.js';
import { hashRingInstalled } from '../../lab/hashring-ring.js';
import { isPrime } from '../../lab/schemes/maglev.js';
import type { SchemeParams, Workload } from '../../lab/types.js';
import { DEFAULT_SCHEME_PARAMS } from '../../lab/types.js';
import { STANDARD_WORKLOAD, generateWorkload } from '../../lab/workload.js';
import { workloadFromDocument } from '../../lab/workload-file.js';
import { parseTopologyText } from '../../topology/parse.js';
import type { Topology } from '../../topology/topology.js';
import type { CliIO } from '../io.js';
import { parseNumberOption, usageError } from '../options.js';
import { printJson } from '../output.js';
import { formatTable } from '../table.js';
import { loadTopologyFile } from '../topology-file.js';

interface LabOptions {
  schemes: string;
  workload: string;
  keys: string;
  sample: string;
  vnodes: string;
  maglevSize: string;
  loadFactor: string;
  probes: string;
  seed: string;
  json?: boolean;
  svg?: string;
  steps?: boolean;
}

async function loadKeys(io: CliIO, spec: string, sample: number): Promise<KeySet> {
  const keys = parseKeySpec(spec);
  switch (keys.kind) {
    case 'uniform':
      return uniformKeys(sample);
    case 'zipf':
      return zipfKeys(sample, keys.s);
    case 'file':
      return keysFromText(basename(keys.path), await io.readText(keys.path), sample);
  }
}

async function loadWorkload(io: CliIO, spec: string, seed: number): Promise<Workload> {
  if (!spec.startsWith('file:')) return generateWorkload(spec, seed);
  const path = spec.slice(5);
  const text = await io.readText(path);
  // Topology files named by a workload file are read first, so the pure parser can stay synchronous.
  const doc = parseTopologyText(text);
  const paths = (doc as { topologies?: unknown } | null)?.topologies;
  const topologies = new Map<string, Topology>();
  if (Array.isArray(paths)) {
    for (const p of paths) if (typeof p === 'string') topologies.set(p, (await loadTopologyFile(io, resolve(dirname(path), p))).topology);
  }
  return workloadFromDocument(basename(path), doc, (p) => topologies.get(p)!, seed);
}

function num(n: number | null, digits = 3): string {
  return n === null ? '-' : n.toFixed(digits);
}

function printText(io: CliIO, result: LabResult, steps: boolean): void {
  const { workload, keys } = result;
  io.stdout.write(
    `lab: ${workload.spec} (${workload.initialShards} shards, ${workload.steps.length} steps), ${keys.count} ${keys.kind} keys, ` +
      `${result.params.vnodes} points per unit weight, Maglev M=${result.params.maglevSize}, bounded loads c=${result.params.loadFactor}, ` +
      `${result.params.probes} probes\n\n`,
  );
  if (steps) {
    const rows = result.rows.map((r) => [r.scheme, String(r.step), r.label, String(r.shards), num(r.movedOverMinimal), num(r.peakToMean), r.exact ? 'exact' : 'keys', r.how]);
    io.stdout.write(`${formatTable(['scheme', 'step', 'change', 'shards', 'moved/min', 'peak/mean', 'figures', 'how'], rows, ['left', 'right', 'left', 'right', 'right', 'right', 'left', 'left'])}\n`);
  }
  const summary = summarize(result).map((s) => [
    s.scheme,
    num(s.meanMovedOverMinimal),
    num(s.maxMovedOverMinimal),
    num(s.totalMinimal > 0 ? s.totalMoved / s.totalMinimal : null),
    num(s.finalPeakToMean),
    num(s.maxPeakToMean),
    s.exact ? 'exact' : 'keys',
    String(s.emulatedSteps + s.ignoredSteps),
    s.finalBytesPerShard.toFixed(0),
    s.meanBuildMs.toFixed(2),
  ]);
  io.stdout.write(
    formatTable(
      ['scheme', 'moved/min mean', 'moved/min max', 'moved/min total', 'peak/mean end', 'peak/mean max', 'figures', 'not native', 'bytes/shard', 'build ms'],
      summary,
      ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'right', 'right', 'right'],
    ),
  );
  // One example per scheme that could not express a change: the JSON has every note.
  const firsts = result.schemes.map((s) => result.rows.find((r) => r.scheme === s && r.how !== 'native')).filter((r) => r !== undefined);
  if (firsts.length > 0) {
    io.stdout.write(`\nNot expressible natively (${result.rows.filter((r) => r.how !== 'native').length} scheme-steps), first of each:\n`);
    for (const r of firsts) io.stdout.write(`  ${r.scheme} step ${r.step} ${r.label} (${r.how}): ${r.note ?? ''}\n`);
  }
}

/**
 * hashring is an optional peer: `--schemes all` (the default) leaves it out, saying so, where it is
 * not installed; naming it explicitly fails with the install hint when the scheme is built.
 */
function withoutMissingHashRing(io: CliIO, text: string, schemes: SchemeName[]): SchemeName[] {
  if (text.trim() !== 'all' || hashRingInstalled()) return schemes;
  io.stderr.write('note: the hashring package is not installed, so the lab runs without it (`npm install hashring@3.2.0` to compare)\n');
  return schemes.filter((s) => s !== 'hashring');
}

/** Adds `lab`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('lab')
    .description('Compare placement schemes (shardkit rings, hashring, jump, rendezvous, Maglev, bounded loads, multi-probe) on a topology history')
    .option('--schemes <list>', `comma list of ${SCHEME_NAMES.join(', ')}, or all`, 'all')
    .option('--workload <spec>', `grow:A..B, shrink:A..B, churn[:N], reweight[:N], fail[:ID] joined by +, standard (${STANDARD_WORKLOAD}), or file:PATH`, 'standard')
    .option('--keys <spec>', 'uniform, zipf:S, or file:PATH (one key a line; repeats weigh more)', 'uniform')
    .option('--sample <n>', 'keys to place (distinct keys kept from a key file)', '100000')
    .option('--vnodes <v>', 'ring points per unit weight (ketama and hashring: a quarter of it in md5 digests)', String(DEFAULT_SCHEME_PARAMS.vnodes))
    .option('--maglev-size <m>', 'Maglev lookup table size (a prime)', String(DEFAULT_SCHEME_PARAMS.maglevSize))
    .option('--load-factor <c>', 'bounded loads: capacity factor c >= 1', String(DEFAULT_SCHEME_PARAMS.loadFactor))
    .option('--probes <k>', 'multi-probe: probes per key', String(DEFAULT_SCHEME_PARAMS.probes))
    .option('--seed <n>', 'seed of the generated workload', '1')
    .option('--steps', 'print every step, not only the summary')
    .option('--json', 'print the full result as JSON')
    .option('--svg <dir>', 'write moved-over-minimal.svg and peak-to-mean.svg into DIR')
    .action(async (opts: LabOptions) => {
      const params: SchemeParams = {
        vnodes: parseNumberOption('--vnodes', opts.vnodes, { integer: true, min: 1, max: 4096 }),
        maglevSize: parseNumberOption('--maglev-size', opts.maglevSize, { integer: true, min: 2, max: 10_000_019 }),
        loadFactor: parseNumberOption('--load-factor', opts.loadFactor, { min: 1, max: 100 }),
        probes: parseNumberOption('--probes', opts.probes, { integer: true, min: 1, max: 1000 }),
      };
      if (!isPrime(params.maglevSize)) throw usageError(`--maglev-size must be a prime (got ${params.maglevSize}; 65537 and 655373 are the paper's)`);
      const schemes = withoutMissingHashRing(io, opts.schemes, parseSchemes(opts.schemes));
      const sample = parseNumberOption('--sample', opts.sample, { integer: true, min: 1, max: 10_000_000 });
      const seed = parseNumberOption('--seed', opts.seed, { integer: true, min: 0, max: 2 ** 32 - 1 });
      const workload = await loadWorkload(io, opts.workload, seed);
      if (workload.steps.length === 0) throw usageError('--workload: no steps to measure');
      if (schemes.includes('maglev') && params.maglevSize <= Math.max(workload.initial.length, 1)) throw usageError('--maglev-size must exceed the shard count');
      const keys = await loadKeys(io, opts.keys, sample);
      const result = runLab({ schemes, workload, keys, params });
      if (opts.svg !== undefined) {
        await mkdir(opts.svg, { recursive: true });
        for (const chart of labCharts(result)) await io.writeText(join(opts.svg, chart.file), chart.svg);
      }
      if (opts.json === true) printJson(io, { ...result, summary: summarize(result) });
      else printText(io, result, opts.steps === true);
    });
}
