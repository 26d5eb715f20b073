/**
 * Pacing of the migrator on the one {@link Clock}'s monotonic time, so it is throttled in production
 * and stepped deterministically in simulations, and a wall-clock step never stalls it: a fixed
 * docs-per-second {@link Throttle}, and an {@link AdaptiveThrottle} that sets its own rate from the
 * shards' latency, like Vitess's throttler does from replication lag.
 */
import type { Clock } from '../clock.js';

/**
 * Paces work to a rate in documents per second. `consume(n)` books n documents; `delay()` says how
 * long to wait until the booked work fits the rate (the migrator sleeps that long in slices, renewing
 * its lock). Debt accumulates rather than being sampled per batch, so a large batch is paid for by a
 * proportionally longer pause and the long-run rate stays exact.
 */
export class Throttle {
  protected readonly clock: Clock;
  #rate: number;
  #nextAt: number | null = null;

  /** @param docsPerSec documents per second; 0 or undefined means unthrottled. */
  constructor(docsPerSec: number | undefined, clock: Clock) {
    if (docsPerSec !== undefined && (!Number.isFinite(docsPerSec) || docsPerSec < 0)) {
      throw new TypeError(`throttleDocsPerSec must be a finite number >= 0, got ${String(docsPerSec)}`);
    }
    this.#rate = docsPerSec ?? 0;
    this.clock = clock;
  }

  /** The pace in documents per second (0: unthrottled). */
  get docsPerSec(): number {
    return this.#rate;
  }

  /** Change the pace from now on (0: unthrottled); debt already booked keeps the rate it was booked at. */
  protected setRate(docsPerSec: number): void {
    this.#rate = docsPerSec;
    if (docsPerSec === 0) this.#nextAt = null;
  }

  /**
   * Book `n` documents of work just done. Returns when that work fits the rate (on the clock's
   * monotonic time), or null when nothing is owed (unthrottled, or nothing booked). Work booked while
   * earlier work is still owed is paced after it, so whoever shares the throttle shares the rate.
   */
  consume(n: number): number | null {
    if (this.#rate === 0 || n <= 0) return null;
    const now = this.clock.now();
    const base = this.#nextAt === null || this.#nextAt < now ? now : this.#nextAt;
    this.#nextAt = base + (n * 1000) / this.#rate;
    return this.#nextAt;
  }

  /**
   * Milliseconds to wait (0: go on): until `until`, what one {@link consume} returned, so that the
   * workers sharing this throttle each wait for their own work and take turns; without it, until all
   * the work booked fits the rate. Workers that all waited for all the work were let go together and
   * sent their next batches at once: four pairs copying from one shard fenced there together every
   * few seconds, which the adaptive throttle's probes saw as one long stall.
   */
  delay(until: number | null = this.#nextAt): number {
    return this.#nextAt === null || until === null ? 0 : Math.max(0, until - this.clock.now());
  }

  /**
   * Items to take in the next batch, at most `max`, each costing `cost` documents' worth of the pace
   * (a marker deleted costs less than a document copied): a fixed pace takes whole batches.
   */
  batchSize(max: number, cost = 1): number {
    return max;
  }
}

/**
 * What deleting one marker (a fence, a placeholder, a tombstone) by `_id` costs its shard, in
 * documents copied: cleanup and purge book each marker at this share of the pace, so they delete
 * four markers in the time the copy carries one document, at any pace, the throttle's floor
 * included. Measured on the test servers (FerretDB on SQLite, batches of 20, 100 and 500 ids, two
 * runs): a batch copied (fence, read back, insert at the target) took 3.5 to 6.3 times as long as
 * the same batch's markers deleted (`deleteMany` by `_id`), 0.30-0.58 ms against 0.07-0.13 ms per
 * document. Booked at a whole document each, a walkthrough's cleanup of 6,548 markers under a busy
 * writer took 1m42s to 3m48s at the floor of 20 a second.
 */
export const MARKER_DELETE_COST = 0.25;

/** Options of {@link AdaptiveThrottle}. */
export interface AdaptiveThrottleOptions {
  /**
   * The shards' p99 latency allowed while migrating, as a multiple of the p99 measured before (> 1;
   * e.g. 1.5 allows +50%).
   */
  readonly maxP99Impact: number;
  /** Latency samples per decision: the baseline takes one window, every later decision one more (default 40). */
  readonly window?: number;
  /** The rate never goes below this (docs/s, default 20), so a noisy shard cannot stall a migration. */
  readonly minDocsPerSec?: number;
  /** Each quiet window raises the rate by this factor (default 1.25); a breach confirmed by the next window halves it. */
  readonly increase?: number;
  /**
   * Samples per decision once the baseline is taken (default `window`). Fewer react within a short
   * copy: with the migrator's probes (a read and a write at two shards every 50 ms), 8 samples decide about every 100 ms.
   */
  readonly decisionWindow?: number;
  /**
   * The pace right after the baseline (docs/s; default 0: unthrottled until the first breach). A warm-up:
   * start low and let quiet decisions raise it, instead of finding the limit by a breach.
   */
  readonly startDocsPerSec?: number;
  /**
   * While paced, batches hold about this many milliseconds of work at the current pace (default 0:
   * whole batches), so a low pace is spread over small batches instead of one burst and a long pause.
   */
  readonly batchMs?: number;
}

/** Quiet windows in a row that used a quarter of the pace or less before the throttle lets go of it. */
const SLOW_WINDOWS = 3;

/**
 * Decision windows in a row over the limit before the pace is halved (and every one after, while
 * they stay over). One window alone is too often noise: probes of test servers under an application's
 * load and no copy at all (2,952 samples, the limit taken from each of 26 baselines along them) put a
 * window of 8 over the limit in 24% of decisions, and the pace halved about once a second, so a copy
 * that cost the application nothing was held at the floor (20-27 docs/s in the walkthrough and the
 * benchmark, whose p99 during the copy was 1.01x the baseline). Two in a row: 4.5% (median over the
 * baselines), for about 100 ms more before a real slowdown is answered.
 */
const BREACHES_TO_SLOW = 2;

/** A decision of the adaptive throttle, for the operator (`MigrationEvent` of type `throttle`). */
export interface ThrottleDecision {
  /** `calibrated`: the baseline is known; `slowed`: a second window in a row broke the limit; `raised`: a calm window; `released`: unthrottled again. */
  readonly action: 'calibrated' | 'slowed' | 'raised' | 'released';
  /** The pace from now on, docs/s (0: unthrottled). */
  readonly docsPerSec: number;
  /** The p99 of the window that decided, ms. */
  readonly p99Ms: number;
  /**
   * The p99 a decision window is allowed, ms: `maxP99Impact` times the baseline's quantile that a
   * window of this size's p99 estimates (its largest sample: the 8/9 quantile for 8 samples).
   */
  readonly limitMs: number;
  /**
   * What the limit multiplies, ms: the baseline's quantile a decision window's p99 estimates (for a
   * window of 8 samples, its 8/9 quantile: what the slowest of 8 probes typically took before the copy).
   */
  readonly baselineMs: number;
  /** Samples per decision window. */
  readonly windowSamples: number;
}

/**
 * A docs-per-second pacer whose rate follows the shards' latency: additive-free AIMD on the p99 of
 * latency samples (the migrator's probes of the shards it copies between). The first window is the
 * baseline, taken before any copy; afterwards each window whose p99 exceeds `maxP99Impact` times the
 * same statistic of the baseline (the quantile a window of its size's p99 estimates) right after
 * another that did ({@link BREACHES_TO_SLOW}: one alone holds the pace) halves the rate (the first
 * breach halves the rate measured so far), and each window within it that booked
 * documents raises the rate by `increase`, once more for every quiet window since the last booking in
 * which the copy waited out the work it booked (at most doubling it per booking), until windows in a
 * row show the copy using a quarter of the pace or less: then the migrator runs unthrottled again.
 */
export class AdaptiveThrottle extends Throttle {
  readonly maxP99Impact: number;
  /** Told every decision (the migrator reports them as events). */
  onDecision: ((decision: ThrottleDecision) => void) | undefined;
  readonly #window: number;
  readonly #minRate: number;
  readonly #increase: number;
  readonly #decisionWindow: number;
  readonly #startRate: number;
  readonly #batchMs: number;
  #samples: number[] = [];
  #baselineP99: number | null = null;
  /** The baseline's quantile a decision window's p99 estimates (ms), once the baseline is taken. */
  #baselineWindowMs = 0;
  #windowStart = 0;
  #windowDocs = 0;
  #slowWindows = 0;
  /** Quiet windows since the last booking (or breach) in which the copy waited out the documents it booked. */
  #pacedWindows = 0;
  /** Decision windows in a row over the limit (0 after a window within it). */
  #breaches = 0;

  constructor(options: AdaptiveThrottleOptions, clock: Clock) {
    super(0, clock);
    const { maxP99Impact, window = 40, minDocsPerSec = 20, increase = 1.25, decisionWindow = window, startDocsPerSec = 0, batchMs = 0 } = options;
    if (!Number.isFinite(maxP99Impact) || maxP99Impact <= 1) throw new TypeError(`maxP99Impact must be a number > 1, got ${String(maxP99Impact)}`);
    if (!Number.isSafeInteger(window) || window < 5) throw new TypeError(`window must be an integer >= 5, got ${String(window)}`);
    if (!Number.isFinite(minDocsPerSec) || minDocsPerSec <= 0) throw new TypeError(`minDocsPerSec must be > 0, got ${String(minDocsPerSec)}`);
    if (!Number.isFinite(increase) || increase <= 1) throw new TypeError(`increase must be > 1, got ${String(increase)}`);
    if (!Number.isSafeInteger(decisionWindow) || decisionWindow < 1) throw new TypeError(`decisionWindow must be an integer >= 1, got ${String(decisionWindow)}`);
    if (!Number.isFinite(startDocsPerSec) || startDocsPerSec < 0) throw new TypeError(`startDocsPerSec must be >= 0, got ${String(startDocsPerSec)}`);
    if (!Number.isFinite(batchMs) || batchMs < 0) throw new TypeError(`batchMs must be >= 0, got ${String(batchMs)}`);
    this.#decisionWindow = decisionWindow;
    this.#startRate = startDocsPerSec;
    this.#batchMs = batchMs;
    this.maxP99Impact = maxP99Impact;
    this.#window = window;
    this.#minRate = minDocsPerSec;
    this.#increase = increase;
  }

  /** True until the baseline window is full: the migrator probes without copying meanwhile. */
  get calibrating(): boolean {
    return this.#baselineP99 === null;
  }

  /** The baseline p99 in ms, or null while calibrating. */
  get baselineP99(): number | null {
    return this.#baselineP99;
  }

  override consume(n: number): number | null {
    this.#windowDocs += Math.max(0, n);
    return super.consume(n);
  }

  /** Record one latency sample (ms) of a shard the migrator works on; decides once a window is full. */
  observe(latencyMs: number): void {
    if (!Number.isFinite(latencyMs) || latencyMs < 0) return;
    this.#samples.push(latencyMs);
    if (this.#samples.length < (this.#baselineP99 === null ? this.#window : this.#decisionWindow)) return;
    const samples = this.#samples;
    const p99 = percentile(samples, 0.99);
    this.#samples = [];
    const now = this.clock.now();
    const before = this.docsPerSec;
    let action: ThrottleDecision['action'] | undefined;
    if (this.#baselineP99 === null) {
      this.#baselineP99 = p99;
      // Like with like: a decision window's p99 is its largest sample, which on a window of n samples
      // estimates the n/(n+1) quantile, not the p99 of the larger baseline window. Held to the
      // baseline's p99, eight samples had to stretch the shards' whole tail before a breach showed.
      this.#baselineWindowMs = percentile(samples, windowQuantile(this.#decisionWindow));
      if (this.#startRate > 0) this.setRate(Math.max(this.#minRate, this.#startRate));
      action = 'calibrated';
    } else if (p99 > this.#limitMs() && ++this.#breaches < BREACHES_TO_SLOW) {
      // Over the limit once: no raise, and the pace holds until the next window confirms it or not.
      this.#slowWindows = 0;
    } else if (p99 > this.#limitMs()) {
      this.#slowWindows = 0;
      this.#pacedWindows = 0;
      const elapsed = now - this.#windowStart;
      // Unthrottled so far: start from half the rate the window actually achieved.
      const current = this.docsPerSec > 0 ? this.docsPerSec : elapsed > 0 ? (this.#windowDocs * 1000) / elapsed : this.#minRate;
      this.setRate(Math.max(this.#minRate, current / 2));
      action = 'slowed';
    } else if (this.docsPerSec > 0 && this.#windowDocs === 0 && this.delay() > 0) {
      // Quiet while the copy waits out the batch it booked: the raise it earns comes with its next batch.
      this.#pacedWindows++;
    } else if (this.docsPerSec > 0 && this.#windowDocs > 0) {
      // A window in which nothing was booked nor waited out (the copy was listing its next page) says
      // nothing about the pace: raising it there let the pace grow 1.25x per idle window and the copy
      // burst through the page afterwards (10.9x the application's p99 on 10,000 documents). A batch
      // books once for all its work (batchMs of it), so the quiet windows it was paced over raise the
      // pace together when the next one books: `increase` each, at most doubling per batch.
      this.#pacedWindows++;
      const next = this.docsPerSec * Math.min(2, this.#increase ** this.#pacedWindows);
      const used = now > this.#windowStart ? (this.#windowDocs * 1000) / (now - this.#windowStart) : 0;
      // Back to unthrottled once the copy itself, not the pace, is what holds it, window after window.
      this.#slowWindows = next > 4 * used ? this.#slowWindows + 1 : 0;
      if (this.#slowWindows >= SLOW_WINDOWS) this.setRate(0);
      else if (this.#slowWindows === 0) this.setRate(next);
      this.#pacedWindows = 0;
      if (this.docsPerSec !== before) action = this.docsPerSec === 0 ? 'released' : 'raised';
    }
    if (p99 <= this.#limitMs()) this.#breaches = 0;
    this.#windowStart = now;
    this.#windowDocs = 0;
    if (action !== undefined && this.#baselineP99 !== null) {
      this.onDecision?.({
        action,
        docsPerSec: this.docsPerSec,
        p99Ms: p99,
        limitMs: this.#limitMs(),
        baselineMs: this.#baselineWindowMs,
        windowSamples: this.#decisionWindow,
      });
    }
  }

  /** The p99 a decision window is allowed, ms. */
  #limitMs(): number {
    return this.maxP99Impact * this.#baselineWindowMs;
  }

  /**
   * While paced with `batchMs`, the items of `batchMs` at the current pace, each costing `cost`
   * documents' worth of it (at least 1, at most `max`).
   */
  override batchSize(max: number, cost = 1): number {
    if (this.#batchMs === 0 || this.docsPerSec === 0) return max;
    return Math.max(1, Math.min(max, Math.ceil((this.docsPerSec * this.#batchMs) / 1000 / cost)));
  }
}

/**
 * The quantile a window of `n` samples' p99 estimates: its largest sample (nearest rank, n < 100)
 * lies at the n/(n+1) quantile on average; from 100 samples on, the p99 itself.
 */
function windowQuantile(n: number): number {
  return Math.min(0.99, n / (n + 1));
}

/** Nearest-rank percentile of unsorted samples. */
function percentile(samples: readonly number[], q: number): number {
  const sorted = Float64Array.from(samples).sort();
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? 0;
}
