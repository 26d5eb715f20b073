/**
 * `InstrumentedStore`: records the golden signals (latency, traffic, errors, saturation) of every
 * call of any `ShardStore`. `wrapStore` composes it with `ResilientStore` so retries and breaker
 * state land in the same metrics.
 */
import { ShardkitError } from '../errors.js';
import { StoreMetrics } from '../metrics/store-metrics.js';
import { systemClock } from '../clock.js';
import type { Clock } from '../clock.js';
import { ResilientStore } from './resilience.js';
import type { ResilienceOptions } from './resilience.js';
import { CircuitBreaker } from './circuit-breaker.js';
import type { ShardStore } from './shard-store.js';
import { StoreDecorator, type StoreOp } from './store-decorator.js';
import { optionalObject, requireObject, requireString } from '../arguments.js';

/** A `ShardStore` that measures every call of another one. */
export class InstrumentedStore extends StoreDecorator {
  readonly metrics: StoreMetrics;
  readonly #clock: Clock;

  constructor(inner: ShardStore, metrics: StoreMetrics, clock: Clock = systemClock) {
    super(inner);
    this.metrics = metrics;
    this.#clock = clock;
  }

  protected async around<T>(op: StoreOp, fn: () => Promise<T>): Promise<T> {
    const end = this.metrics.start(this.shardId, op, this.#clock.now());
    try {
      const value = await fn();
      end(this.#clock.now());
      return value;
    } catch (error) {
      end(this.#clock.now(), error instanceof ShardkitError ? error.code : 'unknown');
      throw error;
    }
  }
}

/** How `wrapStore` dresses a store. */
export interface WrapStoreOptions {
  /** Record golden signals here (calls as the caller sees them, retries included). */
  readonly metrics?: StoreMetrics;
  /** Timeouts, retries and breaker; false for none. Default: `ResilientStore` defaults. */
  readonly resilience?: ResilienceOptions | false;
}

/**
 * `InstrumentedStore(ResilientStore(store))`, with retries and breaker state reported to the
 * metrics. Either layer is skipped when not asked for.
 */
export function wrapStore(store: ShardStore, options: WrapStoreOptions = {}): ShardStore {
  requireObject(store, 'wrapStore(store, options): store', 'a ShardStore');
  requireString(store.shardId, 'wrapStore: store.shardId');
  optionalObject(options, 'wrapStore(store, options): options');
  const { metrics, resilience } = options;
  let out = store;
  if (resilience !== false) {
    const r = resilience ?? {};
    const breaker = r.breaker;
    // A ready-made breaker keeps its own listener; options get one that feeds the gauge.
    const breakerOptions: ResilienceOptions['breaker'] =
      breaker === false || breaker instanceof CircuitBreaker || metrics === undefined
        ? breaker
        : {
            ...breaker,
            onStateChange: (from, to) => {
              metrics.breaker(store.shardId, to);
              breaker?.onStateChange?.(from, to);
            },
          };
    out = new ResilientStore(store, {
      ...r,
      ...(breakerOptions === undefined ? {} : { breaker: breakerOptions }),
      onRetry: (info) => {
        metrics?.retry(store.shardId, info.op);
        r.onRetry?.(info);
      },
    });
  }
  return metrics === undefined ? out : new InstrumentedStore(out, metrics, resilience === false ? systemClock : (resilience?.clock ?? systemClock));
}
