import { ErrorCode, ShardkitInputError } from '../errors.js';
import type { ShardKey } from './types.js';

const encoder = new TextEncoder();

function toHex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += (b < 16 ? '0' : '') + b.toString(16);
  return out;
}

function describe(key: unknown): string {
  if (key === null) return 'null';
  if (Array.isArray(key)) return 'an array';
  if (typeof key === 'number') return `the number ${String(key)}`;
  return `a value of type ${typeof key}`;
}

function invalid(key: unknown, why: string): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.keyInvalid, `invalid shard key (${describe(key)}): ${why}`);
}

function hasHexString(key: object): key is { toHexString(): string } {
  return typeof (key as { toHexString?: unknown }).toHexString === 'function';
}

function objectIdHex(key: { toHexString(): string }): string {
  const hex: unknown = key.toHexString();
  if (typeof hex !== 'string') throw invalid(key, 'toHexString() did not return a string');
  return hex.toLowerCase();
}

/**
 * Throw `shardkit.key.invalid` unless `key` is a {@link ShardKey}: a string, a safe integer, a
 * bigint, a `Uint8Array` (incl. `Buffer`), or an object with a `toHexString()` method (a BSON
 * ObjectId). Booleans, `null`, `undefined`, non-integer or unsafe numbers, plain objects, arrays,
 * symbols and functions are refused: each would either collide with another key's byte form or
 * depend on a serialization we cannot keep stable.
 */
export function assertShardKey(key: unknown): asserts key is ShardKey {
  switch (typeof key) {
    case 'string':
    case 'bigint':
      return;
    case 'number':
      if (!Number.isSafeInteger(key)) throw invalid(key, 'numbers must be safe integers');
      return;
    case 'object':
      if (key === null) throw invalid(key, 'null is not a key');
      if (key instanceof Uint8Array) return;
      if (hasHexString(key)) return;
      throw invalid(key, 'objects must be bytes or have toHexString() (an ObjectId)');
    default:
      throw invalid(key, 'expected a string, safe integer, bigint, Uint8Array or ObjectId');
  }
}

/**
 * The bytes a key hashes as. A safe integer and a bigint hash as their decimal string, so `42`,
 * `42n` and `"42"` route alike (a key read back from a URL or a CSV file still finds its shard);
 * an ObjectId hashes as its lowercase hex string for the same reason. Bytes hash as themselves
 * (the returned array may be the caller's own: do not mutate it).
 *
 * @throws ShardkitInputError `shardkit.key.invalid` for anything that is not a {@link ShardKey}.
 */
export function canonicalKeyBytes(key: unknown): Uint8Array {
  switch (typeof key) {
    case 'string':
      return encoder.encode(key);
    case 'number':
      if (!Number.isSafeInteger(key)) throw invalid(key, 'numbers must be safe integers');
      // String(-0) is "0": -0 and 0 are one key, as they are for ===.
      return encoder.encode(String(key));
    case 'bigint':
      return encoder.encode(key.toString(10));
    case 'object':
      if (key === null) throw invalid(key, 'null is not a key');
      if (key instanceof Uint8Array) return key;
      if (hasHexString(key)) return encoder.encode(objectIdHex(key));
      throw invalid(key, 'objects must be bytes or have toHexString() (an ObjectId)');
    default:
      throw invalid(key, 'expected a string, safe integer, bigint, Uint8Array or ObjectId');
  }
}

/**
 * The string form of a key that hashes to the same bytes, when there is one that is cheap to get:
 * strings as themselves, safe integers and bigints in decimal, ObjectIds as lowercase hex.
 * Returns `undefined` for bytes (their UTF-8 reading need not round-trip).
 *
 * @throws ShardkitInputError `shardkit.key.invalid` for anything that is not a {@link ShardKey}.
 */
export function keyAsHashString(key: unknown): string | undefined {
  switch (typeof key) {
    case 'string':
      return key;
    case 'number':
      if (!Number.isSafeInteger(key)) throw invalid(key, 'numbers must be safe integers');
      return String(key);
    case 'bigint':
      return key.toString(10);
    default:
      assertShardKey(key);
      if (key instanceof Uint8Array) return undefined;
      return objectIdHex(key as { toHexString(): string });
  }
}

/**
 * A printable form of a key for messages and CLI output: strings as themselves, integers in
 * decimal (bigints with an `n` suffix), ObjectIds as `ObjectId(<hex>)`, bytes as `0x<hex>`.
 *
 * @throws ShardkitInputError `shardkit.key.invalid` for anything that is not a {@link ShardKey}.
 */
export function keyToString(key: unknown): string {
  assertShardKey(key);
  if (typeof key === 'string') return key;
  if (typeof key === 'number') return String(key);
  if (typeof key === 'bigint') return `${key.toString(10)}n`;
  if (key instanceof Uint8Array) return `0x${toHex(key)}`;
  return `ObjectId(${objectIdHex(key)})`;
}

/**
 * The value at a dotted field path of a document, as a shard key reads it (ADR 0008): undefined when
 * a segment is missing. An array on the way or at the end throws `shardkit.key.invalid`: MongoDB
 * refuses arrays in shard-key fields, since one document would then route by several values.
 *
 * @throws ShardkitInputError `shardkit.key.invalid` for an array on the path.
 */
export function valueAtPath(doc: Readonly<Record<string, unknown>>, path: string): unknown {
  let at: unknown = doc;
  for (const segment of path.split('.')) {
    if (Array.isArray(at)) throw invalid(at, `the shard key ${path} must not be or lie inside an array`);
    if (at === null || typeof at !== 'object' || at instanceof Uint8Array) return undefined;
    at = (at as Record<string, unknown>)[segment];
  }
  if (Array.isArray(at)) throw invalid(at, `the shard key ${path} must not be or lie inside an array`);
  return at;
}

/**
 * The shard-key value a document carries at `path`, checked to be a {@link ShardKey}.
 *
 * @throws ShardkitInputError `shardkit.shardKey.missing` when the document has no value there;
 * `shardkit.key.invalid` for an array or a value that is no shard key.
 */
export function shardKeyValue(doc: Readonly<Record<string, unknown>>, path: string, what: string): ShardKey {
  const value = valueAtPath(doc, path);
  if (value === undefined) throw new ShardkitInputError(ErrorCode.shardKeyMissing, `${what} has no value for the shard key ${path}`);
  assertShardKey(value);
  return value;
}
