/**
 * A difference between two paths measured in alternating blocks, told apart from the host's drift.
 *
 * The data-path benchmark runs each path in blocks that take turns (block b of path A, then block b of
 * path B, the order rotating). On a shared host the latency of a whole block drifts by more than the
 * 2% the router's overhead is held to (other jobs, the server's own caches), so a difference of the
 * pooled p50s moves by several points from run to run. Pairing blocks cancels the drift: each block's
 * median is compared with the other path's median in the same round, and the estimate is the median
 * of those ratios, with a 95% confidence interval from a bootstrap over the rounds (resampling whole
 * rounds, seeded, so a run reproduces its own interval).
 */

/** An estimate with its 95% confidence interval. */
export interface Interval {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
}

/** How an interval stands against an upper bound: under it, over it, or holding it (not told apart). */
export type Verdict = 'met' | 'missed' | 'within noise';

function median(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  return n % 2 === 1 ? (sorted[(n - 1) / 2] as number) : ((sorted[n / 2 - 1] as number) + (sorted[n / 2] as number)) / 2;
}

/** Seeded xorshift32: reproducible draws without Math.random (an interval, a benchmark's key order). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** The median and its bootstrap 95% interval of per-round values (`resamples` seeded resamples of the rounds). */
export function medianInterval(perRound: readonly number[], resamples = 2000, seed = 11): Interval {
  const n = perRound.length;
  if (n === 0) return { estimate: Number.NaN, low: Number.NaN, high: Number.NaN };
  const random = rng(seed);
  const medians = new Float64Array(resamples);
  const draw = new Float64Array(n);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) draw[i] = perRound[Math.floor(random() * n)] as number;
    medians[r] = median(draw);
  }
  medians.sort();
  return { estimate: median(perRound), low: medians[Math.floor(resamples * 0.025)] as number, high: medians[Math.ceil(resamples * 0.975) - 1] as number };
}

/**
 * Per round, `a`'s block median over `b`'s, minus 1 (`+0.02` is 2% slower): `a` and `b` hold the
 * per-operation samples of each path in block order, `block` samples per block.
 */
export function pairedRatios(a: readonly number[], b: readonly number[], block: number): number[] {
  if (!Number.isInteger(block) || block <= 0) throw new RangeError(`block must be a positive integer (got ${String(block)})`);
  const rounds = Math.min(Math.floor(a.length / block), Math.floor(b.length / block));
  const out: number[] = [];
  for (let r = 0; r < rounds; r++) {
    out.push(median(a.slice(r * block, (r + 1) * block)) / median(b.slice(r * block, (r + 1) * block)) - 1);
  }
  return out;
}

/** Per round, `a`'s value minus `b`'s (per-block CPU per operation, for instance). */
export function pairedDifferences(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length);
  return Array.from({ length: n }, (_, i) => (a[i] as number) - (b[i] as number));
}

/** `met` when the whole interval is at or under `bound`, `missed` when it is all over it, else `within noise`. */
export function verdict(interval: Interval, bound: number): Verdict {
  if (interval.high <= bound) return 'met';
  if (interval.low > bound) return 'missed';
  return 'within noise';
}

/** The `q`-quantile of ascending `sorted`: the smallest value with at least `q` of the values at or under it. */
function quantileOfSorted(sorted: Float64Array, q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? Number.NaN;
}

/**
 * `a`'s `q`-quantile over `b`'s, with a bootstrap 95% interval: two independent samples (an
 * application's latencies during a migration and before it), each resampled on its own, seeded. A p99
 * over a few thousand operations rests on its few dozen slowest; the interval says how far another
 * run of the same length could put it.
 */
export function quantileRatioInterval(a: readonly number[], b: readonly number[], q: number, resamples = 2000, seed = 13): Interval {
  if (a.length === 0 || b.length === 0) return { estimate: Number.NaN, low: Number.NaN, high: Number.NaN };
  const random = rng(seed);
  const draw = (values: readonly number[]): number => {
    const sample = new Float64Array(values.length);
    for (let i = 0; i < values.length; i++) sample[i] = values[Math.floor(random() * values.length)] as number;
    return quantileOfSorted(sample.sort(), q);
  };
  const ratios = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) ratios[r] = draw(a) / draw(b);
  ratios.sort();
  const estimate = quantileOfSorted(Float64Array.from(a).sort(), q) / quantileOfSorted(Float64Array.from(b).sort(), q);
  return { estimate, low: ratios[Math.floor(resamples * 0.025)] as number, high: ratios[Math.ceil(resamples * 0.975) - 1] as number };
}
