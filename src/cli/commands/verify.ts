import type { Command } from 'commander';
import { auditPlacement, type PlacementAuditReport } from '../../audit/placement-audit.js';
import { openDeployment, shardsOfState } from '../../deployment/deployment.js';
import { ErrorCode, ShardkitConflictError } from '../../errors.js';
import type { ShardStore } from '../../stores/shard-store.js';
import { ReportedFailure } from '../fail.js';
import type { CliIO } from '../io.js';
import { parseNumberOption } from '../options.js';
import { printJson } from '../output.js';
import { noteIfSlow } from '../slow-note.js';
import { formatTable } from '../table.js';

/** What `verify --json` prints: the audit, with `_id`s made printable. */
export type VerifyReport = PlacementAuditReport & { readonly name: string; readonly collection: string };

function printable(id: unknown): unknown {
  if (typeof id === 'bigint') return id.toString();
  if (id instanceof Uint8Array) return Buffer.from(id).toString('hex');
  if (typeof id === 'object' && id !== null && typeof (id as { toHexString?: unknown }).toHexString === 'function') {
    return (id as { toHexString(): string }).toHexString();
  }
  return id;
}

/** Adds `verify --config FILE [--json]`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('verify')
    .description(
      'Check that every document is on the shard its key routes to, with no _id live on two shards; ' +
        'count fences, placeholders and tombstones (exit 1 when a stable state has a problem)',
    )
    .requiredOption('--config <file>', 'shardkit config file (JSON or YAML)')
    .option('--batch-size <n>', 'documents read per shard per round trip', '1000')
    .option('--samples <n>', 'examples listed per kind of problem', '10')
    .option('--json', 'print the report as JSON')
    .action(async (opts: { config: string; batchSize: string; samples: string; json?: boolean }) => {
      const batchSize = parseNumberOption('--batch-size', opts.batchSize, { integer: true, min: 1, max: 100_000 });
      const sampleLimit = parseNumberOption('--samples', opts.samples, { integer: true, min: 0, max: 10_000 });
      const deployment = await openDeployment(opts.config);
      try {
        const state = await deployment.requireState();
        const stores = new Map<string, ShardStore>();
        for (const shard of shardsOfState(state)) stores.set(shard.id, await deployment.openShard(shard));
        const audit = await noteIfSlow(io, `verify: reading every document of ${stores.size} shards, ${batchSize} per round trip...`, auditPlacement({ state, stores, batchSize, sampleLimit }));
        const report: VerifyReport = {
          name: deployment.config.name,
          collection: deployment.config.collection,
          ...audit,
          samples: audit.samples.map((s) => ({ ...s, id: printable(s.id) })),
        };
        if (opts.json === true) printJson(io, report);
        else io.stdout.write(formatVerify(report));
        if (!audit.ok && audit.consistent) {
          const t = audit.totals;
          throw new ReportedFailure(
            new ShardkitConflictError(
              ErrorCode.verifyFailed,
              `placement check failed: ${t.misplaced} misplaced, ${t.duplicates} duplicate, ${t.badHash} bad _h, ` +
                `${t.missingHash} without _h, ${t.fencedAtOwner} fenced at their owner`,
            ),
          );
        }
      } finally {
        await deployment.close();
      }
    });
}

/** The human form of a verify report. */
export function formatVerify(report: VerifyReport): string {
  const rows = Object.entries(report.shards).map(([id, c]) => [
    id,
    String(c.live),
    String(c.misplaced),
    String(c.fenced),
    String(c.placeholders),
    String(c.tombstones),
    String(c.badHash + c.missingHash),
    String(c.fencedAtOwner),
  ]);
  const t = report.totals;
  rows.push(['total', String(t.live), String(t.misplaced), String(t.fenced), String(t.placeholders), String(t.tombstones), String(t.badHash + t.missingHash), String(t.fencedAtOwner)]);
  const verdict = report.ok
    ? 'OK: every live document is on the shard its key routes to'
    : report.consistent
      ? 'FAILED'
      : 'problems seen while a migration is running (not a consistent snapshot: run verify again once stable)';
  const lines = [
    `${report.name} (collection ${report.collection}): ${report.phase} at epoch ${report.epoch}`,
    formatTable(
      ['shard', 'live', 'misplaced', 'fenced', 'placeholders', 'tombstones', 'bad _h', 'fenced at owner'],
      rows,
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ).trimEnd(),
    `duplicates (same _id live on two shards): ${t.duplicates}`,
    ...report.samples.map(
      (s) =>
        `  ${s.kind} ${JSON.stringify(s.id)} (_h ${s.h}) on ${s.shards.join(', ')}` +
        (s.expected === undefined ? '' : Array.isArray(s.expected) ? `, belongs on ${s.expected.join(' or ')}` : `, _h should be ${String(s.expected)}`),
    ),
    verdict,
  ];
  return `${lines.join('\n')}\n`;
}
