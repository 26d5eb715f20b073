/**
 * A `StoreBatchCursor` over documents an in-process store chooses at the first batch, as a server's
 * blocking sort chooses them when the cursor opens. They are held as references (the store replaces a
 * stored object on every write instead of changing it, so the chosen versions stay as they were), and
 * each batch is copied out only when it is read.
 */
import type { StoreBatchCursor, StoredDocument } from './shard-store.js';
import { assertLimit } from './store-filters.js';

/**
 * Batches of `batchSize` of what `select` chooses, each presented by `present`; `check` runs before
 * every batch (each batch is a call of its own: closed, offline and deadline checks).
 */
export function selectedBatches(
  batchSize: number,
  check: () => void,
  select: () => StoredDocument[],
  present: (batch: StoredDocument[]) => StoredDocument[],
): StoreBatchCursor {
  assertLimit(batchSize);
  let docs: StoredDocument[] | undefined;
  let at = 0;
  let closed = false;
  const close = async (): Promise<void> => {
    closed = true;
    docs = undefined;
  };
  return {
    next: async () => {
      if (closed) return { done: true, value: undefined };
      check();
      docs ??= select();
      if (at >= docs.length) {
        await close();
        return { done: true, value: undefined };
      }
      const batch = docs.slice(at, at + batchSize);
      at += batch.length;
      return { done: false, value: present(batch) };
    },
    close,
  };
}
