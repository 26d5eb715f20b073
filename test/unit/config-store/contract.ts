/**
 * One behaviour for every ConfigStore: the memory, file and MongoDB stores all run this suite.
 * Each case gets fresh, empty storage and a fake clock; `open()` gives another handle on the same
 * storage (another process, in effect) where the store has such a thing.
 */
import { expect } from 'chai';
import { BSON } from 'mongodb';
import { ErrorCode, ShardkitConflictError, ShardkitError, isRetryableError } from '../../../src/errors.js';
import type { Clock } from '../../../src/clock.js';
import type { ConfigStore } from '../../../src/config-store/types.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { rejection } from '../../support/rejection.js';

/** A clock the test moves by hand. */
export class FakeClock {
  now: number;
  constructor(start = 1_700_000_000_000) {
    this.now = start;
  }
  readonly read = (): number => this.now;
  /**
   * The same time as a {@link Clock} for the config stores: `wall()` is `now`. Lease times are wall
   * time, which other processes read; the monotonic `now()` runs from another origin, so a store
   * that took its lease times from it would fail every lease assertion. No timer fires: the stores
   * set none.
   */
  readonly asClock: Clock = {
    now: () => this.now - 1_000_000_000,
    wall: () => this.now,
    setTimeout: () => {
      throw new Error('the config-store contract sets no timers');
    },
    clearTimeout: () => undefined,
  };
  advance(ms: number): void {
    this.now += ms;
  }
}

/** Fresh storage for one test case. */
export interface ContractFixture {
  /** The store under test. */
  readonly store: ConfigStore;
  /** Another store on the same storage (same instance when the store has no shared storage). */
  open(): Promise<ConfigStore>;
  /** Remove the storage. */
  cleanup(): Promise<void>;
}

/** Builds a fixture around `clock`. */
export type ContractFactory = (clock: FakeClock) => Promise<ContractFixture>;

/** A small topology spec used as routing-state payload. */
export function sampleTopology(epoch: number, shards = ['a', 'b']): TopologySpec {
  return {
    name: 'users',
    epoch,
    hash: 'xxhash32',
    vnodes: 160,
    placement: 'hashed',
    shards: shards.map((id) => ({ id, weight: 1, uri: `mongodb://u:pw@127.0.0.1:27017/${id}` })),
  };
}

/** A stable routing state at `epoch`. */
export function stableState(epoch: number, shards?: string[]): RoutingState {
  return { phase: 'stable', epoch, topology: sampleTopology(epoch, shards) };
}

/** Register the contract suite for one store. */
export function configStoreContract(label: string, factory: ContractFactory): void {
  describe(`ConfigStore contract: ${label}`, function () {
    let clock: FakeClock;
    let fixture: ContractFixture;
    let store: ConfigStore;

    beforeEach(async function () {
      clock = new FakeClock();
      fixture = await factory(clock);
      store = fixture.store;
    });

    afterEach(async function () {
      await fixture.cleanup();
    });

    describe('#load', function () {
      context('when nothing was published', function () {
        it('returns null', async function () {
          expect(await store.load()).to.equal(null);
        });
      });
    });

    describe('#compareAndSet', function () {
      context('when the store is empty and null is expected', function () {
        it('publishes the state', async function () {
          await store.compareAndSet(null, stableState(1));
          expect(await store.load()).to.deep.equal(stableState(1));
        });
      });

      context('when the expected epoch matches', function () {
        it('replaces the state', async function () {
          await store.compareAndSet(null, stableState(1));
          const migrating: RoutingState = {
            phase: 'migrating',
            epoch: 2,
            from: sampleTopology(1),
            topology: sampleTopology(2, ['a', 'b', 'c']),
            migrationId: 'm-1',
          };
          await store.compareAndSet(1, migrating);
          expect(await store.load()).to.deep.equal(migrating);
        });
      });

      context('when epochs skip numbers', function () {
        it('follows the newest state', async function () {
          await store.compareAndSet(null, stableState(2));
          await store.compareAndSet(2, stableState(5));
          await store.compareAndSet(5, stableState(6));
          expect(await store.load()).to.deep.equal(stableState(6));
          const error = await rejection(store.compareAndSet(2, stableState(9)));
          expect((error as ShardkitError).code).to.equal(ErrorCode.staleEpoch);
        });
      });

      context('when a state exists and null is expected', function () {
        it('throws staleEpoch and keeps the state', async function () {
          await store.compareAndSet(null, stableState(1));
          const error = await rejection(store.compareAndSet(null, stableState(5)));
          expect(error).to.be.instanceOf(ShardkitConflictError);
          expect((error as ShardkitError).code).to.equal(ErrorCode.staleEpoch);
          expect((await store.load())?.epoch).to.equal(1);
        });
      });

      context('when the expected epoch is stale', function () {
        it('throws a retryable staleEpoch conflict and keeps the newer state', async function () {
          await store.compareAndSet(null, stableState(1));
          await store.compareAndSet(1, stableState(2));
          const error = await rejection(store.compareAndSet(1, stableState(3, ['a'])));
          expect((error as ShardkitError).code).to.equal(ErrorCode.staleEpoch);
          expect(isRetryableError(error)).to.equal(true);
          expect(await store.load()).to.deep.equal(stableState(2));
        });
      });

      context('when an epoch is expected but nothing was published', function () {
        it('throws staleEpoch', async function () {
          const error = await rejection(store.compareAndSet(1, stableState(2)));
          expect((error as ShardkitError).code).to.equal(ErrorCode.staleEpoch);
          expect(await store.load()).to.equal(null);
        });
      });

      context('when the next epoch does not grow', function () {
        it('throws invalidArgument', async function () {
          await store.compareAndSet(null, stableState(3));
          const error = await rejection(store.compareAndSet(3, stableState(3)));
          expect((error as ShardkitError).code).to.equal(ErrorCode.invalidArgument);
        });
      });

      context('when the state is malformed', function () {
        it('throws invalidArgument and publishes nothing', async function () {
          const bad = [
            { phase: 'stable', epoch: 0, topology: sampleTopology(1) },
            { phase: 'bogus', epoch: 1, topology: sampleTopology(1) },
            { phase: 'stable', epoch: 1 },
            { phase: 'migrating', epoch: 2, topology: sampleTopology(2), migrationId: 'x' },
            { phase: 'stable', epoch: 3, topology: sampleTopology(3), settling: { migrationId: 'x' } },
            { phase: 'stable', epoch: 3, topology: sampleTopology(3), settling: { from: sampleTopology(1), migrationId: '' } },
          ];
          for (const state of bad) {
            const error = await rejection(store.compareAndSet(null, state as unknown as RoutingState));
            expect((error as ShardkitError).code, JSON.stringify(state)).to.equal(ErrorCode.invalidArgument);
          }
          expect(await store.load()).to.equal(null);
        });
      });

      context('when the caller mutates what it published or loaded', function () {
        it('does not change the stored state', async function () {
          const state = stableState(1) as { topology: { name: string } };
          await store.compareAndSet(null, state as unknown as RoutingState);
          state.topology.name = 'changed';
          const loaded = (await store.load()) as unknown as { topology: { name: string } };
          loaded.topology.name = 'changed too';
          expect((await store.load())?.topology.name).to.equal('users');
        });
      });

      context('when many writers race from the same epoch', function () {
        it('lets exactly one win', async function () {
          await store.compareAndSet(null, stableState(1));
          const handles = await Promise.all(Array.from({ length: 6 }, () => fixture.open()));
          const results = await Promise.allSettled(
            handles.map((h, i) => h.compareAndSet(1, stableState(2, [`w${i}`]))),
          );
          const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          expect(won).to.have.length(1);
          for (const r of results) {
            if (r.status === 'rejected') expect((r.reason as ShardkitError).code).to.equal(ErrorCode.staleEpoch);
          }
          expect((await store.load())?.topology.shards[0]?.id).to.equal(`w${won[0]}`);
          for (const h of handles) if (h !== store) await h.close();
        });
      });
    });

    describe('#acquireLock', function () {
      context('when the lock is free', function () {
        it('takes it for leaseMs', async function () {
          const lock = await store.acquireLock('m1', 30_000);
          expect(lock).to.deep.equal({ owner: 'm1', acquiredAt: clock.now, expiresAt: clock.now + 30_000, generation: 1 });
          expect(await store.readLock()).to.deep.equal(lock);
        });
      });

      context('when another owner holds it', function () {
        it('throws lockHeld naming the holder', async function () {
          await store.acquireLock('m1', 30_000);
          clock.advance(29_999);
          const error = await rejection(store.acquireLock('m2', 30_000));
          expect(error).to.be.instanceOf(ShardkitConflictError);
          expect((error as ShardkitError).code).to.equal(ErrorCode.lockHeld);
          expect((error as Error).message).to.contain('m1');
          expect((await store.readLock())?.owner).to.equal('m1');
        });
      });

      context('when the holder renews', function () {
        it('extends the lease and keeps acquiredAt', async function () {
          const first = await store.acquireLock('m1', 30_000);
          clock.advance(10_000);
          const renewed = await store.acquireLock('m1', 30_000);
          expect(renewed).to.deep.equal({ owner: 'm1', acquiredAt: first.acquiredAt, expiresAt: clock.now + 30_000, generation: first.generation });
        });
      });

      context("when the holder's lease ran out", function () {
        it('lets another owner take it', async function () {
          await store.acquireLock('m1', 30_000);
          clock.advance(30_000);
          expect(await store.readLock()).to.equal(null);
          const lock = await store.acquireLock('m2', 5_000);
          expect(lock).to.deep.equal({ owner: 'm2', acquiredAt: clock.now, expiresAt: clock.now + 5_000, generation: 2 });
          const error = await rejection(store.acquireLock('m1', 30_000));
          expect((error as ShardkitError).code).to.equal(ErrorCode.lockHeld);
        });
      });

      // Issue 8: a migrator paused past its lease must change nothing once another took over.
      context('when a later generation took the lock (fencing)', function () {
        it('refuses the earlier generation\'s renewal and journal writes, and changes nothing', async function () {
          const first = await store.acquireLock('m1', 30_000);
          await store.writeJournal('j', { phase: 'copy' }, first.generation);
          clock.advance(30_000);
          const second = await store.acquireLock('m2', 30_000);
          expect(second.generation).to.equal(first.generation + 1);
          await store.writeJournal('j', { phase: 'done' }, second.generation);
          for (const attempt of [store.acquireLock('m1', 30_000, first.generation), store.writeJournal('j', { phase: 'copy' }, first.generation)]) {
            const error = await rejection(attempt);
            expect((error as ShardkitError).code).to.equal(ErrorCode.lockHeld);
            expect((error as Error).message).to.contain(`generation ${String(first.generation)} was taken over`);
          }
          expect(await store.readJournal('j')).to.deep.equal({ phase: 'done' });
          expect((await store.readLock())?.owner).to.equal('m2');
        });

        it('never issues a generation twice, across releases', async function () {
          const first = await store.acquireLock('m1', 30_000);
          expect((await store.acquireLock('m1', 30_000, first.generation)).generation).to.equal(first.generation);
          await store.releaseLock('m1');
          const second = await store.acquireLock('m1', 30_000);
          expect(second.generation).to.equal(first.generation + 1);
          const error = await rejection(store.writeJournal('j', { n: 1 }, first.generation));
          expect((error as ShardkitError).code).to.equal(ErrorCode.lockHeld);
          expect(await store.readJournal('j')).to.equal(null);
          await store.writeJournal('j', { n: 2 }, second.generation);
          expect(await store.readJournal('j')).to.deep.equal({ n: 2 });
        });
      });

      context('when many owners race for a free lock', function () {
        it('gives it to exactly one', async function () {
          const handles = await Promise.all(Array.from({ length: 6 }, () => fixture.open()));
          const results = await Promise.allSettled(handles.map((h, i) => h.acquireLock(`m${i}`, 30_000)));
          const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          expect(won).to.have.length(1);
          for (const r of results) {
            if (r.status === 'rejected') expect((r.reason as ShardkitError).code).to.equal(ErrorCode.lockHeld);
          }
          expect((await store.readLock())?.owner).to.equal(`m${won[0]}`);
          for (const h of handles) if (h !== store) await h.close();
        });
      });

      context('when many owners race for an expired lock', function () {
        it('gives it to exactly one', async function () {
          await store.acquireLock('old', 1_000);
          clock.advance(1_000);
          const handles = await Promise.all(Array.from({ length: 6 }, () => fixture.open()));
          const results = await Promise.allSettled(handles.map((h, i) => h.acquireLock(`m${i}`, 30_000)));
          const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
          expect(won).to.have.length(1);
          expect((await store.readLock())?.owner).to.equal(`m${won[0]}`);
          for (const h of handles) if (h !== store) await h.close();
        });
      });

      context('when the arguments are invalid', function () {
        it('throws invalidArgument', async function () {
          for (const [owner, lease] of [['', 1000], ['m1', 0], ['m1', Number.NaN]] as const) {
            const error = await rejection(store.acquireLock(owner, lease));
            expect((error as ShardkitError).code).to.equal(ErrorCode.invalidArgument);
          }
        });
      });
    });

    describe('#releaseLock', function () {
      context('when the caller holds the lock', function () {
        it('frees it for others', async function () {
          await store.acquireLock('m1', 30_000);
          await store.releaseLock('m1');
          expect(await store.readLock()).to.equal(null);
          expect((await store.acquireLock('m2', 30_000)).owner).to.equal('m2');
        });
      });

      context('when someone else holds the lock', function () {
        it('leaves it alone', async function () {
          await store.acquireLock('m1', 30_000);
          await store.releaseLock('m2');
          expect((await store.readLock())?.owner).to.equal('m1');
        });
      });
    });

    describe('#readLock', function () {
      context('when no lock was taken', function () {
        it('returns null', async function () {
          expect(await store.readLock()).to.equal(null);
        });
      });
    });

    describe('#writeJournal / #readJournal', function () {
      context('when the key was never written', function () {
        it('reads null', async function () {
          expect(await store.readJournal('m-1')).to.equal(null);
        });
      });

      context('when entries are written', function () {
        it('reads back the last value per key, BSON types included', async function () {
          const id = new BSON.ObjectId();
          await store.writeJournal('m-1', { phase: 'copy', done: 1 });
          await store.writeJournal('m-1', { phase: 'sweep', cursor: { h: 4294967295, id }, ranges: [1, 2] });
          await store.writeJournal('m-2', { phase: 'copy' });
          const value = await store.readJournal('m-1');
          expect(value).to.deep.equal({ phase: 'sweep', cursor: { h: 4294967295, id }, ranges: [1, 2] });
          const cursor = (value as { cursor: { id: unknown } }).cursor;
          expect(cursor.id).to.be.instanceOf(BSON.ObjectId);
          expect(await store.readJournal('m-2')).to.deep.equal({ phase: 'copy' });
        });
      });

      context('when another handle wrote the entry', function () {
        it('sees it', async function () {
          const other = await fixture.open();
          await other.writeJournal('k', { n: 7 });
          expect(await store.readJournal('k')).to.deep.equal({ n: 7 });
          if (other !== store) await other.close();
        });
      });

      context('when the value is not an object', function () {
        it('throws invalidArgument', async function () {
          for (const value of [null, [1, 2], 'x']) {
            const error = await rejection(store.writeJournal('k', value as unknown as Record<string, unknown>));
            expect((error as ShardkitError).code).to.equal(ErrorCode.invalidArgument);
          }
          const error = await rejection(store.writeJournal('', {}));
          expect((error as ShardkitError).code).to.equal(ErrorCode.invalidArgument);
        });
      });
    });
  });
}
