/**
 * A docs-per-second pacer on the one {@link Clock}'s monotonic time, so the migrator is throttled in
 * production and stepped deterministically in simulations, and a wall-clock step never stalls it.
 */
import type { Clock } from '../clock.js';

/**
 * Paces work to `docsPerSec`. `consume(n)` books n documents; `delay()` says how long to wait until
 * the booked work fits the rate (the migrator sleeps that long in slices, renewing its lock). Debt
 * accumulates rather than being sampled per batch, so a large batch is paid for by a proportionally
 * longer pause and the long-run rate stays exact.
 */
export class Throttle {
  readonly #rate: number;
  readonly #clock: Clock;
  #nextAt: number | null = null;

  /** @param docsPerSec documents per second; 0 or undefined means unthrottled. */
  constructor(docsPerSec: number | undefined, clock: Clock) {
    if (docsPerSec !== undefined && (!Number.isFinite(docsPerSec) || docsPerSec < 0)) {
      throw new TypeError(`throttleDocsPerSec must be a finite number >= 0, got ${String(docsPerSec)}`);
    }
    this.#rate = docsPerSec ?? 0;
    this.#clock = clock;
  }

  /** Book `n` documents of work just done. */
  consume(n: number): void {
    if (this.#rate === 0 || n <= 0) return;
    const now = this.#clock.now();
    const base = this.#nextAt === null || this.#nextAt < now ? now : this.#nextAt;
    this.#nextAt = base + (n * 1000) / this.#rate;
  }

  /** Milliseconds until the booked work fits the rate (0: go on). */
  delay(): number {
    return this.#nextAt === null ? 0 : Math.max(0, this.#nextAt - this.#clock.now());
  }
}
