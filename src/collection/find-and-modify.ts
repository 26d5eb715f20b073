/**
 * `findOneAndUpdate`, `findOneAndReplace` and `findOneAndDelete` through the single-key protocol. The
 * document is chosen as `findOne` chooses it (the `_id` the filter pins, else a scatter-gather with the
 * caller's `sort` and limit 1), read with its version, and then written by the protocol conditioned on
 * the caller's filter **and that version** (`_v`, which a migration's copy keeps): the document
 * returned as "before" is exactly the one the write replaced. A write in between changes the version,
 * the conditional write matches nothing, and the whole step runs again (as the server retries a
 * findAndModify that lost a race). The "after" document is read back at the version the write made;
 * if yet another write came first, it is computed from "before" by the update (client-side).
 */
import { updateOne as mingoUpdateOne } from 'mingo';
import type { Document, Filter, Sort, UpdateFilter } from 'mongodb';
import { ObjectId } from 'mongodb';
import { ErrorCode, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { shardKeyValue } from '../hash/key.js';
import type { ShardKey } from '../hash/types.js';
import { DEFAULT_SHARD_KEY } from '../topology/shard-key.js';
import type { StoredDocument } from '../stores/shard-store.js';
import { applyProjection, filterKey, stripMarkers } from './documents.js';
import type { KeyProtocol } from './key-protocol.js';
import { pinnedFilter } from './multi-write.js';
import type { RedirectExecutor } from './redirect-executor.js';
import { scatterFind } from './scatter-gather.js';
import type { FindOneAndModifyOptions } from './types.js';
import { pinnedPair } from './targeting.js';
import { deleteOp, replaceOp, updateOp, type OpOutcome, type WriteOp } from './write-ops.js';

/** Attempts of a find-and-modify whose document keeps changing between the read and the write. */
const ATTEMPTS = 8;

/** What one find-and-modify does to the document it picked. */
export type Modification =
  | { readonly kind: 'update'; readonly update: UpdateFilter<Document> | Document[] }
  | { readonly kind: 'replace'; readonly replacement: Document }
  | { readonly kind: 'delete' };

const OP_NAME = { update: 'findOneAndUpdate', replace: 'findOneAndReplace', delete: 'findOneAndDelete' } as const;

function checkOptions(options: FindOneAndModifyOptions, mod: Modification): void {
  const { returnDocument } = options;
  if (returnDocument !== undefined && returnDocument !== 'before' && returnDocument !== 'after') {
    throw new ShardkitInvalidArgumentError(`${OP_NAME[mod.kind]}: returnDocument must be 'before' or 'after'`);
  }
  if (mod.kind === 'delete' && options.upsert === true) throw new ShardkitInvalidArgumentError('findOneAndDelete has no upsert');
}

/**
 * The document `filter` picks now (raw, with its version), or null: one key read when the filter pins
 * the `_id` and the shard-key value, else a scatter-gather of the shards it targets.
 */
async function pick(exec: RedirectExecutor, keys: KeyProtocol, filter: Filter<Document>, sort: Sort | undefined): Promise<StoredDocument | null> {
  return exec.run(async (view) => {
    const key = filterKey(filter);
    const value = pinnedPair(view, filter, key);
    if (key !== undefined && value !== undefined) return keys.readMatching(view, key, filter, value);
    const [doc] = await scatterFind(exec, view, { filter, sort, skip: 0, limit: 1, projection: undefined });
    return doc ?? null;
  });
}

function opFor(mod: Modification, filter: Document, upsert: boolean, shardKey: string): ReturnType<typeof updateOp> {
  const name = OP_NAME[mod.kind];
  if (mod.kind === 'update') return updateOp(filter, mod.update, upsert, name, shardKey);
  if (mod.kind === 'replace') return replaceOp(filter, mod.replacement, upsert, name, shardKey);
  return deleteOp(filter, shardKey);
}

/** The document as the update left it, when a later write already replaced that version. */
function applied(before: Document, update: UpdateFilter<Document> | Document[]): Document {
  const target = [structuredClone(before)];
  mingoUpdateOne(target, {}, update as Parameters<typeof mingoUpdateOne>[2]);
  return target[0] as Document;
}

async function afterImage(exec: RedirectExecutor, keys: KeyProtocol, mod: Modification, op: WriteOp, before: StoredDocument | null): Promise<Document | null> {
  const { key, value } = op;
  if (mod.kind === 'delete') return null;
  if (mod.kind === 'replace') {
    const { _id: _same, ...rest } = mod.replacement;
    return { _id: key, ...rest };
  }
  const now = await exec.run((view) => keys.readMatching(view, key, { _id: key } as Filter<Document>, value));
  const expected = before === null ? 1 : (before._v ?? 0) + 1;
  if (now !== null && (now._v === expected || before === null)) return stripMarkers(now);
  return before === null ? null : applied(stripMarkers(before), mod.update);
}

/**
 * Pick the document `filter` matches (by `sort`), write it through the single-key protocol on exactly
 * the version read, and return it as it was or as it became (projected), or null.
 */
export async function findOneAndModify(
  exec: RedirectExecutor,
  keys: KeyProtocol,
  filter: Filter<Document>,
  mod: Modification,
  options: FindOneAndModifyOptions = {},
): Promise<Document | null> {
  if (filter === null || typeof filter !== 'object') throw new ShardkitInvalidArgumentError(`${OP_NAME[mod.kind]}: filter must be an object`);
  checkOptions(options, mod);
  const upsert = options.upsert === true;
  const { shardKey } = await exec.view();
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const before = await pick(exec, keys, filter, options.sort);
    let outcome: OpOutcome;
    let op: WriteOp;
    if (before === null) {
      if (!upsert) return null;
      op = opFor(mod, { ...filter, _id: filterKey(filter) ?? new ObjectId() }, true, shardKey);
      const upsertOp = op;
      outcome = await exec.run((view) => keys.apply(view, upsertOp));
      // Matched: an insert of the same `_id` raced ours and the update applied to it, once. Its
      // "before" is unknown here; it is answered as an upsert's (null), its "after" is read back.
      if (outcome.upserted === 0 && outcome.matched === 0) continue;
    } else {
      const key = before._id as ShardKey;
      const value = shardKey === DEFAULT_SHARD_KEY ? key : shardKeyValue(before, shardKey, 'a stored document');
      // `_v` pins the version read: the write applies to exactly that document or to none.
      op = opFor(mod, { ...pinnedFilter(filter, key, shardKey, value), _v: before._v }, false, shardKey);
      const pinned = op;
      outcome = await exec.run((view) => keys.apply(view, pinned));
      if (outcome.matched + outcome.deleted === 0) continue;
    }
    const result = options.returnDocument === 'after' ? await afterImage(exec, keys, mod, op, before) : before === null ? null : stripMarkers<Document>(before);
    return result === null ? null : (applyProjection<Document>([result], options.projection)[0] ?? null);
  }
  throw new ShardkitStoreError(ErrorCode.storeFailure, `${OP_NAME[mod.kind]}: the document kept changing between the read and the write (${String(ATTEMPTS)} attempts)`);
}
