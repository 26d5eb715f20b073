/**
 * `updateOne`, `replaceOne` and `deleteOne` under any shard key (ADR 0008). A filter that pins the
 * document's `_id` and its shard-key value (one value: `_id` alone when `_id` is the shard key) goes
 * straight to the single-key protocol. Under a shard key other than `_id`, any other filter is answered
 * by the one strategy that is never a wrong match: find the first matching document on the shards
 * the filter targets (its `_id` and shard-key value), then run the single-key protocol on that pair
 * with the caller's filter re-checked at apply time; a document that stopped matching (or moved on) in
 * between matches nothing there, and the step runs again. An upsert must pin the shard-key value by
 * equality (as MongoDB requires), since the key routes the document it may create.
 */
import { ObjectId } from 'mongodb';
import type { Document, Filter } from 'mongodb';
import { ErrorCode, ShardkitInputError, ShardkitStoreError } from '../errors.js';
import { DEFAULT_SHARD_KEY } from '../topology/shard-key.js';
import { filterKey } from './documents.js';
import type { KeyProtocol } from './key-protocol.js';
import { matchingDocs, pinnedFilter } from './multi-write.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { pinnedValue } from './targeting.js';
import { deleteOp, type OpOutcome, replaceOp, updateOp, type WriteOp, ZERO } from './write-ops.js';

/** Rounds of find-then-write for a filter whose match keeps changing between the two. */
const ATTEMPTS = 8;

/** What a single-document write does, given the filter that pins one document. */
export type BuildOp = (filter: Document, upsert: boolean, shardKey: string) => WriteOp;

/** The builders of the three single-document writes. */
export const buildUpdate =
  (update: Parameters<typeof updateOp>[1]): BuildOp =>
  (filter, upsert, shardKey) =>
    updateOp(filter, update, upsert, 'updateOne', shardKey);
/** See {@link buildUpdate}. */
export const buildReplace =
  (replacement: Document): BuildOp =>
  (filter, upsert, shardKey) =>
    replaceOp(filter, replacement, upsert, 'replaceOne', shardKey);
/** See {@link buildUpdate}. */
export const buildDelete: BuildOp = (filter, _upsert, shardKey) => deleteOp(filter, shardKey);

/**
 * Run one single-document write for `filter` (see the file comment).
 *
 * @throws ShardkitInputError `shardkit.key.invalid` (shard key `_id`) when the filter does not pin
 * `_id`; `shardkit.shardKey.missing` for an upsert that does not pin the shard-key value.
 */
export async function singleWrite(exec: RedirectExecutor, keys: KeyProtocol, filter: Filter<Document>, build: BuildOp, upsert: boolean, op: string): Promise<OpOutcome> {
  const current = exec.view();
  const { shardKey } = current instanceof Promise ? await current : current;
  const id = filterKey(filter);
  if (shardKey === DEFAULT_SHARD_KEY || (id !== undefined && pinnedValue(filter, shardKey) !== undefined)) {
    const direct = build(filter, upsert, shardKey);
    return await exec.run((view) => keys.apply(view, direct));
  }
  if (filter === null || typeof filter !== 'object') throw new ShardkitInputError(ErrorCode.keyInvalid, `${op}: filter must be an object`);
  if (upsert && pinnedValue(filter, shardKey) === undefined) {
    throw new ShardkitInputError(ErrorCode.shardKeyMissing, `${op}: an upsert's filter must pin the shard key ${shardKey} by equality`);
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const { matches } = await matchingDocs(exec, filter, 1);
    const [match] = matches;
    let write: WriteOp;
    if (match === undefined) {
      if (!upsert) return ZERO;
      write = build(id === undefined ? { ...filter, _id: new ObjectId() } : filter, true, shardKey);
    } else {
      write = build(pinnedFilter(filter, match.id, shardKey, match.value), false, shardKey);
    }
    const outcome = await exec.run((view) => keys.apply(view, write));
    if (outcome.matched + outcome.deleted + outcome.upserted > 0) return outcome;
  }
  throw new ShardkitStoreError(ErrorCode.storeFailure, `${op}: the matching document kept changing between the find and the write (${String(ATTEMPTS)} attempts)`);
}
