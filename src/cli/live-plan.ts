/**
 * The live plan: a target topology rebased on the live state, the shards both touch, and the
 * documents each pair moves, counted at the sources. What `plan --config` prints and what
 * `rebalance` shows before it asks.
 */
import { describeConfigStore } from '../config-store/config-file.js';
import { openDeployment, type Deployment } from '../deployment/deployment.js';
import type { RoutingState } from '../router/routing-state.js';
import { ErrorCode, ShardkitConflictError, ShardkitStoreError } from '../errors.js';
import { planRebalance, type RebalancePlan } from '../rebalance/plan.js';
import { countAtSources } from '../rebalance/source-counts.js';
import { MARKER_DELETE_COST } from '../rebalance/throttle.js';
import { withBalancedTokens } from '../ring/placement.js';
import { systemClock } from '../clock.js';
import type { ShardStore } from '../stores/shard-store.js';
import { LIVE } from '../stores/store-filters.js';
import { Topology } from '../topology/topology.js';
import type { ShardSpec, TopologySpec } from '../topology/types.js';
import type { CliIO } from './io.js';
import { parseNumberOption, usageError } from './options.js';
import { printJson } from './output.js';
import { formatDuration } from './progress.js';
import { formatTable } from './table.js';
import { loadTopologyFile } from './topology-file.js';
import { printPlan, routerLeaseWaitsMs, summarizePlan, type PlanSummary } from './plan-report.js';

/** Documents one shard pair moves, counted at the source. */
export interface PairCount {
  readonly from: string;
  readonly to: string;
  readonly ranges: number;
  readonly docs: number;
}

/** A plan against the live topology, with document counts. What `plan --config --json` prints. */
export interface LivePlan extends PlanSummary {
  readonly name: string;
  readonly configStore: string;
  /** Epoch the target file was written with, when it differs from `toEpoch` (rebased). */
  readonly fileEpoch: number | null;
  readonly moves: ReadonlyArray<{ start: number; end: number; from: string; to: string; docs: number }>;
  readonly pairs: readonly PairCount[];
  readonly docsToMove: number;
  /**
   * Sources whose server cannot count a range by the `(_h, _id)` index (FerretDB): their documents
   * were counted in one full pass each instead.
   */
  readonly scannedShards: readonly string[];
  /** Pace the estimate assumes (docs/s), or null (unthrottled: no estimate of the copy time). */
  readonly throttle: number | null;
  /** Copy time at `throttle` plus the three router-lease waits, or null. */
  readonly estimatedMs: number | null;
  /** The three waits for routers' leases (ms): `3 x (leaseMs + opTimeoutMs)`. */
  readonly leaseWaitsMs: number;
}

/** The live stable state, a target rebased on it, and the plan between them. */
export interface Prepared {
  readonly state: RoutingState & { phase: 'stable' };
  readonly target: Topology;
  readonly fileEpoch: number;
  readonly plan: RebalancePlan;
}

/** Shards of both topologies, each once (the target's spec wins: it may carry a new uri). */
export function shardsOf(...specs: readonly TopologySpec[]): ShardSpec[] {
  const byId = new Map<string, ShardSpec>();
  for (const spec of specs) for (const s of spec.shards) byId.set(s.id, s);
  return [...byId.values()];
}

/**
 * The target the migration runs to: the file's topology, with the live epoch + 1 (files lag the live
 * epoch, which a migration advances by three), and the live tokens of balanced shards the file
 * leaves without (a file written by hand), so existing shards keep their arcs.
 */
export function rebaseTarget(live: TopologySpec, file: Topology): Topology {
  const rebased = Topology.from({ ...file.toJSON(), epoch: live.epoch + 1 });
  if (rebased.placement !== 'balanced') return rebased;
  const liveTokens = new Map(live.shards.filter((s) => s.tokens !== undefined).map((s) => [s.id, s.tokens!]));
  const keep = new Map<string, readonly number[]>();
  for (const s of rebased.shards) {
    const tokens = liveTokens.get(s.id);
    if ((s.tokens === undefined || s.tokens.length === 0) && s.draining !== true && tokens !== undefined) keep.set(s.id, tokens);
  }
  return withBalancedTokens(keep.size === 0 ? rebased : rebased.withTokens(keep));
}

export async function prepare(io: CliIO, deployment: Deployment, toPath: string): Promise<Prepared> {
  const state = await deployment.requireState();
  if (state.phase !== 'stable') {
    throw new ShardkitConflictError(
      ErrorCode.migrationState,
      `topology "${state.topology.name}" is migrating (epoch ${state.epoch}): see \`shardkit rebalance status\`, then resume or abort it`,
    );
  }
  const { topology: file } = await loadTopologyFile(io, toPath);
  if (file.name !== deployment.config.name) {
    throw usageError(`${toPath} describes topology "${file.name}" but the config file's is "${deployment.config.name}"`);
  }
  if (file.hash !== state.topology.hash) {
    throw usageError(`${toPath} uses hash ${file.hash} but the live topology uses ${state.topology.hash}: every key would move`);
  }
  const target = rebaseTarget(state.topology, file);
  return { state: state as RoutingState & { phase: 'stable' }, target, fileEpoch: file.epoch, plan: planRebalance(state.topology, target) };
}

/** Open a store on every shard of `shards` (connect + ping); a shard without a uri or down fails the call. */
export async function openStores(deployment: Deployment, shards: readonly ShardSpec[], opTimeoutMs?: number): Promise<Map<string, ShardStore>> {
  const stores = new Map<string, ShardStore>();
  const down: string[] = [];
  let cause: unknown;
  for (const shard of shards) {
    try {
      stores.set(shard.id, await deployment.openShard(shard, opTimeoutMs === undefined ? {} : { opTimeoutMs }));
    } catch (error) {
      cause ??= error;
      down.push(`${shard.id} (${error instanceof Error ? error.message : String(error)})`);
    }
  }
  if (down.length > 0) {
    throw new ShardkitStoreError(ErrorCode.storeUnavailable, `cannot reach shard(s): ${down.join('; ')}`, { cause });
  }
  return stores;
}

export function providerOf(stores: ReadonlyMap<string, ShardStore>): { store(id: string): ShardStore } {
  return {
    store(id) {
      const store = stores.get(id);
      if (store === undefined) throw new ShardkitStoreError(ErrorCode.storeUnavailable, `shard ${id} is not part of this migration`, { shardId: id });
      return store;
    },
  };
}

/**
 * A line on stderr about what a long command is doing before it has results: stdout stays the
 * report (or the JSON), and the operator sees within a second that something is happening.
 */
export function note(io: CliIO, text: string): void {
  io.stderr.write(`${text}\n`);
}

/** Every `everyMs` at most, say how far counting has got; the first call speaks at once. */
export function countingNotes(io: CliIO, everyMs = 2000): (done: number, total: number, docs: number) => void {
  const started = systemClock.now();
  let last = Number.NEGATIVE_INFINITY;
  return (done, total, docs) => {
    const now = systemClock.now();
    if (now - last < everyMs && done < total) return;
    last = now;
    note(io, `counting documents to move: ${done}/${total} ranges, ${docs} documents so far (${formatDuration(now - started)})`);
  };
}

/** The live documents of each move and pair of `plan`, counted at the sources, and the sources that scanned to count. */
export async function countPairs(
  plan: RebalancePlan,
  stores: ReadonlyMap<string, ShardStore>,
  onCounted: (done: number, total: number, docs: number) => void,
): Promise<{ moves: LivePlan['moves']; pairs: PairCount[]; scannedShards: string[] }> {
  let rangesCounted = 0;
  let docsCounted = 0;
  onCounted(0, plan.moves.length, 0);
  const { docs: docsOf, scanned: scannedShards } = await countAtSources(plan.moves, providerOf(stores), LIVE, (ranges, docs) => {
    rangesCounted += ranges;
    docsCounted += docs;
    onCounted(rangesCounted, plan.moves.length, docsCounted);
  });
  const moves: Array<LivePlan['moves'][number]> = [];
  const pairs = new Map<string, { from: string; to: string; ranges: number; docs: number }>();
  for (const m of plan.moves) {
    const docs = docsOf.get(m) ?? 0;
    moves.push({ start: m.start, end: m.end, from: m.from, to: m.to, docs });
    const key = `${m.from}\u0000${m.to}`;
    const pair = pairs.get(key) ?? { from: m.from, to: m.to, ranges: 0, docs: 0 };
    pair.ranges += 1;
    pair.docs += docs;
    pairs.set(key, pair);
  }
  return { moves, pairs: [...pairs.values()].sort((a, b) => a.from.localeCompare(b.from) || a.to.localeCompare(b.to)), scannedShards: [...scannedShards] };
}

/** Build the live plan: the moves, the documents per pair and the time at `throttle`. */
export async function livePlan(io: CliIO, deployment: Deployment, prepared: Prepared, stores: ReadonlyMap<string, ShardStore>, throttle: number | null): Promise<LivePlan> {
  const { moves, pairs, scannedShards } = await countPairs(prepared.plan, stores, countingNotes(io));
  const docsToMove = pairs.reduce((s, p) => s + p.docs, 0);
  const leaseWaitsMs = routerLeaseWaitsMs(deployment.config);
  return {
    ...summarizePlan(prepared.plan),
    name: deployment.config.name,
    configStore: describeConfigStore(deployment.config.configStore),
    fileEpoch: prepared.fileEpoch === prepared.target.epoch ? null : prepared.fileEpoch,
    moves,
    pairs,
    docsToMove,
    scannedShards,
    throttle,
    // Copy and cleanup both run at the pace: cleanup deletes about as many markers as were moved
    // (their fences), each booked at a quarter of a document (MARKER_DELETE_COST).
    estimatedMs: throttle === null ? null : Math.round(((1 + MARKER_DELETE_COST) * docsToMove * 1000) / throttle) + leaseWaitsMs,
    leaseWaitsMs,
  };
}

export function formatLivePlan(p: LivePlan): string {
  const rows = p.pairs.map((x) => [x.from, x.to, String(x.ranges), String(x.docs)]);
  rows.push(['total', '', String(p.pairs.reduce((s, x) => s + x.ranges, 0)), String(p.docsToMove)]);
  const time =
    p.estimatedMs === null
      ? `unthrottled: the copy runs as fast as the shards allow, plus ${formatDuration(p.leaseWaitsMs)} of router-lease waits`
      : `about ${formatDuration(p.estimatedMs)} at ${p.throttle} docs/s (copy and cleanup, plus ${formatDuration(p.leaseWaitsMs)} of router-lease waits)`;
  return (
    `\ndocuments to move (live documents counted at the sources)\n` +
    formatTable(['from', 'to', 'ranges', 'documents'], rows, ['left', 'left', 'right', 'right']) +
    `estimated time: ${time}\n` +
    (p.scannedShards.length === 0
      ? ''
      : `note: ${p.scannedShards.join(', ')} cannot count a range by the (_h, _id) index (FerretDB): counted in one full pass per shard\n`) +
    (p.fileEpoch === null ? '' : `note: the target file says epoch ${p.fileEpoch}; it runs as epoch ${p.toEpoch} (live epoch + 1)\n`)
  );
}

/** Options of `plan` that this file handles (`--config` branch). */
export interface LivePlanOptions {
  config: string;
  to?: string;
  throttle?: string;
  json?: boolean;
  moves?: string;
}

/** `plan --config FILE --to TOPOLOGY [--throttle N] [--json]`: the dry run. Changes nothing. */
export async function planLive(io: CliIO, opts: LivePlanOptions): Promise<void> {
  if (opts.to === undefined) throw usageError("plan --config: required option '--to <file>' not specified");
  const throttle = opts.throttle === undefined ? null : parseNumberOption('--throttle', opts.throttle, { min: 1 });
  note(io, `reading the live topology through ${opts.config}`);
  const deployment = await openDeployment(opts.config);
  try {
    const prepared = await prepare(io, deployment, opts.to);
    const sources = shardsOf(prepared.state.topology).filter((s) => prepared.plan.moves.some((m) => m.from === s.id));
    note(io, `connecting to ${sources.length} source shard(s)`);
    const stores = await openStores(deployment, sources);
    const plan = await livePlan(io, deployment, prepared, stores, throttle);
    if (opts.json === true) {
      printJson(io, plan);
      return;
    }
    printPlan(io, prepared.plan, { json: false, ...(opts.moves === undefined ? {} : { moves: opts.moves }) });
    io.stdout.write(formatLivePlan(plan));
  } finally {
    await deployment.close();
  }
}

