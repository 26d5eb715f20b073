/**
 * `MongoStore.updateOne` and `replaceOne` on a MongoDB (or FerretDB) collection, as functions the
 * store calls inside its own deadline (`#run`) with the call's `RequestScope` (its deadline, its request options).
 *
 * An update: the `_v` bump makes every matched update a modification to the server, while the driver
 * reports `modifiedCount: 0` for one that changed nothing, so the store decides `modified` itself
 * (`update-effect.ts`) and sends, by what the update is:
 * - one that changes whatever it matches (an `$inc` by a number other than 0, a `$push`): the plain
 *   conditional `updateOne`;
 * - one whose effect the document before decides (`$set`, `$unset`, `$inc` by 0): one
 *   `findOneAndUpdate` returning that document. The server applies the update to exactly the version
 *   it returns, so the answer is exact under concurrent writes, in the one round trip the driver needs;
 * - anything else (`$addToSet`, `$pull`, a pipeline…): read the version, update exactly it
 *   (compare-and-set on `_v`), and compare the two versions.
 * In every case a matched document's `_v` is bumped, a no-op included: `_v` only has to change with
 * every write that may have changed the document, and one more bump is what a write racing with the
 * migration already meets (ADR 0002, ADR 0003: a fenced copy or a conditional tombstone on a version
 * that moved on is redone, never wrong).
 */
import type { Collection, Document, UpdateFilter } from 'mongodb';
import { ErrorCode, ShardkitStoreError } from '../errors.js';
import { outcome } from './bulk-result.js';
import { idKey } from './bson-order.js';
import { isDuplicateKeyError } from './driver-errors.js';
import { EXACT_TYPES, promoted, sameData, withProtocolValues } from './exact-types.js';
import type { RequestScope } from './mongo-request-options.js';
import { isLive } from './markers.js';
import type { StoredDocument, StoreFilter, WriteOutcome } from './shard-store.js';
import { andFilters, isOperatorObject, liveFilter, withVersionBump } from './store-filters.js';
import { updateEffect } from './update-effect.js';

/** Attempts of a compare-and-set loop before giving up under contention. */
const CAS_ATTEMPTS = 8;

/**
 * The live document `filter` matches, with exact types. A filter that is exactly `{_id: value}` is
 * read by `_id` alone, the one filter FerretDB 1.x answers from an index (ADR 0005), and its liveness
 * checked here: with the markers' conditions added it was a collection scan before every
 * compare-and-set write.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function liveOne(call: RequestScope, col: Collection<any>, filter: StoreFilter): Promise<StoredDocument | null> {
  const keys = Object.keys(filter);
  if (keys.length === 1 && keys[0] === '_id' && !isOperatorObject(filter['_id'])) {
    const doc = (await col.findOne({ _id: filter['_id'] }, call.internal(EXACT_TYPES))) as StoredDocument | null;
    return doc !== null && isLive(doc) ? doc : null;
  }
  return (await col.findOne(liveFilter(filter), call.internal(EXACT_TYPES))) as StoredDocument | null;
}

/** Update one live document matching `filter` (see the file's comment); `update` is checked here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function updateLive(ctx: RequestScope, col: Collection<any>, filter: StoreFilter, update: UpdateFilter<Document> | Document[], upsert: boolean): Promise<WriteOutcome> {
  const bumped = withVersionBump(update);
  const effect = updateEffect(update, col.bsonOptions);
  if (effect === 'always') {
    const res = await col.updateOne(liveFilter(filter), bumped, ctx.write({ upsert }));
    return outcome(res.matchedCount, res.modifiedCount, res.upsertedId);
  }
  if (effect === 'unknown') return updateByVersion(ctx, col, filter, bumped, upsert);
  const res = await col.findOneAndUpdate(liveFilter(filter), bumped, ctx.write({ returnDocument: 'before' as const, upsert, includeResultMetadata: true as const, ...EXACT_TYPES }));
  if (res.value !== null) return outcome(1, effect(res.value) ? 1 : 0, null);
  // Read with exact types, the id an upsert reports comes back as the driver's default promotion gives it.
  const upserted: unknown = res.lastErrorObject?.['upserted'];
  return outcome(0, 0, upserted === undefined ? null : promoted(upserted));
}

/** Read the version, update exactly it, compare the two versions; for updates `updateEffect` cannot decide. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function updateByVersion(ctx: RequestScope, col: Collection<any>, filter: StoreFilter, bumped: UpdateFilter<Document> | Document[], upsert: boolean): Promise<WriteOutcome> {
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const before = await liveOne(ctx, col, filter);
    if (before === null) {
      const res = await col.updateOne(liveFilter(filter), bumped, ctx.write({ upsert }));
      return outcome(res.matchedCount, res.modifiedCount, res.upsertedId);
    }
    const { _id: id, _v: version } = withProtocolValues(before);
    const after = await col.findOneAndUpdate(andFilters({ _id: id, _v: version }, liveFilter({})), bumped, ctx.write({ ...EXACT_TYPES, returnDocument: 'after' as const }));
    if (after !== null) return outcome(1, sameData(before, after) ? 0 : 1, null);
  }
  throw new ShardkitStoreError(ErrorCode.storeFailure, `shard ${ctx.shardId}: updateOne failed: document changed concurrently ${CAS_ATTEMPTS} times`, {
    shardId: ctx.shardId,
  });
}

/**
 * Replace by compare-and-set: read the live match, then replace it only if its `_v` is unchanged,
 * writing `_v + 1`. The server cannot `$inc` inside a replacement and FerretDB has no pipelines, so
 * the version must be read first: one findOneAndReplace returning the document before could tell a
 * no-op, but not write the version that follows it. `replacement` is checked by the caller.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function replaceLive(ctx: RequestScope, col: Collection<any>, filter: StoreFilter, replacement: StoredDocument, upsert: boolean): Promise<WriteOutcome> {
  const { _v: _ignored, ...body } = replacement;
  for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
    const found = await liveOne(ctx, col, filter);
    if (found !== null) {
      const current = withProtocolValues(found);
      if (body._id !== undefined && idKey(body._id) !== idKey(current._id)) {
        throw new ShardkitStoreError(ErrorCode.storeFailure, `shard ${ctx.shardId}: replaceOne failed: the replacement would modify the immutable field '_id'`, {
          shardId: ctx.shardId,
        });
      }
      // Replacing a document with itself is no modification (the driver says 0), so nothing is written.
      if (sameData(current, body)) return outcome(1, 0, null);
      const res = await col.replaceOne(andFilters({ _id: current._id, _v: current._v }, liveFilter({})), { ...body, _id: current._id, _v: (current._v ?? 0) + 1 }, ctx.write({}));
      if (res.matchedCount === 1) return outcome(1, res.modifiedCount, null);
      continue; // changed under us: read again
    }
    if (!upsert) return outcome(0, 0, null);
    // `_v` absent matches no stored document: this upsert only ever inserts, and an existing _id
    // (a concurrent insert, or a fenced key) fails as a duplicate instead of being overwritten.
    try {
      const res = await col.replaceOne(andFilters(liveFilter(filter), { _v: { $exists: false } }), { ...body, _v: 1 } as StoredDocument, ctx.write({ upsert: true }));
      return outcome(0, 0, res.upsertedId);
    } catch (error) {
      if (!isDuplicateKeyError(error)) throw error;
      const live = await col.countDocuments(liveFilter(filter), ctx.internal({ limit: 1 }));
      if (live === 0) throw error;
    }
  }
  throw new ShardkitStoreError(ErrorCode.storeFailure, `shard ${ctx.shardId}: replaceOne failed: document changed concurrently ${CAS_ATTEMPTS} times`, {
    shardId: ctx.shardId,
  });
}
