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

/**
 * Calls noted before a flush is scheduled for the next turn of the event loop, and before a caller that
 * never yields flushes on its own path. Nothing reads the metrics between flushes without flushing
 * first, so the batch bounds only the memory held and how long one flush holds the event loop (a few
 * µs per call): a reply that arrives meanwhile waits for it. 256 calls hold it for about a loopback
 * read's time (the one benchmark run with 256 had the full stack's read p99 at +56%, against +18% with
 * 64 and +10% with a flush per call, on a noisy host); 64 keep a flush to a fraction of one.
 */
const BATCH = 64;
const HARD_BATCH = 8192;

/** One shard's op as the metrics label it. */
interface Series {
  readonly labels: Readonly<{ shard: string; op: string }>;
  readonly shard: ShardState;
  readonly key: string;
  /** Calls of the batch a flush is taking in: given to the calls counter in one increment (`flush`). */
  ended: number;
}

/** A shard's calls in flight: counted as they start and end, given to the gauge at a flush. */
interface ShardState {
  readonly labels: Readonly<{ shard: string }>;
  inFlight: number;
  applied: number;
}

/** Every `StoreMetrics` on a registry: reading any of its metrics flushes them all (`flushOnCollect`). */
const onRegistry = new WeakMap<Registry, Set<StoreMetrics>>();
const FLUSHES = Symbol('shardkit.flushes');

/** Make reading `metric` (a scrape, `get()`) take in what the registry's StoreMetrics noted first. */
function flushOnCollect(metric: object, registry: Registry): void {
  const m = metric as { collect?: () => unknown; [FLUSHES]?: true };
  if (m[FLUSHES] === true) return;
  const before = m.collect;
  m.collect = function (this: unknown) {
    for (const metrics of onRegistry.get(registry) ?? []) metrics.flush();
    return before?.call(this);
  };
  m[FLUSHES] = true;
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
  readonly #shards = new Map<string, ShardState>();
  /** Calls ended since the last flush, three slots each: series, seconds, error code. */
  #ended: unknown[] = [];
  /** Collection operations counted since the last flush, by operation and routing mode. */
  readonly #routedPending = new Map<string, { targeted: number; scattered: number }>();
  #scheduled = false;

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
    let all = onRegistry.get(registry);
    if (all === undefined) {
      all = new Set();
      onRegistry.set(registry, all);
    }
    all.add(this);
    for (const metric of [this.calls, this.errors, this.latency, this.maxLatency, this.inFlight, this.routed]) flushOnCollect(metric, registry);
  }

  /** Record one collection operation that reached the owners of its shard-key values (`targeted`) or every shard. */
  countRouted(op: string, mode: 'targeted' | 'scattered'): void {
    let pending = this.#routedPending.get(op);
    if (pending === undefined) {
      pending = { targeted: 0, scattered: 0 };
      this.#routedPending.set(op, pending);
    }
    pending[mode]++;
  }

  /**
   * A call started; returns the function that records its end (`code` set when it failed). Both only
   * note the call: the metrics take calls in by the batch (`flush`), off the calls' path, and always
   * before anyone reads them (each metric's collect, `signals`, `saturation`). Each prom-client update
   * looks its series up by the label values, and a flush per call cost a turn of the event loop (at
   * concurrency 1, two: one while the call was in flight, one after it). Measured on the test
   * servers, that was most of the full stack's cost over the bare router (docs/benchmarks.md, "Data path").
   */
  start(shard: string, op: string, now: number): (end: number, code?: string) => void {
    const series = this.#series(shard, op);
    series.shard.inFlight++;
    let done = false;
    return (end, code) => {
      if (done) return;
      done = true;
      series.shard.inFlight--;
      this.#ended.push(series, Math.max(0, end - now) / 1000, code);
      // A batch is taken in on the next turn of the event loop; a caller that never yields to it has
      // its calls taken in on its own path, a larger batch at a time.
      if (this.#ended.length >= 3 * HARD_BATCH) this.flush();
      else if (this.#ended.length >= 3 * BATCH) this.#schedule();
    };
  }

  /** Take in what calls noted since the last flush (see `start`). */
  flush(): void {
    this.#scheduled = false;
    for (const shard of this.#shards.values()) {
      const delta = shard.inFlight - shard.applied;
      if (delta > 0) this.inFlight.inc(shard.labels, delta);
      else if (delta < 0) this.inFlight.dec(shard.labels, -delta);
      shard.applied = shard.inFlight;
    }
    const ended = this.#ended;
    this.#ended = [];
    const counted: Series[] = [];
    for (let i = 0; i < ended.length; i += 3) {
      const series = ended[i] as Series;
      const seconds = ended[i + 1] as number;
      const code = ended[i + 2] as string | undefined;
      if (series.ended++ === 0) counted.push(series);
      this.latency.observe(series.labels, seconds);
      if (seconds > (this.#max.get(series.key) ?? -1)) {
        this.#max.set(series.key, seconds);
        this.maxLatency.set(series.labels, seconds);
      }
      if (code !== undefined) this.errors.inc({ shard: series.labels.shard, op: series.labels.op, code });
    }
    for (const series of counted) {
      this.calls.inc(series.labels, series.ended);
      series.ended = 0;
    }
    for (const [op, pending] of this.#routedPending) {
      for (const mode of ['targeted', 'scattered'] as const) {
        if (pending[mode] > 0) this.routed.inc({ op, mode }, pending[mode]);
        pending[mode] = 0;
      }
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.flush()).unref();
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
      let state = this.#shards.get(shard);
      if (state === undefined) {
        state = { labels: Object.freeze({ shard }), inFlight: 0, applied: 0 };
        this.#shards.set(shard, state);
      }
      series = { labels: Object.freeze({ shard, op }), shard: state, key: seriesKey(shard, op), ended: 0 };
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
    this.flush();
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
    this.flush();
    return Object.fromEntries((await this.inFlight.get()).values.map((v) => [String(v.labels['shard']), v.value]));
  }
}
