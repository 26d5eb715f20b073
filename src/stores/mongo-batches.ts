/**
 * `MongoStore`'s read options and its `findBatches`: a driver cursor opened with `batchSize` and read one
 * server batch at a time (`hasNext()` fetches one, `readBufferedDocuments()` takes it), so the router
 * holds one batch per shard whatever the result's size.
 *
 * Each batch is one call of the store, under a deadline of its own (the caller's, cut to the store's
 * `opTimeoutMs`): the call's abort signal kills the driver cursor when the deadline passes, so a batch
 * that could not be read by then is not read later. The cursor carries no `maxTimeMS`: MongoDB counts it
 * over the cursor's whole life (the `find` and every `getMore`), which would bound the application's
 * iteration instead of one batch.
 */
import type { FindCursor, FindOptions } from 'mongodb';
import { untilAborted, type Deadline } from './deadline.js';
import type { StoreBatchCursor, StoreBatchOptions, StoredDocument, StoreFindOptions } from './shard-store.js';
import { assertLimit } from './store-filters.js';

/** The driver's options for a query's sort, skip, limit and projection (a limit of 0 is none). */
export function findOptions(options: StoreFindOptions): FindOptions {
  const { sort, skip, limit, projection } = options;
  return {
    ...(sort === undefined ? {} : { sort }),
    ...(skip === undefined || skip === 0 ? {} : { skip }),
    ...(limit !== undefined && limit > 0 ? { limit } : {}),
    ...(projection === undefined ? {} : { projection }),
  };
}

/**
 * A request's options for a cursor read in batches: not the request's `maxTimeMS` and signal, since
 * each batch has its own deadline, which kills the cursor (see the file's comment).
 */
export function cursorOptions<T extends { maxTimeMS?: number; signal?: AbortSignal }>(request: T): Omit<T, 'maxTimeMS' | 'signal'> {
  const { maxTimeMS: _perRequest, signal: _perRequestSignal, ...driver } = request;
  return driver;
}

/**
 * A `StoreBatchCursor` over the driver cursor `open` creates (at the first batch, with the signal that
 * kills it); `run` runs one batch as one call of the store (its deadline, its error mapping).
 */
export function driverBatches<C extends { readonly deadline: Deadline }>(
  options: StoreBatchOptions,
  open: (options: FindOptions & { signal: AbortSignal }, call: C) => FindCursor<StoredDocument>,
  run: (fn: (call: C) => Promise<StoredDocument[]>) => Promise<StoredDocument[]>,
): StoreBatchCursor {
  assertLimit(options.batchSize);
  const killer = new AbortController();
  let cursor: FindCursor<StoredDocument> | undefined;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    const open = cursor;
    cursor = undefined;
    await open?.close().catch(() => undefined);
  };
  const batch = async (call: C): Promise<StoredDocument[]> => {
    cursor ??= open({ ...findOptions(options), batchSize: options.batchSize, signal: killer.signal }, call);
    const c = cursor;
    const read = (async () => ((await c.hasNext()) ? c.readBufferedDocuments() : []))();
    const signal = call.deadline.signal;
    if (signal === undefined) return read;
    // The batch's deadline kills the cursor: nothing it asked for may be read after that moment.
    const kill = (): void => killer.abort(signal.reason);
    signal.addEventListener('abort', kill, { once: true });
    try {
      return await untilAborted(read, signal, () => signal.reason as Error);
    } finally {
      signal.removeEventListener('abort', kill);
    }
  };
  return {
    next: async () => {
      if (closed) return { done: true, value: undefined };
      let docs: StoredDocument[];
      try {
        docs = await run(batch);
      } catch (error) {
        await close();
        throw error;
      }
      if (docs.length > 0) return { done: false, value: docs };
      await close();
      return { done: true, value: undefined };
    },
    close,
  };
}
