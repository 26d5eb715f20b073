import type { Command } from 'commander';
import { planRebalance } from '../../rebalance/plan.js';
import type { RebalancePlan } from '../../rebalance/plan.js';
import type { Topology } from '../../topology/topology.js';
import type { CliIO } from '../io.js';
import { printJson, usageError } from '../program.js';
import { formatTable, percent } from '../table.js';
import { loadTopologyFile } from '../topology-file.js';
import { planLive } from './rebalance.js';

type Plan = RebalancePlan;

/** The headline numbers of a plan, shared by `plan` and the topology change commands. */
export interface PlanSummary {
  readonly fromEpoch: number;
  readonly toEpoch: number;
  readonly movedFraction: number;
  readonly minimalFraction: number;
  /** moved / minimal: 1.0 means no key moves that did not have to; null when nothing had to move. */
  readonly ratio: number | null;
  readonly perShard: Plan['perShard'];
}

/** Summarize a plan; `ratio` is null when the minimum is zero (a no-op change). */
export function summarizePlan(plan: Plan): PlanSummary {
  return {
    fromEpoch: plan.fromEpoch,
    toEpoch: plan.toEpoch,
    movedFraction: plan.movedFraction,
    minimalFraction: plan.minimalFraction,
    ratio: plan.minimalFraction > 0 ? plan.movedFraction / plan.minimalFraction : plan.movedFraction === 0 ? 1 : null,
    perShard: plan.perShard,
  };
}

/** Options of `plan`; other sources (a live config store) add theirs here. */
export interface PlanOptions {
  from?: string;
  to?: string;
  json?: boolean;
  moves?: string;
  /** Dry run against the live topology of this config file (see `planLive`). */
  config?: string;
  throttle?: string;
}

/** The two topologies a plan compares. */
export interface PlanInputs {
  readonly from: Topology;
  readonly to: Topology;
}

/**
 * Where the "from" and "to" topologies come from. Files for now; a live dry run (`--config FILE
 * --to FILE`, reading "from" out of the config store) is one more branch here, and everything after
 * (planning, printing) stays as it is.
 */
export async function loadPlanInputs(io: CliIO, opts: PlanOptions): Promise<PlanInputs> {
  if (opts.config !== undefined) throw usageError('plan: --config (a live dry run) and --from are mutually exclusive');
  if (opts.throttle !== undefined) throw usageError('plan: --throttle needs --config (it estimates the time against the live documents)');
  if (opts.to === undefined) throw usageError("plan: required option '--to <file>' not specified");
  if (opts.from === undefined) throw usageError("plan: required option '--from <file>' not specified");
  const [from, to] = await Promise.all([loadTopologyFile(io, opts.from), loadTopologyFile(io, opts.to)]);
  return { from: from.topology, to: to.topology };
}

/** Adds `plan --from FILE --to FILE`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('plan')
    .description('Show which parts of the hash space move between two topologies, and how close that is to the minimum')
    .option('--from <file>', 'current topology file')
    .option('--to <file>', 'target topology file')
    .option('--moves <n>', 'moves to list in the human output', '10')
    .option('--json', 'print the whole plan as JSON')
    .option('--config <file>', 'dry run against the live topology of this config file, with documents per move (instead of --from)')
    .option('--throttle <docsPerSec>', 'with --config: estimate the time at this pace')
    .action(async (opts: PlanOptions) => {
      if (opts.config !== undefined && opts.from === undefined) return planLive(io, { ...opts, config: opts.config });
      const { from, to } = await loadPlanInputs(io, opts);
      printPlan(io, planRebalance(from, to), opts);
    });
}

/** Print a plan as JSON (every move) or as a summary table plus the first moves. */
export function printPlan(io: CliIO, plan: Plan, opts: PlanOptions): void {
  const summary = summarizePlan(plan);
  if (opts.json === true) {
    printJson(io, { ...summary, moves: plan.moves.map((m) => ({ start: m.start, end: m.end, from: m.from, to: m.to })) });
    return;
  }
  const limit = Math.max(0, Math.floor(Number(opts.moves ?? '10')) || 0);
  const ids = Object.keys(plan.perShard);
  const rows = ids.map((id) => {
    const s = plan.perShard[id]!;
    return [id, percent(s.before), percent(s.after), percent(s.out), percent(s.in)];
  });
  let text =
    `plan epoch ${plan.fromEpoch} -> ${plan.toEpoch}: moves ${percent(plan.movedFraction)} of the hash space, ` +
    `minimum ${percent(plan.minimalFraction)}, ratio ${summary.ratio === null ? 'n/a' : summary.ratio.toFixed(3)}, ` +
    `${plan.moves.length} ranges\n\n` +
    formatTable(['shard', 'before', 'after', 'out', 'in'], rows, ['left', 'right', 'right', 'right', 'right']);
  if (plan.moves.length > 0 && limit > 0) {
    const shown = plan.moves.slice(0, limit).map((m) => [`(${m.start}, ${m.end}]`, m.from, m.to, percent((m.end - m.start) / 2 ** 32, 4)]);
    text += `\n${formatTable(['range (_h)', 'from', 'to', 'size'], shown, ['left', 'left', 'left', 'right'])}`;
    if (plan.moves.length > limit) text += `… ${plan.moves.length - limit} more (--moves N or --json)\n`;
  }
  io.stdout.write(text);
}
