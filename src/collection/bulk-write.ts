/**
 * Bulk writes: one `store.bulkWrite` round trip per shard for keys that do not move, then, one by one
 * through the single-key protocol, the keys that move (while migrating), deletes of keys a settling
 * state's migration moved (they leave a tombstone, ADR 0003), and every op a shard turned away. What a
 * shard turned away is decided by `entryKind` on the entries the round trip met (ADR 0002: a fence).
 */
import type { Document } from 'mongodb';
import { ErrorCode, ShardkitError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { idKey } from '../stores/bson-order.js';
import { addCounts } from '../stores/bulk-result.js';
import type { StoreBulkResult, StoredDocument, StoreWriteOp } from '../stores/shard-store.js';
import { type Entry, entryKind, turnsAway } from './entry.js';
import type { KeyProtocol } from './key-protocol.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { type KeyPlace, placeKey, type RoutingView } from './routing-view.js';
import { isDuplicate, shardError } from './shard-errors.js';
import type { ShardedBulkWriteResult, ShardedWriteOp } from './types.js';
import { withKeyOnInsert } from './shard-key-rules.js';
import { withPoint } from './upsert.js';
import { deleteOp, insertOp, replaceOp, updateOp, type WriteOp } from './write-ops.js';

/** An op to run through the single-key protocol, with the redirects its first attempt already used. */
interface Again {
  readonly index: number;
  readonly used: number;
}

type Counts = Omit<StoreBulkResult, 'errors' | 'results'>;

/** One shard's share of a bulk, sorted out. */
interface GroupOutcome {
  readonly result: Counts;
  readonly errors: Map<number, Error>;
  readonly insertsDone: number[];
  /** Ops whose upsert inserted (their `_id` is the key they pin). */
  readonly upsertsDone: number[];
  readonly again: Again[];
}

function prepareOp(op: ShardedWriteOp, index: number, shardKey: string): WriteOp {
  try {
    if (op === null || typeof op !== 'object') throw new ShardkitInvalidArgumentError('bulk op must be an object');
    if ('insertOne' in op) return insertOp(op.insertOne.document as Document, shardKey);
    if ('updateOne' in op) return updateOp(op.updateOne.filter, op.updateOne.update, op.updateOne.upsert === true, 'updateOne', shardKey);
    if ('replaceOne' in op) return replaceOp(op.replaceOne.filter, op.replaceOne.replacement, op.replaceOne.upsert === true, 'replaceOne', shardKey);
    if ('deleteOne' in op) return deleteOp(op.deleteOne.filter, shardKey);
    throw new ShardkitInvalidArgumentError('bulk op must be one of insertOne, updateOne, replaceOne, deleteOne');
  } catch (error) {
    if (error instanceof Error) error.message = `bulkWrite op ${String(index)}: ${error.message}`;
    throw error;
  }
}

function toStoreOp(op: WriteOp, place: KeyPlace, shardKey: string): StoreWriteOp {
  switch (op.kind) {
    case 'insert':
      return { insertOne: { document: { ...op.data, _id: op.key, _h: place.h, _v: 1 } } };
    case 'update': {
      const update = op.upsert ? withKeyOnInsert(op.update, shardKey, op.value) : op.update;
      return { updateOne: { filter: op.filter, update: op.upsert ? withPoint(update, place.h) : update, upsert: op.upsert } };
    }
    case 'replace':
      return { replaceOne: { filter: op.filter, replacement: { ...op.replacement, _id: op.key, _h: place.h, _v: 1 }, upsert: op.upsert } };
    case 'delete':
      return { deleteOne: { filter: op.filter } };
    case 'changeId':
      // Never sent in a bulk round trip: triage sends it through the single-key protocol.
      throw new ShardkitInvalidArgumentError('an _id change has no store op');
  }
}

/**
 * Apply writes grouped by shard (unordered: every op is attempted, failures are reported by index).
 * Invalid keys and misused updates are refused before anything is written.
 *
 * Only an op whose own outcome says it did not apply (matched, deleted and upserted nothing) and whose
 * key is fenced is sent to the new owner: an op that applied just before a migration fenced its key in
 * the same round trip was copied with the document, and must not apply a second time there.
 */
export async function bulkWrite(exec: RedirectExecutor, keys: KeyProtocol, ops: ReadonlyArray<ShardedWriteOp>): Promise<ShardedBulkWriteResult> {
  if (!Array.isArray(ops)) throw new ShardkitInvalidArgumentError('bulkWrite: ops must be an array');
  // The shard key is the routing state's (ADR 0008); it never changes, so any view names it.
  const view = await exec.view();
  const prepared = ops.map((op, index) => prepareOp(op, index, view.shardKey));
  const groups = new Map<string, number[]>();
  const slow: Again[] = [];
  const places: KeyPlace[] = [];
  prepared.forEach((op, index) => {
    const place = placeKey(view, op.key, op.value);
    places[index] = place;
    // Keys that move, and deletes of keys the committed migration moved (they leave a tombstone).
    if (place.old !== undefined || (place.settling && op.kind === 'delete') || op.kind === 'changeId') slow.push({ index, used: 0 });
    else {
      const group = groups.get(place.owner);
      if (group === undefined) groups.set(place.owner, [index]);
      else group.push(index);
    }
  });
  const totals = { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 };
  const failed = new Map<number, Error>();
  const succeededInserts = new Set<number>();
  const upserts = new Set<number>();
  await Promise.all(
    [...groups].map(async ([shardId, indices]) => {
      let outcome: GroupOutcome;
      try {
        outcome = await bulkGroup(exec, view, shardId, indices, prepared, places);
      } catch (error) {
        // Unordered means every op gets an answer: one shard's surprise is that shard's ops' error,
        // never an exception that hides what the other shards applied.
        const e = shardError(shardId, error);
        for (const index of indices) failed.set(index, e);
        return;
      }
      addCounts(totals, outcome.result);
      for (const [index, error] of outcome.errors) failed.set(index, error);
      for (const index of outcome.insertsDone) succeededInserts.add(index);
      for (const index of outcome.upsertsDone) upserts.add(index);
      slow.push(...outcome.again);
    }),
  );
  slow.sort((a, b) => a.index - b.index);
  for (const { index, used } of slow) {
    const op = prepared[index] as WriteOp;
    try {
      const outcome = await exec.run((v) => keys.apply(v, op), used);
      addCounts(totals, outcome);
      if (op.kind === 'insert') succeededInserts.add(index);
      if (outcome.upserted === 1) upserts.add(index);
    } catch (error) {
      failed.set(index, error instanceof Error ? error : new Error(String(error)));
    }
  }
  const insertedIds: Record<number, unknown> = {};
  for (const index of [...succeededInserts].sort((a, b) => a - b)) insertedIds[index] = (prepared[index] as WriteOp).key;
  // An upsert's filter pins the key, so the key is the upserted `_id` (as the driver's BulkWriteResult reports it).
  const upsertedIds: Record<number, unknown> = {};
  for (const index of [...upserts].sort((a, b) => a - b)) upsertedIds[index] = (prepared[index] as WriteOp).key;
  return {
    ok: 1,
    insertedCount: totals.inserted,
    matchedCount: totals.matched,
    modifiedCount: totals.modified,
    deletedCount: totals.deleted,
    upsertedCount: totals.upserted,
    insertedIds,
    upsertedIds,
    errors: [...failed].sort((a, b) => a[0] - b[0]).map(([index, error]) => ({ index, error })),
  };
}

/**
 * After a duplicate in a bulk round trip, what the entry met means: redirects already used when the
 * op goes through the single-key protocol, undefined when the duplicate stands. A fence was a
 * turn-away (refresh); a tombstone is a re-insert after a delete; an upsert that raced an insert is
 * retried (as the server retries it). A leftover placeholder is no turn-away: the single-key path
 * replaces it, no refresh needed. Nothing there any more, when no other op of the bulk names the
 * `_id`, means what the round trip met is gone by another's hand (a purge removed the tombstone,
 * another client deleted the document) and the `_id` is free: the single-key path inserts it (before,
 * such an insert of a free `_id` was reported as a duplicate). When another op of the bulk names it
 * (a delete of the same `_id`), the duplicate stands, as the driver runs an unordered bulk's inserts
 * before its deletes.
 */
function againAfterDuplicate(current: Entry, op: WriteOp, keyShared: boolean): number | undefined {
  if (current.kind === 'leftover' || (current.kind === 'absent' && !keyShared)) return 0;
  if (turnsAway(current)) return 1;
  if (current.kind === 'tombstone' || op.kind !== 'insert') return 0;
  return undefined;
}

/** One shard's share of a bulk: one round trip, then sort out what the shard turned away. */
async function bulkGroup(
  exec: RedirectExecutor,
  view: RoutingView,
  shardId: string,
  indices: readonly number[],
  prepared: readonly WriteOp[],
  places: readonly KeyPlace[],
): Promise<GroupOutcome> {
  const storeOps: StoreWriteOp[] = indices.map((index) => toStoreOp(prepared[index] as WriteOp, places[index] as KeyPlace, view.shardKey));
  const errors = new Map<number, Error>();
  const again: Again[] = [];
  let result: StoreBulkResult;
  try {
    result = await exec.callShard(view, shardId, (s) => s.bulkWrite(storeOps));
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    for (const index of indices) errors.set(index, e);
    return { result: { inserted: 0, matched: 0, modified: 0, deleted: 0, upserted: 0 }, errors, insertsDone: [], upsertsDone: [], again };
  }
  const upsertsDone = indices.filter((_, k) => result.results[k]?.upserted === 1);
  const failedAt = new Map<number, Error>();
  for (const { index, error } of result.errors) {
    const opIndex = indices[index];
    if (opIndex !== undefined) failedAt.set(opIndex, error instanceof ShardkitError ? error : shardError(shardId, error));
  }
  // Conditional ops that did nothing here: a fence may have turned them away (or their filter missed).
  const unapplied = indices.filter((i, k) => {
    if ((prepared[i] as WriteOp).kind === 'insert' || failedAt.has(i)) return false;
    const r = result.results[k];
    if (r === undefined) {
      // The store broke its contract for this op: say so for this op alone, the others stand.
      errors.set(i, new ShardkitStoreError(ErrorCode.storeFailure, `shard ${shardId}: bulkWrite returned no outcome for op ${String(k)}`, { shardId }));
      return false;
    }
    return r.matched + r.upserted + r.deleted === 0;
  });
  const suspects = [...failedAt].filter(([, e]) => isDuplicate(e)).map(([i]) => i);
  suspects.push(...unapplied);
  let raw = new Map<string, StoredDocument>();
  if (suspects.length > 0) {
    const ids = suspects.map((i) => (prepared[i] as WriteOp).key);
    try {
      const found = await exec.callShard(view, shardId, (s) => s.find({ _id: { $in: ids } }));
      raw = new Map(found.map((d) => [idKey(d._id), d]));
    } catch (error) {
      // Without the entries the round trip met, a fence's turn-away cannot be told from a filter that
      // missed or a real duplicate: each of these ops gets the read's error (retryable when the read
      // was), never a silent "matched nothing". None of them applied here, so a retry is safe.
      const e = error instanceof Error ? error : new Error(String(error));
      for (const index of suspects) errors.set(index, e);
      const insertsDone = indices.filter((i) => (prepared[i] as WriteOp).kind === 'insert' && !failedAt.has(i));
      for (const [index, err] of failedAt) if (!errors.has(index)) errors.set(index, err);
      return { result, errors, insertsDone, upsertsDone, again };
    }
  }
  const entryOf = (index: number): Entry => entryKind(view, raw.get(idKey((prepared[index] as WriteOp).key)) ?? null);
  const opsPerKey = new Map<string, number>();
  for (const i of indices) {
    const k = idKey((prepared[i] as WriteOp).key);
    opsPerKey.set(k, (opsPerKey.get(k) ?? 0) + 1);
  }
  for (const [index, error] of failedAt) {
    const op = prepared[index] as WriteOp;
    const used = isDuplicate(error) ? againAfterDuplicate(entryOf(index), op, (opsPerKey.get(idKey(op.key)) ?? 0) > 1) : undefined;
    if (used === undefined) errors.set(index, error);
    else again.push({ index, used });
  }
  // A fenced key matched nothing here: the op was turned away, so it goes to the new owner.
  // A leftover placeholder is no fence: the op matched nothing because the key does not exist.
  for (const index of unapplied) if (turnsAway(entryOf(index))) again.push({ index, used: 1 });
  const insertsDone = indices.filter((i) => (prepared[i] as WriteOp).kind === 'insert' && !failedAt.has(i));
  return { result, errors, insertsDone, upsertsDone, again };
}
