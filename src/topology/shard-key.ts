/**
 * The shard key a topology names (ADR 0008): which document field routes a document. It lives in the
 * topology, so it is part of the routing state every router and migrator reads, and they all agree.
 */
import { ErrorCode, ShardkitInputError } from '../errors.js';
import type { TopologySpec } from './types.js';

/** The shard key of a topology that names none. */
export const DEFAULT_SHARD_KEY = '_id';

/** Longest shard-key path accepted (MongoDB caps index key paths far above any sane one). */
export const MAX_SHARD_KEY_LENGTH = 256;

// The fields shardkit stores beside the application's (stores/shard-store.ts `Field`); the pure core
// cannot import the stores, and a key on one of them would route by shardkit's own bookkeeping.
const RESERVED_ROOTS: ReadonlySet<string> = new Set(['_h', '_v', '_moved', '_ph', '_ts']);

/** The field path whose value routes documents under `spec`: its `shardKey`, else `_id`. */
export function shardKeyOf(spec: Pick<TopologySpec, 'shardKey'>): string {
  return spec.shardKey ?? DEFAULT_SHARD_KEY;
}

function bad(message: string): never {
  throw new ShardkitInputError(ErrorCode.topologyBadShardKey, message);
}

/**
 * Check a topology's `shardKey`: a dotted path of non-empty segments, none starting with `$`, not one
 * of shardkit's reserved fields and not inside `_id` (an `_id` that is a document is no shard key).
 * Returns the path, or undefined for `_id` (the default, left out of the stored spec).
 *
 * @throws ShardkitInputError `shardkit.topology.badShardKey`.
 */
export function validateShardKeyPath(raw: unknown): string | undefined {
  if (typeof raw !== 'string') bad(`shardKey must be a field path such as "tenant" or "account.id" (got ${raw === null ? 'null' : typeof raw})`);
  if (raw === DEFAULT_SHARD_KEY) return undefined;
  if (raw.length === 0 || raw.length > MAX_SHARD_KEY_LENGTH) bad(`shardKey must be 1..${MAX_SHARD_KEY_LENGTH} characters`);
  const segments = raw.split('.');
  for (const segment of segments) {
    if (segment.length === 0) bad(`shardKey ${JSON.stringify(raw)} has an empty path segment`);
    if (segment.startsWith('$')) bad(`shardKey ${JSON.stringify(raw)}: a path segment must not start with '$'`);
    if (segment.includes('\0')) bad('shardKey must not contain NUL');
  }
  const root = segments[0] as string;
  if (RESERVED_ROOTS.has(root)) bad(`shardKey ${JSON.stringify(raw)} names a field shardkit reserves (${root})`);
  if (root === DEFAULT_SHARD_KEY) bad(`shardKey ${JSON.stringify(raw)}: a path inside _id is no shard key (use "_id" itself)`);
  return raw;
}
