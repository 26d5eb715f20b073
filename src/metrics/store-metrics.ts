/**
 * The four golden signals of shard stores, per shard and operation: latency (histogram, p50/p99),
 * traffic (calls), errors (by shardkit error code) and saturation (calls in flight), plus retries
 * and circuit-breaker state. They live in a prom-client `Registry`, so an application that already
 * exposes one gets shardkit's metrics by passing it in.
 */
import { Registry, type Counter, type Gauge, type Histogram } from 'prom-client';
import { counterIn, gaugeIn, histogramIn } from './prom.js';
import { bucketQuantile, LATENCY_BUCKETS_SECONDS, type CumulativeBucket } from './quantile.js';
import { requireMethods } from '../arguments.js';

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
  /** Latency quantiles in milliseconds, read from the histogram's buckets (NaN before the first call). */
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The slowest call so far. */
  readonly maxMs: number;
}

type ShardOp = 'shard' | 'op';

const LATENCY = 'shardkit_store_call_duration_seconds';

/** One shard's op as the metrics label it. */
interface Series {
  readonly labels: Readonly<{ shard: string; op: string }>;
  readonly shardLabels: Readonly<{ shard: string }>;
  readonly key: string;
}

function seriesKey(shard: unknown, op: unknown): string {
  return `${String(shard)}\u0001${String(op)}`;
}

/** Golden-signal metrics for shard stores, registered in a prom-client `Registry`. */
export class StoreMetrics {
  /** Where the metrics are registered: `await registry.metrics()` is the Prometheus text. */
  readonly registry: Registry;
  readonly calls: Counter<ShardOp>;
  readonly errors: Counter<ShardOp | 'code'>;
  readonly retries: Counter<ShardOp>;
  readonly latency: Histogram<ShardOp>;
  readonly maxLatency: Gauge<ShardOp>;
  readonly inFlight: Gauge<'shard'>;
  readonly breakerState: Gauge<'shard'>;
  /** Collection operations by how they were routed: `mode` is `targeted` or `scattered` (ADR 0008). */
  readonly routed: Counter<'op' | 'mode'>;
  // A gauge cannot be read back synchronously, and each call must compare with the maximum so far.
  readonly #max = new Map<string, number>();
  readonly #bySeries = new Map<string, Map<string, Series>>();

  /** Register (or pick up, when already there) shardkit's store metrics in `registry`; default a new one. */
  constructor(registry: Registry = new Registry()) {
    requireMethods(registry, 'new StoreMetrics(registry): registry', "a prom-client Registry or left out", ['getSingleMetric', 'registerMetric']);
    this.registry = registry;
    this.calls = counterIn(registry, 'shardkit_store_calls_total', 'Store calls finished, by shard and operation.', ['shard', 'op']);
    this.errors = counterIn(registry, 'shardkit_store_errors_total', 'Store calls that failed, by shard, operation and error code.', ['shard', 'op', 'code']);
    this.retries = counterIn(registry, 'shardkit_store_retries_total', 'Retries of store calls, by shard and operation.', ['shard', 'op']);
    this.latency = histogramIn(registry, LATENCY, 'Store call latency, by shard and operation.', ['shard', 'op'], LATENCY_BUCKETS_SECONDS);
    this.maxLatency = gaugeIn(registry, 'shardkit_store_call_duration_max_seconds', 'Slowest store call since start, by shard and operation.', ['shard', 'op']);
    this.inFlight = gaugeIn(registry, 'shardkit_store_in_flight', 'Store calls in flight, by shard.', ['shard']);
    this.breakerState = gaugeIn(registry, 'shardkit_store_circuit_state', 'Circuit breaker state by shard: 0 closed, 1 half-open, 2 open.', ['shard']);
    this.routed = counterIn(registry, 'shardkit_collection_operations_total', 'Collection operations, by operation and routing mode (targeted or scattered).', ['op', 'mode']);
  }

  /** Record one collection operation that reached the owners of its shard-key values (`targeted`) or every shard. */
  countRouted(op: string, mode: 'targeted' | 'scattered'): void {
    this.routed.inc({ op, mode });
  }

  /** A call started; returns the function that records its end (`code` set when it failed). */
  start(shard: string, op: string, now: number): (end: number, code?: string) => void {
    const series = this.#series(shard, op);
    this.inFlight.inc(series.shardLabels);
    let done = false;
    return (end, code) => {
      if (done) return;
      done = true;
      this.inFlight.dec(series.shardLabels);
      const seconds = Math.max(0, end - now) / 1000;
      this.calls.inc(series.labels);
      this.latency.observe(series.labels, seconds);
      if (seconds > (this.#max.get(series.key) ?? -1)) {
        this.#max.set(series.key, seconds);
        this.maxLatency.set(series.labels, seconds);
      }
      if (code !== undefined) this.errors.inc({ shard, op, code });
    };
  }

  /** The labels and key of a shard's op, made once (this runs twice per store call). */
  #series(shard: string, op: string): Series {
    let ops = this.#bySeries.get(shard);
    if (ops === undefined) {
      ops = new Map();
      this.#bySeries.set(shard, ops);
    }
    let series = ops.get(op);
    if (series === undefined) {
      series = { labels: Object.freeze({ shard, op }), shardLabels: Object.freeze({ shard }), key: seriesKey(shard, op) };
      ops.set(op, series);
    }
    return series;
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
  async signals(): Promise<StoreOpSignals[]> {
    const [latency, errors, calls] = await Promise.all([this.latency.get(), this.errors.get(), this.calls.get()]);
    const byCode = new Map<string, Record<string, number>>();
    for (const { labels, value } of errors.values) {
      const key = seriesKey(labels['shard'], labels['op']);
      byCode.set(key, { ...byCode.get(key), [String(labels['code'])]: value });
    }
    const buckets = new Map<string, CumulativeBucket[]>();
    for (const v of latency.values) {
      if (v.metricName !== `${LATENCY}_bucket`) continue;
      const key = seriesKey(v.labels['shard'], v.labels['op']);
      const bound = (v.labels as Readonly<Record<string, string | number | undefined>>)['le'];
      const le = bound === '+Inf' ? Number.POSITIVE_INFINITY : Number(bound);
      buckets.set(key, [...(buckets.get(key) ?? []), { le, count: v.value }]);
    }
    return calls.values
      .map(({ labels, value }) => {
        const shard = String(labels['shard']);
        const op = String(labels['op']);
        const key = seriesKey(shard, op);
        const series = buckets.get(key) ?? [];
        const max = this.#max.get(key) ?? Number.NaN;
        return {
          shard,
          op,
          calls: value,
          errors: byCode.get(key) ?? {},
          p50Ms: bucketQuantile(series, 0.5, max) * 1000,
          p99Ms: bucketQuantile(series, 0.99, max) * 1000,
          maxMs: max * 1000,
        };
      })
      .sort((a, b) => (a.shard === b.shard ? (a.op < b.op ? -1 : 1) : a.shard < b.shard ? -1 : 1));
  }

  /** In-flight calls per shard right now (saturation). */
  async saturation(): Promise<Record<string, number>> {
    return Object.fromEntries((await this.inFlight.get()).values.map((v) => [String(v.labels['shard']), v.value]));
  }
}
