/**
 * The migration lock as one run holds it: taken before anything is published, renewed on its own
 * timer every third of its lease (so no slow data call can let it lapse), and never trusted after
 * it lapsed: a run whose lease ran out stops before its next write and may go on only once the
 * config store confirms that nobody took the lock meanwhile (ADR 0002 point 4, ADR 0006).
 */
import { sleep, type Clock } from '../clock.js';
import type { ConfigStore } from '../config-store/types.js';
import { ErrorCode, ShardkitConflictError, hasErrorCode } from '../errors.js';

/** What a {@link MigrationLock} needs to know. */
export interface MigrationLockOptions {
  readonly config: ConfigStore;
  readonly owner: string;
  /** Lease asked for on every take and renewal (ms). */
  readonly leaseMs: number;
  /** How long a waiting take waits for a dead holder's lease to lapse (ms). */
  readonly waitMs: number;
  readonly clock: Clock;
  /** Told how long a waiting take sleeps before it asks again. */
  readonly onWait: (ms: number) => void;
}

/**
 * Thrown when this run's own lease ran out (a paused process, an unreachable config store): the run
 * stops before its next write. Unlike a refusal by the config store, it does not say that another
 * migrator took over, so the run may recover ({@link MigrationLock.recover}).
 */
export class LockLapsedError extends ShardkitConflictError {
  override get name(): string {
    return 'LockLapsedError';
  }
}

/**
 * The lock of one run. Its lease is kept on the local monotonic clock from before each request, so
 * it never ends later than the store's (wall-clock) lease does.
 */
export class MigrationLock {
  readonly #o: MigrationLockOptions;
  #expiresAt = 0;
  #generation: number | undefined;
  /** Set once the config store refused this generation: another migrator took over for good. */
  #lost: ShardkitConflictError | undefined;
  #timer: unknown;
  #renewing: Promise<void> | undefined;
  #held = false;

  constructor(options: MigrationLockOptions) {
    this.#o = options;
  }

  /**
   * Take the lock; with `wait`, wait up to `waitMs` for another holder's lease to lapse. The wait
   * is not cut short by the run's AbortSignal, as before the run object existed: the signal
   * belongs to the run, which starts once the lock is held.
   */
  async take(wait: boolean): Promise<void> {
    const { config, owner, leaseMs, clock } = this.#o;
    const deadline = clock.now() + (wait ? this.#o.waitMs : 0);
    for (;;) {
      try {
        const asked = clock.now();
        const lock = await config.acquireLock(owner, leaseMs);
        this.#expiresAt = asked + leaseMs;
        this.#generation = lock.generation;
        this.#held = true;
        this.#arm(leaseMs / 3);
        return;
      } catch (error) {
        if (!hasErrorCode(error, ErrorCode.lockHeld)) throw error;
        const held = await config.readLock();
        const now = clock.now();
        if (now >= deadline) throw error;
        // The holder's expiry is the store's wall time; our deadline is monotonic.
        const wallNow = clock.wall();
        const ms = Math.max(1, Math.min(deadline - now, (held?.expiresAt ?? wallNow) - wallNow));
        this.#o.onWait(ms);
        await sleep(clock, ms);
      }
    }
  }

  /**
   * Renew once a third of the lease is used. The timer does this by itself; a checkpoint calls it
   * too, so a timer starved by a busy event loop is caught up before the next batch.
   */
  async renew(): Promise<void> {
    if (this.#lost !== undefined) throw this.#lost;
    const { leaseMs, clock } = this.#o;
    if (clock.now() < this.#expiresAt - (2 * leaseMs) / 3) return;
    await this.#renewNow();
  }

  /**
   * The generation this run took (its fencing token), which every journal write carries so that a
   * migrator paused past its lease writes nothing once another has taken over (ADR 0003).
   */
  get generation(): number | undefined {
    return this.#generation;
  }

  /**
   * A migrator paused past its lease (a stopped VM, a GC storm) may have been replaced by another;
   * it must not write stale data to a target after that, so it checks before every copy.
   */
  async ensure(): Promise<void> {
    await this.renew();
    if (this.#o.clock.now() >= this.#expiresAt) throw this.#lapsed();
  }

  /**
   * After a lapse or a transient failure, before the run goes on: renew this very generation. The
   * config store grants it only while no other migrator has taken the lock since (the generation
   * is still the latest), which is exactly when this run's journal is still the last word; else the
   * refusal (`shardkit.migration.lockHeld`) is final and the run stops.
   */
  async recover(): Promise<void> {
    if (this.#lost !== undefined) throw this.#lost;
    const { config, owner, leaseMs, clock } = this.#o;
    const asked = clock.now();
    try {
      await config.acquireLock(owner, leaseMs, this.#generation);
    } catch (error) {
      if (hasErrorCode(error, ErrorCode.lockHeld)) this.#lose(error);
      throw error;
    }
    this.#expiresAt = asked + leaseMs;
    if (this.#held && this.#timer === undefined) this.#arm(leaseMs / 3);
  }

  async release(): Promise<void> {
    this.#held = false;
    this.#disarm();
    // A renewal still in flight would land after the release and hold the lock for another lease.
    await this.#renewing?.catch(() => undefined);
    try {
      await this.#o.config.releaseLock(this.#o.owner);
    } catch {
      // The lease lapses by itself; a failed release only delays the next resume.
    }
  }

  /** One renewal at a time: the timer's and a checkpoint's share the request in flight. */
  async #renewNow(): Promise<void> {
    if (this.#renewing === undefined) {
      this.#renewing = this.#request().finally(() => {
        this.#renewing = undefined;
      });
    }
    await this.#renewing;
  }

  async #request(): Promise<void> {
    if (this.#lost !== undefined) throw this.#lost;
    const { config, owner, leaseMs, clock } = this.#o;
    const asked = clock.now();
    // A lapsed lease may have let another migrator run; our in-memory journal may be stale, so stop
    // and let the run recover (or a resume reload it) rather than renew blindly.
    if (asked >= this.#expiresAt) throw this.#lapsed();
    try {
      // Renew our generation only: if another migrator took the lock meanwhile, this refuses.
      await config.acquireLock(owner, leaseMs, this.#generation);
    } catch (error) {
      if (hasErrorCode(error, ErrorCode.lockHeld)) this.#lose(error);
      throw error;
    }
    this.#expiresAt = Math.max(this.#expiresAt, asked + leaseMs);
  }

  /**
   * The renewal timer. A failed renewal (the config store slow or unreachable) is tried again
   * sooner; a lapse or a refusal stops the timer, and the run's next check stops the run.
   */
  #arm(ms: number): void {
    this.#disarm();
    const { clock, leaseMs } = this.#o;
    this.#timer = clock.setTimeout(() => {
      this.#timer = undefined;
      if (!this.#held) return;
      this.#renewNow().then(
        () => this.#held && this.#arm(leaseMs / 3),
        () => this.#held && this.#lost === undefined && clock.now() < this.#expiresAt && this.#arm(Math.max(1, leaseMs / 10)),
      );
    }, Math.max(1, ms));
  }

  #disarm(): void {
    if (this.#timer === undefined) return;
    this.#o.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #lose(error: unknown): void {
    this.#lost =
      error instanceof ShardkitConflictError
        ? error
        : new ShardkitConflictError(ErrorCode.lockHeld, `migration lock of ${this.#o.owner} was taken over`, { cause: error });
    this.#disarm();
  }

  #lapsed(): LockLapsedError {
    return new LockLapsedError(
      ErrorCode.lockHeld,
      `migration lock lease of ${this.#o.owner} lapsed; stopped before any further write (run resume to continue)`,
    );
  }
}
