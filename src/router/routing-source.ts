import type { RoutingState } from './routing-state.js';

/**
 * What a data-access layer routes by: the routing state it currently holds. While `phase` is
 * `migrating`, a key whose owner differs between `state.from` and `state.topology` follows the
 * protocol of ADR 0002 (read new then old, write at new after fencing at old).
 */
export interface RoutingSource {
  /**
   * The state to route by now. Throws `shardkit.router.leaseExpired` (retryable) when the holder's
   * lease on the state ran out and no refresh has succeeded since.
   */
  current(): RoutingState;
  /** Fetch the newest state (e.g. after a shard said "moved"); resolves to it. */
  refresh(): Promise<RoutingState>;
}

/**
 * A routing source that holds whatever was last published to it: for embedded use, demos,
 * simulations and tests. `refresh()` returns the held state (nothing to fetch).
 */
export class StaticRoutingSource implements RoutingSource {
  #state: RoutingState;

  constructor(state: RoutingState) {
    this.#state = state;
  }

  current(): RoutingState {
    return this.#state;
  }

  async refresh(): Promise<RoutingState> {
    return this.#state;
  }

  /** Install a newer state; an older or equal epoch is ignored (returns false). */
  publish(state: RoutingState): boolean {
    if (state.epoch <= this.#state.epoch) return false;
    this.#state = state;
    return true;
  }
}
