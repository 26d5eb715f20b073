/**
 * Single-key writes as data: the application's insert, update, replace and delete checked once, before
 * anything is routed, and turned into a `WriteOp` that the single-key protocol and the bulk path both
 * run; and the counts one op adds to a result.
 */
import { ObjectId } from 'mongodb';
import type { Document, Filter, UpdateFilter } from 'mongodb';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../errors.js';
import { assertShardKey, shardKeyValue } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { assertUpdateDocument } from '../stores/store-filters.js';
import { compareValues } from './compare.js';
import { DEFAULT_SHARD_KEY } from '../topology/shard-key.js';
import { assertNoReserved, requireFilterKey } from './documents.js';
import { assertKeepsShardKey, assertReplacementKeepsKey } from './shard-key-rules.js';
import { pinnedValue } from './targeting.js';
import type { ShardedUpdateResult } from './types.js';

/**
 * One checked single-key write: `key` is the document's `_id` (fences, placeholders and tombstones are
 * per `_id`), `value` its shard-key value (which routes it; the `_id` again when the shard key is `_id`).
 */
export type WriteOp =
  | { readonly kind: 'insert'; readonly key: ShardKey; readonly value: ShardKey; readonly data: Document }
  | {
      readonly kind: 'update';
      readonly key: ShardKey;
      readonly value: ShardKey;
      readonly filter: Filter<Document>;
      readonly update: UpdateFilter<Document> | Document[];
      readonly upsert: boolean;
    }
  | {
      readonly kind: 'replace';
      readonly key: ShardKey;
      readonly value: ShardKey;
      readonly filter: Filter<Document>;
      readonly replacement: Document;
      readonly upsert: boolean;
    }
  | { readonly kind: 'delete'; readonly key: ShardKey; readonly value: ShardKey; readonly filter: Filter<Document> }
  /**
   * An update or replace that would give the document `filter` pins another `_id`: it matches nothing
   * (answered `matchedCount: 0`, as the driver does) or fails with `shardkit.store.immutableField`.
   */
  | { readonly kind: 'changeId'; readonly key: ShardKey; readonly value: ShardKey; readonly filter: Filter<Document>; readonly upsert: boolean; readonly op: string };

/** What one write did. */
export interface OpOutcome {
  readonly inserted: number;
  readonly matched: number;
  readonly modified: number;
  readonly deleted: number;
  readonly upserted: number;
  readonly upsertedId?: unknown;
}

/** An op that did nothing. */
export const ZERO: OpOutcome = { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 };
/** An op that inserted one document. */
export const INSERTED_ONE: OpOutcome = { inserted: 1, matched: 0, modified: 0, deleted: 0, upserted: 0 };
/** An op that deleted one document. */
export const DELETED_ONE: OpOutcome = { inserted: 0, matched: 0, modified: 0, deleted: 1, upserted: 0 };

/** Refuse updates that would write shardkit's fields (`_h` included), before anything is routed. */
function assertUpdate(update: UpdateFilter<Document> | Document[]): void {
  assertUpdateDocument(update, '_h');
}

/**
 * An insert; an id-less document gets an ObjectId, visible to the caller afterwards (as the driver
 * does). Under a shard key other than `_id` the document must carry its value (ADR 0008); nothing is
 * assigned to the caller's document when it does not.
 *
 * @throws ShardkitInputError `shardkit.shardKey.missing`, or `shardkit.key.invalid` for a value (or `_id`) that is no shard key.
 */
export function insertOp(doc: Document, shardKey: string = DEFAULT_SHARD_KEY): WriteOp {
  assertNoReserved(doc, 'insertOne: the document');
  const record = doc;
  const value = shardKey === DEFAULT_SHARD_KEY ? undefined : shardKeyValue(record, shardKey, 'insertOne: the document');
  if (record['_id'] === undefined) record['_id'] = new ObjectId();
  const key: unknown = record['_id'];
  assertShardKey(key);
  return { kind: 'insert', key, value: value ?? key, data: { ...record } };
}

/**
 * The `_id` a `$set` gives: undefined when the update leaves `_id` alone; the update without it when
 * it sets `_id` to the value it has (MongoDB applies the rest); 'other' when it sets another value.
 */
function setOfId(update: UpdateFilter<Document> | Document[], key: ShardKey): UpdateFilter<Document> | 'other' | undefined {
  if (Array.isArray(update)) return undefined;
  const set = (update as { $set?: unknown }).$set;
  if (set === null || typeof set !== 'object' || !('_id' in set)) return undefined;
  const { _id: value, ...rest } = set as Document;
  if (compareValues(value, key) !== 0) return 'other';
  const { $set: _dropped, ...others } = update as Document;
  const out: Document = Object.keys(rest).length === 0 ? others : { ...others, $set: rest };
  // Nothing left to change: match (and upsert) only; `$setOnInsert` takes the key's point on insert.
  return Object.keys(out).length === 0 ? { $setOnInsert: {} } : out;
}

/**
 * The `_id` and the shard-key value a single-document write's filter pins: both by equality (the `_id`
 * alone when it is the shard key).
 */
function pinnedPair(filter: Document, shardKey: string, op: string): { key: ShardKey; value: ShardKey } {
  const key = requireFilterKey(filter as Filter<Document>, op);
  if (shardKey === DEFAULT_SHARD_KEY) return { key, value: key };
  const value = pinnedValue(filter as Filter<Document>, shardKey);
  if (value === undefined) throw new ShardkitInputError(ErrorCode.shardKeyMissing, `${op}: the filter must pin the shard key ${shardKey} by equality`);
  return { key, value };
}

/** An update of the one document `filter` pins by `_id` (and by its shard-key value when that is another field). */
export function updateOp(filter: Document, update: UpdateFilter<Document> | Document[], upsert: boolean, op = 'updateOne', shardKey: string = DEFAULT_SHARD_KEY): WriteOp {
  const { key, value } = pinnedPair(filter, shardKey, op);
  const idSet = setOfId(update, key);
  if (idSet === 'other') return { kind: 'changeId', key, value, filter: filter as Filter<Document>, upsert, op };
  const applied = idSet ?? update;
  assertUpdate(applied);
  if (shardKey !== DEFAULT_SHARD_KEY) assertKeepsShardKey(applied, shardKey, value, op);
  return { kind: 'update', key, value, filter: filter as Filter<Document>, update: applied, upsert };
}

/** A replace of the one document `filter` pins by `_id` (the replacement may repeat the same `_id`, and must repeat the shard-key value). */
export function replaceOp(filter: Document, replacement: Document, upsert: boolean, op = 'replaceOne', shardKey: string = DEFAULT_SHARD_KEY): WriteOp {
  const { key, value } = pinnedPair(filter, shardKey, op);
  assertNoReserved(replacement, `${op}: the replacement`);
  for (const k of Object.keys(replacement)) {
    if (k.startsWith('$')) throw new ShardkitInvalidArgumentError(`${op}: the replacement must not contain operators ('${k}')`);
  }
  const replacementId: unknown = replacement['_id'];
  if (replacementId !== undefined && compareValues(replacementId, key) !== 0) return { kind: 'changeId', key, value, filter: filter as Filter<Document>, upsert, op };
  if (shardKey !== DEFAULT_SHARD_KEY) assertReplacementKeepsKey(replacement, shardKey, value, op);
  const { _id: _ignored, ...rest } = replacement;
  return { kind: 'replace', key, value, filter: filter as Filter<Document>, replacement: rest, upsert };
}

/** A delete of the one document `filter` pins by `_id` (and by its shard-key value when that is another field). */
export function deleteOp(filter: Document, shardKey: string = DEFAULT_SHARD_KEY): WriteOp {
  return { kind: 'delete', ...pinnedPair(filter, shardKey, 'deleteOne'), filter: filter as Filter<Document> };
}

/** The application's result of an update or replace. */
export function toUpdateResult(outcome: OpOutcome): ShardedUpdateResult {
  return {
    acknowledged: true,
    matchedCount: outcome.matched,
    modifiedCount: outcome.modified,
    upsertedCount: outcome.upserted,
    upsertedId: outcome.upsertedId ?? null,
  };
}
