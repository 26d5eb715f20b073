/**
 * The write rules of a shard key other than `_id` (ADR 0008): a document's shard-key value never
 * changes. Its `_h` is the ring point of that value and the migration protocol finds its entries by
 * it, so an update that changed the value would leave the document on a shard its key does not route
 * to. Such writes are refused with `shardkit.shardKey.immutable`, before anything is routed; writes
 * that set the key to the value it already has are fine, as in MongoDB.
 */
import type { Document, UpdateFilter } from 'mongodb';
import { ErrorCode, ShardkitInputError } from '../errors.js';
import { keyToString, valueAtPath } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { compareValues } from './compare.js';

/** True when writing `field` may change the value at `path` (the same field, a parent or a child of it). */
export function touchesPath(field: string, path: string): boolean {
  return field === path || path.startsWith(`${field}.`) || field.startsWith(`${path}.`);
}

function immutable(op: string, path: string, value: ShardKey, how: string): ShardkitInputError {
  return new ShardkitInputError(
    ErrorCode.shardKeyImmutable,
    `${op}: ${how} would change the shard key ${path} of a document whose value is ${keyToString(value)}; a document's shard-key value cannot change`,
  );
}

function sameKey(candidate: unknown, value: ShardKey): boolean {
  try {
    return candidate !== undefined && compareValues(candidate, value) === 0;
  } catch {
    return false;
  }
}

/**
 * Refuse an update that may change the shard-key value `value` at `path`. Only `$set` (and
 * `$setOnInsert`) of the key, or of a parent document that holds it, to the value it has passes; every
 * other operator on the key's path (`$unset`, `$inc`, `$rename`, ...) and aggregation-pipeline updates,
 * whose effect cannot be read off before they run, are refused.
 *
 * @throws ShardkitInputError `shardkit.shardKey.immutable`.
 */
export function assertKeepsShardKey(update: UpdateFilter<Document> | Document[], path: string, value: ShardKey, op: string): void {
  if (Array.isArray(update)) throw immutable(op, path, value, 'an aggregation-pipeline update (shardkit cannot check that it keeps the key)');
  for (const [operator, fields] of Object.entries(update)) {
    if (fields === null || typeof fields !== 'object') continue;
    for (const [field, arg] of Object.entries(fields as Document)) {
      const targets = operator === '$rename' ? [field, String(arg)] : [field];
      for (const target of targets) {
        if (!touchesPath(target, path)) continue;
        const setting = (operator === '$set' || operator === '$setOnInsert') && target === field && !field.startsWith(`${path}.`);
        if (setting) {
          const written = field === path ? arg : arg !== null && typeof arg === 'object' ? safeValueAt(arg as Document, path.slice(field.length + 1)) : undefined;
          if (sameKey(written, value)) continue;
        }
        throw immutable(op, path, value, `${operator} of ${target}`);
      }
    }
  }
}

function safeValueAt(doc: Document, path: string): unknown {
  try {
    return valueAtPath(doc, path);
  } catch {
    return undefined;
  }
}

/**
 * Refuse a replacement that does not carry the shard-key value the document has: without it the
 * stored document would no longer route by its `_h` (`shardkit.shardKey.missing`), with another one
 * it would change (`shardkit.shardKey.immutable`).
 */
export function assertReplacementKeepsKey(replacement: Document, path: string, value: ShardKey, op: string): void {
  let written: unknown;
  try {
    written = valueAtPath(replacement, path);
  } catch {
    throw immutable(op, path, value, 'a replacement with an array at the key');
  }
  if (written === undefined) {
    throw new ShardkitInputError(ErrorCode.shardKeyMissing, `${op}: the replacement must carry the shard key ${path} (${keyToString(value)})`);
  }
  if (!sameKey(written, value)) throw immutable(op, path, value, 'the replacement');
}

/**
 * The update with the shard-key value set on insert, so an upsert stores its key even where the server
 * seeds nothing from the filter (FerretDB seeds only top-level equalities); left alone when the update
 * writes the key itself (it was checked to keep the value) or when the key is `_id`.
 */
export function withKeyOnInsert(update: UpdateFilter<Document> | Document[], path: string, value: ShardKey): UpdateFilter<Document> | Document[] {
  if (path === '_id' || Array.isArray(update)) return update;
  for (const fields of Object.values(update)) {
    if (fields !== null && typeof fields === 'object' && Object.keys(fields as Document).some((f) => touchesPath(f, path))) return update;
  }
  const onInsert = (update as { $setOnInsert?: Document }).$setOnInsert;
  return { ...update, $setOnInsert: { ...onInsert, [path]: value } };
}
