/**
 * A `ShardStore` that injects faults in front of a `MemoryStore`: scripted failures or hangs per
 * call, and a count of the calls that reached the real store. Built on `HookedStore`, so it forwards
 * exactly as the production decorators do.
 */
import type { Clock } from '../../src/clock.js';
import { sleep } from '../../src/clock.js';
import { ErrorCode, ShardkitStoreError } from '../../src/errors.js';
import { MemoryStore } from '../../src/stores/memory-store.js';
import type { ShardStore } from '../../src/stores/shard-store.js';
import { HookedStore } from './hooked-store.js';

/** What the next call meets. */
export type Fault = { kind: 'error'; code: ErrorCode } | { kind: 'hang' } | { kind: 'delay'; ms: number; clock: Clock };

/** A store with scripted faults; `store` is the `ShardStore` to hand to the code under test. */
export class FaultyStore {
  readonly memory: MemoryStore;
  readonly store: ShardStore;
  /** Calls per method name, faulted ones included. */
  readonly calls = new Map<string, number>();
  readonly #faults: Fault[] = [];

  constructor(shardId = 'f1') {
    this.memory = new MemoryStore(shardId);
    this.store = new HookedStore(this.memory, {
      before: async (_shard, op) => {
        this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
        const fault = this.#faults.shift();
        if (fault?.kind === 'hang') await new Promise(() => undefined);
        if (fault?.kind === 'delay') await sleep(fault.clock, fault.ms);
        if (fault?.kind === 'error') throw new ShardkitStoreError(fault.code, `shard ${shardId}: injected ${fault.code}`, { shardId });
      },
    });
  }

  /** The next `n` calls fail with `code`. */
  failNext(n: number, code: ErrorCode = ErrorCode.storeUnavailable): this {
    for (let i = 0; i < n; i++) this.#faults.push({ kind: 'error', code });
    return this;
  }

  /** The next `n` calls never settle. */
  hangNext(n: number): this {
    for (let i = 0; i < n; i++) this.#faults.push({ kind: 'hang' });
    return this;
  }

  /** The next `n` calls answer after `ms` on `clock`. */
  delayNext(n: number, ms: number, clock: Clock): this {
    for (let i = 0; i < n; i++) this.#faults.push({ kind: 'delay', ms, clock });
    return this;
  }

  /** Calls of `method` so far. */
  count(method: string): number {
    return this.calls.get(method) ?? 0;
  }
}
