/**
 * The one deadline of a shard call (ADR 0003, "The bound"). Every `ShardStore` reads it with
 * {@link currentDeadline} when a call begins, before its first `await`, and must not start anything
 * at its shard after it: `MemoryStore` checks it when a call begins, `MongoStore` hands it to the
 * driver as a signal (server selection, the pool's queue, the send) and the time left as `maxTimeMS`.
 *
 * Two ways to put a call under a deadline, and why two (ADR 0003, "Carrying the deadline"):
 * - {@link callWithDeadline} hands it to the store call that `call` starts synchronously: a decorator
 *   (`ResilientStore`'s attempts), the collection's calls to a shard. It costs a variable's write;
 * - {@link withDeadline} carries it across `await`s in the async context (`AsyncLocalStorage`), for a
 *   span of many calls that share one deadline (an application call's `maxTimeMS`). Node 20 runs a
 *   hook for every promise in the process once any `AsyncLocalStorage` was used (a plain driver read
 *   measured 4% slower), so the data path's defaults never use it.
 * Nested deadlines never extend an outer one: the earlier wins.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from '../clock.js';
import { ErrorCode, ShardkitStoreError } from '../errors.js';

/** The moment a call must be over by: no part of it may start at a shard later. */
export interface Deadline {
  /** On `clock.now()` (monotonic ms). */
  readonly at: number;
  /** The clock `at` is measured on. */
  readonly clock: Clock;
  /**
   * Aborts when `at` passes, for a store that hands it to a driver (pool checkout, server selection,
   * the send); set by the store that enforces the deadline, absent elsewhere.
   */
  readonly signal?: AbortLike;
}

/**
 * What a deadline's signal offers its listeners: the subset of `AbortSignal` the driver uses, which an
 * `AbortSignal` and a store's `DeadlineSignal` (`deadline-signal.ts`) both are.
 */
export interface AbortLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

const scope = new AsyncLocalStorage<Deadline>();

/** Milliseconds left before `deadline` (negative once it passed). */
export function remainingMs(deadline: Deadline): number {
  return deadline.at - deadline.clock.now();
}

/** The earlier of two deadlines (each on its own clock, compared by time left). */
export function earlier(a: Deadline | undefined, b: Deadline | undefined): Deadline | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  // On a tie the inner one wins: a store re-issues the deadline in force with its signal attached.
  // On one clock compare the moments themselves: two readings of now() would differ.
  if (a.clock === b.clock) return b.at <= a.at ? b : a;
  return remainingMs(b) <= remainingMs(a) ? b : a;
}

/** The deadline `ms` from now on `clock`. */
export function deadlineIn(clock: Clock, ms: number): Deadline {
  return { at: clock.now() + ms, clock };
}

/** Whether any caller used {@link withDeadline} yet: until then the async context holds no deadline. */
let scoped = false;
/** The deadline {@link callWithDeadline} is handing to the store call starting now, if any. */
let handed: Deadline | undefined;

/**
 * Run `fn` with every shard call it makes, across its `await`s, bounded by `deadline` (or by the
 * deadline already in force, when that one is earlier). Costs every promise of the process from the
 * first use (see the file's comment): for a span of calls, not for one call.
 */
export function withDeadline<T>(deadline: Deadline, fn: () => Promise<T>): Promise<T> {
  const bound = earlier(currentDeadline(), deadline) ?? deadline;
  scoped = true;
  return scope.run(bound, fn);
}

/**
 * Start the store call `call` makes synchronously (a store method, or a decorator around one) under
 * `deadline`, or under the deadline already in force when that one is earlier. The store reads it as
 * it begins, before its first `await`; anything `call` starts after an `await` does not see it.
 */
export function callWithDeadline<T>(deadline: Deadline, call: () => Promise<T>): Promise<T> {
  const previous = handed;
  handed = earlier(currentDeadline(), deadline) ?? deadline;
  try {
    return call();
  } finally {
    handed = previous;
  }
}

/**
 * The deadline of the shard call beginning here, if any. A store reads it when a call begins, before
 * its first `await` (after one, a deadline handed by {@link callWithDeadline} is gone).
 */
export function currentDeadline(): Deadline | undefined {
  if (handed !== undefined) return handed;
  return scoped ? scope.getStore() : undefined;
}

/** The `shardkit.store.timeout` of a call whose deadline passed before it could start (or finish). */
export function deadlineError(shardId: string, op: string, detail = 'its deadline passed before it could start'): ShardkitStoreError {
  return new ShardkitStoreError(ErrorCode.storeTimeout, `shard ${shardId}: ${op} timed out: ${detail}`, { shardId });
}

/**
 * Throw `shardkit.store.timeout` when the call running here is past its deadline: a store calls this
 * where it would start work at its shard, so a call held back (a saturated pool, a frozen shard, a
 * paused process) past its deadline never lands.
 */
export function assertBeforeDeadline(shardId: string, op: string): void {
  const deadline = currentDeadline();
  if (deadline !== undefined && remainingMs(deadline) <= 0) throw deadlineError(shardId, op);
}

/** `work`, or `reason()` once the signal aborts first (the work goes on, but nothing waits for it). */
export function untilAborted<T>(work: Promise<T>, signal: AbortLike, reason: () => Error): Promise<T> {
  if (signal.aborted) return Promise.reject(reason());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reason());
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
