/**
 * `ResilientStore`: any `ShardStore` with a per-call deadline, retries with exponential backoff and
 * full jitter, and a circuit breaker for its shard.
 *
 * The deadline is not a timer raced against the call: it is handed down (`callWithDeadline`), so the
 * wrapped store cannot start the call at its shard after it and bounds the server's work by the time
 * left. A timed-out call therefore cannot land later (ADR 0003, "The bound").
 *
 * Only calls that are safe to repeat are retried (`RETRIED_OPS`): reads, and writes whose second
 * application changes nothing (`insertIfAbsent`, `fence`, `tombstone`, index creation). Writes that
 * are not idempotent are never retried: after a timeout or a lost connection their outcome is
 * unknown, and a second `$inc` of `_v`, a second delete or a second `insert` would lie about it.
 * `fenceRange` and `deleteRange` are not retried either: a repeat acts on the *next* batch, so the
 * first batch's result would be lost to the caller. Nor is `replaceTombstone`: a repeat after a lost
 * answer finds the document, not the tombstone, and would report a write that applied as one that did
 * not. Nor is a `tombstone` with an expected version, for the same reason. Nor is a batch of
 * `findBatches`: it moves a cursor at the shard, so a repeat after a lost answer would skip a batch.
 * Callers see the error and decide.
 */
import { ErrorCode, isRetryableError, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitBreakerOptions } from './circuit-breaker.js';
import { sleep, systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { callWithDeadline, currentDeadline, deadlineError, deadlineIn, earlier, remainingMs, untilAborted, type Deadline } from './deadline.js';
import { DeadlineSignal, DeadlineWatchdogs } from './deadline-signal.js';
import type { ShardStore } from './shard-store.js';
import { StoreDecorator, type StoreOp } from './store-decorator.js';

/** Store calls that `ResilientStore` retries: repeating them cannot change the outcome. */
export const RETRIED_OPS: ReadonlySet<StoreOp> = new Set<StoreOp>([
  'ensureRoutingIndex',
  'hasRoutingIndex',
  'createIndexes',
  'ping',
  'get',
  'find',
  'count',
  'estimatedDocumentCount',
  'aggregate',
  'insertIfAbsent',
  'fence',
  'scanRange',
  'countRange',
  'checksumRange',
  'tombstone',
]);

/** Options of `ResilientStore`. */
export interface ResilienceOptions {
  /** Time limit per attempt in ms (default 10000; 0 disables). On expiry: `shardkit.store.timeout`. */
  readonly opTimeoutMs?: number;
  /**
   * Budget of one call in ms, retries and backoff included (default 0: none). No attempt starts after
   * it and the last one is cut to what is left, so a retried write never lands later than the budget
   * (the migration's sweep and cleanup wait `routerDrainMs` for in-flight requests to end). A deadline
   * the caller set (`deadline.ts`) bounds the call too, whichever is earlier.
   */
  readonly deadlineMs?: number;
  /** Extra attempts for retried calls (default 3; 0 disables retries). */
  readonly retries?: number;
  /** First backoff ceiling in ms (default 50); doubles per attempt. */
  readonly baseDelayMs?: number;
  /** Backoff ceiling in ms (default 2000). */
  readonly maxDelayMs?: number;
  /** The breaker for this shard, options for a new one, or false for none (default: a new one). */
  readonly breaker?: CircuitBreaker | CircuitBreakerOptions | false;
  /** Time source for timeouts and backoff (default the system clock). */
  readonly clock?: Clock;
  /** Uniform [0, 1) source for jitter (default Math.random). */
  readonly random?: () => number;
  /** Which errors are worth another attempt (default: `isRetryableError`, minus an open circuit). */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Called before each retry (logging, metrics). */
  readonly onRetry?: (info: { op: string; attempt: number; delayMs: number; error: unknown }) => void;
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new ShardkitInvalidArgumentError(`${name} must be a finite number >= 0; got ${String(value)}`);
  return value;
}

/** A `ShardStore` that times out, retries and trips a circuit breaker around another one. */
export class ResilientStore extends StoreDecorator {
  /** This shard's breaker, if any. */
  readonly breaker: CircuitBreaker | undefined;
  readonly #timeoutMs: number;
  readonly #deadlineMs: number;
  readonly #retries: number;
  readonly #baseMs: number;
  readonly #maxMs: number;
  readonly #clock: Clock;
  readonly #watchdogs: DeadlineWatchdogs;
  readonly #random: () => number;
  readonly #isRetryable: (error: unknown) => boolean;
  readonly #onRetry: ResilienceOptions['onRetry'];

  constructor(inner: ShardStore, options: ResilienceOptions = {}) {
    super(inner);
    this.#timeoutMs = nonNegative('opTimeoutMs', options.opTimeoutMs ?? 10_000);
    this.#deadlineMs = nonNegative('deadlineMs', options.deadlineMs ?? 0);
    const retries = options.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0) throw new ShardkitInvalidArgumentError(`retries must be an integer >= 0; got ${String(retries)}`);
    this.#retries = retries;
    this.#baseMs = nonNegative('baseDelayMs', options.baseDelayMs ?? 50);
    this.#maxMs = nonNegative('maxDelayMs', options.maxDelayMs ?? 2000);
    this.#clock = options.clock ?? systemClock;
    this.#watchdogs = new DeadlineWatchdogs(this.#clock);
    this.#random = options.random ?? Math.random;
    this.#isRetryable = options.isRetryable ?? ((e) => isRetryableError(e) && !(e instanceof ShardkitStoreError && e.code === ErrorCode.circuitOpen));
    this.#onRetry = options.onRetry;
    const b = options.breaker;
    this.breaker = b === false ? undefined : b instanceof CircuitBreaker ? b : new CircuitBreaker(inner.shardId, { clock: this.#clock, ...b });
  }

  /** Backoff before retry `attempt` (0-based): full jitter under an exponential ceiling. */
  backoffMs(attempt: number): number {
    const ceiling = Math.min(this.#maxMs, this.#baseMs * 2 ** attempt);
    return Math.floor(this.#random() * ceiling);
  }

  /**
   * Run one attempt under `deadline`: the wrapped store cannot start the call at its shard after it,
   * and bounds what runs there by the time left, so the attempt ends by then. The watchdog only
   * answers the caller at the deadline should the wrapped store not (a store that ignores the
   * contract); it abandons nothing that could still land later. One watchdog timer per clock, not a
   * timer per call (`deadline-signal.ts`).
   */
  #attempt<T>(op: string, fn: () => Promise<T>, deadline: Deadline | undefined): Promise<T> {
    if (deadline === undefined) return fn();
    // A store that ends its calls by their deadline needs no watchdog of ours (a promise, a signal and a
    // listener per call on the data path).
    if (this.inner.endsCallsByDeadline === true) return callWithDeadline(deadline, fn);
    return this.#watched(op, fn, deadline);
  }

  /** An attempt over a store that may not end it by its deadline: answered at the deadline all the same. */
  async #watched<T>(op: string, fn: () => Promise<T>, deadline: Deadline): Promise<T> {
    const left = remainingMs(deadline);
    const signal = new DeadlineSignal(deadline.at, this.shardId, op, left);
    const watchdog = this.#watchdogs.on(deadline.clock);
    watchdog.watch(signal);
    try {
      return await untilAborted(
        callWithDeadline(deadline, fn),
        signal,
        () => new ShardkitStoreError(ErrorCode.storeTimeout, `shard ${this.shardId}: ${op} timed out after ${Math.ceil(left)} ms`, { shardId: this.shardId }),
      );
    } finally {
      watchdog.release(signal);
    }
  }

  /**
   * The deadline of an attempt: the earliest of the caller's deadline, the call's budget and the
   * per-attempt limit, each counted on this store's clock.
   */
  #attemptDeadline(budget: Deadline | undefined): Deadline | undefined {
    const perAttempt = this.#timeoutMs > 0 ? deadlineIn(this.#clock, this.#timeoutMs) : undefined;
    return earlier(budget, perAttempt);
  }

  protected async around<T>(op: StoreOp, fn: () => Promise<T>, args: readonly unknown[]): Promise<T> {
    // A conditional tombstone is not retried: a repeat after a lost answer finds the tombstone and says false.
    const retried = RETRIED_OPS.has(op) && !(op === 'tombstone' && args[3] !== undefined);
    // The budget of the whole call, retries and backoff included, never later than the caller's own.
    const budget = earlier(currentDeadline(), this.#deadlineMs > 0 ? deadlineIn(this.#clock, this.#deadlineMs) : undefined);
    for (let attempt = 0; ; attempt++) {
      const deadline = this.#attemptDeadline(budget);
      // Out of time before the shard was asked: the caller's doing, not the shard's, so the breaker
      // does not hear of it.
      if (deadline !== undefined && remainingMs(deadline) <= 0) throw deadlineError(this.shardId, op);
      const probe = this.breaker?.acquire() ?? false;
      try {
        const value = await this.#attempt(op, fn, deadline);
        this.breaker?.record(probe);
        return value;
      } catch (error) {
        this.breaker?.record(probe, error);
        if (!retried || attempt >= this.#retries || !this.#isRetryable(error)) throw error;
        const delayMs = this.backoffMs(attempt);
        // No attempt starts at or after the budget's end: it could only time out.
        if (budget !== undefined && remainingMs(budget) <= delayMs) throw error;
        this.#onRetry?.({ op, attempt: attempt + 1, delayMs, error });
        await sleep(this.#clock, delayMs);
      }
    }
  }
}
