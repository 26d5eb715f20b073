/**
 * One run of the migrator (a `start`, `resume` or `abort` call): the per-run state (the lock it
 * holds, its AbortSignal, when it last looked for an abort request, its rate) and the checkpoint
 * every batch passes through. The Migrator itself keeps only its configuration.
 */
import { sleep, type Clock } from '../clock.js';
import type { ConfigStore } from '../config-store/types.js';
import { ErrorCode, ShardkitError } from '../errors.js';
import { routerDrainMs } from '../router/drain-bound.js';
import type { StoreProvider } from '../stores/store-provider.js';
import { progressEvent, type MigrationEvent } from './events.js';
import { Phase, controlKey, journalKey, journalToRecord, type MigrationJournal } from './journal.js';
import { MigrationLock } from './lock.js';
import { AdaptiveThrottle, type Throttle } from './throttle.js';

/** The Migrator's configuration, validated once in its constructor and shared by its runs. */
export interface MigratorSettings {
  readonly config: ConfigStore;
  readonly pool: StoreProvider;
  readonly owner: string;
  readonly leaseMs: number;
  readonly lockLeaseMs: number;
  readonly lockWaitMs: number;
  readonly opTimeoutMs: number;
  readonly batch: number;
  /** Source/target pairs worked on at once (>= 1). */
  readonly concurrency: number;
  readonly clock: Clock;
  readonly throttle: Throttle;
  readonly onEvent: (event: MigrationEvent) => void;
  readonly controlPollMs: number;
  /** How long one fault may keep failing the run's steps before the run stops (ms; 0: no retry). */
  readonly retryBudgetMs: number;
  /** Backoff before the first retry of a fault, doubled per attempt up to {@link retryMaxDelayMs}, full jitter (ms). */
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  /** Uniform in [0, 1): the jitter's draw. */
  readonly random: () => number;
}

/** Thrown by a checkpoint when another process asked for an abort; the leg loop catches it. */
export class AbortRequested extends Error {}

/** The state and the checkpoints of one run. */
export class MigrationRun {
  readonly s: MigratorSettings;
  readonly lock: MigrationLock;
  readonly #signal: AbortSignal | undefined;
  #lastControlCheck = Number.NEGATIVE_INFINITY;
  #startedAt = 0;
  #docs = 0;
  #progressAt = Number.NEGATIVE_INFINITY;
  /** The migration the last progress report named (a throttle decision names it too). */
  #migrationId = '';

  constructor(settings: MigratorSettings, signal: AbortSignal | undefined) {
    this.s = settings;
    this.#signal = signal;
    // The operator hears why the copy slows down or speeds up, not only that it does.
    if (settings.throttle instanceof AdaptiveThrottle) {
      settings.throttle.onDecision = (decision) => this.emit({ type: 'throttle', migrationId: this.#migrationId, ...decision });
    }
    this.lock = new MigrationLock({
      config: settings.config,
      owner: settings.owner,
      leaseMs: settings.lockLeaseMs,
      waitMs: settings.lockWaitMs,
      clock: settings.clock,
      onWait: (ms) => this.emit({ type: 'wait', migrationId: '', reason: 'lock', ms }),
    });
  }

  /** The legs begin: the rate of this run is measured from here. */
  begin(): void {
    this.#startedAt = this.s.clock.now();
    this.#docs = 0;
    this.#lastControlCheck = Number.NEGATIVE_INFINITY;
  }

  /**
   * Between two batches: honour Ctrl-C, keep the lock, notice an abort request (on the forward leg,
   * before commit) and pace to the throttle: until `due`, what this worker's last {@link booked}
   * returned, so the pairs sharing the throttle take turns (without it, until all booked work fits).
   */
  async checkpoint(j: MigrationJournal, abortable: boolean, due?: number | null): Promise<void> {
    const { clock, throttle, config } = this.s;
    if (this.#interrupted()) throw interruptedError(j);
    // Pace in slices of a third of the lease, renewing the lock between them, so a low rate never
    // lets the lock lapse while the migrator is merely waiting.
    for (let wait = throttle.delay(due); wait > 0; wait = throttle.delay(due)) {
      await sleep(clock, Math.min(wait, this.#slice()), this.#signal);
      if (this.#interrupted()) throw interruptedError(j);
      await this.lock.renew();
    }
    await this.lock.renew();
    const now = clock.now();
    if (abortable && !j.reverse && now - this.#lastControlCheck >= this.s.controlPollMs) {
      this.#lastControlCheck = now;
      const control = await config.readJournal(controlKey(j.name));
      if (control?.['abort'] === true) {
        this.emit({ type: 'abortRequested', migrationId: j.id, by: String(control['by'] ?? 'unknown') });
        throw new AbortRequested();
      }
    }
  }

  /**
   * Wait until every router has dropped the state older than the one published at `since`. `since`
   * is a journal timestamp, wall time: a resumed migrator in another process reads it, so the
   * remaining wait is taken from the wall clock once and then measured on the monotonic one.
   */
  async waitRouters(j: MigrationJournal, since: number | null): Promise<void> {
    const { clock } = this.s;
    const wall = clock.wall();
    const until = clock.now() + (since ?? wall) + routerDrainMs(this.s) - wall;
    let remaining = until - clock.now();
    if (remaining > 0) this.emit({ type: 'wait', migrationId: j.id, reason: 'routerLease', ms: remaining });
    while (remaining > 0) {
      await this.checkpoint(j, j.phase === Phase.sweep);
      // Sleep in slices of a third of the lease so the lock is renewed while waiting.
      await sleep(clock, Math.min(remaining, this.#slice()), this.#signal);
      remaining = until - clock.now();
    }
  }

  /**
   * Checkpoint the journal in the config store, fenced by this run's lock generation: once another
   * migrator has taken the lock, the write is refused (`lockHeld`) and changes nothing.
   */
  async save(j: MigrationJournal): Promise<void> {
    await this.s.config.writeJournal(journalKey(j.name), journalToRecord(j), this.lock.generation);
  }

  /**
   * When this run last made progress (monotonic): a routing state published, or work booked. That
   * ends a fault's retries. A checkpoint alone is not progress, nor is a per-move phase reached:
   * while a target is down, each repeated copy step lists the same batch again and stops at its
   * probe of the target, so only booked work says the fault has passed.
   */
  get progressAt(): number {
    return this.#progressAt;
  }

  /** A routing state was published: the run moved on. */
  published(): void {
    this.#progressAt = this.s.clock.now();
  }

  /** True once the run's AbortSignal fired (Ctrl-C). */
  interrupted(): boolean {
    return this.#interrupted();
  }

  /** Sleep on the run's clock; Ctrl-C cuts it short. */
  async pause(ms: number): Promise<void> {
    await sleep(this.s.clock, ms, this.#signal);
  }

  /** Write the control entry as this run's lock holder (fenced like {@link save}). */
  async saveControl(j: { readonly name: string }, value: Record<string, unknown>): Promise<void> {
    await this.s.config.writeJournal(controlKey(j.name), value, this.lock.generation);
  }

  /**
   * Book `n` items of work done (keys fenced, markers deleted), `n * cost` documents' worth of it for
   * the throttle (a marker deleted costs `MARKER_DELETE_COST` of a document copied, throttle.ts).
   * Returns when that work fits the pace, for the booking worker's next {@link checkpoint}.
   */
  booked(n: number, cost = 1): number | null {
    if (n > 0) this.#progressAt = this.s.clock.now();
    return this.s.throttle.consume(n * cost);
  }

  /**
   * Count `n` documents copied into their moves for this run's rate, the unit the progress counts
   * and the ETA divides (not the keys booked for the throttle). Counted when the moves' `copied` are,
   * so the rate and the totals beside it agree.
   */
  copied(n: number): void {
    this.#docs += n;
  }

  /** Name `j` in the events nothing else names it in (the throttle's decisions). */
  names(j: MigrationJournal): void {
    this.#migrationId = j.id;
  }

  /** Report the progress of move `i`. */
  progress(j: MigrationJournal, i: number): void {
    this.#migrationId = j.id;
    this.emit(progressEvent(j, i, this.s.clock.now() - this.#startedAt, this.#docs));
  }

  emit(event: MigrationEvent): void {
    try {
      this.s.onEvent(event);
    } catch {
      // A failing progress bar must not fail a migration.
    }
  }

  /** A method, not a field read, so the compiler does not narrow it across awaits. */
  #interrupted(): boolean {
    return this.#signal?.aborted === true;
  }

  #slice(): number {
    return Math.max(1, this.s.lockLeaseMs / 3);
  }
}

/** The error a checkpoint throws on Ctrl-C: the journal is consistent, `resume` continues. */
export function interruptedError(j: MigrationJournal): ShardkitError {
  return new ShardkitError(ErrorCode.interrupted, `migration ${j.id} interrupted in phase ${j.phase}; run resume to continue`);
}
