/**
 * murmur3's 32-bit finalizer: a bijection on uint32 whose every output bit depends on every input
 * bit. The lab derives per-shard scores and per-probe points from two key hashes with it instead
 * of hashing strings again, which keeps a 64-shard rendezvous step over 100k keys in milliseconds.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
