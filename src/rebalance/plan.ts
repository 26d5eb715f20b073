import { ErrorCode, ShardkitInputError } from '../errors.js';
import type { Move } from '../ring/move.js';
import { RING_SIZE } from '../ring/move.js';
import { Ring } from '../ring/ring.js';
import { shardKeyOf } from '../topology/shard-key.js';
import { Topology } from '../topology/topology.js';
import type { TopologySpec } from '../topology/types.js';

/** Hash-space shares of one shard in a {@link RebalancePlan}, each a fraction of 2^32. */
export interface ShardFlow {
  /** Share that moves onto the shard. */
  readonly in: number;
  /** Share that moves off the shard. */
  readonly out: number;
  /** Share the shard owns before. */
  readonly before: number;
  /** Share the shard owns after. */
  readonly after: number;
}

/** What changes hands between two topologies. Pure data: safe to print, store or compare. */
export interface RebalancePlan {
  readonly fromEpoch: number;
  readonly toEpoch: number;
  /** Non-wrapping, merged ranges in ascending order (see {@link Move}). */
  readonly moves: Move[];
  /** Share of the hash space whose owner changes: the sum of move sizes over 2^32. */
  readonly movedFraction: number;
  /**
   * The least share any plan reaching the new shares must move: the sum over shards of
   * `max(0, after - before)`. `movedFraction / minimalFraction` is 1 for a single-shard add, remove
   * or reweight on a consistent-hash ring.
   */
  readonly minimalFraction: number;
  /** Per shard id present in either topology. */
  readonly perShard: Record<string, ShardFlow>;
}

/**
 * Refuse a change of shard key between two topologies of one deployment: every document's point would
 * change, which no range move describes.
 *
 * @throws ShardkitInputError `shardkit.shardKey.changed`.
 */
export function assertSameShardKey(from: Pick<TopologySpec, 'shardKey'>, to: Pick<TopologySpec, 'shardKey'>): void {
  const before = shardKeyOf(from);
  const after = shardKeyOf(to);
  if (before !== after) {
    throw new ShardkitInputError(
      ErrorCode.shardKeyChanged,
      `cannot change the shard key from ${JSON.stringify(before)} to ${JSON.stringify(after)} on a live deployment: every document would move (ADR 0008)`,
    );
  }
}

/**
 * The moves that take the ring of `from` to the ring of `to`, with how much of the hash space
 * changes owner against the least that must. Pure: validates both (plain objects through
 * `Topology.from`), builds both rings and diffs them.
 *
 * Sizes are computed on exact integer point counts and divided by 2^32 once, so a plan's fractions
 * add up to the bit (`sum(in) === sum(out) === movedFraction`).
 *
 * @throws ShardkitInputError `shardkit.topology.invalid` when the two topologies use different
 * hashes: every key's point would change, which no range move describes. The topologies' own
 * validation errors otherwise.
 */
export function planRebalance(fromInput: Topology | TopologySpec, toInput: Topology | TopologySpec): RebalancePlan {
  const from = Topology.from(fromInput);
  const to = Topology.from(toInput);
  if (from.hash !== to.hash) {
    throw new ShardkitInputError(
      ErrorCode.topologyInvalid,
      `cannot plan a rebalance from hash ${from.hash} to hash ${to.hash}: every key's point would change`,
    );
  }
  assertSameShardKey(from, to);
  const before = Ring.fromTopology(from);
  const after = Ring.fromTopology(to);
  const moves = before.diff(after);

  const arcsBefore = before.arcs();
  const arcsAfter = after.arcs();
  const ids = new Set<string>([...arcsBefore.keys(), ...arcsAfter.keys()]);
  const flowIn = new Map<string, number>();
  const flowOut = new Map<string, number>();
  let moved = 0;
  for (const m of moves) {
    const size = m.end - m.start;
    moved += size;
    flowIn.set(m.to, (flowIn.get(m.to) ?? 0) + size);
    flowOut.set(m.from, (flowOut.get(m.from) ?? 0) + size);
  }

  let minimal = 0;
  const perShard: Array<[string, ShardFlow]> = [];
  for (const id of ids) {
    const b = arcsBefore.get(id) ?? 0;
    const a = arcsAfter.get(id) ?? 0;
    minimal += Math.max(0, a - b);
    perShard.push([
      id,
      {
        in: (flowIn.get(id) ?? 0) / RING_SIZE,
        out: (flowOut.get(id) ?? 0) / RING_SIZE,
        before: b / RING_SIZE,
        after: a / RING_SIZE,
      },
    ]);
  }

  return {
    fromEpoch: from.epoch,
    toEpoch: to.epoch,
    moves,
    movedFraction: moved / RING_SIZE,
    minimalFraction: minimal / RING_SIZE,
    // fromEntries defines own data properties, so no shard id can reach Object.prototype.
    perShard: Object.fromEntries(perShard),
  };
}
