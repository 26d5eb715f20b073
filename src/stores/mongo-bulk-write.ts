/**
 * How `MongoStore` runs a bulk: its inserts go in one unordered `insertMany`, its updates, replaces and
 * deletes as the store's single calls, in parallel. Why not one driver bulk: FerretDB 1.24 stops an
 * unordered update batch at the first write error, reports it at the wrong index and loses the counts
 * of what it did apply (ADR 0005); single calls also give per-op outcomes.
 */
import { ErrorCode, ShardkitStoreError } from '../errors.js';
import { asError, bulkResult, deleteResult, emptyResults, INSERTED, writeResult } from './bulk-result.js';
import { bulkWriteErrors, isDuplicateKeyCode, wrapDriverError } from './driver-errors.js';
import type { ShardStore, StoreBulkResult, StoredDocument, StoreOpResult, StoreWriteOp } from './shard-store.js';

/**
 * Apply `ops` (already checked) through `store`'s single writes and `insertMany` (one unordered
 * driver `insertMany` of the bulk's inserts), every op attempted, errors reported by op index.
 */
export async function splitBulkWrite(store: ShardStore, insertMany: (docs: StoredDocument[]) => Promise<unknown>, ops: readonly StoreWriteOp[]): Promise<StoreBulkResult> {
  const inserts: Array<{ index: number; doc: StoredDocument }> = [];
  ops.forEach((op, index) => {
    if ('insertOne' in op) inserts.push({ index, doc: { ...op.insertOne.document } });
  });
  const errors: Array<{ index: number; error: Error }> = [];
  const results: StoreOpResult[] = emptyResults(ops.length);

  const insertBatch = async (): Promise<void> => {
    if (inserts.length === 0) return;
    const applied = (): void => {
      const failed = new Set(errors.map((e) => e.index));
      for (const { index } of inserts) if (!failed.has(index)) results[index] = INSERTED;
    };
    try {
      await insertMany(inserts.map((i) => i.doc));
      applied();
    } catch (error) {
      const writeErrors = bulkWriteErrors(error);
      if (writeErrors.length === 0) throw wrapDriverError(store.shardId, 'bulkWrite', error);
      for (const w of writeErrors) {
        const code = isDuplicateKeyCode(w.code) ? ErrorCode.storeDuplicateKey : ErrorCode.storeFailure;
        const index = inserts[w.index]?.index ?? -1;
        errors.push({
          index,
          error: new ShardkitStoreError(code, `shard ${store.shardId}: bulkWrite op ${index} failed: ${w.errmsg ?? `code ${w.code}`}`, { shardId: store.shardId, cause: w }),
        });
      }
      // Unordered: every insert without a write error applied.
      applied();
    }
  };

  const single = async (op: StoreWriteOp, index: number): Promise<void> => {
    try {
      if ('insertOne' in op) return;
      if ('deleteOne' in op) results[index] = deleteResult(await store.deleteOne(op.deleteOne.filter));
      else if ('updateOne' in op) results[index] = writeResult(await store.updateOne(op.updateOne.filter, op.updateOne.update, { upsert: op.updateOne.upsert === true }));
      else results[index] = writeResult(await store.replaceOne(op.replaceOne.filter, op.replaceOne.replacement, { upsert: op.replaceOne.upsert === true }));
    } catch (error) {
      errors.push({ index, error: asError(error) });
    }
  };

  await Promise.all([insertBatch(), ...ops.map((op, index) => single(op, index))]);
  return bulkResult(results, errors);
}
