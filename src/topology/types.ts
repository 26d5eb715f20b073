import type { HashName } from '../hash/types.js';

/**
 * How vnode points are placed:
 * - `hashed`: points derived from `hash(shardId + '#' + i)` (ketama: libketama/hashring's scheme);
 * - `balanced`: tokens chosen when a shard joins and stored in the topology.
 */
export const Placement = { hashed: 'hashed', balanced: 'balanced' } as const;
/** Union of placement names. */
export type Placement = (typeof Placement)[keyof typeof Placement];

/** One shard as written in a topology file. */
export interface ShardSpec {
  /** Unique shard id, 1..64 chars of `[A-Za-z0-9._:-]`. */
  readonly id: string;
  /** Relative capacity; finite, > 0. */
  readonly weight: number;
  /** MongoDB connection string. Redacted in every printout. */
  readonly uri?: string;
  /** Database name (defaults to the URI's path, else `shardkit`). */
  readonly db?: string;
  /** Ring tokens (uint32), present with `balanced` placement. */
  readonly tokens?: readonly number[];
  /** A draining shard stays addressable but owns no part of the ring. */
  readonly draining?: boolean;
}

/** The plain object of a topology file. */
export interface TopologySpec {
  readonly name: string;
  readonly epoch: number;
  readonly hash: HashName;
  /** Vnodes per unit weight, 1..4096. */
  readonly vnodes: number;
  readonly placement: Placement;
  readonly shards: readonly ShardSpec[];
  /**
   * The document field (a dotted path) whose value routes a document, ADR 0008. Absent means `_id`,
   * and a topology that names `_id` is stored without it, so `_id`-keyed states stay byte for byte
   * what they were.
   */
  readonly shardKey?: string;
}

/** A change to a topology. Applying one yields a copy with `epoch + 1`. */
export type TopologyChange =
  | { readonly kind: 'add'; readonly shard: ShardSpec }
  | { readonly kind: 'remove'; readonly id: string }
  | { readonly kind: 'reweight'; readonly id: string; readonly weight: number }
  | { readonly kind: 'drain'; readonly id: string };
