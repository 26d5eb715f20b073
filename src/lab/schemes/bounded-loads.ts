import { Ring } from '../../ring/ring.js';
import { Topology } from '../../topology/topology.js';
import type { KeySet } from '../keys.js';
import { changeShards, totalWeight } from '../shards.js';
import type { Applied, LabChange, LabShard, Scheme, SchemeParams } from '../types.js';

/**
 * Capacity of each shard for `keyCount` keys: `ceil(c * keyCount * w / sum(w))`, the bound of
 * Mirrokni, Thorup & Zadimoghaddam with weights (for equal weights, `ceil(c * mean)`).
 */
export function boundedCapacities(shards: readonly LabShard[], keyCount: number, loadFactor: number): Float64Array {
  const total = totalWeight(shards);
  return Float64Array.from(shards, (s) => Math.ceil((loadFactor * keyCount * s.weight) / total));
}

/**
 * Consistent hashing with bounded loads (Mirrokni, Thorup & Zadimoghaddam, SODA 2018) as a lab
 * scheme: keys are placed one at a time in key order on a vnode ring (shardkit's hashed ring); a
 * key whose shard is full walks clockwise to the next shard with room. No shard ever holds more
 * than its capacity ({@link boundedCapacities}). Placement depends on the whole key set and its
 * order, so shares are only known by placing the keys, and the router must keep the loads: the
 * memory figure counts the ring and one load counter per shard, not the per-key state a real
 * deployment needs to find a key that overflowed.
 */
export class BoundedLoadsScheme implements Scheme {
  readonly name = 'bounded-loads';
  readonly shards: readonly LabShard[];
  readonly ring: Ring;
  readonly #params: SchemeParams;
  #loads: Float64Array;
  #capacity: Float64Array;

  constructor(shards: readonly LabShard[], params: SchemeParams) {
    this.shards = shards;
    this.#params = params;
    this.ring = Ring.fromTopology(
      Topology.from({ name: 'lab-bounded-loads', hash: 'xxhash32', placement: 'hashed', vnodes: params.vnodes, shards: shards.map((s) => ({ ...s })) }),
    );
    this.#loads = new Float64Array(this.ring.shardIds.length);
    this.#capacity = new Float64Array(this.ring.shardIds.length).fill(Infinity);
  }

  /** Index into the ring's shard ids of the first shard with room, from the ring point of `point`. */
  #place(point: number): number {
    const n = this.ring.points.length;
    let at = this.ring.locate(point);
    for (let step = 0; step < n; step++) {
      const owner = this.ring.owners[at]!;
      if (this.#loads[owner]! < this.#capacity[owner]!) return owner;
      at = at + 1 === n ? 0 : at + 1;
    }
    // Unreachable while capacities sum to at least the key count (c >= 1).
    return this.ring.owners[this.ring.locate(point)]!;
  }

  assign(keys: KeySet): string[] {
    this.#capacity = boundedCapacities(this.shards, keys.size, this.#params.loadFactor);
    this.#loads = new Float64Array(this.ring.shardIds.length);
    const out = new Array<string>(keys.size);
    const ids = this.ring.shardIds;
    for (let i = 0; i < keys.size; i++) {
      const owner = this.#place(keys.h1[i]!);
      this.#loads[owner]!++;
      out[i] = ids[owner]!;
    }
    return out;
  }

  /** Where a new key would go given the loads of the last {@link assign}. */
  lookup(key: string): string {
    return this.ring.shardIds[this.#place(this.ring.hash.pointOfString(key))]!;
  }

  apply(change: LabChange): Applied {
    return { scheme: new BoundedLoadsScheme(changeShards(this.shards, change), this.#params), how: 'native' };
  }

  exactShares(): undefined {
    return undefined;
  }

  exactMoved(): undefined {
    return undefined;
  }

  byteSize(): number {
    return this.ring.byteSize() + this.shards.length * 16;
  }
}
