/**
 * The online migrator: moves the documents whose owner changes between two topologies while
 * routers keep serving, by the protocol of ADR 0002 and ADR 0003. Every step is idempotent and
 * checkpointed in the config store's journal, so a migrator killed at any point is resumed by
 * `resume()` (this process or another) without harm.
 */
import { randomUUID } from 'node:crypto';
import type { ConfigStore, LockInfo } from '../config-store/types.js';
import type { RoutingState } from '../router/routing-state.js';
import { ErrorCode, ShardkitConflictError, ShardkitError, ShardkitInvalidArgumentError, hasErrorCode } from '../errors.js';
import { Ring } from '../ring/ring.js';
import { idKey } from '../stores/bson-order.js';
import type { HashRange, RangeCursor, ShardStore, StoreFilter, StoredDocument } from '../stores/shard-store.js';
import type { StoreProvider } from '../stores/store-provider.js';
import { Topology } from '../topology/topology.js';
import type { TopologySpec } from '../topology/types.js';
import {
  Phase,
  controlKey,
  emptyCounters,
  journalFromRecord,
  journalKey,
  journalToRecord,
  settledEpoch,
  type MigrationCounters,
  type MigrationJournal,
  type MoveProgress,
} from './journal.js';
import { Throttle, systemClock, systemSleep, type Clock, type Sleep } from './throttle.js';

/** Something the migrator reports, for progress bars and `--json` lines. JSON-serializable. */
export type MigrationEvent =
  | { readonly type: 'phase'; readonly migrationId: string; readonly phase: Phase; readonly epoch: number; readonly reverse: boolean }
  | {
      readonly type: 'progress';
      readonly migrationId: string;
      readonly phase: Phase;
      /** Index of the move in the plan. */
      readonly move: number;
      readonly moves: number;
      readonly from: string;
      readonly to: string;
      /** Documents carried for this move so far / estimated at plan time. */
      readonly copied: number;
      readonly estimated: number;
      /** Totals over all moves. */
      readonly totalCopied: number;
      readonly totalEstimated: number;
      /** Documents per second in this run, and the remaining time at that rate (null: unknown). */
      readonly docsPerSec: number;
      readonly etaMs: number | null;
    }
  | { readonly type: 'wait'; readonly migrationId: string; readonly reason: 'routerLease' | 'lock'; readonly ms: number }
  | {
      readonly type: 'verified';
      readonly migrationId: string;
      readonly move: number;
      readonly checked: number;
      readonly repaired: number;
      readonly mismatches: number;
    }
  | { readonly type: 'cleanup'; readonly migrationId: string; readonly move: number; readonly deleted: number }
  | { readonly type: 'abortRequested'; readonly migrationId: string; readonly by: string }
  | { readonly type: 'done'; readonly migrationId: string; readonly outcome: 'completed' | 'aborted'; readonly counters: MigrationCounters };

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
  /** Copy and cleanup pace in documents per second (default: unthrottled). */
  readonly throttleDocsPerSec?: number;
  /** Time source (ms); share it with the config store's for simulations. */
  readonly clock?: Clock;
  /** Sleep; a simulation advances its fake clock instead. */
  readonly sleep?: Sleep;
  /** Progress and phase events. */
  readonly onEvent?: (event: MigrationEvent) => void;
  /**
   * Lease of the migration lock (default `leaseMs`). Longer survives slower batches; shorter lets a
   * resume take over sooner after a crash. Safety does not depend on it (ADR 0003).
   */
  readonly lockLeaseMs?: number;
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
}

/** Thrown inside a run when another process asked for an abort; caught by the run loop. */
class AbortRequested extends Error {}

const DEFAULT_BATCH = 500;

function stripFence(doc: StoredDocument): StoredDocument {
  const { _moved: _ignored, ...rest } = doc;
  return rest as StoredDocument;
}

function cursorOf(doc: StoredDocument): RangeCursor {
  return { h: doc._h, id: doc._id };
}

function rangeOf(m: MoveProgress): HashRange {
  return { start: m.start, end: m.end };
}

function migrationStateError(message: string): ShardkitConflictError {
  return new ShardkitConflictError(ErrorCode.migrationState, message);
}

function topologyName(spec: TopologySpec): string {
  return spec.name;
}

/**
 * Runs one migration at a time per topology: `start(to)` plans and executes, `resume()` continues
 * after a crash or an interruption, `abort()` carries everything back to the old owners.
 */
export class Migrator {
  readonly #config: ConfigStore;
  readonly #pool: StoreProvider;
  readonly #owner: string;
  readonly #leaseMs: number;
  readonly #lockLeaseMs: number;
  readonly #opTimeoutMs: number;
  readonly #batch: number;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  readonly #throttle: Throttle;
  readonly #onEvent: (event: MigrationEvent) => void;
  readonly #lockWaitMs: number;
  readonly #controlPollMs: number;
  readonly #newId: () => string;

  #lockExpiresAt = 0;
  #signal: AbortSignal | undefined;
  #lastControlCheck = Number.NEGATIVE_INFINITY;
  #runStartedAt = 0;
  #runDocs = 0;

  constructor(options: MigratorOptions) {
    if (typeof options !== 'object' || options === null) throw new ShardkitInvalidArgumentError('Migrator options are required');
    const { leaseMs, opTimeoutMs } = options;
    if (typeof options.owner !== 'string' || options.owner === '') throw new ShardkitInvalidArgumentError('owner must be a non-empty string');
    if (!Number.isFinite(leaseMs) || leaseMs <= 0) throw new ShardkitInvalidArgumentError(`leaseMs must be > 0, got ${String(leaseMs)}`);
    if (!Number.isFinite(opTimeoutMs) || opTimeoutMs < 0) {
      throw new ShardkitInvalidArgumentError(`opTimeoutMs must be >= 0, got ${String(opTimeoutMs)}`);
    }
    const batch = options.batchSize ?? DEFAULT_BATCH;
    if (!Number.isSafeInteger(batch) || batch < 1) throw new ShardkitInvalidArgumentError(`batchSize must be a positive integer, got ${String(batch)}`);
    this.#config = options.config;
    this.#pool = options.pool;
    this.#owner = options.owner;
    this.#leaseMs = leaseMs;
    const lockLeaseMs = options.lockLeaseMs ?? leaseMs;
    if (!Number.isFinite(lockLeaseMs) || lockLeaseMs <= 0) {
      throw new ShardkitInvalidArgumentError(`lockLeaseMs must be > 0, got ${String(lockLeaseMs)}`);
    }
    this.#lockLeaseMs = lockLeaseMs;
    this.#opTimeoutMs = opTimeoutMs;
    this.#batch = batch;
    this.#clock = options.clock ?? systemClock;
    this.#sleep = options.sleep ?? systemSleep;
    try {
      this.#throttle = new Throttle(options.throttleDocsPerSec, this.#clock, this.#sleep);
    } catch (error) {
      throw new ShardkitInvalidArgumentError((error as Error).message);
    }
    this.#onEvent = options.onEvent ?? (() => undefined);
    this.#lockWaitMs = options.lockWaitMs ?? 2 * lockLeaseMs;
    this.#controlPollMs = options.controlPollMs ?? 1000;
    this.#newId = options.newId ?? randomUUID;
  }

  // --- public API -------------------------------------------------------------------------

  /**
   * Migrate the live topology to `toTopology` (its epoch must be the live epoch + 1, same name).
   * Pre-flight checks fail fast with `shardkit.migration.preflight`; another migration in progress
   * fails with `shardkit.migration.state` or `shardkit.migration.lockHeld`.
   */
  async start(toTopology: Topology | TopologySpec | unknown, options: RunOptions = {}): Promise<MigrationReport> {
    const to = Topology.from(toTopology).toJSON();
    const live = await this.#config.load();
    if (live === null) throw migrationStateError('no topology is published yet: publish one before migrating');
    const name = live.topology.name;
    if (to.name !== name) {
      throw new ShardkitConflictError(ErrorCode.planMismatch, `the new topology is named "${to.name}" but the live one is "${name}"`);
    }
    const existing = await this.#readJournal(name);
    if (existing !== null && existing.phase !== Phase.done) {
      throw migrationStateError(
        `migration ${existing.id} of "${name}" is in phase ${existing.phase}: run resume (or abort) first`,
      );
    }
    if (live.phase !== 'stable') throw migrationStateError(`topology "${name}" is migrating (epoch ${live.epoch}) without a journal`);
    if (to.epoch !== live.epoch + 1) {
      throw new ShardkitConflictError(
        ErrorCode.planMismatch,
        `the new topology has epoch ${to.epoch} but the live epoch is ${live.epoch}: plan from the live topology (epoch ${live.epoch + 1})`,
      );
    }
    await this.#takeLock(false);
    this.#signal = options.signal;
    try {
      const from = live.topology;
      const moves = Ring.fromTopology(from).diff(Ring.fromTopology(to));
      const shards = new Set<string>();
      for (const m of moves) {
        shards.add(m.from);
        shards.add(m.to);
      }
      await this.#preflight(shards);
      if (moves.length === 0) {
        // No key changes owner: a plain publish is already safe for every router.
        await this.#config.compareAndSet(live.epoch, { phase: 'stable', epoch: to.epoch, topology: to });
        const counters = emptyCounters();
        return { migrationId: '', outcome: 'completed', epoch: to.epoch, moves: 0, counters, readsPerMoved: 0 };
      }
      const progress: MoveProgress[] = [];
      for (const m of moves) {
        const estimated = await (await this.#pool.store(m.from)).countRange(m, { _moved: { $exists: false }, _ph: { $exists: false } });
        progress.push(freshMove(m.start, m.end, m.from, m.to, estimated));
      }
      const now = this.#clock();
      const journal: MigrationJournal = {
        id: this.#newId(),
        name,
        owner: this.#owner,
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
        startedAt: now,
        finishedAt: null,
        outcome: null,
      };
      // Journal first, publish second: a kill between them resumes into the publish, never into
      // a published migration nobody knows about.
      await this.#saveJournal(journal);
      await this.#config.writeJournal(controlKey(name), { abort: false });
      return await this.#run(journal);
    } finally {
      await this.#releaseLock();
    }
  }

  /** Continue the migration recorded in the journal (after a kill, an error or an interruption). */
  async resume(options: RunOptions = {}): Promise<MigrationReport> {
    const seen = await this.#requireJournal();
    if (seen.phase === Phase.done) return this.#report(seen);
    await this.#takeLock(true);
    this.#signal = options.signal;
    try {
      // Re-read under the lock: the previous holder may have moved on since the first read.
      const journal = (await this.#readJournal(seen.name)) ?? seen;
      if (journal.phase === Phase.done) return this.#report(journal);
      journal.owner = this.#owner;
      return await this.#run(journal);
    } finally {
      await this.#releaseLock();
    }
  }

  /**
   * Abort the migration in progress: carry everything back to the old owners (ADR 0003). When
   * another live process holds the lock, ask it to abort (it switches at its next checkpoint) and
   * return `abortRequested`. A migration whose stable state is published cannot be aborted.
   */
  async abort(options: RunOptions = {}): Promise<MigrationReport> {
    const seen = await this.#requireJournal();
    this.#assertAbortable(seen);
    const lock = await this.#config.readLock();
    if (lock !== null && lock.owner !== this.#owner) {
      await this.#config.writeJournal(controlKey(seen.name), { abort: true, by: this.#owner, at: this.#clock() });
      return { ...this.#report(seen), outcome: 'abortRequested' };
    }
    await this.#takeLock(true);
    this.#signal = options.signal;
    try {
      // Re-read under the lock: the previous holder may have moved on since the first read.
      const journal = (await this.#readJournal(seen.name)) ?? seen;
      this.#assertAbortable(journal);
      journal.owner = this.#owner;
      if (!journal.reverse) await this.#beginReverse(journal);
      return await this.#run(journal);
    } finally {
      await this.#releaseLock();
    }
  }

  #assertAbortable(journal: MigrationJournal): void {
    if (journal.phase === Phase.done) throw migrationStateError(`migration ${journal.id} already finished (${journal.outcome ?? 'unknown'})`);
    if (!journal.reverse && [Phase.commit, Phase.cleanup, Phase.settle, Phase.purge].includes(journal.phase as never)) {
      throw migrationStateError(`migration ${journal.id} is committed (phase ${journal.phase}): let it finish, then migrate back`);
    }
  }

  /** The live routing state, the lock and the journal, summarized. */
  async status(name?: string): Promise<MigrationStatus> {
    const live = await this.#config.load();
    const topo = name ?? live?.topology.name;
    const lock = await this.#config.readLock();
    const journal = topo === undefined ? null : await this.#readJournal(topo);
    return {
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
        const store = await this.#pool.store(id);
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

  // --- the run loop -------------------------------------------------------------------------

  async #run(j: MigrationJournal): Promise<MigrationReport> {
    this.#runStartedAt = this.#clock();
    this.#runDocs = 0;
    this.#lastControlCheck = Number.NEGATIVE_INFINITY;
    for (;;) {
      try {
        await this.#runLeg(j);
        return this.#report(j);
      } catch (error) {
        if (!(error instanceof AbortRequested)) throw error;
        await this.#beginReverse(j);
      }
    }
  }

  async #runLeg(j: MigrationJournal): Promise<void> {
    while (j.phase !== Phase.done) {
      this.#emit({ type: 'phase', migrationId: j.id, phase: j.phase, epoch: j.epoch, reverse: j.reverse });
      switch (j.phase) {
        case Phase.publish:
          await this.#publishMigrating(j);
          j.publishedAt = this.#clock();
          j.phase = Phase.copy;
          break;
        case Phase.copy:
          for (let i = 0; i < j.moves.length; i++) await this.#copyMove(j, i);
          j.phase = Phase.sweep;
          break;
        case Phase.sweep:
          await this.#waitRouters(j, j.publishedAt);
          for (let i = 0; i < j.moves.length; i++) await this.#sweepMove(j, i);
          j.phase = Phase.verify;
          break;
        case Phase.verify:
          for (let i = 0; i < j.moves.length; i++) await this.#verifyMove(j, i);
          j.phase = Phase.commit;
          break;
        case Phase.commit:
          await this.#publishStable(j);
          j.committedAt = this.#clock();
          j.phase = Phase.cleanup;
          break;
        case Phase.cleanup:
          await this.#waitRouters(j, j.committedAt);
          for (let i = 0; i < j.moves.length; i++) await this.#cleanupMove(j, i);
          j.phase = Phase.settle;
          break;
        case Phase.settle:
          await this.#publishSettled(j);
          j.settledAt = this.#clock();
          j.phase = Phase.purge;
          break;
        case Phase.purge:
          await this.#waitRouters(j, j.settledAt);
          for (let i = 0; i < j.moves.length; i++) await this.#purgeMove(j, i);
          j.phase = Phase.done;
          j.finishedAt = this.#clock();
          j.outcome = j.reverse ? 'aborted' : 'completed';
          break;
        default:
          throw migrationStateError(`unknown journal phase ${String(j.phase)}`);
      }
      await this.#saveJournal(j);
    }
    this.#emit({ type: 'done', migrationId: j.id, outcome: j.outcome ?? 'completed', counters: { ...j.counters } });
  }

  /** Turn a forward leg into its abort leg: same protocol, owners swapped, fence epoch + 1. */
  async #beginReverse(j: MigrationJournal): Promise<void> {
    if (j.reverse) return;
    const live = await this.#config.load();
    await this.#config.writeJournal(controlKey(j.name), { abort: false, handledBy: this.#owner, at: this.#clock() });
    if (j.phase === Phase.publish && live !== null && live.epoch === j.baseEpoch) {
      // Never published: nothing moved, nothing to carry back.
      j.phase = Phase.done;
      j.outcome = 'aborted';
      j.finishedAt = this.#clock();
      await this.#saveJournal(j);
      return;
    }
    // Before the new owners become the old ones, give every entry the forward leg fenced a copy at
    // its target: routers on the abort leg read a stale fence at the (new) old owner as "no copy
    // here", so data that only a stale fence holds would read as absent until the sweep lifted it.
    if (j.phase !== Phase.publish) {
      for (const m of j.moves) await this.#repairMissing(j, m);
    }
    const back = j.from;
    j.reverse = true;
    j.from = j.to;
    j.to = back;
    j.epoch = j.epoch + 1;
    j.stableEpoch = j.epoch + 1;
    j.phase = Phase.publish;
    j.publishedAt = null;
    j.committedAt = null;
    j.settledAt = null;
    j.moves = j.moves.map((m) => freshMove(m.start, m.end, m.to, m.from, m.copied));
    await this.#saveJournal(j);
  }

  // --- publishing ------------------------------------------------------------------------------

  async #publishMigrating(j: MigrationJournal): Promise<void> {
    await this.#publish(j, {
      phase: 'migrating',
      epoch: j.epoch,
      from: j.from,
      // Topology epochs follow state epochs so a router that keeps only the topology still orders them.
      topology: { ...j.to, epoch: j.epoch },
      migrationId: j.id,
    });
  }

  async #publishStable(j: MigrationJournal): Promise<void> {
    // `settling` makes routers leave a tombstone when they delete a key this leg moved, until the
    // settled state replaces this one after cleanup (ADR 0003).
    await this.#publish(j, {
      phase: 'stable',
      epoch: j.stableEpoch,
      topology: { ...j.to, epoch: j.stableEpoch },
      settling: { from: j.from, migrationId: j.id },
    });
  }

  /**
   * After cleanup has deleted the sources' fences (no copy of an old owner's document can be made any
   * more, and one in flight has landed: cleanup waited `leaseMs + opTimeoutMs` after the commit), the
   * tombstones stable-phase deletes leave are no longer needed: publish the same topology without
   * `settling`. Purge then waits for every router's lease on the settling state before it deletes them.
   */
  async #publishSettled(j: MigrationJournal): Promise<void> {
    const settled = settledEpoch(j);
    await this.#publish(j, { phase: 'stable', epoch: settled, topology: { ...j.to, epoch: settled } });
  }

  /**
   * Publish `next` by compare-and-set from epoch `next.epoch - 1`. A resume that finds it published
   * already (same phase and epoch, and for a migrating state the same migration) does nothing; any
   * other live epoch means someone else changed the routing state: `shardkit.migration.planMismatch`.
   */
  async #publish(j: MigrationJournal, next: RoutingState): Promise<void> {
    const live = await this.#config.load();
    const published =
      live !== null &&
      live.phase === next.phase &&
      live.epoch === next.epoch &&
      (next.phase !== 'migrating' || (live.phase === 'migrating' && live.migrationId === next.migrationId));
    if (published) return;
    const expected = next.epoch - 1;
    if (live === null || live.epoch !== expected) {
      throw new ShardkitConflictError(
        ErrorCode.planMismatch,
        `routing state moved to epoch ${live?.epoch ?? 'none'} under migration ${j.id} (expected ${expected})`,
      );
    }
    await this.#config.compareAndSet(expected, next);
  }

  // --- copy, sweep, verify, cleanup --------------------------------------------------------------

  async #copyMove(j: MigrationJournal, i: number): Promise<void> {
    const m = j.moves[i]!;
    const source = await this.#pool.store(m.from);
    const target = await this.#pool.store(m.to);
    while (!m.copyDone) {
      await this.#checkpoint(j, true);
      const docs = await source.fenceRange(rangeOf(m), m.cursor, this.#batch, j.epoch);
      j.counters.docsRead += docs.length;
      const carried = await this.#install(j, m, target, docs);
      j.counters.docsMoved += carried;
      m.copied += carried;
      const last = docs[docs.length - 1];
      if (last !== undefined) m.cursor = cursorOf(last);
      if (docs.length < this.#batch) m.copyDone = true;
      await this.#saveJournal(j);
      this.#booked(docs.length);
      this.#progress(j, i);
    }
  }

  async #sweepMove(j: MigrationJournal, i: number): Promise<void> {
    const m = j.moves[i]!;
    const source = await this.#pool.store(m.from);
    const target = await this.#pool.store(m.to);
    while (!m.sweepDone) {
      await this.#checkpoint(j, true);
      const docs = await source.fenceRange(rangeOf(m), m.sweepCursor, this.#batch, j.epoch);
      j.counters.docsRead += docs.length;
      const carried = await this.#install(j, m, target, docs);
      j.counters.docsMoved += carried;
      j.counters.swept += carried;
      m.copied += carried;
      const last = docs[docs.length - 1];
      if (last !== undefined) m.sweepCursor = cursorOf(last);
      if (docs.length < this.#batch) {
        await this.#liftRelics(j, m, source, target);
        m.sweepDone = true;
      }
      await this.#saveJournal(j);
      this.#booked(docs.length);
    }
  }

  /**
   * Resolve relics at the target: entries fenced by an earlier epoch (left there by the forward leg
   * of an aborted migration). The source is fenced for each key first, so no lagging router can
   * change it afterwards; then the source's entry, if it has data, replaces the relic, else the
   * relic's own data is the latest and is lifted (unfenced), and a relic placeholder is dropped.
   * A lifted relic is gone from the relic query, so this pass restarts from scratch on resume.
   */
  async #liftRelics(j: MigrationJournal, m: MoveProgress, source: ShardStore, target: ShardStore): Promise<void> {
    const range = rangeOf(m);
    let after: RangeCursor | null = null;
    for (;;) {
      await this.#checkpoint(j, false);
      const relics = await target.scanRange(range, after, this.#batch, { _moved: { $lt: j.epoch } });
      if (relics.length === 0) return;
      j.counters.docsRead += relics.length;
      // A relic whose data is the latest (none reached the source) is deleted below before it is
      // re-inserted unfenced; meanwhile readers fall back to the source, which must hold that data
      // (fenced), or they would read no document and a kill in between would lose it.
      const latest = relics.filter((r) => r._ph !== true).map((r) => ({ ...stripFence(r), _moved: j.epoch }));
      if (latest.length > 0) await source.insertIfAbsent(latest);
      const fenced = await source.fence(
        relics.map((r) => ({ id: r._id, h: r._h })),
        j.epoch,
      );
      j.counters.docsRead += fenced.length;
      const bySource = new Map(fenced.map((d) => [idKey(d._id), d] as const));
      const replace: StoredDocument[] = [];
      for (const relic of relics) {
        const src = bySource.get(idKey(relic._id));
        if (src !== undefined && src._ph !== true) replace.push(stripFence(src));
        else if (relic._ph !== true) replace.push(stripFence(relic));
        // A placeholder relic with nothing at the source stands for no document: deleting it is all.
      }
      await this.#ensureLease();
      const ids = relics.map((r) => r._id);
      await target.deleteRange(range, { _id: { $in: ids }, _moved: { $lt: j.epoch } }, ids.length);
      if (replace.length > 0) j.counters.docsInserted += await target.insertIfAbsent(replace);
      j.counters.relicsLifted += relics.length;
      const last = relics[relics.length - 1]!;
      after = cursorOf(last);
      if (relics.length < this.#batch) return;
    }
  }

  /**
   * Verify one move: every source entry fenced by this leg that holds data (a document or a
   * tombstone) has a current entry at the target, no unfenced entry is left at the source and no
   * stale fence with data at the target. When nobody wrote to the range during the migration, the
   * server-side checksums of `(_id, _v)` agree and no key is read at all; otherwise the fenced
   * `_id`s are listed without bodies and looked up at the target. A missing one (the copier or a
   * router was killed between fence and copy) is carried over and checked again; only what is still
   * missing counts as a mismatch, and any mismatch fails with `shardkit.migration.verifyFailed`.
   */
  async #verifyMove(j: MigrationJournal, i: number): Promise<void> {
    const m = j.moves[i]!;
    if (m.verifyDone) return;
    await this.#checkpoint(j, true);
    const source = await this.#pool.store(m.from);
    const target = await this.#pool.store(m.to);
    const range = rangeOf(m);
    const fencedFilter: StoreFilter = { _moved: j.epoch, _ph: { $exists: false } };
    const [fromSum, toSum] = await Promise.all([
      source.checksumRange(range, fencedFilter),
      target.checksumRange(range, { _moved: { $exists: false } }),
    ]);
    let checked = fromSum.count;
    let repaired = 0;
    let mismatches = 0;
    if (fromSum.count !== toSum.count || fromSum.checksum !== toSum.checksum) {
      const result = await this.#repairMissing(j, m);
      checked = result.checked;
      repaired = result.repaired;
      mismatches += result.stillMissing;
      const fencedCount = await source.countRange(range, fencedFilter);
      mismatches += Math.abs(fencedCount - checked);
    }
    const unfenced = await source.countRange(range, { _moved: { $exists: false } });
    const dataRelics = await target.countRange(range, { _moved: { $lt: j.epoch }, _ph: { $exists: false } });
    mismatches += unfenced + dataRelics;
    this.#emit({ type: 'verified', migrationId: j.id, move: i, checked, repaired, mismatches });
    if (mismatches > 0) {
      await this.#saveJournal(j);
      throw new ShardkitConflictError(
        ErrorCode.verifyFailed,
        `verify failed for move ${i} (${m.from} -> ${m.to}, (${m.start}, ${m.end}]): ${mismatches} mismatch(es) among ` +
          `${checked} fenced entries, ${unfenced} unfenced left at the source, ${dataRelics} stale fences with data at the target`,
        { shardId: m.to },
      );
    }
    m.verifyDone = true;
    await this.#saveJournal(j);
  }

  /**
   * List the `_id`s of the source entries this leg fenced that hold data, find those the target lacks,
   * and carry them over. Always safe: a fenced entry is final at the source and insert-if-absent lets
   * whatever the target holds win.
   */
  async #repairMissing(j: MigrationJournal, m: MoveProgress): Promise<{ checked: number; repaired: number; stillMissing: number }> {
    const source = await this.#pool.store(m.from);
    const target = await this.#pool.store(m.to);
    let checked = 0;
    let repaired = 0;
    let stillMissing = 0;
    for await (const ids of this.#keyPages(source, m, { _moved: j.epoch, _ph: { $exists: false } })) {
      await this.#checkpoint(j, false);
      checked += ids.length;
      j.counters.keysRead += ids.length;
      const missing = await this.#missingAt(j, target, ids);
      if (missing.length === 0) continue;
      const bodies = await source.find({ _id: { $in: missing }, _moved: j.epoch, _ph: { $exists: false } });
      j.counters.docsRead += bodies.length;
      await this.#install(j, m, target, bodies);
      repaired += bodies.length;
      j.counters.repaired += bodies.length;
      stillMissing += (await this.#missingAt(j, target, missing)).length;
    }
    return { checked, repaired, stillMissing };
  }

  async #missingAt(j: MigrationJournal, target: ShardStore, ids: readonly unknown[]): Promise<unknown[]> {
    const present = await target.find({ _id: { $in: ids }, _moved: { $exists: false } }, { projection: { _id: 1 } });
    j.counters.keysRead += present.length;
    const have = new Set(present.map((d) => idKey(d._id)));
    return ids.filter((id) => !have.has(idKey(id)));
  }

  /**
   * `_id`s of a range in `(_h, _id)` order, a page at a time, without bodies. Pages continue from
   * the last `_h` inclusively and skip the `_id`s already seen there, since a cursor on `_h` alone
   * would lose ties and `_id` comparisons across BSON types are not portable in a filter.
   */
  async *#keyPages(store: ShardStore, m: MoveProgress, filter: StoreFilter): AsyncGenerator<unknown[]> {
    let low = m.start;
    let inclusive = false;
    let seen = new Set<string>();
    for (;;) {
      const limit = this.#batch + seen.size;
      const page = await store.find(
        { ...filter, _h: inclusive ? { $gte: low, $lte: m.end } : { $gt: low, $lte: m.end } },
        { sort: { _h: 1, _id: 1 }, limit, projection: { _id: 1, _h: 1 } },
      );
      const fresh = page.filter((d) => !(d._h === low && seen.has(idKey(d._id))));
      if (fresh.length > 0) yield fresh.map((d) => d._id);
      if (page.length < limit) return;
      const lastH = page[page.length - 1]!._h;
      const atLast = page.filter((d) => d._h === lastH).map((d) => idKey(d._id));
      seen = lastH === low && inclusive ? new Set([...seen, ...atLast]) : new Set(atLast);
      low = lastH;
      inclusive = true;
    }
  }

  /** Cleanup: delete every fence and placeholder of the move's range at its source. */
  async #cleanupMove(j: MigrationJournal, i: number): Promise<void> {
    const m = j.moves[i]!;
    if (m.cleanupDone) return;
    const deleted = await this.#deleteMarkers(j, (await this.#pool.store(m.from)), rangeOf(m), { _moved: { $exists: true } });
    m.cleanupDone = true;
    await this.#saveJournal(j);
    this.#emit({ type: 'cleanup', migrationId: j.id, move: i, deleted });
  }

  /**
   * Purge: delete the tombstones of the move's range at its target (left by deletes while migrating
   * and while settling), and the placeholder relics of an aborted forward leg (verify proved no relic
   * with data is left).
   */
  async #purgeMove(j: MigrationJournal, i: number): Promise<void> {
    const m = j.moves[i]!;
    if (m.purgeDone) return;
    const deleted = await this.#deleteMarkers(j, (await this.#pool.store(m.to)), rangeOf(m), { $or: [{ _ts: true }, { _ph: true }] });
    m.purgeDone = true;
    await this.#saveJournal(j);
    this.#emit({ type: 'cleanup', migrationId: j.id, move: i, deleted });
  }

  async #deleteMarkers(j: MigrationJournal, store: ShardStore, range: HashRange, filter: StoreFilter): Promise<number> {
    let deleted = 0;
    for (;;) {
      await this.#checkpoint(j, false);
      const n = await store.deleteRange(range, filter, this.#batch);
      deleted += n;
      j.counters.deleted += n;
      this.#booked(n);
      if (n < this.#batch) return deleted;
    }
  }

  /**
   * Carry fenced entries to the target, insert-if-absent: whatever the target holds already (a
   * newer version a router wrote, a tombstone) wins. On the abort leg the target may hold relics of
   * the forward leg (fenced at an older epoch); those are older than anything at the source, so they
   * are deleted first. Returns the entries with data carried.
   */
  async #install(j: MigrationJournal, m: MoveProgress, target: ShardStore, docs: readonly StoredDocument[]): Promise<number> {
    const entries = docs.filter((d) => d._ph !== true).map(stripFence);
    if (entries.length === 0) return 0;
    await this.#ensureLease();
    if (j.reverse) {
      const ids = entries.map((d) => d._id);
      await target.deleteRange(rangeOf(m), { _id: { $in: ids }, _moved: { $lt: j.epoch } }, ids.length);
    }
    j.counters.docsInserted += await target.insertIfAbsent(entries);
    return entries.length;
  }

  // --- checkpoints, lock, waits ----------------------------------------------------------------

  /**
   * Between two batches: honour Ctrl-C, keep the lock, notice an abort request (on the forward leg,
   * before commit) and pace to the throttle.
   */
  async #checkpoint(j: MigrationJournal, abortable: boolean): Promise<void> {
    if (this.#interrupted()) {
      throw new ShardkitError(ErrorCode.interrupted, `migration ${j.id} interrupted in phase ${j.phase}; run resume to continue`);
    }
    // Pace in slices of a third of the lease, renewing the lock between them, so a low rate never
    // lets the lock lapse while the migrator is merely waiting.
    for (let wait = this.#throttle.delay(); wait > 0; wait = this.#throttle.delay()) {
      await this.#sleep(Math.min(wait, Math.max(1, this.#lockLeaseMs / 3)), this.#signal);
      if (this.#interrupted()) {
        throw new ShardkitError(ErrorCode.interrupted, `migration ${j.id} interrupted in phase ${j.phase}; run resume to continue`);
      }
      await this.#renewLock();
    }
    await this.#renewLock();
    const now = this.#clock();
    if (abortable && !j.reverse && now - this.#lastControlCheck >= this.#controlPollMs) {
      this.#lastControlCheck = now;
      const control = await this.#config.readJournal(controlKey(j.name));
      if (control?.['abort'] === true) {
        this.#emit({ type: 'abortRequested', migrationId: j.id, by: String(control['by'] ?? 'unknown') });
        throw new AbortRequested();
      }
    }
  }

  /** A method, not a field read, so the compiler does not narrow it across awaits. */
  #interrupted(): boolean {
    return this.#signal?.aborted === true;
  }

  async #takeLock(wait: boolean): Promise<void> {
    const deadline = this.#clock() + (wait ? this.#lockWaitMs : 0);
    for (;;) {
      try {
        // The lease is measured on our own clock from before the request: never later than the store's.
        const asked = this.#clock();
        await this.#config.acquireLock(this.#owner, this.#lockLeaseMs);
        this.#lockExpiresAt = asked + this.#lockLeaseMs;
        return;
      } catch (error) {
        if (!hasErrorCode(error, ErrorCode.lockHeld)) throw error;
        const held = await this.#config.readLock();
        const now = this.#clock();
        if (now >= deadline) throw error;
        const ms = Math.max(1, Math.min(deadline, held?.expiresAt ?? now) - now);
        this.#emit({ type: 'wait', migrationId: '', reason: 'lock', ms });
        await this.#sleep(ms, this.#signal);
        if (this.#interrupted()) throw error;
      }
    }
  }

  async #renewLock(): Promise<void> {
    // Renew once a third of the lease is used, so one slow store call cannot let it lapse.
    const asked = this.#clock();
    if (asked < this.#lockExpiresAt - (2 * this.#lockLeaseMs) / 3) return;
    // A lapsed lease may have let another migrator run; our in-memory journal may be stale, so stop
    // and let a resume reload it rather than renew blindly.
    if (asked >= this.#lockExpiresAt) throw this.#lapsed();
    await this.#config.acquireLock(this.#owner, this.#lockLeaseMs);
    this.#lockExpiresAt = asked + this.#lockLeaseMs;
  }

  /**
   * A migrator paused past its lease (a stopped VM, a GC storm) may have been replaced by another;
   * it must not write stale data to a target after that, so it checks before every copy.
   */
  async #ensureLease(): Promise<void> {
    await this.#renewLock();
    if (this.#clock() >= this.#lockExpiresAt) throw this.#lapsed();
  }

  #lapsed(): ShardkitConflictError {
    return new ShardkitConflictError(
      ErrorCode.lockHeld,
      `migration lock lease of ${this.#owner} lapsed; stopped before any further write (run resume to continue)`,
    );
  }

  async #releaseLock(): Promise<void> {
    try {
      await this.#config.releaseLock(this.#owner);
    } catch {
      // The lease lapses by itself; a failed release only delays the next resume.
    }
  }

  /** Wait until every router has dropped the state older than the one published at `since`. */
  async #waitRouters(j: MigrationJournal, since: number | null): Promise<void> {
    const until = (since ?? this.#clock()) + this.#leaseMs + this.#opTimeoutMs;
    let remaining = until - this.#clock();
    if (remaining > 0) this.#emit({ type: 'wait', migrationId: j.id, reason: 'routerLease', ms: remaining });
    while (remaining > 0) {
      await this.#checkpoint(j, j.phase === Phase.sweep);
      // Sleep in slices of a third of the lease so the lock is renewed while waiting.
      await this.#sleep(Math.min(remaining, Math.max(1, this.#lockLeaseMs / 3)), this.#signal);
      remaining = until - this.#clock();
    }
  }

  // --- journal, events -------------------------------------------------------------------------

  async #readJournal(name: string): Promise<MigrationJournal | null> {
    const record = await this.#config.readJournal(journalKey(name));
    return record === null ? null : journalFromRecord(record);
  }

  async #requireJournal(): Promise<MigrationJournal> {
    const live = await this.#config.load();
    if (live === null) throw migrationStateError('no topology is published yet');
    const journal = await this.#readJournal(topologyName(live.topology));
    if (journal === null) throw migrationStateError(`no migration of "${live.topology.name}" is recorded`);
    return journal;
  }

  async #saveJournal(j: MigrationJournal): Promise<void> {
    await this.#config.writeJournal(journalKey(j.name), journalToRecord(j));
  }

  #booked(n: number): void {
    this.#runDocs += n;
    this.#throttle.consume(n);
  }

  #progress(j: MigrationJournal, i: number): void {
    const m = j.moves[i]!;
    let totalCopied = 0;
    let totalEstimated = 0;
    for (const x of j.moves) {
      totalCopied += x.copied;
      totalEstimated += Math.max(x.estimated, x.copied);
    }
    const elapsed = this.#clock() - this.#runStartedAt;
    const docsPerSec = elapsed > 0 ? (this.#runDocs * 1000) / elapsed : 0;
    const remaining = totalEstimated - totalCopied;
    const etaMs = remaining <= 0 ? 0 : docsPerSec > 0 ? Math.round((remaining * 1000) / docsPerSec) : null;
    this.#emit({
      type: 'progress',
      migrationId: j.id,
      phase: j.phase,
      move: i,
      moves: j.moves.length,
      from: m.from,
      to: m.to,
      copied: m.copied,
      estimated: Math.max(m.estimated, m.copied),
      totalCopied,
      totalEstimated,
      docsPerSec,
      etaMs,
    });
  }

  #emit(event: MigrationEvent): void {
    try {
      this.#onEvent(event);
    } catch {
      // A failing progress bar must not fail a migration.
    }
  }

  #report(j: MigrationJournal): MigrationReport {
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
}

function freshMove(start: number, end: number, from: string, to: string, estimated: number): MoveProgress {
  return {
    start,
    end,
    from,
    to,
    estimated,
    copied: 0,
    cursor: null,
    copyDone: false,
    sweepCursor: null,
    sweepDone: false,
    verifyDone: false,
    cleanupDone: false,
    purgeDone: false,
  };
}
