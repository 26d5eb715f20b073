import { ErrorCode, ShardkitInputError } from '../errors.js';
import type { HashName } from './types.js';
import { canonicalKeyBytes } from './key.js';
import { ketamaPoint, ketamaPointOfBytes } from './ketama.js';
import type { RingHash, ShardKey } from './types.js';
import { xxhash32, xxhash32String } from './xxhash32.js';

/** Every hash a topology may name, in a stable order. */
export const HASH_NAMES: readonly HashName[] = Object.freeze(['xxhash32', 'ketama'] as const);

// Strings and safe integers go through the string path: the same bytes as canonicalKeyBytes,
// without allocating them. Everything else (bigint, bytes, ObjectId, and anything invalid, which
// canonicalKeyBytes rejects) takes the general path.
const xxhash32Ring: RingHash = Object.freeze({
  name: 'xxhash32',
  point(key: ShardKey): number {
    if (typeof key === 'string') return xxhash32String(key);
    if (typeof key === 'number' && Number.isSafeInteger(key)) return xxhash32String(String(key));
    return xxhash32(canonicalKeyBytes(key));
  },
  pointOfString: (key: string): number => xxhash32String(key),
});

const ketamaRing: RingHash = Object.freeze({
  name: 'ketama',
  point(key: ShardKey): number {
    if (typeof key === 'string') return ketamaPoint(key);
    if (typeof key === 'number' && Number.isSafeInteger(key)) return ketamaPoint(String(key));
    return ketamaPointOfBytes(canonicalKeyBytes(key));
  },
  pointOfString: (key: string): number => ketamaPoint(key),
});

/**
 * The ring hash a topology names. `xxhash32` (seed 0) is the default: fast on short keys.
 * `ketama` is MD5-based and reproduces hashring/libketama key points exactly.
 *
 * @throws ShardkitInputError `shardkit.topology.unknownHash` for any other name.
 */
export function ringHash(name: HashName): RingHash {
  switch (name) {
    case 'xxhash32':
      return xxhash32Ring;
    case 'ketama':
      return ketamaRing;
    default:
      throw new ShardkitInputError(
        ErrorCode.topologyUnknownHash,
        `unknown hash ${JSON.stringify(name)}; expected one of ${HASH_NAMES.join(', ')}`,
      );
  }
}
