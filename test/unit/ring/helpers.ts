import type { Ring } from '../../../src/ring/ring.js';
import type { Move } from '../../../src/ring/move.js';
import { MAX_POINT, RING_SIZE } from '../../../src/ring/move.js';
import type { Topology } from '../../../src/topology/topology.js';
import { prng } from '../../../src/demo/writers.js';

/** Owner of a point by linear scan: the reference the ring's lookup is checked against. */
export function ownerByScan(ring: Ring, point: number): string {
  for (let i = 0; i < ring.points.length; i++) {
    if (ring.points[i]! >= point) return ring.shardIds[ring.owners[i]!]!;
  }
  return ring.shardIds[ring.owners[0]!]!;
}

/**
 * Every point where ownership can change in either ring, with its neighbours: ownership is
 * constant between consecutive ring points, so checking these checks the whole 2^32 space.
 */
export function probePoints(a: Ring, b: Ring): number[] {
  const out = new Set<number>([0, MAX_POINT]);
  for (const r of [a, b]) {
    for (const p of r.points) {
      out.add(p);
      if (p > 0) out.add(p - 1);
      if (p < MAX_POINT) out.add(p + 1);
    }
  }
  return [...out].sort((x, y) => x - y);
}

/** Index of the move holding `point`, or -1 (moves are sorted and disjoint). */
export function moveIndexOf(moves: readonly Move[], point: number): number {
  let lo = 0;
  let hi = moves.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = moves[mid]!;
    if (point <= m.start) hi = mid - 1;
    else if (point > m.end) lo = mid + 1;
    else return mid;
  }
  return -1;
}

/** Largest (exact share / weight share) over the non-draining shards. */
export function peakToMean(t: Topology, ring: Ring): number {
  const arcs = ring.arcs();
  const active = t.activeShards();
  const total = active.reduce((s, x) => s + x.weight, 0);
  let peak = 0;
  for (const s of active) peak = Math.max(peak, arcs.get(s.id)! / RING_SIZE / (s.weight / total));
  return peak;
}

/** Deterministic pseudo-random uint32 stream (the demo's mulberry32, scaled exactly), so failures reproduce. */
export function rng(seed: number): () => number {
  const next = prng(seed);
  return () => next() * 4294967296;
}
