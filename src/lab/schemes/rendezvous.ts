import { xxhash32String } from '../../hash/xxhash32.js';
import { SECOND_SEED } from '../keys.js';
import type { KeySet } from '../keys.js';
import { fmix32 } from '../mix.js';
import { changeShards } from '../shards.js';
import type { Applied, LabChange, LabShard, Scheme } from '../types.js';

/** A uniform uint32 draw for (key, shard). */
function draw(h1: number, h2: number, seed: number): number {
  return fmix32(fmix32(h1 ^ seed) ^ h2);
}

/**
 * Rendezvous / highest-random-weight hashing (Thaler & Ravishankar), weighted by the logarithmic
 * method (Schindelhauer & Schomaker): a key goes to the shard with the highest `w / -ln(u)`, `u` a
 * uniform draw from (key, shard). Each shard wins with probability `w / sum(w)`, and a change to
 * one shard moves keys only to or from that shard: every change is native and minimal in
 * expectation. Lookup costs one draw per shard.
 */
export class RendezvousScheme implements Scheme {
  readonly name = 'rendezvous';
  readonly shards: readonly LabShard[];
  readonly #seeds: Uint32Array;
  readonly #weights: Float64Array;
  readonly #equal: boolean;

  constructor(shards: readonly LabShard[]) {
    this.shards = shards;
    this.#seeds = Uint32Array.from(shards, (s) => xxhash32String(s.id));
    this.#weights = Float64Array.from(shards, (s) => s.weight);
    this.#equal = shards.every((s) => s.weight === shards[0]!.weight);
  }

  #best(h1: number, h2: number): number {
    const seeds = this.#seeds;
    let best = 0;
    if (this.#equal) {
      // w / -ln(u) grows with u: with equal weights the largest draw wins, no logarithm needed.
      let top = -1;
      for (let s = 0; s < seeds.length; s++) {
        const d = draw(h1, h2, seeds[s]!);
        if (d > top) {
          top = d;
          best = s;
        }
      }
      return best;
    }
    const weights = this.#weights;
    let bestScore = -1;
    for (let s = 0; s < seeds.length; s++) {
      // (d + 0.5) / 2^32 lies in (0, 1): its logarithm is finite and negative.
      const score = weights[s]! / -Math.log((draw(h1, h2, seeds[s]!) + 0.5) / 4294967296);
      if (score > bestScore) {
        bestScore = score;
        best = s;
      }
    }
    return best;
  }

  assign(keys: KeySet): string[] {
    const out = new Array<string>(keys.size);
    for (let i = 0; i < keys.size; i++) out[i] = this.shards[this.#best(keys.h1[i]!, keys.h2[i]!)]!.id;
    return out;
  }

  lookup(key: string): string {
    return this.shards[this.#best(xxhash32String(key), xxhash32String(key, SECOND_SEED))]!.id;
  }

  apply(change: LabChange): Applied {
    return { scheme: new RendezvousScheme(changeShards(this.shards, change)), how: 'native' };
  }

  exactShares(): undefined {
    return undefined;
  }

  exactMoved(): undefined {
    return undefined;
  }

  byteSize(): number {
    return this.#seeds.byteLength + this.#weights.byteLength;
  }
}
