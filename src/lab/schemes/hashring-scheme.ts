import type HashRing from 'hashring';
import { makeHashRing, ringOfHashRing } from '../hashring-ring.js';
import type { Ring } from '../../ring/ring.js';
import type { KeySet } from '../keys.js';
import { changeShards } from '../shards.js';
import type { Applied, LabChange, LabShard, Scheme, SchemeParams } from '../types.js';
import { assignOnRing, ringMoved, ringShares } from './ring-scheme.js';

/** hashring's in-memory continuum: 16 bytes of `{value, server}` object plus array slot per point, measured by its layout, not by a heap snapshot. */
const BYTES_PER_HASHRING_POINT = 40;

/**
 * The `hashring` npm package (3.2.0) as a lab scheme. Placement is hashring's own continuum, read
 * back as a `Ring` so that shares and movement are exact and 100k keys are placed without 100k
 * calls of hashring's md5; {@link HashRingScheme.lookup} calls `hashring.get` itself. A change
 * builds a new HashRing from the new `{id: weight}` map, which is what hashring's add/remove do
 * internally (its continuum is rebuilt from the server list).
 */
export class HashRingScheme implements Scheme {
  readonly name = 'hashring';
  readonly shards: readonly LabShard[];
  readonly hashRing: HashRing;
  readonly ring: Ring;
  readonly #params: SchemeParams;

  /** hashring's `vnode count` is `params.vnodes / 4`: md5 digests of 4 points each. */
  constructor(shards: readonly LabShard[], params: SchemeParams) {
    this.shards = shards;
    this.#params = params;
    const vnodeCount = Math.max(1, Math.round(params.vnodes / 4));
    this.hashRing = makeHashRing(Object.fromEntries(shards.map((s) => [s.id, s.weight])), vnodeCount);
    this.ring = ringOfHashRing(this.hashRing);
  }

  assign(keys: KeySet): string[] {
    return assignOnRing(this.ring, keys.points('ketama'));
  }

  lookup(key: string): string {
    return this.hashRing.get(key);
  }

  apply(change: LabChange): Applied {
    return { scheme: new HashRingScheme(changeShards(this.shards, change), this.#params), how: 'native' };
  }

  exactShares(): Map<string, number> {
    return ringShares(this.ring);
  }

  exactMoved(before: Scheme): number | undefined {
    return before instanceof HashRingScheme ? ringMoved(before.ring, this.ring) : undefined;
  }

  byteSize(): number {
    return this.ring.points.length * BYTES_PER_HASHRING_POINT;
  }
}
