/**
 * Helpers every config store shares: the shape check a routing state must pass before it is
 * published, the epoch rule of compare-and-set, and a value-preserving deep copy so no caller can
 * mutate what a store holds.
 */
import { BSON } from 'mongodb';

const { EJSON } = BSON;
import { ErrorCode, ShardkitConflictError, ShardkitInvalidArgumentError } from '../errors.js';
import type { LockInfo } from './types.js';
import type { RoutingState } from '../router/routing-state.js';

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTopologyLike(value: unknown): boolean {
  return isObject(value) && typeof value['name'] === 'string' && Array.isArray(value['shards']);
}

/**
 * Reject a state that could not be routed by. Deep topology validation belongs to
 * `Topology.from`; this only guards the store against publishing something structurally broken,
 * because every router would then fail at once.
 */
export function assertRoutingState(state: unknown): asserts state is RoutingState {
  if (!isObject(state)) throw new ShardkitInvalidArgumentError('routing state must be an object');
  const epoch = state['epoch'];
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) {
    throw new ShardkitInvalidArgumentError(`routing state epoch must be a positive integer, got ${String(epoch)}`);
  }
  if (!isTopologyLike(state['topology'])) {
    throw new ShardkitInvalidArgumentError('routing state needs a topology with a name and shards');
  }
  if (state['phase'] === 'stable') {
    const settling = state['settling'];
    if (settling === undefined) return;
    if (!isObject(settling) || !isTopologyLike(settling['from']) || typeof settling['migrationId'] !== 'string' || settling['migrationId'] === '') {
      throw new ShardkitInvalidArgumentError('`settling` of a stable state needs `from`, the topology before, and a migrationId');
    }
    return;
  }
  if (state['phase'] === 'migrating') {
    if (!isTopologyLike(state['from'])) throw new ShardkitInvalidArgumentError('a migrating state needs `from`, the topology before');
    if (typeof state['migrationId'] !== 'string' || state['migrationId'] === '') {
      throw new ShardkitInvalidArgumentError('a migrating state needs a migrationId');
    }
    return;
  }
  throw new ShardkitInvalidArgumentError(`routing state phase must be 'stable' or 'migrating', got ${String(state['phase'])}`);
}

/**
 * Validate the arguments of `compareAndSet`: the next epoch must be above the expected one, since
 * epochs only grow and routers use "higher epoch wins" to discard stale states.
 */
export function assertCasArguments(expectedEpoch: number | null, next: unknown): asserts next is RoutingState {
  if (expectedEpoch !== null && (!Number.isSafeInteger(expectedEpoch) || expectedEpoch < 1)) {
    throw new ShardkitInvalidArgumentError(`expectedEpoch must be null or a positive integer, got ${String(expectedEpoch)}`);
  }
  assertRoutingState(next);
  if (expectedEpoch !== null && next.epoch <= expectedEpoch) {
    throw new ShardkitInvalidArgumentError(`next epoch ${next.epoch} must be greater than the expected epoch ${expectedEpoch}`);
  }
}

/** The conflict a losing compare-and-set raises. */
export function staleEpochError(expectedEpoch: number | null, actualEpoch: number | null): ShardkitConflictError {
  const expected = expectedEpoch === null ? 'none' : String(expectedEpoch);
  const actual = actualEpoch === null ? 'none' : String(actualEpoch);
  return new ShardkitConflictError(
    ErrorCode.staleEpoch,
    `topology changed concurrently: expected epoch ${expected}, store holds ${actual}`,
  );
}

/** The conflict a refused lock raises. */
export function lockHeldError(lock: LockInfo): ShardkitConflictError {
  return new ShardkitConflictError(
    ErrorCode.lockHeld,
    `migration lock is held by ${lock.owner} until ${new Date(lock.expiresAt).toISOString()}`,
  );
}

/** The conflict a lock taken over raises: the caller's generation is no longer the latest. */
export function lockLostError(mine: number, latest: number | null): ShardkitConflictError {
  const since = latest === null ? 'a later one' : `generation ${String(latest)}`;
  return new ShardkitConflictError(
    ErrorCode.lockHeld,
    `migration lock generation ${String(mine)} was taken over by ${since}; nothing was written (run resume to continue)`,
  );
}

/**
 * The lock after `owner` asks for it at wall time `now`, for stores that decide it in one step
 * (memory, file): `held` is the current lock record, `latest` the last generation ever issued.
 * Throws `lockHeld` for a live lock of another owner, or for a renewal of a generation that is not
 * the latest.
 */
export function nextLock(held: LockInfo | null, latest: number, owner: string, leaseMs: number, now: number, generation?: number): LockInfo {
  if (generation !== undefined) {
    if (generation !== latest || (held !== null && held.owner !== owner)) throw lockLostError(generation, latest);
    return { owner, generation, acquiredAt: held?.acquiredAt ?? now, expiresAt: now + leaseMs };
  }
  const live = held !== null && held.expiresAt > now;
  if (live && held.owner !== owner) throw lockHeldError(held);
  if (live) return { ...held, expiresAt: now + leaseMs };
  return { owner, generation: latest + 1, acquiredAt: now, expiresAt: now + leaseMs };
}

/** Refuse a journal write of a lock generation that is no longer the latest. */
export function assertLatestGeneration(generation: number | undefined, latest: number): void {
  if (generation !== undefined && generation !== latest) throw lockLostError(generation, latest);
}

/** Validate `acquireLock` arguments once, identically for every store. */
export function assertLockArguments(owner: unknown, leaseMs: unknown): void {
  if (typeof owner !== 'string' || owner === '') throw new ShardkitInvalidArgumentError('lock owner must be a non-empty string');
  if (typeof leaseMs !== 'number' || !Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new ShardkitInvalidArgumentError(`leaseMs must be a positive number, got ${String(leaseMs)}`);
  }
}

/** Validate a journal key: it becomes part of a document `_id` or a JSON property. */
export function assertJournalKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key === '') throw new ShardkitInvalidArgumentError('journal key must be a non-empty string');
}

/**
 * Deep copy through Extended JSON, so every store round-trips values alike: what a caller gets back
 * is what BSON would give back (ObjectIds, Dates and Longs keep their types; `undefined` fields
 * vanish), whether the store is a file, memory or a MongoDB collection.
 */
export function cloneValue<T>(value: T): T {
  return EJSON.parse(EJSON.stringify(value, { relaxed: false })) as T;
}

/** Validate a journal value: a plain object, as the contract promises readers. */
export function assertJournalValue(value: unknown): asserts value is Record<string, unknown> {
  if (!isObject(value)) throw new ShardkitInvalidArgumentError('journal value must be a plain object');
}
