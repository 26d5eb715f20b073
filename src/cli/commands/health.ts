/**
 * `shardkit health --config FILE`: reachability only, for a load balancer's probe or a cron job.
 * Every shard of the live state answers a `ping` (documents are never counted: a count can be slow
 * on a healthy shard, and a health check that cries wolf gets ignored). The exit code is the answer:
 * 0 healthy, 4 a shard unreachable, 1 the config store unreachable, 2 a bad config file.
 */
import type { Command } from 'commander';
import { systemClock } from '../../clock.js';
import { openDeployment, shardsOfState } from '../../deployment/deployment.js';
import { ErrorCode, ShardkitStoreError } from '../../errors.js';
import { redactText } from '../../redact.js';
import type { ShardStore } from '../../stores/shard-store.js';
import type { ShardSpec } from '../../topology/types.js';
import { ReportedFailure } from '../fail.js';
import type { CliIO } from '../io.js';
import { printJson } from '../output.js';
import { formatTable } from '../table.js';

/** Whether a shard answered a ping, and how fast. */
export interface ShardReachability {
  readonly id: string;
  readonly reachable: boolean;
  /** Round trip of a `ping` in ms (null when unreachable). */
  readonly latencyMs: number | null;
  /** Why the shard could not be reached, one line, passwords masked. */
  readonly error?: string;
}

/** The first line of an error's message, passwords masked. */
export function errorLine(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** Open a store on `shard` (connect) and time one `ping`; never throws. Returns the store when reached. */
export async function pingShard(
  open: (s: ShardSpec) => Promise<ShardStore>,
  shard: ShardSpec,
): Promise<{ reachability: ShardReachability; store: ShardStore | null }> {
  try {
    const store = await open(shard);
    const started = systemClock.now();
    await store.ping();
    const latencyMs = Math.round((systemClock.now() - started) * 100) / 100;
    return { reachability: { id: shard.id, reachable: true, latencyMs }, store };
  } catch (error) {
    return { reachability: { id: shard.id, reachable: false, latencyMs: null, error: errorLine(error) }, store: null };
  }
}

/** What `health --json` prints. */
export interface HealthReport {
  readonly name: string;
  readonly healthy: boolean;
  readonly phase: 'stable' | 'migrating';
  readonly epoch: number;
  readonly shards: readonly ShardReachability[];
}

/** The error that gives an unhealthy deployment its exit code (4). */
export function unhealthyError(down: readonly string[]): ShardkitStoreError {
  return new ShardkitStoreError(ErrorCode.unhealthy, `unreachable shards: ${down.join(', ')}`);
}

function formatHealth(r: HealthReport): string {
  const rows = r.shards.map((s) => [s.id, s.reachable ? 'up' : 'DOWN', s.latencyMs === null ? '-' : s.latencyMs.toFixed(2), s.error ?? '']);
  return (
    `${r.healthy ? 'healthy' : 'UNHEALTHY'}: ${r.name} ${r.phase} at epoch ${r.epoch}, ` +
    `${r.shards.filter((s) => s.reachable).length}/${r.shards.length} shards reachable\n` +
    formatTable(['shard', 'state', 'ping ms', 'error'], rows, ['left', 'left', 'right', 'left'])
  );
}

/** Adds `health --config FILE [--json]`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('health')
    .description('Check that the config store and every shard answer a ping; exit 0 healthy, 4 a shard unreachable, 1 the config store unreachable')
    .requiredOption('--config <file>', 'shardkit config file (JSON or YAML)')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const deployment = await openDeployment(opts.config);
      try {
        const state = await deployment.requireState();
        const probes = await Promise.all(shardsOfState(state).map((shard) => pingShard((s) => deployment.openShard(s), shard)));
        const shards = probes.map((p) => p.reachability);
        const down = shards.filter((s) => !s.reachable).map((s) => s.id);
        const report: HealthReport = { name: state.topology.name, healthy: down.length === 0, phase: state.phase, epoch: state.epoch, shards };
        if (opts.json === true) printJson(io, report);
        else io.stdout.write(formatHealth(report));
        if (down.length > 0) throw new ReportedFailure(unhealthyError(down));
      } finally {
        await deployment.close();
      }
    });
}
