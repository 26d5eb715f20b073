/**
 * The operator's migration commands on a live deployment (`--config FILE`):
 *
 * - `plan --config FILE --to TOPOLOGY`: a dry run against the live topology, with the documents each
 *   shard pair would move (counted at the sources) and the time at a chosen pace; changes nothing.
 * - `rebalance --config FILE --to TOPOLOGY`: pre-flight, confirmation, then the online migration with
 *   progress; Ctrl-C stops at a checkpoint.
 * - `rebalance status|resume|abort --config FILE`: the journal, and continuing or undoing it.
 */
import { hostname } from 'node:os';
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { describeConfigStore } from '../../config-store/config-file.js';
import { openDeployment, type Deployment } from '../../deployment/deployment.js';
import { redactedJson } from '../../redact.js';
import { ErrorCode, ShardkitConflictError, hasErrorCode } from '../../errors.js';
import { journalFromRecord, journalKey, type MigrationJournal } from '../../rebalance/journal.js';
import { Migrator, type MigrationReport, type MigrationStatus } from '../../rebalance/migrator.js';
import type { ShardStore } from '../../stores/shard-store.js';
import { ReportedFailure } from '../fail.js';
import { archiveFinished, formatHistory, readHistory } from '../history.js';
import { withInterrupt } from '../interrupt.js';
import type { CliIO } from '../io.js';
import { parseNumberOption, usageError } from '../options.js';
import { printJson } from '../output.js';
import { MigrationProgress, type PlannedMove } from '../progress.js';
import { percent } from '../table.js';
import { printPlan } from '../plan-report.js';
import { formatLivePlan, livePlan, note, openStores, prepare, providerOf, shardsOf, type Prepared } from '../live-plan.js';

/** An optional capability of a CliIO: ask the person at the terminal a yes/no question. */
export interface Confirmer {
  confirm(question: string): Promise<boolean>;
}

const OWNER = `shardkit-cli@${hostname()}:${process.pid}`;

/**
 * Default lease of the migration lock (ms), at least the routers' `leaseMs`. The lock is renewed on
 * its own timer every third of it, so slow batches do not need a long lease; a short one lets a
 * resume take over soon after a killed migrator (ADR 0006).
 */
export const LOCK_LEASE_MS = 5_000;
/** Default retry budget of one transient fault (ms). */
export const RETRY_BUDGET_MS = 60_000;

async function ttyConfirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/** Ask unless `--yes`; a non-terminal without `--yes` is a usage error (nobody to ask). */
async function confirmOrRefuse(io: CliIO, yes: boolean, question: string, what: string): Promise<void> {
  if (yes) return;
  if (io.stdout.isTTY !== true) throw usageError(`refusing to ${what} without confirmation: not a terminal, pass --yes`);
  const confirm = (io as Partial<Confirmer>).confirm ?? ttyConfirm;
  if (!(await confirm(question))) throw usageError(`${what}: not confirmed, nothing changed`);
}

interface RunCliOptions {
  config: string;
  to?: string;
  throttle?: string;
  batchSize: string;
  lockLeaseMs?: string;
  retryBudgetMs?: string;
  opTimeoutMs?: string;
  concurrency: string;
  maxP99Impact?: string;
  yes?: boolean;
  json?: boolean;
}

/** The migrator's own timings from the flags, checked before anything connects. */
interface MigratorTimings {
  readonly lockLeaseMs: number;
  readonly retryBudgetMs: number;
  /** Per shard call of the migrator; at most the routers' `opTimeoutMs`, from which its waits derive. */
  readonly opTimeoutMs: number;
}

/** Parse `--lock-lease-ms`, `--retry-budget-ms` and `--op-timeout-ms` against the config file (ADR 0006). */
export function migratorTimings(opts: Pick<RunCliOptions, 'lockLeaseMs' | 'retryBudgetMs' | 'opTimeoutMs'>, config: { leaseMs: number; opTimeoutMs: number }): MigratorTimings {
  const lockLeaseMs =
    opts.lockLeaseMs === undefined ? Math.max(config.leaseMs, LOCK_LEASE_MS) : parseNumberOption('--lock-lease-ms', opts.lockLeaseMs, { integer: true, min: 1000, max: 3_600_000 });
  const retryBudgetMs = opts.retryBudgetMs === undefined ? RETRY_BUDGET_MS : parseNumberOption('--retry-budget-ms', opts.retryBudgetMs, { integer: true, min: 0, max: 86_400_000 });
  const opTimeoutMs = opts.opTimeoutMs === undefined ? config.opTimeoutMs : parseNumberOption('--op-timeout-ms', opts.opTimeoutMs, { integer: true, min: 1 });
  if (opTimeoutMs > config.opTimeoutMs) {
    throw usageError(
      `--op-timeout-ms must be at most the config file's opTimeoutMs (${config.opTimeoutMs}): the migrator's waits for routers are derived from that bound (ADR 0003), got ${opTimeoutMs}`,
    );
  }
  return { lockLeaseMs, retryBudgetMs, opTimeoutMs };
}

function migratorFor(deployment: Deployment, stores: ReadonlyMap<string, ShardStore>, opts: RunCliOptions, progress: MigrationProgress): Migrator {
  const timings = migratorTimings(opts, deployment.config);
  if (opts.throttle !== undefined && opts.maxP99Impact !== undefined) throw usageError('--throttle and --max-p99-impact exclude each other: a fixed pace or an adaptive one');
  return new Migrator({
    config: deployment.configStore,
    pool: providerOf(stores),
    owner: OWNER,
    leaseMs: deployment.config.leaseMs,
    // Renewed on its own timer: the lease only decides how soon a resume takes over a killed migrator.
    lockLeaseMs: timings.lockLeaseMs,
    retryBudgetMs: timings.retryBudgetMs,
    opTimeoutMs: deployment.config.opTimeoutMs,
    batchSize: parseNumberOption('--batch-size', opts.batchSize, { integer: true, min: 1, max: 100_000 }),
    concurrency: parseNumberOption('--concurrency', opts.concurrency, { integer: true, min: 1, max: 64 }),
    ...(opts.throttle === undefined ? {} : { throttleDocsPerSec: parseNumberOption('--throttle', opts.throttle, { min: 1 }) }),
    ...(opts.maxP99Impact === undefined ? {} : { maxP99Impact: parseNumberOption('--max-p99-impact', opts.maxP99Impact, { min: 1.01 }) }),
    onEvent: (event) => progress.onEvent(event),
  });
}

function progressFor(io: CliIO, json: boolean): MigrationProgress {
  return new MigrationProgress(io.stdout, { mode: json ? 'json' : io.stdout.isTTY === true ? 'tty' : 'plain' });
}

/**
 * Run a migrator call under Ctrl-C: the first SIGINT stops at the next checkpoint. An interrupted
 * or failed run says how to continue.
 */
async function supervised(io: CliIO, configPath: string, progress: MigrationProgress, run: (signal: AbortSignal) => Promise<MigrationReport>): Promise<MigrationReport> {
  try {
    return await withInterrupt(run, {
      onFirst: () => progress.log('interrupted: stopping at the next checkpoint (Ctrl-C again to exit at once)'),
    });
  } catch (error) {
    progress.finish();
    // These fail before anything is journaled (or name their own remedy): there is nothing to resume.
    const nothingToResume = [ErrorCode.preflightFailed, ErrorCode.planMismatch, ErrorCode.migrationState, ErrorCode.lockHeld].some((code) =>
      hasErrorCode(error, code),
    );
    if (!nothingToResume) {
      io.stderr.write(
        `the journal is consistent: continue with \`shardkit rebalance resume --config ${configPath}\` ` +
          `or undo with \`shardkit rebalance abort --config ${configPath}\`\n`,
      );
    }
    throw error;
  }
}

function printReport(io: CliIO, report: MigrationReport, json: boolean, configPath: string): void {
  if (json) {
    io.stdout.write(`${redactedJson({ type: 'result', ...report })}\n`);
    return;
  }
  if (report.outcome === 'abortRequested') {
    io.stdout.write(`asked the running migrator to abort at its next checkpoint; follow it with \`shardkit rebalance status --config ${configPath}\`\n`);
    return;
  }
  const c = report.counters;
  io.stdout.write(
    `${report.outcome === 'completed' ? 'done' : 'aborted'}: migration ${report.migrationId === '' ? '(no documents had to move)' : report.migrationId}, ` +
      `live epoch ${report.epoch}; ${c.docsMoved} documents moved, ${report.readsPerMoved.toFixed(3)} reads per moved document. ` +
      `Check with \`shardkit verify --config ${configPath}\`\n`,
  );
}

/**
 * A shard new to the topology starts empty: its routing index is cheap to build now. An existing
 * shard without it is the migrator's pre-flight failure (building it on a full collection is the
 * operator's call: `shardkit init` builds it). Returns the shards it was built on.
 */
async function indexNewShards(prepared: Prepared, stores: ReadonlyMap<string, ShardStore>): Promise<string[]> {
  const existing = new Set(prepared.state.topology.shards.map((s) => s.id));
  const created: string[] = [];
  for (const [id, store] of stores) {
    if (existing.has(id) || (await store.hasRoutingIndex())) continue;
    await store.ensureRoutingIndex();
    created.push(id);
  }
  return created;
}

/**
 * A start or resume that ended aborted (someone ran `rebalance abort`) did not make the change the
 * operator asked for: exit 3, after the report, so a script does not take it for success.
 */
function failIfAborted(report: MigrationReport): void {
  if (report.outcome !== 'aborted') return;
  throw new ReportedFailure(
    new ShardkitConflictError(ErrorCode.migrationAborted, `migration ${report.migrationId} was aborted: every moved document is back at its old owner`),
  );
}

async function start(io: CliIO, opts: RunCliOptions): Promise<void> {
  if (opts.to === undefined) throw usageError("rebalance: required option '--to <file>' not specified (or use status, resume, abort)");
  const json = opts.json === true;
  note(io, `reading the live topology through ${opts.config}`);
  const deployment = await openDeployment(opts.config);
  try {
    const prepared = await prepare(io, deployment, opts.to);
    // Pre-flight before asking anything: every shard of both topologies answers, no other migration.
    const shards = shardsOf(prepared.state.topology, prepared.target.toJSON());
    note(io, `pre-flight: connecting to all ${shards.length} shards of both topologies`);
    const stores = await openStores(deployment, shards, migratorTimings(opts, deployment.config).opTimeoutMs);
    const lock = await deployment.configStore.readLock();
    if (lock !== null) {
      throw new ShardkitConflictError(ErrorCode.lockHeld, `the migration lock is held by ${lock.owner} until ${new Date(lock.expiresAt).toISOString()}`);
    }
    const plan = await livePlan(io, deployment, prepared, stores, opts.throttle === undefined ? null : parseNumberOption('--throttle', opts.throttle, { min: 1 }));
    const progress = progressFor(io, json);
    if (json) {
      io.stdout.write(`${redactedJson({ type: 'plan', ...plan, moves: plan.moves.length })}\n`);
    } else {
      printPlan(io, prepared.plan, { json: false });
      io.stdout.write(formatLivePlan(plan));
    }
    await confirmOrRefuse(
      io,
      opts.yes === true,
      `\nmigrate "${plan.name}" from epoch ${plan.fromEpoch} to ${plan.toEpoch}, moving ${plan.docsToMove} documents? [y/N] `,
      'rebalance',
    );
    // Nothing is written before the operator says yes, the routing index of a new shard included.
    const created = await indexNewShards(prepared, stores);
    if (created.length > 0) progress.log(`created the routing index {_h: 1, _id: 1} on new shard(s) ${created.join(', ')}`);
    progress.plan(plan.moves.map((m): PlannedMove => ({ from: m.from, to: m.to, estimated: m.docs })));
    // The journal of the last migration is about to be replaced: keep its summary for `history`.
    await archiveFinished(deployment.configStore, deployment.config.name);
    const migrator = migratorFor(deployment, stores, opts, progress);
    note(io, `starting: taking the migration lock, checking every shard again and counting the ${plan.moves.length} ranges into the journal`);
    const report = await supervised(io, opts.config, progress, (signal) => migrator.start(prepared.target, { signal }));
    progress.finish();
    await archiveFinished(deployment.configStore, deployment.config.name);
    printReport(io, report, json, opts.config);
    failIfAborted(report);
  } finally {
    await deployment.close();
  }
}

async function readJournal(deployment: Deployment): Promise<MigrationJournal | null> {
  const record = await deployment.configStore.readJournal(journalKey(deployment.config.name));
  return record === null ? null : journalFromRecord(record);
}

async function resumeOrAbort(io: CliIO, opts: RunCliOptions, action: 'resume' | 'abort'): Promise<void> {
  if (opts.to !== undefined) throw usageError(`rebalance ${action}: --to does not apply (the journal knows the target)`);
  const json = opts.json === true;
  note(io, `reading the recorded migration through ${opts.config}`);
  const deployment = await openDeployment(opts.config);
  try {
    await deployment.requireState();
    const journal = await readJournal(deployment);
    if (journal === null) throw new ShardkitConflictError(ErrorCode.migrationState, `no migration of "${deployment.config.name}" is recorded`);
    if (action === 'abort') {
      await confirmOrRefuse(
        io,
        opts.yes === true,
        `abort migration ${journal.id} (phase ${journal.phase}) and carry every moved document back? [y/N] `,
        'abort the migration',
      );
    }
    const stores = await openStores(deployment, shardsOf(journal.from, journal.to), migratorTimings(opts, deployment.config).opTimeoutMs);
    const progress = progressFor(io, json);
    // Bars start from what earlier runs copied, so totals are the migration's, not this run's.
    progress.plan(journal.moves.map((m): PlannedMove => ({ from: m.from, to: m.to, estimated: m.estimated, copied: m.copied })));
    note(io, `${action === 'resume' ? 'resuming' : 'aborting'} migration ${journal.id} at phase ${journal.phase}${journal.reverse ? ' (abort leg)' : ''}`);
    const migrator = migratorFor(deployment, stores, opts, progress);
    const report = await supervised(io, opts.config, progress, (signal) => (action === 'resume' ? migrator.resume({ signal }) : migrator.abort({ signal })));
    progress.finish();
    await archiveFinished(deployment.configStore, deployment.config.name);
    printReport(io, report, json, opts.config);
    // An abort that ends aborted did what was asked.
    if (action === 'resume') failIfAborted(report);
  } finally {
    await deployment.close();
  }
}

/** What `rebalance status --json` prints. */
export interface RebalanceStatusReport extends MigrationStatus {
  readonly name: string;
  readonly configStore: string;
}

/** The human form of `rebalance status`. */
export function formatRebalanceStatus(r: RebalanceStatusReport, now: number): string {
  const lines = [
    `topology    ${r.name}`,
    `config      ${r.configStore}`,
    `state       ${r.state === null ? 'nothing published' : `${r.state.phase} at epoch ${r.state.epoch}`}`,
    `lock        ${r.lock === null ? 'free' : `held by ${r.lock.owner}, ${Math.max(0, Math.round((r.lock.expiresAt - now) / 1000))} s left`}`,
  ];
  const m = r.migration;
  if (m === null) {
    lines.push('migration   none recorded');
  } else {
    const done = m.phase === 'done';
    // A finished migration is reported at the live epoch (it published two states after its leg's
    // epoch), with what it moved: the plan-time estimate counted documents deleted since.
    lines.push(
      `migration   ${m.id}${m.reverse && !done ? ' (aborting: carrying documents back)' : ''}`,
      done
        ? `phase       done (${m.outcome ?? 'finished'}), live state at epoch ${r.state?.epoch ?? m.epoch}`
        : `phase       ${m.phase} at epoch ${m.epoch}`,
      done
        ? `moved       ${m.counters.docsMoved} documents over ${m.moves} ranges (all copied)`
        : `copied      ${m.copied}/${Math.max(m.estimated, m.copied)} documents (${percent(m.estimated === 0 ? 1 : Math.min(1, m.copied / m.estimated))}), ` +
          `${m.movesCopied}/${m.moves} ranges copied`,
      `counters    ${m.counters.docsMoved} moved, ${m.counters.docsRead} read, ${m.counters.swept} swept, ${m.counters.repaired} repaired, ${m.counters.deleted} markers deleted`,
    );
    if (!done) {
      lines.push(
        r.lock === null
          ? 'next        nobody is running it: `shardkit rebalance resume --config FILE` (or `abort`)'
          : 'next        a migrator is running it; `rebalance abort` asks it to carry everything back',
      );
    }
  }
  // The way out of the state (ADR 0006), on its own line so the progress lines above can change freely.
  lines.push(`remedy      ${r.remedy.state}: ${r.remedy.command ?? 'no CLI command'} (${r.remedy.why})`);
  return `${lines.join('\n')}\n`;
}

async function status(io: CliIO, opts: RunCliOptions): Promise<void> {
  if (opts.to !== undefined) throw usageError('rebalance status: --to does not apply');
  const deployment = await openDeployment(opts.config);
  try {
    const migrator = new Migrator({
      config: deployment.configStore,
      pool: providerOf(new Map()),
      owner: OWNER,
      leaseMs: deployment.config.leaseMs,
      opTimeoutMs: deployment.config.opTimeoutMs,
    });
    const report: RebalanceStatusReport = {
      name: deployment.config.name,
      configStore: describeConfigStore(deployment.config.configStore),
      ...(await migrator.status(deployment.config.name, opts.config)),
    };
    if (opts.json === true) printJson(io, report);
    else io.stdout.write(formatRebalanceStatus(report, Date.now()));
  } finally {
    await deployment.close();
  }
}

/** `rebalance history`: past migrations with outcome and figures, oldest first. */
async function history(io: CliIO, opts: RunCliOptions): Promise<void> {
  if (opts.to !== undefined) throw usageError('rebalance history: --to does not apply');
  const deployment = await openDeployment(opts.config);
  try {
    const entries = await readHistory(deployment.configStore, deployment.config.name);
    if (opts.json === true) printJson(io, { name: deployment.config.name, migrations: entries });
    else io.stdout.write(formatHistory(deployment.config.name, entries));
  } finally {
    await deployment.close();
  }
}

const ACTIONS = ['start', 'status', 'history', 'resume', 'abort'] as const;

/** Adds `rebalance [status|resume|abort] --config FILE …`. */
export function register(program: Command, io: CliIO): void {
  program
    .command('rebalance')
    .description(
      'Migrate the live topology to --to online (pre-flight, confirmation, progress; Ctrl-C stops at a checkpoint), ' +
        'or show (status), continue (resume) or undo (abort) the recorded migration, or list past ones (history)',
    )
    .argument('[action]', `one of ${ACTIONS.join(', ')} (default: start, which needs --to)`, 'start')
    .requiredOption('--config <file>', 'shardkit config file (JSON or YAML)')
    .option('--to <file>', 'target topology file (start only)')
    .option('--throttle <docsPerSec>', 'copy pace in documents/s; cleanup deletes 4 markers per document (default: unthrottled)')
    .option('--batch-size <n>', 'documents per fence/copy/delete batch', '500')
    .option('--lock-lease-ms <ms>', `lease of the migration lock, renewed every third of it (default max(leaseMs, ${LOCK_LEASE_MS}))`)
    .option('--retry-budget-ms <ms>', `how long one transient fault may be retried before the run stops (default ${RETRY_BUDGET_MS}; 0: never retry)`)
    .option('--op-timeout-ms <ms>', "the migrator's timeout per shard call, at most the config file's opTimeoutMs (default: that)")
    .option('--concurrency <n>', 'source/target pairs migrated at once', '4')
    .option('--max-p99-impact <ratio>', "adaptive pace: slow down when the shards' p99 exceeds ratio x its value before the copy (not with --throttle)")
    .option('--yes', 'do not ask for confirmation (required when not on a terminal)')
    .option('--json', 'one JSON event per line (status: one JSON document)')
    .action(async (action: string, opts: RunCliOptions) => {
      switch (action) {
        case 'start':
          return start(io, opts);
        case 'status':
          return status(io, opts);
        case 'history':
          return history(io, opts);
        case 'resume':
        case 'abort':
          return resumeOrAbort(io, opts, action);
        default:
          throw usageError(`rebalance: unknown action ${JSON.stringify(action)} (expected ${ACTIONS.join(', ')})`);
      }
    });
}
