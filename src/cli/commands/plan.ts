import type { Command } from 'commander';
import { planRebalance } from '../../rebalance/plan.js';
import type { Topology } from '../../topology/topology.js';
import type { CliIO } from '../io.js';
import { usageError } from '../options.js';
import { printPlan } from '../plan-report.js';
import { loadTopologyFile } from '../topology-file.js';
import { planLive } from '../live-plan.js';

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
