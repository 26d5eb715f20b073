import type { RoutingState, RoutingStateReader } from '../router/routing-state.js';

/** A lock with an owner and a lease; one migration at a time per topology. */
export interface LockInfo {
  readonly owner: string;
  readonly expiresAt: number;
  readonly acquiredAt: number;
}

/** Where the topology, the migration lock and the journal live. */
export interface ConfigStore extends RoutingStateReader {
  /** Current routing state; null when nothing was published yet. */
  load(): Promise<RoutingState | null>;
  /** Publish `next` if the current epoch is `expectedEpoch` (null: none yet); else `shardkit.topology.staleEpoch`. */
  compareAndSet(expectedEpoch: number | null, next: RoutingState): Promise<void>;
  /** Take the lock for `owner` for `leaseMs`, or renew it if `owner` holds it; else `shardkit.migration.lockHeld`. */
  acquireLock(owner: string, leaseMs: number): Promise<LockInfo>;
  /** Release the lock if `owner` holds it. */
  releaseLock(owner: string): Promise<void>;
  /** The lock, if any holder's lease is still running. */
  readLock(): Promise<LockInfo | null>;
  /** Read the migration journal entry `key` (checkpoints, phase), or null. */
  readJournal(key: string): Promise<Record<string, unknown> | null>;
  /** Write (replace) the journal entry `key`. */
  writeJournal(key: string, value: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
