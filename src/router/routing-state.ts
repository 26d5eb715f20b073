/**
 * The routing-state contract: what a config store publishes and every router follows. It sits in the
 * router layer so the layers that route (router, collection) and the one that stores it (config store)
 * all import it from above.
 */
import type { TopologySpec } from '../topology/types.js';

/**
 * What routers follow. `stable(e, R)` routes by R; `migrating(e, R1 -> R2)` routes keys whose owner
 * changes by the online migration protocol of ADR 0002 (writes go to the one unfenced copy, else fence the old owner and go to the new one; reads ask both). Epochs only grow;
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

/**
 * Where a router reads the routing state: the one call a `TopologyFollower` makes. A config store is
 * one (`ConfigStore` extends it); the contract lives here so the router layer never imports the
 * config-store layer below it.
 */
export interface RoutingStateReader {
  /** The current routing state; null when nothing was published yet. */
  load(): Promise<RoutingState | null>;
}
