/**
 * The one formula the migration's waits rest on (ADR 0003, "The bound"): how long after a new routing
 * state is published a write admitted under the state it replaced can still take effect at a shard.
 *
 * - A router serves a state only while a config-store load sent no more than `leaseMs` ago vouches for
 *   it (`TopologyFollower`: the lease counts from the send, every load is bounded by the lease, and an
 *   answer arriving after its lease is never served). A load that answered the old state was sent
 *   before the publish returned, so no store call is admitted under the old state later than
 *   `publish + leaseMs`.
 * - A store call has one deadline, at most `opTimeoutMs` after it is admitted (`ResilientStore`,
 *   `MongoStore`, `deadline.ts`): nothing of it starts at a shard after the deadline, and what already
 *   runs at the server is cut by `maxTimeMS` to the time left.
 *
 * So every such write has landed, or never will, by `publish + leaseMs + opTimeoutMs`.
 */

/** What the bound depends on, as the deployment's config names it. */
export interface DrainBoundSettings {
  /** Routers' lease on a routing state (ms); also the bound of one config-store load. */
  readonly leaseMs: number;
  /** Deadline of one store call, retries included (ms). */
  readonly opTimeoutMs: number;
}

/**
 * How long (ms) after a publish, measured from when its compare-and-set returned, every write admitted
 * under the replaced routing state has taken effect or never will.
 */
export function routerDrainMs(settings: DrainBoundSettings): number {
  return settings.leaseMs + settings.opTimeoutMs;
}
