import type { Command } from 'commander';
import { systemClock } from '../../clock.js';
import { describeConfigStore } from '../../config-store/config-file.js';
import { openDeployment, shardsOfState, type Deployment } from '../../deployment/deployment.js';
import type { LockInfo } from '../../config-store/types.js';
import type { RoutingState } from '../../router/routing-state.js';
import { ErrorCode, ShardkitStoreError, hasErrorCode } from '../../errors.js';
import { Ring } from '../../ring/ring.js';
import type { HashRange, ShardStore } from '../../stores/shard-store.js';
import { LIVE, MARKED } from '../../stores/store-filters.js';
import { redactUri } from '../../redact.js';
import type { ShardSpec, TopologySpec } from '../../topology/types.js';
import { ReportedFailure } from '../fail.js';
import { readHistory, type HistoryEntry } from '../history.js';
import type { CliIO } from '../io.js';
import { errorLine, pingShard } from './health.js';
import { printJson } from '../output.js';
import { noteIfSlow } from '../slow-note.js';
import { formatTable, percent } from '../table.js';

/** One shard's line of `status`. */
export interface ShardStatus {
  readonly id: string;
  readonly weight: number;
  readonly draining: boolean;
  /** Connection string, password masked. */
  readonly uri: string | null;
  /** Share of the ring it owns now (R, or R2 while migrating). */
  readonly share: number;
  readonly reachable: boolean;
  /** Round trip of a `ping` in ms (null when unreachable). */
  readonly latencyMs: number | null;
  /**
   * Live documents with an `_h` (null: unknown, the shard is unreachable or its count failed). A
   * document without `_h` is no shard's to route; `shardkit verify` reports it.
   */
  readonly documents: number | null;
  /** Fences, placeholders and tombstones (null: unknown). */
  readonly markers: number | null;
  /** Why the shard could not be reached. */
  readonly error?: string;
  /** Why the shard, reached, could not be counted (a time limit on a large collection): counts unknown. */
  readonly countError?: string;
  /**
   * When the counts were read (wall-clock ms), when they are older than this report: `shardkit serve`
   * reads a shard's counts again only once a multiple of the last count's time has passed.
   */
  readonly countedAt?: number;
}

/** A shard's counts, and when they were read when that is before the report (see `ShardStatus`). */
export interface ShardCounts {
  readonly documents: number;
  readonly markers: number;
  readonly countedAt?: number;
}

/** Counts a shard's live documents and markers (`status` reads them afresh each time: {@link countShard}). */
export type CountShard = (shard: ShardSpec, store: ShardStore) => Promise<ShardCounts>;

/**
 * A shard's counts, read now. Markers are counted, not derived from a count of everything: a writer
 * between two counts made `all - documents` show a marker that was never there. Both are counted in
 * one pass over the whole ring (`tallyRanges`), read a batch at a time where the server scans (ADR
 * 0003, "Passes over ranges"): as one call, a count of 30,000 entries on FerretDB outlasted
 * `opTimeoutMs: 1000` and left the counts unknown; as two passes, 120,000 entries took 13 s.
 */
export const countShard: CountShard = async (_shard, store) => {
  const { counts } = await store.tallyRanges([WHOLE_RING], { counts: [LIVE, MARKED] });
  return { documents: counts[0]?.[0] ?? 0, markers: counts[1]?.[0] ?? 0 };
};

/** Every ring point: a range starts after its `start` and ends at its `end`, inclusive. */
const WHOLE_RING: HashRange = { start: -1, end: 0xffffffff };

/** What `status --json` prints. */
export interface StatusReport {
  readonly name: string;
  readonly collection: string;
  readonly configStore: string;
  readonly phase: RoutingState['phase'];
  readonly epoch: number;
  readonly migrationId: string | null;
  /** Epoch of R1 while migrating, and while a committed state is settling. */
  readonly fromEpoch: number | null;
  /** True on a committed state whose migration's cleanup has not finished (deletes leave tombstones). */
  readonly settling: boolean;
  readonly lock: LockInfo | null;
  readonly topology: TopologySpec;
  readonly shards: readonly ShardStatus[];
  /** The latest migration recorded (finished or not), null when there never was one. */
  readonly lastMigration: HistoryEntry | null;
}

function redactTopology(t: TopologySpec): TopologySpec {
  return { ...t, shards: t.shards.map((s) => (s.uri === undefined ? s : { ...s, uri: redactUri(s.uri) })) };
}

/**
 * A shard's line: reachability first (a ping, with its latency), then the document counts, which
 * may be slow on a big or busy collection. A count that fails or times out on a shard that answered
 * its ping leaves the shard up with its counts unknown, and the reason beside them.
 */
async function shardStatus(open: (s: ShardSpec) => Promise<ShardStore>, count: CountShard, shard: ShardSpec, share: number): Promise<ShardStatus> {
  const base = { id: shard.id, weight: shard.weight, draining: shard.draining === true, uri: shard.uri === undefined ? null : redactUri(shard.uri), share };
  const { reachability, store } = await pingShard(open, shard);
  if (store === null) return { ...base, ...reachability, documents: null, markers: null };
  try {
    return { ...base, ...reachability, ...(await count(shard, store)) };
  } catch (error) {
    return { ...base, ...reachability, documents: null, markers: null, countError: errorLine(error) };
  }
}

/**
 * The live deployment's status: routing state, lock, and every shard's reachability, latency and
 * counts, each shard reached through `open` and counted by `count` (`shardkit serve` passes ones that
 * keep its stores open and its counts for a while between polls).
 */
export async function statusReport(deployment: Deployment, open: (shard: ShardSpec) => Promise<ShardStore>, count: CountShard = countShard): Promise<StatusReport> {
  const state = await deployment.requireState();
  const lock = await deployment.configStore.readLock();
  const arcs = Ring.fromTopology(state.topology).arcs();
  const shards = await Promise.all(shardsOfState(state).map((shard) => shardStatus(open, count, shard, (arcs.get(shard.id) ?? 0) / 2 ** 32)));
  return {
    name: deployment.config.name,
    collection: deployment.config.collection,
    configStore: describeConfigStore(deployment.config.configStore),
    phase: state.phase,
    epoch: state.epoch,
    migrationId: state.phase === 'migrating' ? state.migrationId : (state.settling?.migrationId ?? null),
    fromEpoch: state.phase === 'migrating' ? state.from.epoch : (state.settling?.from.epoch ?? null),
    settling: state.phase === 'stable' && state.settling !== undefined,
    lock,
    topology: redactTopology(state.topology),
    shards,
    lastMigration: await lastMigration(deployment),
  };
}

/** The last migration's summary; a journal that does not parse is `rebalance status`'s to report, not a reason to hide the shards. */
async function lastMigration(deployment: Deployment): Promise<HistoryEntry | null> {
  try {
    return (await readHistory(deployment.configStore, deployment.config.name)).at(-1) ?? null;
  } catch (error) {
    if (hasErrorCode(error, ErrorCode.journalInvalid)) return null;
    throw error;
  }
}

/** Adds `status --config FILE [--json]`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('status')
    .description(
      'Show the live topology: epoch, phase, migration lock, per-shard reachability and ping latency, and document counts ' +
        '(unknown when a count fails; exit 1 only when a shard is unreachable)',
    )
    .requiredOption('--config <file>', 'shardkit config file (JSON or YAML)')
    .option('--json', 'print the status as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const deployment = await openDeployment(opts.config);
      try {
        const report = await noteIfSlow(io, 'status: counting every shard\'s documents and markers (a pass over each shard, a batch at a time)...', statusReport(deployment, (s) => deployment.openShard(s)));
        if (opts.json === true) printJson(io, report);
        // Lock expiries are wall-clock times another process wrote.
        else io.stdout.write(formatStatus(report, systemClock.wall()));
        const down = report.shards.filter((s) => !s.reachable).map((s) => s.id);
        // The report is out; the one error line on stderr gives scripts the exit code.
        if (down.length > 0) throw new ReportedFailure(new ShardkitStoreError(ErrorCode.storeUnavailable, `unreachable shards: ${down.join(', ')}`));
      } finally {
        await deployment.close();
      }
    });
}

function lastMigrationLine(m: HistoryEntry | null): string {
  if (m === null) return 'none recorded';
  if (m.outcome === 'completed' || m.outcome === 'aborted') {
    return `last ${m.id} ${m.outcome}, epoch ${m.fromEpoch} -> ${m.toEpoch}, ${m.docsMoved} documents moved (\`rebalance history\`)`;
  }
  return `${m.id} ${m.outcome} in phase ${m.phase} (\`rebalance status\`)`;
}

/** The human form of a status report. */
export function formatStatus(report: StatusReport, now: number): string {
  const lines = [
    `topology    ${report.name} (collection ${report.collection})`,
    `config      ${report.configStore}`,
    `state       ${report.phase} at epoch ${report.epoch}` +
      (report.phase === 'migrating' ? ` (migration ${report.migrationId ?? '?'} from epoch ${report.fromEpoch ?? '?'})` : '') +
      (report.settling ? ` (settling: migration ${report.migrationId ?? '?'} committed, cleanup running)` : ''),
    `lock        ${report.lock === null ? 'free' : `held by ${report.lock.owner}, ${Math.max(0, Math.round((report.lock.expiresAt - now) / 1000))} s left`}`,
    `ring        ${report.topology.hash}, ${report.topology.placement}, ${report.topology.vnodes} vnodes per unit weight`,
    `migration   ${lastMigrationLine(report.lastMigration)}`,
    '',
  ];
  const rows = report.shards.map((s) => [
    s.id,
    String(s.weight) + (s.draining ? ' (draining)' : ''),
    percent(s.share),
    s.reachable ? 'up' : 'DOWN',
    s.latencyMs === null ? '-' : s.latencyMs.toFixed(2),
    s.documents === null ? (s.reachable ? 'unknown' : '-') : String(s.documents),
    s.markers === null ? (s.reachable ? 'unknown' : '-') : String(s.markers),
    s.uri ?? '',
  ]);
  // Reasons go under the table, one per shard, so the uri column stays a column.
  const notes = report.shards.flatMap((s) => [
    ...(s.error === undefined ? [] : [`${s.id}: unreachable: ${s.error}`]),
    ...(s.countError === undefined ? [] : [`${s.id}: documents unknown (the shard is up): ${s.countError}`]),
  ]);
  return (
    lines.join('\n') +
    '\n' +
    formatTable(
      ['shard', 'weight', 'share', 'state', 'ping ms', 'documents', 'markers', 'uri'],
      rows,
      ['left', 'right', 'right', 'left', 'right', 'right', 'right', 'left'],
    ) +
    (notes.length === 0 ? '' : `\n${notes.join('\n')}\n`)
  );
}
