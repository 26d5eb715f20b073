import { systemClock, type Clock } from '../clock.js';
import { ErrorCode, ShardkitConflictError, ShardkitError, ShardkitRouterError, ShardkitStoreError } from '../errors.js';
import type { RoutingState, RoutingStateReader } from './routing-state.js';
import type { RoutingSource } from './routing-source.js';
import { invalidArgument, requireMethods, requireObject } from '../arguments.js';

/** Options of {@link TopologyFollower.start}. */
export interface TopologyFollowerOptions {
  /**
   * How long a successfully loaded state may be served without another successful refresh (ms).
   * Counted from the moment the successful load was *sent*, so the lease never outlives what the
   * store said by more than `leaseMs`.
   */
  readonly leaseMs: number;
  /**
   * Background refresh period (ms); default `leaseMs / 3`, so two refreshes may fail before the
   * lease runs out. 0 disables the timer (refresh by hand).
   */
  readonly refreshIntervalMs?: number;
  /**
   * Time source: the lease is measured on its monotonic `now()`, so a wall-clock step cannot stretch
   * it, and the background refresh runs on its timers. Default `systemClock`.
   */
  readonly clock?: Clock;
}

/** Called when the follower moves to a newer state. */
export type StateListener = (state: RoutingState, previous: RoutingState) => void;

/**
 * A router's view of the routing state: loads it from a config store (any `RoutingStateReader`),
 * refreshes it on an unref'd timer and holds it on a lease. Once the lease has run out without a
 * successful refresh, {@link current} throws the retryable `shardkit.router.leaseExpired` (and starts a refresh), so a
 * router cut off from the config store stops serving instead of routing by a topology that may be
 * long gone. Epochs never go back: a store answering with an older epoch than the one held does not
 * renew the lease.
 *
 * Every load is bounded by the lease (`shardkit.config.timeout` once `leaseMs` passed since it was
 * sent): a hung config store cannot hold callers queued behind it for longer, and an answer that
 * arrives after its own lease ran out is never handed out, so a state is served only while a load
 * sent no earlier than `leaseMs` ago vouches for it (the bound of ADR 0003 rests on this).
 */
export class TopologyFollower implements RoutingSource {
  readonly #store: RoutingStateReader;
  readonly #leaseMs: number;
  readonly #interval: number;
  readonly #clock: Clock;
  readonly #listeners = new Set<StateListener>();
  #state: RoutingState;
  #leaseExpiresAt: number;
  #inflight: Promise<RoutingState> | null = null;
  #queued: Promise<RoutingState> | null = null;
  #timer: unknown = null;
  #lastError: unknown = undefined;
  #closed = false;

  private constructor(store: RoutingStateReader, state: RoutingState, loadedAt: number, leaseMs: number, interval: number, clock: Clock) {
    this.#store = store;
    this.#state = state;
    this.#leaseMs = leaseMs;
    this.#interval = interval;
    this.#clock = clock;
    this.#leaseExpiresAt = loadedAt + leaseMs;
  }

  /**
   * Load the state from `store` and start following it. Rejects with `shardkit.config.noState`
   * when nothing was published yet, or with the store's error when it cannot be read.
   */
  static async start(store: RoutingStateReader, options: TopologyFollowerOptions): Promise<TopologyFollower> {
    requireMethods(store, 'TopologyFollower.start(store, options): store', 'a config store (an object with load())', ['load']);
    requireObject(options, 'TopologyFollower.start(store, options): options', 'an object with leaseMs');
    const { leaseMs } = options;
    if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
      throw invalidArgument('TopologyFollower.start: options.leaseMs', 'a positive number', leaseMs);
    }
    const interval = options.refreshIntervalMs ?? Math.max(1, Math.floor(leaseMs / 3));
    if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0) {
      throw invalidArgument('TopologyFollower.start: options.refreshIntervalMs', 'a number >= 0', interval);
    }
    const clock = options.clock ?? systemClock;
    const sentAt = clock.now();
    const state = await boundedLoad(store, clock, leaseMs);
    if (state === null) throw noStateError();
    const follower = new TopologyFollower(store, state, sentAt, leaseMs, interval, clock);
    follower.#schedule();
    return follower;
  }

  /** The state to route by; throws `shardkit.router.leaseExpired` once the lease ran out. */
  current(): RoutingState {
    const now = this.#clock.now();
    if (now > this.#leaseExpiresAt) {
      this.#refreshQuietly();
      throw new ShardkitRouterError(
        ErrorCode.leaseExpired,
        `routing lease expired ${now - this.#leaseExpiresAt} ms ago (epoch ${this.#state.epoch}); ` +
          `no successful refresh from the config store since${describe(this.#lastError)}`,
        this.#lastError === undefined ? {} : { cause: this.#lastError },
      );
    }
    return this.#state;
  }

  /**
   * Load the newest state with a request sent after this call (concurrent calls share loads: at
   * most one in flight and one queued). Resolves to the state held
   * afterwards, with the lease renewed; rejects with the store's error, with
   * `shardkit.config.noState`, or with `shardkit.topology.staleEpoch` when the store answered with
   * an epoch older than the one held.
   */
  refresh(): Promise<RoutingState> {
    if (this.#inflight === null) return this.#startLoad();
    // The load in flight was sent before this call and may predate what the caller saw (a shard
    // saying "moved"): queue one more load after it, shared by every caller that arrives meanwhile.
    this.#queued ??= this.#inflight.then(
      () => this.#startLoad(),
      () => this.#startLoad(),
    );
    return this.#queued;
  }

  #startLoad(): Promise<RoutingState> {
    this.#queued = null;
    const load = this.#load().finally(() => {
      if (this.#inflight === load) this.#inflight = null;
    });
    this.#inflight = load;
    return load;
  }

  /** Subscribe to moves to a newer state; returns the unsubscribe function. */
  onChange(listener: StateListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** The state held, whatever its lease (for status displays; route with {@link current}). */
  get state(): RoutingState {
    return this.#state;
  }

  /** When the lease runs out unless a refresh succeeds, on the clock's monotonic `now()` (ms). */
  get leaseExpiresAt(): number {
    return this.#leaseExpiresAt;
  }

  /** The last refresh failure, cleared by the next success. */
  get lastError(): unknown {
    return this.#lastError;
  }

  /** Stop the background refresh. The config store stays open: it belongs to the caller. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** True once {@link close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Arm the next background refresh; every `Clock`'s timers leave the process free to exit. */
  #schedule(): void {
    if (this.#interval <= 0 || this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#refreshQuietly();
      this.#schedule();
    }, this.#interval);
  }

  async #load(): Promise<RoutingState> {
    const sentAt = this.#clock.now();
    let next: RoutingState | null;
    try {
      next = await boundedLoad(this.#store, this.#clock, this.#leaseMs);
    } catch (error) {
      this.#lastError = error;
      throw error;
    }
    if (next === null) {
      const error = noStateError();
      this.#lastError = error;
      throw error;
    }
    const previous = this.#state;
    if (next.epoch < previous.epoch) {
      const error = new ShardkitConflictError(
        ErrorCode.staleEpoch,
        `config store answered epoch ${next.epoch}, older than the epoch ${previous.epoch} this router already follows`,
      );
      this.#lastError = error;
      throw error;
    }
    this.#lastError = undefined;
    // A slow load that overlapped a faster one must not shorten the lease.
    this.#leaseExpiresAt = Math.max(this.#leaseExpiresAt, sentAt + this.#leaseMs);
    if (next.epoch > previous.epoch) {
      this.#state = next;
      for (const listener of this.#listeners) {
        try {
          listener(next, previous);
        } catch {
          // A listener's bug must not stop routing on the new state.
        }
      }
    }
    return this.#state;
  }

  #refreshQuietly(): void {
    if (this.#closed) return;
    // Any load, even one already in flight, serves a background refresh.
    (this.#inflight ?? this.refresh()).catch(() => {
      // Recorded in lastError; the lease decides when this starts to matter.
    });
  }
}

/**
 * `store.load()`, failing with `shardkit.config.timeout` once `leaseMs` passed: what it would answer
 * later could not be served anyway (its lease, counted from the send, would already have run out).
 * The load itself is left to the config store's own timeout; nothing waits for it.
 */
function boundedLoad(store: RoutingStateReader, clock: Clock, leaseMs: number): Promise<RoutingState | null> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => {
      reject(new ShardkitStoreError(ErrorCode.configTimeout, `loading the routing state from the config store took longer than the lease (${leaseMs} ms)`));
    }, leaseMs);
    store.load().then(
      (state) => {
        clock.clearTimeout(timer);
        resolve(state);
      },
      (error: unknown) => {
        clock.clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}

function noStateError(): ShardkitError {
  return new ShardkitError(
    ErrorCode.configNoState,
    'the config store holds no topology yet: publish one with `shardkit init --config FILE`',
  );
}

function describe(error: unknown): string {
  if (error === undefined) return '';
  return `: ${error instanceof Error ? error.message : String(error)}`;
}
