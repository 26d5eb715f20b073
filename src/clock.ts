/**
 * The one clock of the library. Durations (timeouts, backoff, waits, leases held inside this process)
 * are measured on `now()`, a monotonic clock that a wall-clock step (NTP, a VM resume) cannot move;
 * `wall()` is used only for times another process reads (a lock's expiry in the config store, journal
 * timestamps). Everything that waits takes a `Clock`, so tests and simulations drive time by hand.
 */

/** Time as shardkit sees it. */
export interface Clock {
  /** Monotonic milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Wall-clock milliseconds since the Unix epoch; only for times another process reads. */
  wall(): number;
  /** Run `fn` after `ms`; returns a handle for `clearTimeout`. Timers do not keep the process alive. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The real clock: `performance.now()`, `Date.now()` and unref'd global timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/** Resolve after `ms` on `clock`; resolves early (never rejects) when `signal` aborts, so Ctrl-C never waits out a pause. */
export function sleep(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal?.aborted === true) {
      resolve();
      return;
    }
    const onAbort = (): void => {
      clock.clearTimeout(handle);
      resolve();
    };
    const handle = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    keepAlive(handle);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * An awaited sleep is the caller's foreground work, so its timer keeps the process alive (as
 * `timers/promises` does): with the clock's unref'd timer alone, a process whose only pending work
 * is a migrator's lease wait exits mid-migration (exit code 13). Fake clocks' handles have no `ref`.
 */
function keepAlive(handle: unknown): void {
  if (typeof handle === 'object' && handle !== null && 'ref' in handle && typeof handle.ref === 'function') handle.ref();
}
