/**
 * A circuit breaker per shard: after `failureThreshold` consecutive failures that say the shard is
 * unhealthy (unreachable, timed out) calls fail fast with `shardkit.store.circuitOpen` for
 * `resetTimeoutMs`; then up to `halfOpenProbes` calls probe the shard, and the first answer decides
 * between closing and opening again. Answers that prove the shard alive (a duplicate key, a bad
 * filter) count as successes: the breaker judges the shard, not the request.
 */
import { ErrorCode, ShardkitInvalidArgumentError, ShardkitStoreError } from '../errors.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';

/** Breaker states. */
export const BreakerState = { closed: 'closed', open: 'open', halfOpen: 'half-open' } as const;
/** Union of breaker states. */
export type BreakerState = (typeof BreakerState)[keyof typeof BreakerState];

/** Options of `CircuitBreaker`. */
export interface CircuitBreakerOptions {
  /** Consecutive unhealthy failures that open the circuit (default 5). */
  readonly failureThreshold?: number;
  /** How long the circuit stays open before probing, in ms (default 5000). */
  readonly resetTimeoutMs?: number;
  /** Calls let through at once while half-open (default 1). */
  readonly halfOpenProbes?: number;
  /** Time source (default the system clock). */
  readonly clock?: Clock;
  /** Called on every state change (logging, metrics). */
  readonly onStateChange?: (from: BreakerState, to: BreakerState) => void;
}

/** True for errors that say the shard itself is unhealthy. */
export function isShardHealthFailure(error: unknown): boolean {
  return error instanceof ShardkitStoreError && (error.code === ErrorCode.storeUnavailable || error.code === ErrorCode.storeTimeout);
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new ShardkitInvalidArgumentError(`${name} must be a positive integer; got ${String(value)}`);
  return value;
}

/** One shard's circuit breaker. */
export class CircuitBreaker {
  readonly shardId: string;
  readonly #threshold: number;
  readonly #resetMs: number;
  readonly #maxProbes: number;
  readonly #clock: Clock;
  readonly #onChange: ((from: BreakerState, to: BreakerState) => void) | undefined;
  #state: BreakerState = BreakerState.closed;
  #failures = 0;
  #openedAt = 0;
  #probes = 0;

  constructor(shardId: string, options: CircuitBreakerOptions = {}) {
    this.shardId = shardId;
    this.#threshold = positiveInt('failureThreshold', options.failureThreshold ?? 5);
    const reset = options.resetTimeoutMs ?? 5000;
    if (!Number.isFinite(reset) || reset < 0) throw new ShardkitInvalidArgumentError(`resetTimeoutMs must be >= 0; got ${String(reset)}`);
    this.#resetMs = reset;
    this.#maxProbes = positiveInt('halfOpenProbes', options.halfOpenProbes ?? 1);
    this.#clock = options.clock ?? systemClock;
    this.#onChange = options.onStateChange;
  }

  /** Current state (an open circuit whose timeout ran out reports half-open). */
  get state(): BreakerState {
    if (this.#state === BreakerState.open && this.#clock.now() - this.#openedAt >= this.#resetMs) return BreakerState.halfOpen;
    return this.#state;
  }

  /** Consecutive unhealthy failures counted so far. */
  get failures(): number {
    return this.#failures;
  }

  #to(next: BreakerState): void {
    const from = this.#state;
    if (from === next) return;
    this.#state = next;
    this.#onChange?.(from, next);
  }

  /**
   * Ask to make a call. Returns whether it is a half-open probe (pass it to `record`); throws
   * `shardkit.store.circuitOpen` when the call must fail fast.
   */
  acquire(): boolean {
    if (this.#state === BreakerState.open) {
      const waited = this.#clock.now() - this.#openedAt;
      if (waited < this.#resetMs) {
        throw new ShardkitStoreError(
          ErrorCode.circuitOpen,
          `shard ${this.shardId}: circuit open after ${this.#failures} consecutive failures; next probe in ${Math.ceil(this.#resetMs - waited)} ms`,
          { shardId: this.shardId },
        );
      }
      this.#to(BreakerState.halfOpen);
      this.#probes = 0;
    }
    if (this.#state === BreakerState.halfOpen) {
      if (this.#probes >= this.#maxProbes) {
        throw new ShardkitStoreError(ErrorCode.circuitOpen, `shard ${this.shardId}: circuit half-open, probe in flight`, { shardId: this.shardId });
      }
      this.#probes++;
      return true;
    }
    return false;
  }

  /** Record the outcome of a call admitted by `acquire` (`error` undefined on success). */
  record(probe: boolean, error?: unknown): void {
    if (probe) this.#probes = Math.max(0, this.#probes - 1);
    const failed = error !== undefined && isShardHealthFailure(error);
    if (!failed) {
      this.#failures = 0;
      // A stale probe (admitted before the circuit re-opened) cannot close it.
      if (this.#state === BreakerState.halfOpen && probe) this.#to(BreakerState.closed);
      return;
    }
    this.#failures++;
    if (this.#state === BreakerState.halfOpen || (this.#state === BreakerState.closed && this.#failures >= this.#threshold)) {
      this.#openedAt = this.#clock.now();
      this.#to(BreakerState.open);
    }
  }
}
