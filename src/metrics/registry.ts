/**
 * A small metrics registry: counters, gauges and histograms with labels, a `snapshot()` for code
 * and tests, and `toPrometheus()` for the text exposition format (version 0.0.4). No global
 * singleton: whoever needs metrics creates a registry and passes it down.
 */
import { ShardkitInvalidArgumentError } from '../errors.js';

/** Label values by label name. */
export type Labels = Readonly<Record<string, string>>;

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Default latency buckets in seconds: 0.1 ms to 60 s, each 1.5 times the previous, fine enough
 * that p50/p99 read from the buckets land within a third of the true value.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  Array.from({ length: 34 }, (_, i) => Number((0.0001 * 1.5 ** i).toPrecision(3))),
);

abstract class Metric<S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  protected readonly series = new Map<string, { labels: Labels; state: S }>();

  constructor(name: string, help: string, labelNames: readonly string[]) {
    if (!NAME_RE.test(name)) throw new ShardkitInvalidArgumentError(`invalid metric name '${name}'`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith('__') || l === 'le') throw new ShardkitInvalidArgumentError(`invalid label name '${l}' on ${name}`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = Object.freeze([...labelNames]);
  }

  protected abstract fresh(): S;

  protected state(labels: Labels): S {
    let key = '';
    for (const l of this.labelNames) {
      const v = labels[l];
      if (v === undefined) throw new ShardkitInvalidArgumentError(`metric ${this.name} needs label '${l}'`);
      key += `${v}\u0001`;
    }
    let entry = this.series.get(key);
    if (entry === undefined) {
      const own: Record<string, string> = {};
      for (const l of this.labelNames) own[l] = labels[l] as string;
      entry = { labels: Object.freeze(own), state: this.fresh() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  /** Drop every series (e.g. between benchmark runs). */
  reset(): void {
    this.series.clear();
  }
}

/** A monotonically increasing count. */
export class Counter extends Metric<{ value: number }> {
  protected fresh(): { value: number } {
    return { value: 0 };
  }
  /** Add `by` (>= 0). */
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new ShardkitInvalidArgumentError(`counter ${this.name} can only grow; got ${String(by)}`);
    this.state(labels).value += by;
  }
  /** Current value for `labels` (0 if never touched). */
  get(labels: Labels = {}): number {
    return this.values().find((s) => this.labelNames.every((l) => s.labels[l] === labels[l]))?.value ?? 0;
  }
  /** Every series. */
  values(): Array<{ labels: Labels; value: number }> {
    return [...this.series.values()].map(({ labels, state }) => ({ labels, value: state.value }));
  }
}

/** A value that goes up and down (in-flight calls, breaker state). */
export class Gauge extends Metric<{ value: number }> {
  protected fresh(): { value: number } {
    return { value: 0 };
  }
  set(labels: Labels, value: number): void {
    this.state(labels).value = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.state(labels).value += by;
  }
  dec(labels: Labels = {}, by = 1): void {
    this.state(labels).value -= by;
  }
  get(labels: Labels = {}): number {
    return this.values().find((s) => this.labelNames.every((l) => s.labels[l] === labels[l]))?.value ?? 0;
  }
  values(): Array<{ labels: Labels; value: number }> {
    return [...this.series.values()].map(({ labels, state }) => ({ labels, value: state.value }));
  }
}

interface HistogramState {
  counts: number[];
  count: number;
  sum: number;
  min: number;
  max: number;
}

/** Summary of one histogram series. */
export interface HistogramSummary {
  readonly labels: Labels;
  readonly count: number;
  readonly sum: number;
  readonly min: number;
  readonly max: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/** Observations in fixed buckets, as Prometheus histograms; quantiles interpolated within a bucket. */
export class Histogram extends Metric<HistogramState> {
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    super(name, help, labelNames);
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))) {
      throw new ShardkitInvalidArgumentError(`histogram ${name} needs finite, strictly increasing buckets`);
    }
    this.buckets = Object.freeze([...buckets]);
  }

  protected fresh(): HistogramState {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), count: 0, sum: 0, min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY };
  }

  observe(labels: Labels, value: number): void {
    if (Number.isNaN(value)) return;
    const s = this.state(labels);
    let lo = 0;
    let hi = this.buckets.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.buckets[mid] as number) < value) lo = mid + 1;
      else hi = mid;
    }
    s.counts[lo] = (s.counts[lo] as number) + 1;
    s.count++;
    s.sum += value;
    if (value < s.min) s.min = value;
    if (value > s.max) s.max = value;
  }

  #quantile(s: HistogramState, q: number): number {
    if (s.count === 0) return Number.NaN;
    const rank = q * s.count;
    let cum = 0;
    for (let i = 0; i < s.counts.length; i++) {
      const c = s.counts[i] as number;
      if (c > 0 && cum + c >= rank) {
        const lower = i === 0 ? Math.min(0, s.min) : (this.buckets[i - 1] as number);
        const upper = i < this.buckets.length ? (this.buckets[i] as number) : s.max;
        const est = lower + (upper - lower) * ((rank - cum) / c);
        return Math.min(s.max, Math.max(s.min, est));
      }
      cum += c;
    }
    return s.max;
  }

  /** Estimated quantile `q` (0..1) of one series; NaN when it has no observations. */
  quantile(labels: Labels, q: number): number {
    return this.#quantile(this.state(labels), q);
  }

  /** Every series, summarized. */
  summaries(): HistogramSummary[] {
    return [...this.series.values()].map(({ labels, state }) => ({
      labels,
      count: state.count,
      sum: state.sum,
      min: state.min,
      max: state.max,
      p50: this.#quantile(state, 0.5),
      p90: this.#quantile(state, 0.9),
      p99: this.#quantile(state, 0.99),
    }));
  }

  /** Raw bucket counts (non-cumulative, last is +Inf) of every series. */
  rawSeries(): Array<{ labels: Labels; counts: readonly number[]; count: number; sum: number }> {
    return [...this.series.values()].map(({ labels, state }) => ({ labels, counts: state.counts, count: state.count, sum: state.sum }));
  }
}

/** Everything a registry holds, as plain data. */
export interface MetricsSnapshot {
  readonly counters: Record<string, Array<{ labels: Labels; value: number }>>;
  readonly gauges: Record<string, Array<{ labels: Labels; value: number }>>;
  readonly histograms: Record<string, HistogramSummary[]>;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

function num(n: number): string {
  if (n === Number.POSITIVE_INFINITY) return '+Inf';
  if (n === Number.NEGATIVE_INFINITY) return '-Inf';
  if (Number.isNaN(n)) return 'NaN';
  return String(n);
}

/** A set of named metrics. */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Counter | Gauge | Histogram>();

  #add<M extends Counter | Gauge | Histogram>(metric: M, kind: new (...a: never[]) => M): M {
    const existing = this.#metrics.get(metric.name);
    if (existing !== undefined) {
      if (!(existing instanceof kind) || existing.labelNames.join() !== metric.labelNames.join()) {
        throw new ShardkitInvalidArgumentError(`metric ${metric.name} is already registered with another type or labels`);
      }
      return existing;
    }
    this.#metrics.set(metric.name, metric);
    return metric;
  }

  /** Get or create a counter (same name and labels return the same counter). */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames), Counter);
  }

  /** Get or create a gauge. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#add(new Gauge(name, help, labelNames), Gauge);
  }

  /** Get or create a histogram. */
  histogram(name: string, help: string, labelNames: readonly string[] = [], buckets?: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets), Histogram);
  }

  /** Drop every series of every metric. */
  reset(): void {
    for (const m of this.#metrics.values()) m.reset();
  }

  /** Plain-data view of every metric. */
  snapshot(): MetricsSnapshot {
    const counters: Record<string, Array<{ labels: Labels; value: number }>> = {};
    const gauges: Record<string, Array<{ labels: Labels; value: number }>> = {};
    const histograms: Record<string, HistogramSummary[]> = {};
    for (const m of this.#metrics.values()) {
      if (m instanceof Counter) counters[m.name] = m.values();
      else if (m instanceof Gauge) gauges[m.name] = m.values();
      else histograms[m.name] = m.summaries();
    }
    return { counters, gauges, histograms };
  }

  /** Prometheus text exposition format. */
  toPrometheus(): string {
    const lines: string[] = [];
    for (const m of this.#metrics.values()) {
      const type = m instanceof Counter ? 'counter' : m instanceof Gauge ? 'gauge' : 'histogram';
      lines.push(`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${type}`);
      if (m instanceof Histogram) {
        for (const s of m.rawSeries()) {
          let cum = 0;
          m.buckets.forEach((b, i) => {
            cum += s.counts[i] as number;
            lines.push(`${m.name}_bucket${labelText(s.labels, ['le', num(b)])} ${cum}`);
          });
          lines.push(`${m.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
          lines.push(`${m.name}_sum${labelText(s.labels)} ${num(s.sum)}`, `${m.name}_count${labelText(s.labels)} ${s.count}`);
        }
      } else {
        for (const s of m.values()) lines.push(`${m.name}${labelText(s.labels)} ${num(s.value)}`);
      }
    }
    return lines.length === 0 ? '' : `${lines.join('\n')}\n`;
  }
}
