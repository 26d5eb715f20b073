import { expect } from 'chai';
import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import { routerDrainMs } from '../../../src/router/drain-bound.js';
import { currentDeadline, deadlineIn, withDeadline } from '../../../src/stores/deadline.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { ResilientStore } from '../../../src/stores/resilience.js';
import { FakeClock } from '../../support/fake-clock.js';
import { FaultyStore } from '../../support/faulty-store.js';

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

describe('one deadline per shard call', function () {
  let clock: FakeClock;

  beforeEach(function () {
    clock = new FakeClock();
  });

  describe('withDeadline', function () {
    it('never extends a deadline already in force: the earlier one wins', async function () {
      const seen = await withDeadline(deadlineIn(clock, 100), () => withDeadline(deadlineIn(clock, 500), async () => currentDeadline()?.at));
      expect(seen).to.equal(100);
      const inner = await withDeadline(deadlineIn(clock, 500), () => withDeadline(deadlineIn(clock, 100), async () => currentDeadline()?.at));
      expect(inner).to.equal(100);
    });

    it('on a tie keeps the inner deadline, so a store can attach its signal to the one in force', async function () {
      const signal = new AbortController().signal;
      const outer = deadlineIn(clock, 100);
      const seen = await withDeadline(outer, () => withDeadline({ ...outer, signal }, async () => currentDeadline()?.signal));
      expect(seen).to.equal(signal);
    });
  });

  describe('MemoryStore', function () {
    it('refuses to start a call whose deadline passed, with shardkit.store.timeout, and changes nothing', async function () {
      const store = new MemoryStore('s1');
      const deadline = deadlineIn(clock, 10);
      await clock.advance(10);
      const { error } = await settle(withDeadline(deadline, () => store.insert({ _id: 'k', _h: 1, _v: 1 })));
      expect(hasErrorCode(error, ErrorCode.storeTimeout)).to.equal(true);
      expect(await store.get('k')).to.equal(null);
    });

    it('runs a call started before its deadline', async function () {
      const store = new MemoryStore('s1');
      await withDeadline(deadlineIn(clock, 10), () => store.insert({ _id: 'k', _h: 1, _v: 1 }));
      expect((await store.get('k'))?._v).to.equal(1);
    });
  });

  // Regression (issue 8): ResilientStore raced a timer against the call and left it running, so a
  // write held in front of the shard (a saturated pool, a frozen shard) reached it long after its
  // caller had been told "timed out", and after the migrator's wait for such stragglers had ended.
  describe('ResilientStore over a store that holds the call back', function () {
    const timing = { leaseMs: 500, opTimeoutMs: 100 };
    const holdMs = routerDrainMs(timing) * 10;

    const cases: ReadonlyArray<readonly [string, (s: ResilientStore) => Promise<unknown>, (m: MemoryStore) => Promise<boolean>]> = [
      ['insert', (s) => s.insert({ _id: 'k', _h: 1, _v: 1 }), async (m) => (await m.get('k')) !== null],
      ['updateOne', (s) => s.updateOne({ _id: 'a' }, { $set: { x: 2 } }), async (m) => (await m.get('a'))?.['x'] === 2],
      ['deleteOne', (s) => s.deleteOne({ _id: 'a' }), async (m) => (await m.get('a')) === null],
    ];
    for (const [op, call, applied] of cases) {
      it(`${op}: a write held past its deadline never lands after the migrator's wait`, async function () {
        const faulty = new FaultyStore('s1');
        await faulty.memory.insert({ _id: 'a', _h: 1, _v: 1, x: 1 });
        const store = new ResilientStore(faulty.store, { clock, opTimeoutMs: timing.opTimeoutMs, deadlineMs: timing.opTimeoutMs, retries: 0, breaker: false });
        // The call is admitted now; the hook holds it in front of the shard far past every bound.
        faulty.delayNext(1, holdMs, clock);
        const result = settle(call(store));
        await clock.advance(timing.opTimeoutMs);
        const { error } = await result;
        expect(hasErrorCode(error, ErrorCode.storeTimeout)).to.equal(true);
        // Past the migrator's wait, and past the release of the held call: nothing was applied.
        await clock.advance(routerDrainMs(timing));
        expect(await applied(faulty.memory)).to.equal(false);
        await clock.advance(holdMs);
        expect(faulty.count(op)).to.equal(1);
        expect(await applied(faulty.memory)).to.equal(false);
      });
    }

    it('a retried idempotent call whose first attempt is held answers from the attempt that ran in time', async function () {
      const faulty = new FaultyStore('s1');
      const store = new ResilientStore(faulty.store, { clock, opTimeoutMs: 100, deadlineMs: 1000, retries: 2, baseDelayMs: 10, random: () => 0, breaker: false });
      faulty.delayNext(1, 5000, clock);
      const result = settle(store.insertIfAbsent([{ _id: 'k', _h: 1, _v: 1 }]));
      await clock.advance(200);
      expect((await result).value).to.equal(1);
      await clock.advance(10_000);
      expect(faulty.count('insertIfAbsent')).to.equal(2);
      expect((await faulty.memory.get('k'))?._v).to.equal(1);
    });

    it("fails a call that arrives past the caller's deadline without asking the shard or blaming it", async function () {
      const faulty = new FaultyStore('s1');
      const store = new ResilientStore(faulty.store, { clock, opTimeoutMs: 1000, retries: 0, breaker: { failureThreshold: 1 } });
      const deadline = deadlineIn(clock, 10);
      await clock.advance(10);
      const { error } = await settle(withDeadline(deadline, () => store.insert({ _id: 'k', _h: 1, _v: 1 })));
      expect(hasErrorCode(error, ErrorCode.storeTimeout)).to.equal(true);
      expect(faulty.count('insert')).to.equal(0);
      expect(store.breaker?.state).to.equal('closed');
    });

    it("cuts the call to the caller's deadline when that one is earlier than its own", async function () {
      const faulty = new FaultyStore('s1');
      const store = new ResilientStore(faulty.store, { clock, opTimeoutMs: 1000, retries: 0, breaker: false });
      faulty.delayNext(1, 100, clock);
      const result = settle(withDeadline(deadlineIn(clock, 50), () => store.insert({ _id: 'k', _h: 1, _v: 1 })));
      await clock.advance(50);
      expect(hasErrorCode((await result).error, ErrorCode.storeTimeout)).to.equal(true);
      await clock.advance(100);
      expect(await faulty.memory.get('k')).to.equal(null);
    });
  });
});
