/**
 * How `MongoStore` makes a call's one deadline (ADR 0003, "The bound") reach the driver cheaply: a
 * {@link DeadlineSignal} per call, aborted by one {@link DeadlineWatchdog} timer per store and clock
 * instead of an `AbortController`, a timer and its clearing per call.
 *
 * Why not `AbortController`: a point read paid for its deadline about 16 us of client CPU over the same
 * command without a signal, against a 2% budget of ~13 us (same-process A/B on FerretDB, paired blocks);
 * the driver adds and removes four abort listeners per `findOne` (cursor, server selection, pool
 * checkout, the reply), each on Node's `EventTarget`, and a timer was set and cleared per call. The
 * driver (6.22) uses a signal only through `aborted`, `reason`, `throwIfAborted()` and
 * `add`/`removeEventListener('abort', …)` (its `addAbortListener`, `abortable`, `onData`), which is
 * what {@link DeadlineSignal} implements, with a plain array of listeners.
 *
 * Why one timer: deadlines of calls that start later are mostly later (each is `opTimeoutMs` from its
 * start), so the watchdog's timer, armed at the earliest deadline in flight, is re-armed only when a
 * call brings an earlier one, and is left running when calls finish: when it fires it aborts the calls
 * then due and re-arms for the next one. The timers are unref'd (`Clock`), so one left armed keeps no
 * process alive.
 */
import type { Clock } from '../clock.js';
import { deadlineError, type AbortLike } from './deadline.js';

type Listener = (this: DeadlineSignal, event: { readonly type: 'abort'; readonly target: DeadlineSignal }) => void;

/**
 * The signal of one store call, aborted with `shardkit.store.timeout` when its watchdog finds it due.
 * Listeners run once, like `{ once: true }` on an `AbortSignal`; one added after the abort never runs.
 */
export class DeadlineSignal implements AbortLike {
  /** The call's deadline, on its watchdog's clock. */
  readonly at: number;
  #aborted = false;
  #reason: unknown = undefined;
  #listeners: Listener[] = [];
  readonly #shardId: string;
  readonly #op: string;
  readonly #budgetMs: number;
  /** Its neighbours in its watchdog's list while watched (`DeadlineWatchdog`; not for other use). */
  prevWatched: DeadlineSignal | undefined = undefined;
  nextWatched: DeadlineSignal | undefined = undefined;
  watchedBy: DeadlineWatchdog | undefined = undefined;

  /** A signal for `op` on `shardId` due at `at`; `budgetMs` (the time it had when it started) goes in its error. */
  constructor(at: number, shardId: string, op: string, budgetMs: number) {
    this.at = at;
    this.#shardId = shardId;
    this.#op = op;
    this.#budgetMs = budgetMs;
  }

  /** Whether the deadline passed. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** The `shardkit.store.timeout` it aborted with, once aborted. */
  get reason(): unknown {
    return this.#reason;
  }

  /** Throws {@link DeadlineSignal.reason} once aborted (as `AbortSignal.throwIfAborted`). */
  throwIfAborted(): void {
    if (this.#aborted) throw this.#reason;
  }

  /** Calls `listener` once, when the signal aborts; adding the same listener twice adds it once. */
  addEventListener(type: 'abort', listener: Listener): void {
    if (type !== 'abort' || this.#aborted || this.#listeners.includes(listener)) return;
    this.#listeners.push(listener);
  }

  /** Forgets `listener`. */
  removeEventListener(type: 'abort', listener: Listener): void {
    if (type !== 'abort') return;
    const i = this.#listeners.indexOf(listener);
    if (i >= 0) this.#listeners.splice(i, 1);
  }

  /** Listeners still attached (the driver removes its own when an operation settles). */
  get listenerCount(): number {
    return this.#listeners.length;
  }

  /** Abort with the call's `shardkit.store.timeout`; runs every listener once. */
  expire(): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = deadlineError(
      this.#shardId,
      this.#op,
      `its deadline passed after ${Math.ceil(this.#budgetMs)} ms (server selection, the pool's queue, or the server)`,
    );
    const listeners = this.#listeners;
    this.#listeners = [];
    const event = { type: 'abort', target: this } as const;
    for (const listener of listeners) {
      try {
        listener.call(this, event);
      } catch (error) {
        // As an EventTarget does: a throwing listener neither stops the others nor the abort.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}

/**
 * One timer over the in-flight calls of a store on one clock (see the file's comment). The calls it
 * watches form a list through their signals, so watching and releasing one allocate and hash nothing.
 */
export class DeadlineWatchdog {
  readonly #clock: Clock;
  #head: DeadlineSignal | undefined = undefined;
  #tail: DeadlineSignal | undefined = undefined;
  #size = 0;
  #timer: unknown = undefined;
  #armedAt = Number.POSITIVE_INFINITY;

  /** A watchdog whose timers run on `clock`. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Calls watched now. */
  get size(): number {
    return this.#size;
  }

  /** Watch `signal` until {@link DeadlineWatchdog.release}: it aborts once its deadline is less than 1 ms away. */
  watch(signal: DeadlineSignal): void {
    if (signal.watchedBy !== undefined) return;
    signal.watchedBy = this;
    signal.prevWatched = this.#tail;
    signal.nextWatched = undefined;
    if (this.#tail === undefined) this.#head = signal;
    else this.#tail.nextWatched = signal;
    this.#tail = signal;
    this.#size++;
    if (signal.at < this.#armedAt) this.#arm(signal.at);
  }

  /** Stop watching `signal` (its call ended); the timer stays armed for whatever is due next. */
  release(signal: DeadlineSignal): void {
    if (signal.watchedBy !== this) return;
    const { prevWatched: prev, nextWatched: next } = signal;
    if (prev === undefined) this.#head = next;
    else prev.nextWatched = next;
    if (next === undefined) this.#tail = prev;
    else next.prevWatched = prev;
    signal.prevWatched = undefined;
    signal.nextWatched = undefined;
    signal.watchedBy = undefined;
    this.#size--;
  }

  /** Drop the timer once nothing is watched (the store closed); calls still in flight keep their deadline. */
  close(): void {
    if (this.#size > 0 || this.#timer === undefined) return;
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#armedAt = at;
    this.#timer = this.#clock.setTimeout(() => this.#fire(), Math.max(0, at - this.#clock.now()));
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAt = Number.POSITIVE_INFINITY;
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    const due: DeadlineSignal[] = [];
    for (let signal = this.#head; signal !== undefined; signal = signal.nextWatched) {
      // Less than 1 ms left is past: a request then carries maxTimeMS 0 and is refused before it is sent
      // (mongo-request-options.ts), and a timer can fire up to its loop's cached time early.
      if (signal.at - now < 1) due.push(signal);
      else if (signal.at < next) next = signal.at;
    }
    // Unlinked first, then aborted: a listener may watch or release other signals.
    for (const signal of due) this.release(signal);
    for (const signal of due) signal.expire();
    // A listener may have watched a call due sooner than `next` (and armed for it).
    if (next < this.#armedAt) this.#arm(next);
  }
}

/**
 * The watchdogs of one store, one per clock its calls' deadlines run on: nearly all on the clock the
 * store was made with, a few on a caller's own (tests, an application's deadline on another clock).
 */
export class DeadlineWatchdogs {
  readonly #home: Clock;
  readonly #homeWatchdog: DeadlineWatchdog;
  readonly #others = new Map<Clock, DeadlineWatchdog>();

  /** Watchdogs whose usual clock is `home`. */
  constructor(home: Clock) {
    this.#home = home;
    this.#homeWatchdog = new DeadlineWatchdog(home);
  }

  /** The watchdog of deadlines on `clock`. */
  on(clock: Clock): DeadlineWatchdog {
    if (clock === this.#home) return this.#homeWatchdog;
    let watchdog = this.#others.get(clock);
    if (watchdog === undefined) {
      watchdog = new DeadlineWatchdog(clock);
      this.#others.set(clock, watchdog);
    }
    return watchdog;
  }

  /** Drop every idle watchdog's timer (the store closed). */
  close(): void {
    this.#homeWatchdog.close();
    for (const watchdog of this.#others.values()) watchdog.close();
  }
}
