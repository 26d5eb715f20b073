import { RING_SIZE } from '../../ring/move.js';
import { Ring } from '../../ring/ring.js';
import { Topology } from '../../topology/topology.js';
import { xxhash32String } from '../../hash/xxhash32.js';
import { SECOND_SEED } from '../keys.js';
import type { KeySet } from '../keys.js';
import { fmix32 } from '../mix.js';
import { changeShards } from '../shards.js';
import type { Applied, LabChange, LabShard, Scheme, SchemeParams } from '../types.js';

/**
 * Multi-probe consistent hashing (Appleton & O'Reilly, 2015) as a lab scheme: each shard has one
 * point on the ring; a key is hashed `probes` times and goes to the shard whose point follows one of
 * its probes most closely. The paper's bound: peak/mean load `1 + epsilon` with `1 + 1/epsilon`
 * probes. The paper has no weights; the lab emulates a weight `w` with `round(max(w, 0.5))` points.
 */
export class MultiProbeScheme implements Scheme {
  readonly name = 'multi-probe';
  readonly shards: readonly LabShard[];
  readonly ring: Ring;
  readonly probes: number;
  readonly #params: SchemeParams;

  constructor(shards: readonly LabShard[], params: SchemeParams) {
    this.shards = shards;
    this.#params = params;
    this.probes = params.probes;
    this.ring = Ring.fromTopology(
      Topology.from({
        name: 'lab-multi-probe',
        hash: 'xxhash32',
        placement: 'hashed',
        vnodes: 1,
        shards: shards.map((s) => ({ id: s.id, weight: Math.max(s.weight, 0.5) })),
      }),
    );
  }

  #owner(h1: number, h2: number): number {
    const pts = this.ring.points;
    const n = pts.length;
    const step = h2 | 1;
    let best = 0;
    let bestDistance = RING_SIZE;
    for (let k = 0; k < this.probes; k++) {
      const probe = fmix32((h1 + Math.imul(k, step)) >>> 0);
      // Ring.locate inlined: this loop runs probes x keys x steps times and the call showed in profiles.
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (pts[mid]! < probe) lo = mid + 1;
        else hi = mid;
      }
      const at = lo === n ? 0 : lo;
      const distance = lo === n ? pts[0]! + RING_SIZE - probe : pts[at]! - probe;
      if (distance < bestDistance) {
        bestDistance = distance;
        best = at;
      }
    }
    return this.ring.owners[best]!;
  }

  assign(keys: KeySet): string[] {
    const out = new Array<string>(keys.size);
    const ids = this.ring.shardIds;
    for (let i = 0; i < keys.size; i++) out[i] = ids[this.#owner(keys.h1[i]!, keys.h2[i]!)]!;
    return out;
  }

  lookup(key: string): string {
    return this.ring.shardIds[this.#owner(xxhash32String(key), xxhash32String(key, SECOND_SEED))]!;
  }

  apply(change: LabChange): Applied {
    const scheme = new MultiProbeScheme(changeShards(this.shards, change), this.#params);
    return change.kind === 'add' && change.weight === 1
      ? { scheme, how: 'native' }
      : change.kind === 'remove'
        ? { scheme, how: 'native' }
        : { scheme, how: 'emulated', note: `multi-probe has no weights: ${change.id} gets round(weight) ring points` };
  }

  exactShares(): undefined {
    return undefined;
  }

  exactMoved(): undefined {
    return undefined;
  }

  byteSize(): number {
    return this.ring.byteSize();
  }
}
