import type { TopologySpec } from '../topology/types.js';

/**
 * What routers follow. `stable(e, R)` routes by R; `migrating(e, R1 -> R2)` routes keys whose owner
 * changes by the protocol of DESIGN.md (new owner first, fence at the old one). Epochs only grow;
 * every change is a compare-and-set on the epoch.
 */
export type RoutingState =
  | {
      readonly phase: 'stable';
      readonly epoch: number;
      readonly topology: TopologySpec;
      /**
       * Set on the state a migration commits, until its cleanup has removed the old owners' fenced
       * copies: while it is set, a delete of a key the migration moved leaves a tombstone at the owner
       * instead of nothing, so a copy of the fenced document still in flight from a router on the
       * migrating state cannot bring the deleted document back (ADR 0003). The migrator then publishes
       * the same topology without it, waits for every router's lease, and removes those tombstones.
       */
      readonly settling?: Settling;
    }
  | {
      readonly phase: 'migrating';
      readonly epoch: number;
      /** R1, the owners before. */
      readonly from: TopologySpec;
      /** R2, the owners after. */
      readonly topology: TopologySpec;
      readonly migrationId: string;
    };

/** The migration a committed stable state follows (see `RoutingState`). */
export interface Settling {
  /** The owners before that migration (its leg's R1). */
  readonly from: TopologySpec;
  readonly migrationId: string;
}

/** A lock with an owner and a lease; one migration at a time per topology. */
export interface LockInfo {
  readonly owner: string;
  readonly expiresAt: number;
  readonly acquiredAt: number;
}

/** Where the topology, the migration lock and the journal live. */
export interface ConfigStore {
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
