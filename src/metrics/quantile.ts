/**
 * Quantiles read from Prometheus-style histogram buckets, so code and tests can ask a histogram for
 * its p50/p99 the way a PromQL `histogram_quantile` would, without a second store of raw values.
 */

/**
 * Default latency buckets in seconds: 0.1 ms to 60 s, each 1.5 times the previous, fine enough
 * that p50/p99 read from the buckets land within a third of the true value.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = Object.freeze(
  Array.from({ length: 34 }, (_, i) => Number((0.0001 * 1.5 ** i).toPrecision(3))),
);

/** One bucket as an exposition gives it: upper bound `le` (Infinity for `+Inf`), cumulative count. */
export interface CumulativeBucket {
  readonly le: number;
  readonly count: number;
}

/**
 * Estimated quantile `q` (0..1), interpolated linearly within the bucket the rank falls in, as
 * PromQL's `histogram_quantile` does; the `+Inf` bucket and the estimate are capped at `max`, the
 * largest value observed, when it is known. NaN when nothing was observed.
 */
export function bucketQuantile(buckets: readonly CumulativeBucket[], q: number, max = Number.POSITIVE_INFINITY): number {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let below = 0;
  let lower = 0;
  for (const b of sorted) {
    const inBucket = b.count - below;
    if (inBucket > 0 && b.count >= rank) {
      const upper = Number.isFinite(b.le) ? b.le : Math.max(lower, max);
      const est = lower + (upper - lower) * ((rank - below) / inBucket);
      return Math.min(max, est);
    }
    below = b.count;
    if (Number.isFinite(b.le)) lower = b.le;
  }
  return Math.min(max, lower);
}
