import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { planRebalance } from '../../rebalance/plan.js';
import { applyChange, withBalancedTokens } from '../../ring/placement.js';
import { Ring } from '../../ring/ring.js';
import { Topology } from '../../topology/topology.js';
import type { TopologyChange } from '../../topology/types.js';
import type { CliIO } from '../io.js';
import { parseNumberOption, usageError } from '../options.js';
import { printJson } from '../output.js';
import { peakToMean, shareReport } from '../shares.js';
import { formatTable, percent } from '../table.js';
import { simulationCharts } from './simulate-charts.js';

/** The three ways of placing points that `simulate` compares. */
export const SIMULATED_PLACEMENTS = ['hashed', 'balanced', 'ketama'] as const;
/** One of {@link SIMULATED_PLACEMENTS}. */
export type SimulatedPlacement = (typeof SIMULATED_PLACEMENTS)[number];

/** A simulation step as written on the command line. */
export type SimStep =
  | { readonly kind: 'add'; readonly id?: string; readonly weight: number }
  | { readonly kind: 'remove'; readonly id: string }
  | { readonly kind: 'reweight'; readonly id: string; readonly weight: number }
  | { readonly kind: 'drain'; readonly id: string };

/**
 * Parse `--steps`: comma-separated `add`, `add:ID`, `add:ID=W`, `remove:ID`, `weight:ID=W`,
 * `drain:ID`. A usage error names the first step it cannot read.
 */
export function parseSteps(text: string): SimStep[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((step) => {
      const m = /^(add|remove|weight|drain)(?::([^=]+)(?:=(.+))?)?$/.exec(step);
      const verb = m?.[1];
      const id = m?.[2];
      const value = m?.[3];
      const weight = value === undefined ? undefined : Number(value);
      const bad = (): never => {
        throw usageError(`--steps: cannot read step ${JSON.stringify(step)} (add, add:ID, add:ID=W, remove:ID, weight:ID=W, drain:ID)`);
      };
      if (weight !== undefined && !Number.isFinite(weight)) bad();
      switch (verb) {
        case 'add':
          return id === undefined ? { kind: 'add', weight: 1 } : { kind: 'add', id, weight: weight ?? 1 };
        case 'remove':
          return id === undefined || weight !== undefined ? bad() : { kind: 'remove', id };
        case 'drain':
          return id === undefined || weight !== undefined ? bad() : { kind: 'drain', id };
        case 'weight':
          return id === undefined || weight === undefined ? bad() : { kind: 'reweight', id, weight };
        default:
          return bad();
      }
    });
}

/** Parameters of a simulation. */
export interface SimulationOptions {
  readonly shards: number;
  readonly keys: number;
  /** Points per unit weight (ketama gets a quarter of it as hashring's vnode count: 4 points per md5). */
  readonly vnodes: number;
  readonly steps: readonly SimStep[];
  readonly placements?: readonly SimulatedPlacement[];
}

/** One step of one placement. */
export interface SimulationRow {
  readonly placement: SimulatedPlacement;
  readonly step: string;
  readonly epoch: number;
  /** Fraction of the synthetic keys whose shard changed. */
  readonly movedKeys: number;
  /** Least fraction of keys that had to move to reach the new per-shard key counts. */
  readonly idealKeys: number;
  /** Exact fraction of the hash space that changed owner (from the plan). */
  readonly movedFraction: number;
  /** Exact least fraction that had to change owner for the new weights (from the plan). */
  readonly minimalFraction: number;
  /** Peak-to-mean load after the step, counted over the keys. */
  readonly peakToMeanKeys: number;
  /** Peak-to-mean load after the step, exact over the hash space. */
  readonly peakToMeanExact: number;
}

function initialTopology(placement: SimulatedPlacement, shards: number, vnodes: number): Topology {
  const t = Topology.from({
    name: `simulate-${placement}`,
    hash: placement === 'ketama' ? 'ketama' : 'xxhash32',
    placement: placement === 'balanced' ? 'balanced' : 'hashed',
    vnodes: placement === 'ketama' ? Math.max(1, Math.round(vnodes / 4)) : vnodes,
    shards: Array.from({ length: shards }, (_, i) => ({ id: `s${i + 1}` })),
  });
  return placement === 'balanced' ? withBalancedTokens(t) : t;
}

function toChange(t: Topology, step: SimStep): { change: TopologyChange; label: string } {
  switch (step.kind) {
    case 'add': {
      let id = step.id;
      for (let n = t.shards.length + 1; id === undefined; n++) if (t.shard(`s${n}`) === undefined) id = `s${n}`;
      return { change: { kind: 'add', shard: { id, weight: step.weight } }, label: `add:${id}${step.weight === 1 ? '' : `=${step.weight}`}` };
    }
    case 'remove':
      return { change: step, label: `remove:${step.id}` };
    case 'drain':
      return { change: step, label: `drain:${step.id}` };
    case 'reweight':
      return { change: step, label: `weight:${step.id}=${step.weight}` };
  }
}

function routeAll(ring: Ring, keys: readonly string[]): string[] {
  return keys.map((k) => ring.routeString(k));
}

/** A simulation's rows and the topologies it went through. */
export interface Simulation {
  readonly rows: SimulationRow[];
  /** Step labels, in order (the same for every placement). */
  readonly steps: string[];
  /** Per placement, the topology before the first step and after each step. */
  readonly topologies: ReadonlyMap<SimulatedPlacement, readonly Topology[]>;
}

/**
 * Route synthetic keys through the steps under each placement and measure, per step, how many keys
 * moved against the least that had to, by counting keys and exactly from the plan, and the
 * peak-to-mean load after it. Deterministic: same options, same numbers.
 */
export function simulate(opts: SimulationOptions): SimulationRow[] {
  return runSimulation(opts).rows;
}

/** {@link simulate} with the topologies each placement went through (what the charts draw). */
export function runSimulation(opts: SimulationOptions): Simulation {
  const keys = Array.from({ length: opts.keys }, (_, i) => `user:${i}`);
  const rows: SimulationRow[] = [];
  const steps: string[] = [];
  const topologies = new Map<SimulatedPlacement, Topology[]>();
  for (const placement of opts.placements ?? SIMULATED_PLACEMENTS) {
    let t = initialTopology(placement, opts.shards, opts.vnodes);
    const history = [t];
    topologies.set(placement, history);
    let owners = routeAll(Ring.fromTopology(t), keys);
    for (const step of opts.steps) {
      const { change, label } = toChange(t, step);
      if (steps.length < opts.steps.length) steps.push(label);
      const next = applyChange(t, change);
      const nextRing = Ring.fromTopology(next);
      const nextOwners = routeAll(nextRing, keys);
      rows.push(stepRow(placement, label, t, next, nextRing, owners, nextOwners));
      history.push(next);
      t = next;
      owners = nextOwners;
    }
  }
  return { rows, steps, topologies };
}

function stepRow(
  placement: SimulatedPlacement,
  label: string,
  t: Topology,
  next: Topology,
  nextRing: Ring,
  owners: readonly string[],
  nextOwners: readonly string[],
): SimulationRow {
  const plan = planRebalance(t, next);
  const before = new Map<string, number>();
  const after = new Map<string, number>();
  let moved = 0;
  for (let i = 0; i < owners.length; i++) {
    const a = owners[i]!;
    const b = nextOwners[i]!;
    before.set(a, (before.get(a) ?? 0) + 1);
    after.set(b, (after.get(b) ?? 0) + 1);
    if (a !== b) moved++;
  }
  let ideal = 0;
  for (const [id, n] of after) ideal += Math.max(0, n - (before.get(id) ?? 0));
  const keyShares = new Map([...after].map(([id, n]) => [id, n / owners.length]));
  return {
    placement,
    step: label,
    epoch: next.epoch,
    movedKeys: moved / owners.length,
    idealKeys: ideal / owners.length,
    movedFraction: plan.movedFraction,
    minimalFraction: plan.minimalFraction,
    peakToMeanKeys: peakToMean(next, keyShares),
    peakToMeanExact: shareReport(next, nextRing).peakToMean,
  };
}

/** Adds `simulate`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('simulate')
    .description('Route synthetic keys through add/remove/reweight steps under each placement and compare key movement with the minimum')
    .option('--shards <n>', 'shards to start with', '4')
    .option('--keys <k>', 'synthetic keys', '100000')
    .option('--steps <list>', 'comma-separated steps: add, add:ID=W, remove:ID, weight:ID=W, drain:ID', 'add,add,remove:s2,weight:s3=2')
    .option('--vnodes <v>', 'points per unit weight', '160')
    .option('--json', 'print the rows as JSON')
    .option('--svg <dir>', 'write moved-vs-minimal.svg and load-per-shard.svg (shardkit placements beside hashring) into DIR')
    .action(async (opts: { shards: string; keys: string; steps: string; vnodes: string; json?: boolean; svg?: string }) => {
      const options: SimulationOptions = {
        shards: parseNumberOption('--shards', opts.shards, { integer: true, min: 1, max: 1000 }),
        keys: parseNumberOption('--keys', opts.keys, { integer: true, min: 1, max: 10_000_000 }),
        vnodes: parseNumberOption('--vnodes', opts.vnodes, { integer: true, min: 1, max: 4096 }),
        steps: parseSteps(opts.steps),
      };
      if (options.steps.length === 0) throw usageError('--steps: give at least one step');
      const sim = runSimulation(options);
      const rows = sim.rows;
      if (opts.svg !== undefined) {
        await mkdir(opts.svg, { recursive: true });
        for (const chart of simulationCharts(sim, options)) await io.writeText(join(opts.svg, chart.file), chart.svg);
      }
      if (opts.json === true) {
        printJson(io, { shards: options.shards, keys: options.keys, vnodes: options.vnodes, steps: options.steps.length, rows });
        return;
      }
      const table = rows.map((r) => [
        r.placement,
        r.step,
        String(r.epoch),
        percent(r.movedKeys),
        percent(r.idealKeys),
        percent(r.movedFraction),
        percent(r.minimalFraction),
        r.peakToMeanKeys.toFixed(3),
        r.peakToMeanExact.toFixed(3),
      ]);
      io.stdout.write(
        `simulate: ${options.shards} shards, ${options.keys} keys, ${options.vnodes} points per unit weight ` +
          `(ketama: ${Math.max(1, Math.round(options.vnodes / 4))} md5 vnodes x 4 points)\n\n` +
          formatTable(
            ['placement', 'step', 'epoch', 'moved keys', 'ideal keys', 'moved exact', 'ideal exact', 'peak/mean keys', 'peak/mean exact'],
            table,
            ['left', 'left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
          ),
      );
    });
}
