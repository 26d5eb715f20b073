import type { Command } from 'commander';
import { runDemo, type DemoEvent, type DemoOptions, type DemoReport } from '../../demo/demo.js';
import { ErrorCode, ShardkitConflictError } from '../../errors.js';
import { redactUri } from '../../redact.js';
import { uriProblem } from '../../topology/credentials.js';
import { withInterrupt } from '../interrupt.js';
import { ReportedFailure } from '../fail.js';
import type { CliIO } from '../io.js';
import { parseNumberOption, usageError } from '../options.js';
import { printJson } from '../output.js';
import { MigrationProgress, formatDuration } from '../progress.js';
import { percent } from '../table.js';

interface DemoCliOptions {
  docs: string;
  shards: string;
  writers: string;
  seed: string;
  batchSize: string;
  leaseMs: string;
  throttle?: string;
  mongo?: string;
  json?: boolean;
}

/** Split `--mongo a,b` into URIs; each must be a MongoDB connection string. */
export function parseMongoUris(value: string): string[] {
  const uris = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (uris.length === 0) throw usageError('--mongo needs at least one MongoDB URI (comma-separated)');
  for (const uri of uris) {
    const problem = uriProblem(uri);
    if (problem !== null) throw usageError(`--mongo: ${JSON.stringify(redactUri(uri))}: ${problem}`);
  }
  return uris;
}

function perShard(counts: Readonly<Record<string, number>>): string {
  return Object.entries(counts)
    .map(([id, n]) => `${id} ${n}`)
    .join(', ');
}

/** Adds `demo`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('demo')
    .description(
      'The whole story on embedded shards (no server needed): load documents on 4 shards, plan adding a 5th, ' +
        'rebalance online while writers keep writing (the migration takes the routing state from epoch e to e+3: ' +
        'migrating, committed while settling, settled; then it purges the tombstones), ' +
        'then check that no acknowledged write was lost (exit 1 if any invariant fails)',
    )
    .option('--docs <n>', 'documents loaded before the rebalance', '100000')
    .option('--shards <n>', 'shards before the rebalance (one is added)', '4')
    .option('--writers <n>', 'application writers running during the migration', '2')
    .option('--seed <n>', "seed of the writers' operation mix", '1')
    .option('--batch-size <n>', 'documents per migration batch', '500')
    .option('--throttle <docsPerSec>', 'migration pace (default: unthrottled)')
    .option('--lease-ms <ms>', "routers' lease on the routing state; the migration waits it out three times (before the sweep, the cleanup and the purge)", '1000')
    .option('--mongo <uris>', 'run on these MongoDB servers instead (comma list; the first also hosts the config store)')
    .option('--json', 'print the final report as JSON')
    .action(async (opts: DemoCliOptions) => runDemoCommand(io, opts));
}

/** The demo's options from the command line, each checked as a usage error. */
function demoOptions(opts: DemoCliOptions): DemoOptions {
  return {
    docs: parseNumberOption('--docs', opts.docs, { integer: true, min: 1, max: 10_000_000 }),
    shards: parseNumberOption('--shards', opts.shards, { integer: true, min: 1, max: 64 }),
    writers: parseNumberOption('--writers', opts.writers, { integer: true, min: 0, max: 64 }),
    seed: parseNumberOption('--seed', opts.seed, { integer: true, min: 0, max: 2 ** 31 }),
    batchSize: parseNumberOption('--batch-size', opts.batchSize, { integer: true, min: 1, max: 100_000 }),
    leaseMs: parseNumberOption('--lease-ms', opts.leaseMs, { integer: true, min: 10, max: 600_000 }),
    ...(opts.throttle === undefined ? {} : { throttleDocsPerSec: parseNumberOption('--throttle', opts.throttle, { min: 1 }) }),
    ...(opts.mongo === undefined ? {} : { mongoUris: parseMongoUris(opts.mongo) }),
  };
}

/** Prints the demo's stages as they happen (nothing under `--json`), with the migration's progress. */
function demoRenderer(io: CliIO, options: DemoOptions, json: boolean): { onEvent: (e: DemoEvent) => void; progress: MigrationProgress } {
  const out = io.stdout;
  const say = (text: string): void => {
    if (!json) out.write(text);
  };
  let writes = '';
  const progress = new MigrationProgress(out, {
    mode: out.isTTY === true ? 'tty' : 'plain',
    extra: () => writes,
  });
  const onEvent = (e: DemoEvent): void => {
    if (json) return;
    switch (e.type) {
      case 'stage':
        if (e.stage === 'setup') {
          say(
            `shardkit demo: ${options.docs} documents on ${options.shards} ${options.mongoUris === undefined ? 'embedded' : 'MongoDB'} shards; ` +
              `add one while ${options.writers} writer(s) keep inserting, updating, deleting and reading\n\n`,
          );
        }
        if (e.stage === 'migrate') say(`\n${e.message}\n`);
        break;
      case 'loaded':
        say(`loaded ${e.docs} documents in ${formatDuration(e.ms)}: ${perShard(e.perShard)}\n`);
        break;
      case 'planned': {
        const p = e.plan;
        const ratio = p.minimalFraction > 0 ? (p.movedFraction / p.minimalFraction).toFixed(3) : 'n/a';
        say(
          `plan: ${p.change}, epoch ${p.fromEpoch} -> ${p.toEpoch}: moves ${percent(p.movedFraction)} of the hash space ` +
            `(minimum ${percent(p.minimalFraction)}, ratio ${ratio}) in ${p.moves} ranges, ${p.docsToMove} documents\n`,
        );
        for (const pair of p.pairs) say(`  ${pair.from} -> ${pair.to}: ${pair.docs} documents in ${pair.ranges} ranges\n`);
        progress.plan(e.moves);
        break;
      }
      case 'migration':
        writes = `writers ${e.writes.inserts} ins/${e.writes.updates} upd/${e.writes.deletes} del/${e.writes.reads} reads`;
        progress.onEvent(e.event);
        break;
      default:
        break;
    }
  };
  return { onEvent, progress };
}

/** `shardkit demo`: run it, render it, and fail (exit 1) when an invariant broke. */
async function runDemoCommand(io: CliIO, opts: DemoCliOptions): Promise<void> {
  const options = demoOptions(opts);
  const json = opts.json === true;
  const { onEvent, progress } = demoRenderer(io, options, json);
  const report = await withInterrupt((signal) => runDemo({ ...options, signal, onEvent }), {
    onFirst: () => progress.log('interrupted: stopping the migration at the next checkpoint'),
  });
  progress.finish();
  if (json) printJson(io, report);
  else io.stdout.write(formatDemoReport(report));
  if (!report.ok) {
    const broken = report.invariants.filter((i) => !i.ok).map((i) => i.name);
    throw new ReportedFailure(new ShardkitConflictError(ErrorCode.verifyFailed, `demo: ${broken.length} invariant(s) broken: ${broken.join('; ')}`));
  }
}

/** The human summary of a demo run. */
export function formatDemoReport(r: DemoReport): string {
  const w = r.writes;
  const m = r.migration;
  const lines = [
    '',
    `writers during the migration: ${w.inserts} inserts, ${w.updates} updates, ${w.deletes} deletes, ${w.reads} reads acknowledged; ` +
      `${w.failed} failed${Object.keys(w.errors).length > 0 ? ` (${Object.entries(w.errors).map(([c, n]) => `${c} ${n}`).join(', ')})` : ''}; ` +
      `${w.redirects} redirected after a stale router was turned away`,
    `migration ${m.outcome}: ${m.docsMoved} documents moved in ${formatDuration(m.ms)} (${Math.round(m.docsPerSec)} docs/s, ` +
      `${m.readsPerMoved.toFixed(3)} reads per moved document), now at epoch ${m.epoch}`,
    `after: ${perShard(r.final.perShard)} (${r.final.docs} live documents)`,
    '',
    'invariants',
    ...r.invariants.map((i) => `  ${i.ok ? 'ok  ' : 'FAIL'}  ${i.name}: ${i.detail}`),
    '',
    r.ok ? 'OK: every invariant holds' : `FAILED: ${r.invariants.filter((i) => !i.ok).length} invariant(s) broken`,
  ];
  return `${lines.join('\n')}\n`;
}
