import type { Ring } from '../ring/ring.js';
import { RING_SIZE } from '../ring/move.js';
import type { TopologySpec } from '../topology/types.js';

/**
 * Worst load relative to fair load: the largest `share / idealShare` over the shards that are not
 * draining, where a shard's ideal share is its weight over the total active weight. 1.0 is a
 * perfectly even ring; with equal weights this is the familiar max/mean.
 */
export function peakToMean(t: TopologySpec, shares: ReadonlyMap<string, number>): number {
  const active = t.shards.filter((s) => s.draining !== true);
  const total = active.reduce((sum, s) => sum + s.weight, 0);
  let peak = 0;
  for (const s of active) peak = Math.max(peak, (shares.get(s.id) ?? 0) / (s.weight / total));
  return peak;
}

/** How a ring splits the hash space: exact fractions, point counts and peak-to-mean. */
export interface ShareReport {
  /** Exact fraction of the 2^32 space per shard (0 for draining shards). */
  readonly shares: Map<string, number>;
  /** Ring points (vnodes) per shard. */
  readonly points: Map<string, number>;
  readonly peakToMean: number;
}

/** The share report of `ring`, built from topology `t`. */
export function shareReport(t: TopologySpec, ring: Ring): ShareReport {
  const shares = new Map<string, number>();
  for (const [id, arc] of ring.arcs()) shares.set(id, arc / RING_SIZE);
  const counts = new Uint32Array(ring.shardIds.length);
  for (const owner of ring.owners) counts[owner]! += 1;
  const points = new Map<string, number>();
  ring.shardIds.forEach((id, i) => points.set(id, counts[i] ?? 0));
  return { shares, points, peakToMean: peakToMean(t, shares) };
}
