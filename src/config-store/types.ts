import type { RoutingState, RoutingStateReader } from '../router/routing-state.js';

/** A lock with an owner and a lease; one migration at a time per topology. */
export interface LockInfo {
  readonly owner: string;
  /**
   * Wall time after which other hosts may take the lock. The MongoDB store adds twice its clock-skew
   * allowance to the lease (ADR 0007), so the holder goes by its own monotonic lease, not by this.
   */
  readonly expiresAt: number;
  readonly acquiredAt: number;
  /**
   * Fencing token: grows by one every time the lock is taken (not when its holder renews it), and
   * never goes back, release included. A migrator carries the generation it took into every renewal
   * and journal write, so one paused past its lease changes nothing once another has taken over.
   */
  readonly generation: number;
}

/** Where the topology, the migration lock and the journal live. */
export interface ConfigStore extends RoutingStateReader {
  /** Current routing state; null when nothing was published yet. */
  load(): Promise<RoutingState | null>;
  /** Publish `next` if the current epoch is `expectedEpoch` (null: none yet); else `shardkit.topology.staleEpoch`. */
  compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void>;
  /**
   * Take the lock for `owner` for `leaseMs`, or renew it if `owner` holds it; else
   * `shardkit.migration.lockHeld`. With `generation`, only renew that generation: if the lock was
   * taken since (by anyone), `shardkit.migration.lockHeld` and nothing changes.
   */
  acquireLock(owner: string, leaseMs: number, generation?: number): Promise<LockInfo>;
  /** Release the lock if `owner` holds it. */
  releaseLock(owner: string): Promise<void>;
  /** The lock, if any holder's lease is still running. */
  readLock(): Promise<LockInfo | null>;
  /** Read the migration journal entry `key` (checkpoints, phase), or null. */
  readJournal(key: string): Promise<Record<string, unknown> | null>;
  /**
   * Write (replace) the journal entry `key`. With `generation`, write only while no later lock
   * generation exists (and never over an entry a later generation wrote): else
   * `shardkit.migration.lockHeld` and nothing is written.
   */
  writeJournal(key: string, value: Record<string, unknown>, generation?: number): Promise<void>;
  close(): Promise<void>;
}
