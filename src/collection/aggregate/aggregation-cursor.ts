/**
 * The cursor `ShardedCollection.aggregate` returns: the driver's `AggregationCursor` reading contract
 * (async iterable, `next`, `toArray`, `map`, `close`, from `ShardedCursor`), over the result of one
 * run of the pipeline, started at the first read.
 */
import type { Document } from 'mongodb';
import { ShardedCursor } from '../cursor.js';

/**
 * A cursor over an aggregation's results. The shards' answers are merged in the router (`run.ts`),
 * so the result is gathered before the first document comes out; iterating does not re-run it.
 *
 * @typeParam T - the result documents.
 */
export class AggregationCursor<T = Document> extends ShardedCursor<T> {
  readonly #run: () => Promise<Document[]>;

  /** @param run - computes every result document; called once, at the first read. */
  constructor(run: () => Promise<Document[]>) {
    super();
    this.#run = run;
  }

  protected open(): AsyncIterator<unknown> {
    const run = this.#run;
    return (async function* results() {
      yield* await run();
    })();
  }
}
