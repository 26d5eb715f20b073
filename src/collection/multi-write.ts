/**
 * `updateMany` and `deleteMany` through the single-key protocol. A multi-document write is a
 * scatter-gather `find` of the matching `_id`s (exact while ranges move: each `_id` once, fenced copies
 * resolved by the ownership rule, ADR 0002) followed by one single-key write per `_id` through the bulk
 * path, whose filter is the caller's filter re-checked at apply time, pinned to that `_id`. So, while a
 * range moves, a document that matches throughout the call is written exactly once: never skipped
 * because it moved between two shards' writes (the `_id` was found once, and its write follows the key
 * wherever the protocol holds it), never applied to two copies (a key is written at its one unfenced
 * copy: at the old owner before the copier fences it, at the new owner after; ADR 0002, decision 8).
 *
 * What holds for documents that change during the call is what mongos gives a multi-update: no
 * snapshot. A document inserted (or changed to match) after the scatter reached its shard is not
 * written; one that stops matching before its turn is skipped (the re-check), and one that is deleted
 * meanwhile is not counted.
 */
import type { Document, Filter, Sort, UpdateFilter } from 'mongodb';
import { ObjectId } from 'mongodb';
import { ShardkitInvalidArgumentError } from '../errors.js';
import { shardKeyValue } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { DEFAULT_SHARD_KEY } from '../topology/shard-key.js';
import { bulkWrite } from './bulk-write.js';
import { filterKey } from './documents.js';
import type { KeyProtocol } from './key-protocol.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { scatterFind } from './scatter-gather.js';
import type { ShardedBulkWriteResult, ShardedDeleteResult, ShardedUpdateResult, ShardedWriteOp } from './types.js';

/** Keys written per bulk: bounds the op arrays of one call, not the `_id` list. */
const KEYS_PER_BULK = 1000;

/**
 * The caller's filter, re-checked at apply time, pinned to one document: its `_id` and, under a shard
 * key other than `_id`, its shard-key value (the bulk path routes by them, ADR 0008).
 */
export function pinnedFilter(filter: Filter<Document>, id: unknown, shardKey = DEFAULT_SHARD_KEY, value?: unknown): Document {
  const pin: Document = shardKey === DEFAULT_SHARD_KEY || value === undefined ? { _id: id } : { _id: id, [shardKey]: value };
  return Object.keys(filter).length === 0 ? pin : { $and: [filter], ...pin };
}

/** One matching document as a multi-document write names it: its `_id` and its shard-key value. */
export interface Match {
  readonly id: unknown;
  readonly value: unknown;
}

/**
 * The documents matching `filter` now (one each, wherever a migration has them), asked of the shards
 * the filter targets (`targeting.ts`), with the shard key they route by.
 */
export async function matchingDocs(exec: RedirectExecutor, filter: Filter<Document>, limit = 0, sort?: Sort): Promise<{ matches: Match[]; shardKey: string }> {
  return exec.run(async (view) => {
    const path = view.shardKey;
    const projection = path === DEFAULT_SHARD_KEY ? { _id: 1 } : { _id: 1, [path]: 1 };
    const docs = await scatterFind(exec, view, { filter, sort, skip: 0, limit, projection });
    const matches = docs.map((d) => ({ id: d._id, value: path === DEFAULT_SHARD_KEY ? d._id : shardKeyValue(d, path, 'a stored document') }));
    return { matches, shardKey: path };
  });
}

/** Run the per-key ops in bulks; the first failure (by index) is thrown after every op was attempted. */
async function inBulks(exec: RedirectExecutor, keys: KeyProtocol, ops: ShardedWriteOp[], what: string): Promise<ShardedBulkWriteResult> {
  const total = { insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0 };
  const upsertedIds: Record<number, unknown> = {};
  let failure: Error | undefined;
  for (let start = 0; start < ops.length; start += KEYS_PER_BULK) {
    const result = await bulkWrite(exec, keys, ops.slice(start, start + KEYS_PER_BULK));
    total.matchedCount += result.matchedCount;
    total.modifiedCount += result.modifiedCount;
    total.deletedCount += result.deletedCount;
    total.upsertedCount += result.upsertedCount;
    for (const [i, id] of Object.entries(result.upsertedIds)) upsertedIds[start + Number(i)] = id;
    const first = result.errors[0];
    if (first !== undefined && failure === undefined) {
      failure = first.error;
      failure.message = `${what}: ${String(result.errors.length)} of the matching documents failed; first: ${first.error.message}`;
    }
  }
  if (failure !== undefined) throw failure;
  return { ok: 1, ...total, insertedIds: {}, upsertedIds, errors: [] };
}

/**
 * Update every document matching `filter`. With `upsert` and no match, one document is inserted, as
 * the driver does: under the filter's `_id` when it pins one, else a new ObjectId.
 */
export async function updateMany(
  exec: RedirectExecutor,
  keys: KeyProtocol,
  filter: Filter<Document>,
  update: UpdateFilter<Document> | Document[],
  upsert: boolean,
): Promise<ShardedUpdateResult> {
  if (filter === null || typeof filter !== 'object') throw new ShardkitInvalidArgumentError('updateMany: filter must be an object');
  const { matches, shardKey } = await matchingDocs(exec, filter);
  if (matches.length === 0 && upsert) {
    const key: ShardKey = filterKey(filter) ?? new ObjectId();
    const result = await inBulks(exec, keys, [{ updateOne: { filter: { ...filter, _id: key }, update, upsert: true } }], 'updateMany');
    return { acknowledged: true, matchedCount: result.matchedCount, modifiedCount: result.modifiedCount, upsertedCount: result.upsertedCount, upsertedId: result.upsertedIds[0] ?? null };
  }
  const ops: ShardedWriteOp[] = matches.map((m) => ({ updateOne: { filter: pinnedFilter(filter, m.id, shardKey, m.value), update } }));
  const result = await inBulks(exec, keys, ops, 'updateMany');
  return { acknowledged: true, matchedCount: result.matchedCount, modifiedCount: result.modifiedCount, upsertedCount: 0, upsertedId: null };
}

/** Delete every document matching `filter`. */
export async function deleteMany(exec: RedirectExecutor, keys: KeyProtocol, filter: Filter<Document>): Promise<ShardedDeleteResult> {
  if (filter === null || typeof filter !== 'object') throw new ShardkitInvalidArgumentError('deleteMany: filter must be an object');
  const { matches, shardKey } = await matchingDocs(exec, filter);
  const result = await inBulks(
    exec,
    keys,
    matches.map((m) => ({ deleteOne: { filter: pinnedFilter(filter, m.id, shardKey, m.value) } })),
    'deleteMany',
  );
  return { acknowledged: true, deletedCount: result.deletedCount };
}

/**
 * A bulk with `updateMany` / `deleteMany` ops: the single-document ops go through the bulk path in
 * one call, each multi-document op runs as `updateMany` / `deleteMany` (unordered, as the bulk: every
 * op is attempted, failures are reported by index).
 */
export async function bulkWriteWithMany(exec: RedirectExecutor, keys: KeyProtocol, ops: ReadonlyArray<ShardedWriteOp>): Promise<ShardedBulkWriteResult> {
  const single: number[] = [];
  const many: number[] = [];
  ops.forEach((op, i) => (op !== null && typeof op === 'object' && ('updateMany' in op || 'deleteMany' in op) ? many : single).push(i));
  const base = await bulkWrite(exec, keys, single.map((i) => ops[i] as ShardedWriteOp));
  const total = { ...base, insertedIds: {} as Record<number, unknown>, upsertedIds: {} as Record<number, unknown> };
  for (const [k, id] of Object.entries(base.insertedIds)) total.insertedIds[single[Number(k)] as number] = id;
  for (const [k, id] of Object.entries(base.upsertedIds)) total.upsertedIds[single[Number(k)] as number] = id;
  const errors = base.errors.map((e) => ({ index: single[e.index] as number, error: e.error }));
  for (const i of many) {
    const op = ops[i] as ShardedWriteOp;
    try {
      if ('updateMany' in op) {
        const r = await updateMany(exec, keys, op.updateMany.filter as Filter<Document>, op.updateMany.update as UpdateFilter<Document>, op.updateMany.upsert === true);
        total.matchedCount += r.matchedCount;
        total.modifiedCount += r.modifiedCount;
        total.upsertedCount += r.upsertedCount;
        if (r.upsertedCount > 0) total.upsertedIds[i] = r.upsertedId;
      } else if ('deleteMany' in op) {
        total.deletedCount += (await deleteMany(exec, keys, op.deleteMany.filter as Filter<Document>)).deletedCount;
      }
    } catch (error) {
      errors.push({ index: i, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }
  return { ...total, errors: errors.sort((a, b) => a.index - b.index) };
}
