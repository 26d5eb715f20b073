/**
 * The migration lock as one run holds it: taken before anything is published, renewed once a third
 * of its lease is used, and never renewed after it lapsed (ADR 0002, point 4).
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
 * The lock of one run. Its lease is kept on the local monotonic clock from before each request, so
 * it never ends later than the store's (wall-clock) lease does.
 */
export class MigrationLock {
  readonly #o: MigrationLockOptions;
  #expiresAt = 0;
  #generation: number | undefined;

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

  /** Renew once a third of the lease is used, so one slow store call cannot let it lapse. */
  async renew(): Promise<void> {
    const { config, owner, leaseMs, clock } = this.#o;
    const asked = clock.now();
    if (asked < this.#expiresAt - (2 * leaseMs) / 3) return;
    // A lapsed lease may have let another migrator run; our in-memory journal may be stale, so stop
    // and let a resume reload it rather than renew blindly.
    if (asked >= this.#expiresAt) throw this.#lapsed();
    // Renew our generation only: if another migrator took the lock meanwhile, this refuses.
    await config.acquireLock(owner, leaseMs, this.#generation);
    this.#expiresAt = asked + leaseMs;
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

  async release(): Promise<void> {
    try {
      await this.#o.config.releaseLock(this.#o.owner);
    } catch {
      // The lease lapses by itself; a failed release only delays the next resume.
    }
  }

  #lapsed(): ShardkitConflictError {
    return new ShardkitConflictError(
      ErrorCode.lockHeld,
      `migration lock lease of ${this.#o.owner} lapsed; stopped before any further write (run resume to continue)`,
    );
  }
}
