/**
 * The four golden signals of shard stores, per shard and operation: latency (histogram, p50/p99),
 * traffic (calls), errors (by shardkit error code) and saturation (calls in flight), plus retries
 * and circuit-breaker state.
 */
import { MetricsRegistry } from './registry.js';
import type { Counter, Gauge, Histogram } from './registry.js';

/** Numeric breaker state for the gauge: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Readonly<Record<string, number>> = Object.freeze({ closed: 0, 'half-open': 1, open: 2 });

/** One shard and operation's golden signals. */
export interface StoreOpSignals {
  readonly shard: string;
  readonly op: string;
  /** Calls finished (traffic). */
  readonly calls: number;
  /** Failed calls by error code. */
  readonly errors: Readonly<Record<string, number>>;
  /** Latency quantiles in milliseconds (NaN before the first call). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** Golden-signal metrics for shard stores, registered in a `MetricsRegistry`. */
export class StoreMetrics {
  readonly registry: MetricsRegistry;
  readonly calls: Counter;
  readonly errors: Counter;
  readonly retries: Counter;
  readonly latency: Histogram;
  readonly inFlight: Gauge;
  readonly breakerState: Gauge;

  constructor(registry: MetricsRegistry = new MetricsRegistry()) {
    this.registry = registry;
    this.calls = registry.counter('shardkit_store_calls_total', 'Store calls finished, by shard and operation.', ['shard', 'op']);
    this.errors = registry.counter('shardkit_store_errors_total', 'Store calls that failed, by shard, operation and error code.', ['shard', 'op', 'code']);
    this.retries = registry.counter('shardkit_store_retries_total', 'Retries of store calls, by shard and operation.', ['shard', 'op']);
    this.latency = registry.histogram('shardkit_store_call_duration_seconds', 'Store call latency, by shard and operation.', ['shard', 'op']);
    this.inFlight = registry.gauge('shardkit_store_in_flight', 'Store calls in flight, by shard.', ['shard']);
    this.breakerState = registry.gauge('shardkit_store_circuit_state', 'Circuit breaker state by shard: 0 closed, 1 half-open, 2 open.', ['shard']);
  }

  /** A call started; returns the function that records its end (`code` set when it failed). */
  start(shard: string, op: string, now: number): (end: number, code?: string) => void {
    this.inFlight.inc({ shard });
    let done = false;
    return (end, code) => {
      if (done) return;
      done = true;
      this.inFlight.dec({ shard });
      const labels = { shard, op };
      this.calls.inc(labels);
      this.latency.observe(labels, Math.max(0, end - now) / 1000);
      if (code !== undefined) this.errors.inc({ shard, op, code });
    };
  }

  /** Record a retry. */
  retry(shard: string, op: string): void {
    this.retries.inc({ shard, op });
  }

  /** Record a breaker state change. */
  breaker(shard: string, state: string): void {
    this.breakerState.set({ shard }, BREAKER_STATE_VALUE[state] ?? -1);
  }

  /** Golden signals per shard and operation, sorted by shard then op. */
  signals(): StoreOpSignals[] {
    const errors = new Map<string, Record<string, number>>();
    for (const { labels, value } of this.errors.values()) {
      const key = `${labels['shard']}\u0001${labels['op']}`;
      const byCode = errors.get(key) ?? {};
      byCode[labels['code'] as string] = value;
      errors.set(key, byCode);
    }
    return this.latency
      .summaries()
      .map((s) => {
        const shard = s.labels['shard'] as string;
        const op = s.labels['op'] as string;
        return { shard, op, calls: s.count, errors: errors.get(`${shard}\u0001${op}`) ?? {}, p50Ms: s.p50 * 1000, p99Ms: s.p99 * 1000, maxMs: s.max * 1000 };
      })
      .sort((a, b) => (a.shard === b.shard ? (a.op < b.op ? -1 : 1) : a.shard < b.shard ? -1 : 1));
  }

  /** In-flight calls per shard right now (saturation). */
  saturation(): Record<string, number> {
    return Object.fromEntries(this.inFlight.values().map((v) => [v.labels['shard'] as string, v.value]));
  }
}
