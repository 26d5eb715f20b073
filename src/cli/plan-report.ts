/**
 * How a plan is reported: its headline numbers, the table `plan` prints, and the time a migration of
 * it takes. Shared by `plan`, `plan --config` (in the rebalance command file) and the topology change
 * commands, none of which import another command file for it.
 */
import type { RebalancePlan } from '../rebalance/plan.js';
import { routerDrainMs } from '../router/drain-bound.js';
import type { CliIO } from './io.js';
import { printJson } from './output.js';
import { formatTable, percent } from './table.js';

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

/** What {@link printPlan} reads of the `plan` options. */
export interface PlanPrintOptions {
  readonly json?: boolean;
  /** Moves to list in the human output (a string: commander's option value; default 10). */
  readonly moves?: string;
}

/** Print a plan as JSON (every move) or as a summary table plus the first moves. */
export function printPlan(io: CliIO, plan: Plan, opts: PlanPrintOptions): void {
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

/**
 * How many times a migration waits out every router's lease on the state it replaces (ADR 0002): after
 * the publish before the sweep, after the commit before the cleanup, after the settle before the purge.
 */
export const ROUTER_LEASE_WAITS = 3;

/** The router-lease waits of one migration (ms): {@link ROUTER_LEASE_WAITS} x `routerDrainMs` (ADR 0003, "The bound"). */
export function routerLeaseWaitsMs(config: { readonly leaseMs: number; readonly opTimeoutMs: number }): number {
  return ROUTER_LEASE_WAITS * routerDrainMs(config);
}
