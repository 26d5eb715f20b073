/**
 * How a `bulkWrite` is checked and accounted, the same in every store: misuse is refused before any op
 * is applied, each op reports what it did, and the totals are the sums of those reports (so a caller
 * reading `results` and one reading the totals never disagree).
 */
import { ShardkitInvalidArgumentError } from '../errors.js';
import type { StoreBulkResult, StoreOpResult, StoreWriteOp, WriteOutcome } from './shard-store.js';
import { assertReplacement, assertStorable, withVersionBump } from './store-filters.js';

/** What an op that matched nothing, or failed, did. */
export const NOTHING_DONE: StoreOpResult = Object.freeze({ matched: 0, modified: 0, deleted: 0, upserted: 0, inserted: 0 });

/** An insert that applied. */
export const INSERTED: StoreOpResult = Object.freeze({ ...NOTHING_DONE, inserted: 1 });

/** Refuse a malformed op before anything is applied, as the driver validates a bulk before sending it. */
export function assertBulkOps(ops: readonly StoreWriteOp[]): void {
  for (const op of ops) {
    if ('insertOne' in op) assertStorable(op.insertOne.document);
    else if ('updateOne' in op) withVersionBump(op.updateOne.update);
    else if ('replaceOne' in op) assertReplacement(op.replaceOne.replacement);
    else if (!('deleteOne' in op)) throw new ShardkitInvalidArgumentError('unknown bulk write op');
  }
}

/** What a conditional update or replace did, as one op of a bulk. */
export function writeResult(outcome: WriteOutcome): StoreOpResult {
  return { inserted: 0, matched: outcome.matched, modified: outcome.modified, deleted: 0, upserted: outcome.upsertedId === undefined ? 0 : 1 };
}

/** What a delete of `deleted` documents did, as one op of a bulk. */
export function deleteResult(deleted: number): StoreOpResult {
  return { inserted: 0, matched: 0, modified: 0, deleted, upserted: 0 };
}

/** Per-op results of `count` ops, all {@link NOTHING_DONE} until an op reports. */
export function emptyResults(count: number): StoreOpResult[] {
  return Array.from({ length: count }, () => NOTHING_DONE);
}

/** A thrown value as a bulk reports it. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Add what `r` did to the running `total` (a store's bulk, or the collection's over several shards). */
export function addCounts(total: { -readonly [K in keyof StoreOpResult]: number }, r: StoreOpResult): void {
  total.inserted += r.inserted;
  total.matched += r.matched;
  total.modified += r.modified;
  total.deleted += r.deleted;
  total.upserted += r.upserted;
}

/** The bulk's result: totals summed from `results`, errors in op order. */
export function bulkResult(results: readonly StoreOpResult[], errors: ReadonlyArray<{ index: number; error: Error }>): StoreBulkResult {
  const total = { ...NOTHING_DONE };
  for (const r of results) addCounts(total, r);
  return { ...total, results, errors: [...errors].sort((a, b) => a.index - b.index) };
}

/** A write's outcome as the stores report it: `upsertedId` only when the write inserted. */
export function outcome(matched: number, modified: number, upsertedId: unknown): WriteOutcome {
  return upsertedId === null || upsertedId === undefined ? { matched, modified } : { matched, modified, upsertedId };
}
