import { RING_SIZE } from '../../ring/move.js';
import { applyChange, withBalancedTokens } from '../../ring/placement.js';
import { Ring } from '../../ring/ring.js';
import { Topology } from '../../topology/topology.js';
import type { TopologyChange } from '../../topology/types.js';
import type { KeySet } from '../keys.js';
import type { Applied, LabChange, LabShard, Scheme, SchemeParams } from '../types.js';

/** shardkit's own rings, as the lab names them. */
export type RingSchemeName = 'hashed' | 'balanced' | 'ketama';

/** Share of the hash space per shard id from a ring's exact arcs. */
export function ringShares(ring: Ring): Map<string, number> {
  const out = new Map<string, number>();
  for (const [id, arc] of ring.arcs()) if (arc > 0) out.set(id, arc / RING_SIZE);
  return out;
}

/** Owner of every key on `ring`, from the keys' points under the ring's hash. */
export function assignOnRing(ring: Ring, points: Uint32Array): string[] {
  const out = new Array<string>(points.length);
  const ids = ring.shardIds;
  const owners = ring.owners;
  for (let i = 0; i < points.length; i++) out[i] = ids[owners[ring.locate(points[i]!)]!]!;
  return out;
}

/** Exact moved fraction between two rings: the size of their diff over 2^32. */
export function ringMoved(before: Ring, after: Ring): number {
  let moved = 0;
  for (const m of before.diff(after)) moved += m.end - m.start;
  return moved / RING_SIZE;
}

/**
 * shardkit's vnode ring (src/ring) as a lab scheme: a topology, changed by `applyChange` exactly as
 * the CLI and the migrator change it, and its `Ring`. Every change is native; shares and movement
 * are exact (ring arcs and ring diffs).
 */
export class RingScheme implements Scheme {
  readonly name: RingSchemeName;
  readonly shards: readonly LabShard[];
  readonly topology: Topology;
  readonly ring: Ring;

  private constructor(name: RingSchemeName, topology: Topology) {
    this.name = name;
    this.topology = topology;
    this.ring = Ring.fromTopology(topology);
    this.shards = topology.activeShards().map((s) => ({ id: s.id, weight: s.weight }));
  }

  /**
   * `hashed` and `balanced` use xxhash32 with `vnodes` points per unit weight; `ketama` uses
   * hashring's md5 continuum with `vnodes / 4` digests of 4 points (160 -> hashring's default 40).
   */
  static create(name: RingSchemeName, shards: readonly LabShard[], params: SchemeParams): RingScheme {
    const t = Topology.from({
      name: `lab-${name}`,
      hash: name === 'ketama' ? 'ketama' : 'xxhash32',
      placement: name === 'balanced' ? 'balanced' : 'hashed',
      vnodes: name === 'ketama' ? Math.max(1, Math.round(params.vnodes / 4)) : params.vnodes,
      shards: shards.map((s) => ({ id: s.id, weight: s.weight })),
    });
    return new RingScheme(name, withBalancedTokens(t));
  }

  assign(keys: KeySet): string[] {
    return assignOnRing(this.ring, keys.points(this.topology.hash));
  }

  lookup(key: string): string {
    return this.ring.routeString(key);
  }

  apply(change: LabChange): Applied {
    const c: TopologyChange = change.kind === 'add' ? { kind: 'add', shard: { id: change.id, weight: change.weight } } : change;
    return { scheme: new RingScheme(this.name, applyChange(this.topology, c)), how: 'native' };
  }

  exactShares(): Map<string, number> {
    return ringShares(this.ring);
  }

  exactMoved(before: Scheme): number | undefined {
    return before instanceof RingScheme ? ringMoved(before.ring, this.ring) : undefined;
  }

  byteSize(): number {
    return this.ring.byteSize();
  }
}
