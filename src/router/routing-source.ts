import { ShardkitInvalidArgumentError } from '../errors.js';
import { Topology } from '../topology/topology.js';
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
    this.#state = checkedState(state, 'StaticRoutingSource');
  }

  current(): RoutingState {
    return this.#state;
  }

  async refresh(): Promise<RoutingState> {
    return this.#state;
  }

  /** Install a newer state; an older or equal epoch is ignored (returns false). */
  publish(state: RoutingState): boolean {
    checkedState(state, 'StaticRoutingSource#publish');
    if (state.epoch <= this.#state.epoch) return false;
    this.#state = state;
    return true;
  }
}

/**
 * Check a state handed in from plain JavaScript before anything routes by it: without this a
 * missing topology surfaces later as a TypeError deep inside the collection's routing view. The
 * topologies go through `Topology.from`, whose input errors name the field at fault.
 */
function checkedState(state: unknown, where: string): RoutingState {
  if (typeof state !== 'object' || state === null) {
    throw new ShardkitInvalidArgumentError(`${where} needs a routing state {phase, epoch, topology}, got ${state === null ? 'null' : typeof state}`);
  }
  const s = state as Partial<Record<keyof RoutingState | 'from', unknown>>;
  if (typeof s.epoch !== 'number' || !Number.isSafeInteger(s.epoch) || s.epoch < 1) {
    throw new ShardkitInvalidArgumentError(`${where}: epoch must be a positive integer, got ${String(s.epoch)}`);
  }
  if (s.phase !== 'stable' && s.phase !== 'migrating') {
    throw new ShardkitInvalidArgumentError(`${where}: phase must be 'stable' or 'migrating', got ${String(s.phase)}`);
  }
  if (s.topology === undefined || s.topology === null) throw new ShardkitInvalidArgumentError(`${where}: topology is required`);
  Topology.from(s.topology as never);
  if (s.phase === 'migrating') {
    if (s.from === undefined || s.from === null) throw new ShardkitInvalidArgumentError(`${where}: a migrating state needs from, the topology before`);
    Topology.from(s.from as never);
  }
  return state as RoutingState;
}
