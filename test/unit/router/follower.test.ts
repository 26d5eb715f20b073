import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import type { ConfigStore } from '../../../src/config-store/types.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { ErrorCode, ShardkitError, ShardkitInvalidArgumentError, ShardkitRouterError, ShardkitStoreError, isRetryableError } from '../../../src/errors.js';
import { TopologyFollower } from '../../../src/router/follower.js';
import type { Clock } from '../../../src/clock.js';
import { FakeClock } from '../../support/fake-clock.js';
import { stableState } from '../config-store/contract.js';

/** A config store whose loads can be made to fail, to hang, or to take fake time. */
class ControlledStore extends MemoryConfigStore {
  loads = 0;
  failWith: Error | null = null;
  answer: RoutingState | null | undefined = undefined;
  gate: Promise<void> | null = null;

  override async load(): Promise<RoutingState | null> {
    this.loads += 1;
    const gate = this.gate;
    // The answer is read when the request is "sent"; the gate delays only the reply.
    const answer = this.failWith ?? (this.answer !== undefined ? this.answer : await super.load());
    if (gate !== null) await gate;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

function catchSync(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('TopologyFollower', function () {
  let clock: FakeClock;
  let store: ControlledStore;
  let follower: TopologyFollower | undefined;

  beforeEach(async function () {
    clock = new FakeClock();
    store = new ControlledStore();
    await store.compareAndSet(null, stableState(1));
  });

  afterEach(function () {
    follower?.close();
    follower = undefined;
  });

  const start = async (options: { leaseMs?: number; refreshIntervalMs?: number } = {}): Promise<TopologyFollower> => {
    follower = await TopologyFollower.start(store, {
      leaseMs: options.leaseMs ?? 5000,
      refreshIntervalMs: options.refreshIntervalMs ?? 0,
      clock,
    });
    return follower;
  };

  describe('.start', function () {
    context('when a state is published', function () {
      it('serves it', async function () {
        const f = await start();
        expect(f.current()).to.deep.equal(stableState(1));
        expect(f.leaseExpiresAt).to.equal(clock.now() + 5000);
      });
    });

    context('when nothing is published', function () {
      it('rejects with configNoState', async function () {
        const empty = new MemoryConfigStore();
        const error = await TopologyFollower.start(empty, { leaseMs: 1000 }).then(
          () => null,
          (e: unknown) => e,
        );
        expect((error as ShardkitError).code).to.equal(ErrorCode.configNoState);
      });
    });

    context('when the options are invalid', function () {
      it('rejects with shardkit.invalidArgument naming the option', async function () {
        for (const options of [{ leaseMs: 0 }, { leaseMs: Number.NaN }, { leaseMs: 100, refreshIntervalMs: -1 }]) {
          const error = await TopologyFollower.start(store, options).then(
            () => null,
            (e: unknown) => e,
          );
          expect(error, JSON.stringify(options)).to.be.instanceOf(ShardkitInvalidArgumentError);
          expect((error as Error).message, JSON.stringify(options)).to.match(/leaseMs|refreshIntervalMs/);
        }
      });
    });
  });

  describe('#current', function () {
    context('when the lease is running', function () {
      it('returns the state up to and including the last lease millisecond', async function () {
        const f = await start({ leaseMs: 5000 });
        await clock.advance(5000);
        expect(f.current().epoch).to.equal(1);
      });
    });

    context('when the lease ran out', function () {
      it('throws a retryable leaseExpired and starts a refresh', async function () {
        const f = await start({ leaseMs: 5000 });
        const loadsBefore = store.loads;
        await clock.advance(5001);
        const error = catchSync(() => f.current());
        expect(error).to.be.instanceOf(ShardkitRouterError);
        expect((error as ShardkitError).code).to.equal(ErrorCode.leaseExpired);
        expect(isRetryableError(error)).to.equal(true);
        expect(store.loads).to.equal(loadsBefore + 1);
        // That refresh succeeded, so the router serves again.
        await sleep(0);
        expect(f.current().epoch).to.equal(1);
      });
    });

    context('when the config store stays unreachable', function () {
      it('keeps throwing with the store error as cause until a refresh succeeds', async function () {
        const f = await start({ leaseMs: 5000 });
        const down = new ShardkitStoreError(ErrorCode.storeUnavailable, 'config server down');
        store.failWith = down;
        await clock.advance(3000);
        await f.refresh().catch(() => undefined);
        expect(f.lastError).to.equal(down);
        expect(f.current().epoch).to.equal(1);
        await clock.advance(2001);
        const error = catchSync(() => f.current()) as ShardkitError;
        expect(error.code).to.equal(ErrorCode.leaseExpired);
        expect(error.cause).to.equal(down);
        await sleep(0);
        expect(() => f.current()).to.throw(ShardkitRouterError);
        store.failWith = null;
        await f.refresh();
        expect(f.lastError).to.equal(undefined);
        expect(f.current().epoch).to.equal(1);
        expect(f.leaseExpiresAt).to.equal(clock.now() + 5000);
      });
    });
  });

  describe('#refresh', function () {
    context('when a newer epoch was published', function () {
      it('adopts it and tells listeners', async function () {
        const f = await start();
        const seen: Array<[number, number]> = [];
        const off = f.onChange((state, previous) => seen.push([previous.epoch, state.epoch]));
        await store.compareAndSet(1, stableState(2, ['a', 'b', 'c']));
        expect((await f.refresh()).epoch).to.equal(2);
        expect(f.current()).to.deep.equal(stableState(2, ['a', 'b', 'c']));
        off();
        await store.compareAndSet(2, stableState(3));
        await f.refresh();
        expect(seen).to.deep.equal([[1, 2]]);
      });
    });

    context('when the store answers an older epoch', function () {
      it('keeps the newer state and does not renew the lease', async function () {
        const f = await start({ leaseMs: 5000 });
        await store.compareAndSet(1, stableState(4));
        await f.refresh();
        const expiry = f.leaseExpiresAt;
        await clock.advance(1000);
        store.answer = stableState(2);
        const error = await f.refresh().then(
          () => null,
          (e: unknown) => e,
        );
        expect((error as ShardkitError).code).to.equal(ErrorCode.staleEpoch);
        expect(f.current().epoch).to.equal(4);
        expect(f.leaseExpiresAt).to.equal(expiry);
      });
    });

    context('when the store answers nothing', function () {
      it('rejects with configNoState and keeps the state', async function () {
        const f = await start();
        store.answer = null;
        const error = await f.refresh().then(
          () => null,
          (e: unknown) => e,
        );
        expect((error as ShardkitError).code).to.equal(ErrorCode.configNoState);
        expect(f.current().epoch).to.equal(1);
      });
    });

    context('when called concurrently', function () {
      it('shares one load in flight and one queued behind it', async function () {
        const f = await start();
        const before = store.loads;
        const results = await Promise.all(Array.from({ length: 10 }, () => f.refresh()));
        expect(store.loads).to.equal(before + 2);
        expect(new Set(results.map((r) => r.epoch))).to.deep.equal(new Set([1]));
      });
    });

    context('when a state is published while a load is in flight', function () {
      it('answers a later caller with a load sent after its call', async function () {
        const f = await start();
        let open!: () => void;
        store.gate = new Promise((resolve) => {
          open = resolve;
        });
        const early = f.refresh();
        store.gate = null;
        await store.compareAndSet(1, stableState(2));
        const late = f.refresh();
        open();
        expect((await early).epoch).to.equal(1);
        expect((await late).epoch).to.equal(2);
      });
    });

    context('when the load is slow', function () {
      it('counts the lease from when the load was sent', async function () {
        const f = await start({ leaseMs: 5000 });
        let open!: () => void;
        store.gate = new Promise((resolve) => {
          open = resolve;
        });
        const sentAt = clock.now() + 1000;
        await clock.advance(1000);
        const pending = f.refresh();
        await clock.advance(3000);
        open();
        await pending;
        expect(f.leaseExpiresAt).to.equal(sentAt + 5000);
      });
    });

    context('when the config store hangs', function () {
      it('fails the load with a retryable config.timeout after the lease, and callers queued behind it get a load of their own', async function () {
        const f = await start({ leaseMs: 5000 });
        store.gate = new Promise(() => undefined);
        const hung = f.refresh();
        const queued = f.refresh();
        const failed = hung.then(
          () => null,
          (error: unknown) => error,
        );
        await clock.advance(4999);
        expect(store.loads).to.equal(2);
        await clock.advance(1);
        const error = await failed;
        expect(error).to.be.instanceOf(ShardkitStoreError);
        expect((error as ShardkitError).code).to.equal(ErrorCode.configTimeout);
        expect(isRetryableError(error)).to.equal(true);
        // The queued caller was not held behind the hung load for ever: its own load was sent.
        expect(store.loads).to.equal(3);
        store.gate = null;
        queued.catch(() => undefined);
        await clock.advance(5000);
        // The lease ran out while every load hung: the router refuses to route (ADR 0003).
        expect(catchSync(() => f.current())).to.be.instanceOf(ShardkitRouterError);
      });

      it('never serves an answer that arrives after its own lease ran out', async function () {
        const f = await start({ leaseMs: 5000 });
        await store.compareAndSet(1, stableState(2));
        let open!: () => void;
        store.gate = new Promise((resolve) => {
          open = resolve;
        });
        const pending = f.refresh().then(
          (state) => state,
          (error: unknown) => error,
        );
        await clock.advance(6000);
        open();
        const outcome = await pending;
        expect((outcome as ShardkitError).code).to.equal(ErrorCode.configTimeout);
        expect(f.state.epoch).to.equal(1);
      });
    });
  });

  describe('background refresh', function () {
    context('when refreshIntervalMs is set', function () {
      it('picks up a new epoch without being asked', async function () {
        // Real timers and clock here: the timer itself is under test.
        follower = await TopologyFollower.start(store, { leaseMs: 1000, refreshIntervalMs: 5 });
        await store.compareAndSet(1, stableState(2));
        for (let i = 0; i < 200 && follower.state.epoch !== 2; i++) await sleep(5);
        expect(follower.current().epoch).to.equal(2);
      });
    });

    context('when the clock is a fake one', function () {
      it("refreshes on the clock's timers and measures the lease on its monotonic now()", async function () {
        // A wall clock stepped by NTP must not move the lease: the follower never reads wall().
        const monotonic: Clock = {
          now: () => clock.now(),
          wall: () => {
            throw new Error('the follower read the wall clock');
          },
          setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
          clearTimeout: (handle) => clock.clearTimeout(handle),
        };
        follower = await TopologyFollower.start(store, { leaseMs: 1000, refreshIntervalMs: 300, clock: monotonic });
        await store.compareAndSet(1, stableState(2));
        const loads = store.loads;
        await clock.advance(299);
        expect(store.loads).to.equal(loads);
        await clock.advance(1);
        expect(store.loads).to.equal(loads + 1);
        expect(follower.current().epoch).to.equal(2);
        expect(follower.leaseExpiresAt).to.equal(300 + 1000);
        await clock.advance(300);
        expect(store.loads).to.equal(loads + 2);
        follower.close();
        expect(clock.pending).to.equal(0);
      });
    });

    context('when the follower is closed', function () {
      it('stops refreshing', async function () {
        follower = await TopologyFollower.start(store, { leaseMs: 1000, refreshIntervalMs: 5 });
        follower.close();
        const loads = store.loads;
        await store.compareAndSet(1, stableState(2));
        await sleep(50);
        expect(store.loads).to.equal(loads);
        expect(follower.state.epoch).to.equal(1);
        expect(follower.closed).to.equal(true);
      });
    });
  });
});

describe('TopologyFollower with a config store', function () {
  context('when the store is a ConfigStore', function () {
    it('satisfies the RoutingSource shape', async function () {
      const store: ConfigStore = new MemoryConfigStore({ initial: stableState(3) });
      const f = await TopologyFollower.start(store, { leaseMs: 1000, refreshIntervalMs: 0 });
      expect((await f.refresh()).epoch).to.equal(3);
      f.close();
    });
  });
});
