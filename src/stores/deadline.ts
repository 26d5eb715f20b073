/**
 * The one deadline of a shard call (ADR 0003, "The bound"). A caller runs a call under a deadline
 * with {@link withDeadline}; every `ShardStore` reads it with {@link currentDeadline} where the call
 * starts work at its shard, and must not start anything after it: `MemoryStore` checks it when a call
 * begins, `MongoStore` hands the time left to the driver as its client-side operation timeout
 * (`timeoutMS`: server selection, pool checkout, socket, and `maxTimeMS` at the server).
 *
 * The deadline travels with the call's async context, not as an argument: every contract method, and
 * every decorator between the caller and the store, then carries it without a parameter of its own,
 * and a call a store makes inside another (a bulk's single writes) inherits it. Nested deadlines
 * never extend an outer one: the earlier wins.
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

/**
 * Run `fn` with every shard call it makes bounded by `deadline` (or by the deadline already in force,
 * when that one is earlier).
 */
export function withDeadline<T>(deadline: Deadline, fn: () => Promise<T>): Promise<T> {
  const bound = earlier(scope.getStore(), deadline) ?? deadline;
  return scope.run(bound, fn);
}

/** The deadline of the shard call running here, if any. */
export function currentDeadline(): Deadline | undefined {
  return scope.getStore();
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
  const deadline = scope.getStore();
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
