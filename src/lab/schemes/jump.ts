import { xxhash32String } from '../../hash/xxhash32.js';
import { SECOND_SEED } from '../keys.js';
import type { KeySet } from '../keys.js';
import { changeShards } from '../shards.js';
import type { Applied, LabChange, LabShard, Scheme } from '../types.js';

// 2862933555777941757, the paper's LCG multiplier, as two 32-bit halves.
const MUL_HI = 0x27bb2ee6;
const MUL_LO = 0x87b0b0fd;

/** High 32 bits of the 64-bit product of two uint32s. */
function mulHi32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const lo = a0 * b0;
  const mid1 = a1 * b0;
  const mid2 = a0 * b1;
  const carry = ((lo >>> 16) + (mid1 & 0xffff) + (mid2 & 0xffff)) >>> 16;
  return (a1 * b1 + (mid1 >>> 16) + (mid2 >>> 16) + carry) >>> 0;
}

/**
 * Jump consistent hash (Lamping & Veach 2014) of the 64-bit key `hi:lo` over `buckets` buckets,
 * bit for bit the paper's C++: `key = key * 2862933555777941757 + 1` in 64-bit arithmetic, done on
 * two uint32 halves because a BigInt loop would be ~30x slower.
 */
export function jumpHash(hi: number, lo: number, buckets: number): number {
  let b = -1;
  let j = 0;
  while (j < buckets) {
    b = j;
    const newLo = (Math.imul(lo, MUL_LO) >>> 0) + 1;
    const newHi = (mulHi32(lo, MUL_LO) + Math.imul(lo, MUL_HI) + Math.imul(hi, MUL_LO) + (newLo > 0xffffffff ? 1 : 0)) >>> 0;
    lo = newLo >>> 0;
    hi = newHi;
    // (key >>> 33) + 1 is (hi >>> 1) + 1.
    j = Math.floor((b + 1) * (2147483648 / ((hi >>> 1) + 1)));
  }
  return b;
}

/**
 * Jump hash as a lab scheme: shards are buckets 0..n-1 in join order. It has no weights and can only
 * add or remove the last bucket. Removing a middle bucket is emulated the usual way: the last
 * bucket's shard takes over the freed number and the last bucket is dropped, so the keys of the last
 * bucket move too (about 2/n instead of 1/n). A reweight is ignored and the step's peak/mean shows
 * what that costs against the weighted fair share.
 */
export class JumpScheme implements Scheme {
  readonly name = 'jump';
  readonly shards: readonly LabShard[];

  constructor(shards: readonly LabShard[]) {
    this.shards = shards;
  }

  assign(keys: KeySet): string[] {
    const out = new Array<string>(keys.size);
    const n = this.shards.length;
    const ids = this.shards.map((s) => s.id);
    for (let i = 0; i < keys.size; i++) out[i] = ids[jumpHash(keys.h2[i]!, keys.h1[i]!, n)]!;
    return out;
  }

  lookup(key: string): string {
    return this.shards[jumpHash(xxhash32String(key, SECOND_SEED), xxhash32String(key), this.shards.length)]!.id;
  }

  apply(change: LabChange): Applied {
    if (change.kind === 'reweight') {
      return { scheme: this, how: 'ignored', note: `jump hash has no weights: ${change.id} stays at 1/${this.shards.length}` };
    }
    if (change.kind === 'add') return { scheme: new JumpScheme(changeShards(this.shards, change)), how: 'native' };
    const at = this.shards.findIndex((s) => s.id === change.id);
    const last = this.shards.length - 1;
    if (at === last) return { scheme: new JumpScheme(this.shards.slice(0, last)), how: 'native' };
    const shards = this.shards.slice(0, last);
    shards[at] = this.shards[last]!;
    return {
      scheme: new JumpScheme(shards),
      how: 'emulated',
      note: `jump hash removes only the last bucket: ${this.shards[last]!.id} moved from bucket ${last} into ${change.id}'s bucket ${at}`,
    };
  }

  exactShares(): undefined {
    return undefined;
  }

  exactMoved(): undefined {
    return undefined;
  }

  byteSize(): number {
    // The bucket -> shard id table: one reference per shard.
    return this.shards.length * 8;
  }
}
