/**
 * The online migrator: moves the documents whose owner changes between two topologies while
 * routers keep serving, by the protocol of ADR 0002 and ADR 0003. Every step is idempotent and
 * checkpointed in the config store's journal, so a migrator killed at any point is resumed by
 * `resume()` (this process or another) without harm. The legs themselves are in `legs.ts`.
 */
import { randomUUID } from 'node:crypto';
import { systemClock, type Clock } from '../clock.js';
import type { ConfigStore, LockInfo } from '../config-store/types.js';
import type { RoutingState } from '../router/routing-state.js';
import { ErrorCode, ShardkitConflictError, ShardkitInvalidArgumentError } from '../errors.js';
import { Ring } from '../ring/ring.js';
import type { StoreProvider } from '../stores/store-provider.js';
import { Topology } from '../topology/topology.js';
import type { TopologySpec } from '../topology/types.js';
import type { MigrationEvent } from './events.js';
import {
  Phase,
  controlKey,
  emptyCounters,
  freshMove,
  journalFromRecord,
  journalKey,
  settledEpoch,
  type MigrationCounters,
  type MigrationJournal,
  type MoveProgress,
} from './journal.js';
import { runHealing } from './heal.js';
import { remedyFor, type Remedy } from './remedy.js';
import { beginReverse, runLegs } from './legs.js';
import { MigrationRun, type MigratorSettings } from './run.js';
import { AdaptiveThrottle, Throttle } from './throttle.js';
import type { Move } from '../ring/move.js';
import { assertSameShardKey } from './plan.js';
import { limitPasses } from './pass-slots.js';
import { countAtSources } from './source-counts.js';

/** Options of {@link Migrator}. */
export interface MigratorOptions {
  /** Topology, lock and journal. */
  readonly config: ConfigStore;
  /** A store per shard id. */
  readonly pool: StoreProvider;
  /** Lock owner name; a resumed migration may be taken over by any owner once the lock is free. */
  readonly owner: string;
  /** Routers' lease on the routing state, and the migrator's lease on its lock (ms, > 0). */
  readonly leaseMs: number;
  /** Bound on any router request (ms, >= 0): the lease waits add it. */
  readonly opTimeoutMs: number;
  /** Documents per fence/copy/delete batch (default 500). */
  readonly batchSize?: number;
  /** Copy and cleanup pace in documents per second, a marker deleted counting a quarter of one (default: unthrottled). */
  readonly throttleDocsPerSec?: number;
  /**
   * Instead of a fixed pace: the shards' p99 latency allowed during the copy, as a multiple of the
   * p99 the migrator measures before it (> 1, e.g. 1.5). The migrator probes the shards it copies
   * between and halves its pace when the bound is exceeded twice in a row, raising it again while it holds
   * ({@link AdaptiveThrottle}). Not with `throttleDocsPerSec`.
   */
  readonly maxP99Impact?: number;
  /**
   * Source/target pairs copied (and swept, verified, cleaned up) at once (default 1; the CLI's
   * `--concurrency` defaults to 4). Pairs touch disjoint ranges, so this only trades shard load for speed.
   */
  readonly concurrency?: number;
  /**
   * The clock: waits, the lock lease held here, the throttle and rates on its monotonic `now()`,
   * journal and control timestamps (which other processes read) on `wall()`. Its timers make every
   * sleep, so a simulation shares one fake clock with its config store and advances it.
   */
  readonly clock?: Clock;
  /** Progress and phase events. */
  readonly onEvent?: (event: MigrationEvent) => void;
  /**
   * Lease of the migration lock (default `leaseMs`), renewed on its own timer every third of it, so
   * a slow batch does not need a long lease; shorter lets a resume take over sooner after a crash.
   * Safety does not depend on it (ADR 0003, ADR 0006).
   */
  readonly lockLeaseMs?: number;
  /**
   * How long one transient fault (a store or config-store timeout, an unreachable shard, a lapsed
   * lock nobody took) may keep failing the run's steps before it stops (default 60000 ms; 0: stop
   * at the first). Each step is repeated after an exponential backoff with full jitter (ADR 0006).
   */
  readonly retryBudgetMs?: number;
  /** Backoff before the first retry of a fault (default 100 ms), doubling per attempt. */
  readonly retryBaseDelayMs?: number;
  /** Longest backoff between two retries (default 5000 ms). */
  readonly retryMaxDelayMs?: number;
  /** How long `resume()`/`abort()` wait for a dead holder's lock to lapse (default 2 x lockLeaseMs). */
  readonly lockWaitMs?: number;
  /** How often a running migrator looks for an abort request from another process (default 1000 ms). */
  readonly controlPollMs?: number;
  /** Migration ids (default: random UUIDs); injectable for deterministic tests. */
  readonly newId?: () => string;
}

/** Per-call options. */
export interface RunOptions {
  /** Stop cleanly at the next checkpoint (Ctrl-C): throws `shardkit.interrupted`, journal consistent. */
  readonly signal?: AbortSignal;
}

/** What a finished (or handed-off) run reports. */
export interface MigrationReport {
  readonly migrationId: string;
  /** `abortRequested`: another process holds the lock; it was asked to abort. */
  readonly outcome: 'completed' | 'aborted' | 'abortRequested';
  /** Epoch of the routing state now published. */
  readonly epoch: number;
  readonly moves: number;
  readonly counters: MigrationCounters;
  /** Document bodies read per document moved (the acceptance bound is 1.05). */
  readonly readsPerMoved: number;
}

/** A snapshot for `shardkit migrate status`. */
export interface MigrationStatus {
  readonly state: { readonly phase: RoutingState['phase']; readonly epoch: number; readonly name: string } | null;
  readonly lock: LockInfo | null;
  readonly migration: {
    readonly id: string;
    readonly phase: Phase;
    readonly reverse: boolean;
    readonly epoch: number;
    readonly outcome: 'completed' | 'aborted' | null;
    readonly moves: number;
    readonly copied: number;
    readonly estimated: number;
    readonly movesCopied: number;
    readonly counters: MigrationCounters;
  } | null;
  /** The state the migration is in and the CLI command that gets out of it (ADR 0006). */
  readonly remedy: Remedy;
}

const DEFAULT_BATCH = 500;
const DEFAULT_RETRY_BUDGET_MS = 60_000;
const DEFAULT_RETRY_BASE_DELAY_MS = 100;
const DEFAULT_RETRY_MAX_DELAY_MS = 5_000;

/** A non-negative finite number of milliseconds, or the default; a precise error otherwise. */
function msOption(name: string, value: number | undefined, fallback: number, min = 0): number {
  const ms = value ?? fallback;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < min) {
    throw new ShardkitInvalidArgumentError(`${name} must be a number of milliseconds >= ${min}, got ${String(value)}`);
  }
  return ms;
}
const DEFAULT_CONCURRENCY = 1;
/**
 * How the migrator's adaptive throttle reacts within a copy of a few seconds (issue 11): a decision
 * per 8 probe samples (about 100 ms with two shards probed every 25 ms) instead of one per 40, a
 * warm-up from 50 docs/s raised by a quarter per quiet decision, and batches of 1 s of work at the
 * current pace. A batch costs the pair's shards about four requests whatever its size (ping, fence,
 * read back, insert), so batches of 100 ms sent each pair's shards ten batches a second at any
 * pace; the application's p99 during the copy was about a quarter higher with them (ADR 0002, item 6).
 */
const ADAPTIVE = { decisionWindow: 8, startDocsPerSec: 50, batchMs: 1000 } as const;

function migrationStateError(message: string): ShardkitConflictError {
  return new ShardkitConflictError(ErrorCode.migrationState, message);
}

function settingsOf(options: MigratorOptions): MigratorSettings {
  if (typeof options !== 'object' || options === null) throw new ShardkitInvalidArgumentError('Migrator options are required');
  const { leaseMs, opTimeoutMs } = options;
  if (typeof options.owner !== 'string' || options.owner === '') throw new ShardkitInvalidArgumentError('owner must be a non-empty string');
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new ShardkitInvalidArgumentError(`leaseMs must be > 0, got ${String(leaseMs)}`);
  if (!Number.isFinite(opTimeoutMs) || opTimeoutMs < 0) {
    throw new ShardkitInvalidArgumentError(`opTimeoutMs must be >= 0, got ${String(opTimeoutMs)}`);
  }
  const batch = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isSafeInteger(batch) || batch < 1) throw new ShardkitInvalidArgumentError(`batchSize must be a positive integer, got ${String(batch)}`);
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
    throw new ShardkitInvalidArgumentError(`concurrency must be a positive integer, got ${String(concurrency)}`);
  }
  const lockLeaseMs = options.lockLeaseMs ?? leaseMs;
  if (!Number.isFinite(lockLeaseMs) || lockLeaseMs <= 0) {
    throw new ShardkitInvalidArgumentError(`lockLeaseMs must be > 0, got ${String(lockLeaseMs)}`);
  }
  const retryBudgetMs = msOption('retryBudgetMs', options.retryBudgetMs, DEFAULT_RETRY_BUDGET_MS);
  const retryBaseDelayMs = msOption('retryBaseDelayMs', options.retryBaseDelayMs, DEFAULT_RETRY_BASE_DELAY_MS, 1);
  const retryMaxDelayMs = msOption('retryMaxDelayMs', options.retryMaxDelayMs, Math.max(DEFAULT_RETRY_MAX_DELAY_MS, retryBaseDelayMs), retryBaseDelayMs);
  const clock = options.clock ?? systemClock;
  let throttle: Throttle;
  try {
    if (options.maxP99Impact !== undefined && options.throttleDocsPerSec !== undefined) {
      throw new TypeError('throttleDocsPerSec and maxP99Impact exclude each other: a fixed pace or an adaptive one');
    }
    throttle =
      options.maxP99Impact === undefined ? new Throttle(options.throttleDocsPerSec, clock) : new AdaptiveThrottle({ maxP99Impact: options.maxP99Impact, ...ADAPTIVE }, clock);
  } catch (error) {
    throw new ShardkitInvalidArgumentError((error as Error).message);
  }
  return {
    config: options.config,
    pool: limitPasses(options.pool),
    owner: options.owner,
    leaseMs,
    lockLeaseMs,
    lockWaitMs: options.lockWaitMs ?? 2 * lockLeaseMs,
    opTimeoutMs,
    batch,
    concurrency,
    clock,
    throttle,
    onEvent: options.onEvent ?? (() => undefined),
    controlPollMs: options.controlPollMs ?? 1000,
    retryBudgetMs,
    retryBaseDelayMs,
    retryMaxDelayMs,
    random: Math.random,
  };
}

/**
 * Runs one migration at a time per topology: `start(to)` plans and executes, `resume()` continues
 * after a crash or an interruption, `abort()` carries everything back to the old owners. Each call
 * is one {@link MigrationRun}; the Migrator keeps only its configuration (and the throttle, whose
 * pace carries over from one call to the next as it always did).
 */
export class Migrator {
  readonly #s: MigratorSettings;
  readonly #newId: () => string;

  constructor(options: MigratorOptions) {
    this.#s = settingsOf(options);
    this.#newId = options.newId ?? randomUUID;
  }

  /**
   * Migrate the live topology to `toTopology` (its epoch must be the live epoch + 1, same name).
   * Pre-flight checks fail fast with `shardkit.migration.preflight`; another migration in progress
   * fails with `shardkit.migration.state` or `shardkit.migration.lockHeld`.
   */
  async start(toTopology: Topology | TopologySpec | unknown, options: RunOptions = {}): Promise<MigrationReport> {
    const to = Topology.from(toTopology).toJSON();
    const { config } = this.#s;
    const live = await config.load();
    if (live === null) throw migrationStateError('no topology is published yet: publish one before migrating');
    const name = live.topology.name;
    if (to.name !== name) {
      throw new ShardkitConflictError(ErrorCode.planMismatch, `the new topology is named "${to.name}" but the live one is "${name}"`);
    }
    const existing = await this.#readJournal(name);
    if (existing !== null && existing.phase !== Phase.done) {
      throw migrationStateError(`migration ${existing.id} of "${name}" is in phase ${existing.phase}: run resume (or abort) first`);
    }
    if (live.phase !== 'stable') throw migrationStateError(`topology "${name}" is migrating (epoch ${live.epoch}) without a journal`);
    assertSameShardKey(live.topology, to);
    if (to.epoch !== live.epoch + 1) {
      throw new ShardkitConflictError(
        ErrorCode.planMismatch,
        `the new topology has epoch ${to.epoch} but the live epoch is ${live.epoch}: plan from the live topology (epoch ${live.epoch + 1})`,
      );
    }
    const run = new MigrationRun(this.#s, options.signal);
    await run.lock.take(false);
    try {
      const from = live.topology;
      const moves = Ring.fromTopology(from).diff(Ring.fromTopology(to));
      await this.#preflight(new Set(moves.flatMap((m) => [m.from, m.to])));
      if (moves.length === 0) {
        // No key changes owner: a plain publish is already safe for every router.
        await config.compareAndSet(live.epoch, { phase: 'stable', epoch: to.epoch, topology: to });
        return { migrationId: '', outcome: 'completed', epoch: to.epoch, moves: 0, counters: emptyCounters(), readsPerMoved: 0 };
      }
      const progress = await this.#estimate(run, moves);
      const journal: MigrationJournal = {
        id: this.#newId(),
        name,
        owner: this.#s.owner,
        baseEpoch: live.epoch,
        reverse: false,
        from,
        to,
        epoch: live.epoch + 1,
        stableEpoch: live.epoch + 2,
        phase: Phase.publish,
        publishedAt: null,
        committedAt: null,
        settledAt: null,
        moves: progress,
        counters: emptyCounters(),
        startedAt: this.#s.clock.wall(),
        finishedAt: null,
        outcome: null,
      };
      // Journal first, publish second: a kill between them resumes into the publish, never into
      // a published migration nobody knows about. A journal read back after a fault has both.
      const ended = await runHealing(run, journal, async (j, reloaded) => {
        if (!reloaded) {
          await run.save(j);
          await run.saveControl(j, { abort: false });
        }
        await runLegs(run, j);
      });
      return report(ended);
    } finally {
      await run.lock.release();
    }
  }

  /** Continue the migration recorded in the journal (after a kill, an error or an interruption). */
  async resume(options: RunOptions = {}): Promise<MigrationReport> {
    const seen = await this.#requireJournal();
    if (seen.phase === Phase.done) return report(seen);
    const run = new MigrationRun(this.#s, options.signal);
    await run.lock.take(true);
    try {
      // Re-read under the lock: the previous holder may have moved on since the first read.
      const journal = (await this.#readJournal(seen.name)) ?? seen;
      if (journal.phase === Phase.done) return report(journal);
      journal.owner = this.#s.owner;
      return report(await runHealing(run, journal, (j) => runLegs(run, j)));
    } finally {
      await run.lock.release();
    }
  }

  /**
   * Abort the migration in progress: carry everything back to the old owners (ADR 0003). When
   * another live process holds the lock, ask it to abort (it switches at its next checkpoint) and
   * return `abortRequested`. A migration whose stable state is published cannot be aborted.
   */
  async abort(options: RunOptions = {}): Promise<MigrationReport> {
    const { config, owner, clock } = this.#s;
    const seen = await this.#requireJournal();
    assertAbortable(seen);
    const lock = await config.readLock();
    if (lock !== null && lock.owner !== owner) {
      await config.writeJournal(controlKey(seen.name), { abort: true, by: owner, at: clock.wall() });
      return { ...report(seen), outcome: 'abortRequested' };
    }
    const run = new MigrationRun(this.#s, options.signal);
    await run.lock.take(true);
    try {
      // Re-read under the lock: the previous holder may have moved on since the first read.
      const journal = (await this.#readJournal(seen.name)) ?? seen;
      assertAbortable(journal);
      journal.owner = owner;
      const ended = await runHealing(run, journal, async (j) => {
        if (!j.reverse) await beginReverse(run, j);
        await runLegs(run, j);
      });
      return report(ended);
    } finally {
      await run.lock.release();
    }
  }

  /**
   * The live routing state, the lock and the journal, summarized, with the way out of the state
   * they are in (its commands name `configPath`, default `<file>`).
   */
  async status(name?: string, configPath?: string): Promise<MigrationStatus> {
    const { config, clock } = this.#s;
    const live = await config.load();
    const topo = name ?? live?.topology.name;
    const lock = await config.readLock();
    const journal = topo === undefined ? null : await this.#readJournal(topo);
    const control = topo === undefined ? null : await config.readJournal(controlKey(topo));
    const remedy = remedyFor({ live, journal, lock, control, now: clock.wall() }, configPath);
    return {
      remedy,
      state: live === null ? null : { phase: live.phase, epoch: live.epoch, name: live.topology.name },
      lock,
      migration:
        journal === null
          ? null
          : {
              id: journal.id,
              phase: journal.phase,
              reverse: journal.reverse,
              epoch: journal.epoch,
              outcome: journal.outcome,
              moves: journal.moves.length,
              copied: journal.moves.reduce((s, m) => s + m.copied, 0),
              estimated: journal.moves.reduce((s, m) => s + m.estimated, 0),
              movesCopied: journal.moves.filter((m) => m.copyDone).length,
              counters: journal.counters,
            },
    };
  }

  /**
   * Documents and tombstones per move (what the copy carries), for progress and ETA, counted at the
   * sources as `plan` counts them (`countAtSources`). The lock is renewed first; its own timer renews
   * it while they count.
   */
  async #estimate(run: MigrationRun, moves: readonly Move[]): Promise<MoveProgress[]> {
    await run.lock.renew();
    const { docs } = await countAtSources(moves, this.#s.pool, { _moved: { $exists: false }, _ph: { $exists: false } });
    return moves.map((m) => freshMove(m.start, m.end, m.from, m.to, docs.get(m) ?? 0));
  }

  /**
   * Fail fast before anything is published: every shard that gives or takes keys answers a ping and
   * has the `{_h: 1, _id: 1}` index (moved ranges are index range scans; without it every batch
   * scans the collection). The index is not created here: building it on a large collection is an
   * operator's decision, so the message names `ensureRoutingIndex` instead.
   */
  async #preflight(shardIds: ReadonlySet<string>): Promise<void> {
    const problems: string[] = [];
    const noIndex: string[] = [];
    let cause: unknown;
    for (const id of [...shardIds].sort()) {
      try {
        const store = await this.#s.pool.store(id);
        await store.ping();
        if (!(await store.hasRoutingIndex())) noIndex.push(id);
      } catch (error) {
        cause ??= error;
        problems.push(`shard ${id} is unreachable (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    if (noIndex.length > 0) {
      problems.push(
        `shard(s) ${noIndex.join(', ')} lack the {_h: 1, _id: 1} index: create it with ShardStore.ensureRoutingIndex() ` +
          'or ShardedCollection.ensureRoutingIndexes() before migrating (`shardkit init` and `shardkit rebalance` create it on the shards they name)',
      );
    }
    if (problems.length > 0) {
      throw new ShardkitConflictError(ErrorCode.preflightFailed, `pre-flight failed: ${problems.join('; ')}`, { cause });
    }
  }

  async #readJournal(name: string): Promise<MigrationJournal | null> {
    const record = await this.#s.config.readJournal(journalKey(name));
    return record === null ? null : journalFromRecord(record);
  }

  async #requireJournal(): Promise<MigrationJournal> {
    const live = await this.#s.config.load();
    if (live === null) throw migrationStateError('no topology is published yet');
    const journal = await this.#readJournal(live.topology.name);
    if (journal === null) throw migrationStateError(`no migration of "${live.topology.name}" is recorded`);
    return journal;
  }
}

function assertAbortable(journal: MigrationJournal): void {
  if (journal.phase === Phase.done) throw migrationStateError(`migration ${journal.id} already finished (${journal.outcome ?? 'unknown'})`);
  const committed: readonly Phase[] = [Phase.commit, Phase.cleanup, Phase.settle, Phase.purge];
  if (!journal.reverse && committed.includes(journal.phase)) {
    throw migrationStateError(`migration ${journal.id} is committed (phase ${journal.phase}): let it finish, then migrate back`);
  }
}

function report(j: MigrationJournal): MigrationReport {
  const c = j.counters;
  return {
    migrationId: j.id,
    outcome: j.outcome ?? 'completed',
    epoch: j.phase === Phase.done ? settledEpoch(j) : j.epoch,
    moves: j.moves.length,
    counters: { ...c },
    readsPerMoved: c.docsMoved === 0 ? 0 : c.docsRead / c.docsMoved,
  };
}
