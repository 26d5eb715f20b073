/**
 * The cursor the data path returns, shaped like the driver's `AbstractCursor`: async iterable,
 * `next()`, `hasNext()`, `tryNext()`, `toArray()`, `forEach()`, `map()` and `close()`. A subclass says
 * how documents are produced (`open`); this base only pulls from it one document at a time, so memory is
 * whatever the source buffers, never the whole result. Subclasses add their builder methods
 * (`sort`, `limit`, ... for `find`; none for `aggregate`), which may only be called before the first read.
 */
import { ShardkitInvalidArgumentError } from '../errors.js';

/**
 * A cursor over the documents of a sharded query.
 *
 * @typeParam T - the documents it yields.
 */
export abstract class ShardedCursor<T> implements AsyncIterable<T> {
  #source: AsyncIterator<unknown> | undefined;
  #peeked: { value: unknown } | undefined;
  #closed = false;
  #transform: ((doc: never) => unknown) | undefined;

  /** The documents, in order; called once, at the first read. */
  protected abstract open(): AsyncIterator<unknown>;

  /** True once the cursor is exhausted or closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once a read has started: builder methods then refuse. */
  protected get started(): boolean {
    return this.#source !== undefined || this.#closed;
  }

  /** Throws when a builder method is called after the first read, as the driver does. */
  protected assertNotStarted(method: string): void {
    if (this.started) throw new ShardkitInvalidArgumentError(`cursor.${method}() must be called before the cursor is read`);
  }

  async #pull(): Promise<{ value: unknown } | undefined> {
    if (this.#peeked !== undefined) {
      const p = this.#peeked;
      this.#peeked = undefined;
      return p;
    }
    if (this.#closed) return undefined;
    this.#source ??= this.open();
    const r = await this.#source.next();
    if (r.done === true) {
      await this.close();
      return undefined;
    }
    return { value: r.value };
  }

  /** The next document, or null when there is none. */
  async next(): Promise<T | null> {
    const r = await this.#pull();
    if (r === undefined) return null;
    return (this.#transform === undefined ? r.value : this.#transform(r.value as never)) as T;
  }

  /** Same as `next()`: shardkit's cursors always wait for their shards. */
  tryNext(): Promise<T | null> {
    return this.next();
  }

  /** Whether another document follows (reads ahead one document). */
  async hasNext(): Promise<boolean> {
    if (this.#peeked !== undefined) return true;
    const r = await this.#pull();
    if (r === undefined) return false;
    this.#peeked = r;
    return true;
  }

  /** Every remaining document (buffers them all: prefer iterating for large results). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const doc of this) out.push(doc);
    return out;
  }

  /** Calls `fn` on every remaining document; stops early when it returns `false`. */
  async forEach(fn: (doc: T) => boolean | void | Promise<boolean | void>): Promise<void> {
    for await (const doc of this) {
      if ((await fn(doc)) === false) {
        await this.close();
        return;
      }
    }
  }

  /**
   * Maps every document through `fn` (the driver's `map`): returns this cursor, retyped.
   */
  map<U>(fn: (doc: T) => U): ShardedCursor<U> {
    this.assertNotStarted('map');
    const prev = this.#transform;
    this.#transform = (prev === undefined ? fn : (d: never) => fn(prev(d) as T)) as (doc: never) => unknown;
    return this as unknown as ShardedCursor<U>;
  }

  /** Stops the cursor and releases what its source holds (per-shard cursors). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#peeked = undefined;
    const source = this.#source;
    if (source?.return !== undefined) await source.return(undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    try {
      for (;;) {
        const doc = await this.next();
        if (doc === null) return;
        yield doc;
      }
    } finally {
      await this.close();
    }
  }
}
