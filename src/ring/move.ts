/**
 * Number of points on the ring: every uint32 is a point, so shares and move sizes are exact
 * integers out of this total.
 */
export const RING_SIZE = 2 ** 32;

/** Largest ring point. */
export const MAX_POINT = 0xffffffff;

/**
 * A stretch of hash space whose owner changes between two rings: the points `p` with
 * `start < p <= end`, moving from shard `from` to shard `to`.
 *
 * `-1 <= start < end <= 0xFFFFFFFF`. A move never wraps: an arc that crosses the top of the space is
 * split there (ADR 0001), so every move is one `_h > start AND _h <= end` range scan. Adjacent moves
 * with the same `from` and `to` are merged, so a list of moves is as short as it can be.
 */
export interface Move {
  /** Exclusive lower bound, -1 to include point 0. */
  readonly start: number;
  /** Inclusive upper bound. */
  readonly end: number;
  /** Shard that owns the range before. */
  readonly from: string;
  /** Shard that owns the range after. */
  readonly to: string;
}

/** Number of points a move covers. */
export function moveSize(move: Move): number {
  return move.end - move.start;
}

/** True when `point` lies in the move's range. */
export function moveContains(move: Move, point: number): boolean {
  return point > move.start && point <= move.end;
}
