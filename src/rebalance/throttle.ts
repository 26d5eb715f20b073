/**
 * A docs-per-second pacer with an injectable clock and sleep, so the migrator can be throttled in
 * production and stepped deterministically in simulations.
 */

/** Milliseconds since some origin. */
export type Clock = () => number;

/** Wait `ms`, resolving early (never rejecting) when `signal` aborts. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** The wall clock. */
export const systemClock: Clock = () => Date.now();

/** A timer-based sleep that an AbortSignal cuts short, so Ctrl-C never waits out a long pause. */
export const systemSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal?.aborted === true) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Paces work to `docsPerSec`. `consume(n)` books n documents; `pace()` sleeps until the booked work
 * fits the rate. Debt accumulates rather than being sampled per batch, so a large batch is paid for
 * by a proportionally longer pause and the long-run rate stays exact.
 */
export class Throttle {
  readonly #rate: number;
  readonly #clock: Clock;
  readonly #sleep: Sleep;
  #nextAt: number | null = null;

  /** @param docsPerSec documents per second; 0 or undefined means unthrottled. */
  constructor(docsPerSec: number | undefined, clock: Clock, sleep: Sleep) {
    if (docsPerSec !== undefined && (!Number.isFinite(docsPerSec) || docsPerSec < 0)) {
      throw new TypeError(`throttleDocsPerSec must be a finite number >= 0, got ${String(docsPerSec)}`);
    }
    this.#rate = docsPerSec ?? 0;
    this.#clock = clock;
    this.#sleep = sleep;
  }

  /** Book `n` documents of work just done. */
  consume(n: number): void {
    if (this.#rate === 0 || n <= 0) return;
    const now = this.#clock();
    const base = this.#nextAt === null || this.#nextAt < now ? now : this.#nextAt;
    this.#nextAt = base + (n * 1000) / this.#rate;
  }

  /** Milliseconds until the booked work fits the rate (0: go on). */
  delay(): number {
    return this.#nextAt === null ? 0 : Math.max(0, this.#nextAt - this.#clock());
  }

  /** Sleep until the booked work fits the rate. */
  async pace(signal?: AbortSignal): Promise<void> {
    if (this.#nextAt === null) return;
    const wait = this.#nextAt - this.#clock();
    if (wait > 0) await this.#sleep(wait, signal);
  }
}
