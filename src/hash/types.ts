/**
 * A routing key: a string, a safe integer, a bigint, bytes, or an object with `toHexString()`
 * (a BSON ObjectId). See `canonicalKeyBytes` for the byte form each one hashes as.
 */
export type ShardKey = string | number | bigint | Uint8Array | { toHexString(): string };

/** A hash function that maps keys to 32-bit ring points. */
export interface RingHash {
  /** The topology name of this hash (`xxhash32`, `ketama`). */
  readonly name: string;
  /** Ring point (uint32) of a key; throws `shardkit.key.invalid` for a key that is not a ShardKey. */
  point(key: ShardKey): number;
  /** Ring point (uint32) of a string key: the hot path, no validation beyond the type. */
  pointOfString(key: string): number;
}

/** Hash function names a topology may name. */
export const HashName = { xxhash32: 'xxhash32', ketama: 'ketama' } as const;
/** Union of hash function names. */
export type HashName = (typeof HashName)[keyof typeof HashName];
