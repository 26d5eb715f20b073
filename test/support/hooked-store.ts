/**
 * The one test double for watching and steering shard-store calls: a `StoreDecorator` whose hooks run
 * before and after every contract call. Tests count calls, inject faults, hold a call at a scheduling
 * point, or act between two calls, all through the same forwarding code the production decorators use.
 */
import type { ShardStore } from '../../src/stores/shard-store.js';
import { StoreDecorator, type StoreOp } from '../../src/stores/store-decorator.js';

/** Hooks of a {@link HookedStore}; each may be async (the call waits for it). */
export interface StoreHooks {
  /** Before the call reaches the wrapped store; a throw here fails the call without running it. */
  before?(shardId: string, op: StoreOp, args: readonly unknown[]): Promise<void> | void;
  /** After the wrapped store answered (not after it threw). */
  after?(shardId: string, op: StoreOp, result: unknown, args: readonly unknown[]): Promise<void> | void;
}

/** A store that announces every call to `hooks`, which may be swapped at any time. */
export class HookedStore extends StoreDecorator {
  hooks: StoreHooks;

  constructor(inner: ShardStore, hooks: StoreHooks = {}) {
    super(inner);
    this.hooks = hooks;
  }

  protected async around<T>(op: StoreOp, fn: () => Promise<T>, args: readonly unknown[]): Promise<T> {
    await this.hooks.before?.(this.shardId, op, args);
    const result = await fn();
    await this.hooks.after?.(this.shardId, op, result, args);
    return result;
  }
}

/** Wrap `store` so each call is announced to `hooks`. */
export function hooked(store: ShardStore, hooks: StoreHooks): HookedStore {
  return new HookedStore(store, hooks);
}
