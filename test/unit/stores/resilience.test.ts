import { expect } from 'chai';
import { ErrorCode, ShardkitInvalidArgumentError, ShardkitStoreError } from '../../../src/errors.js';
import { BreakerState, CircuitBreaker } from '../../../src/stores/circuit-breaker.js';
import { ResilientStore, RETRIED_OPS } from '../../../src/stores/resilience.js';
import { FakeClock, flush } from '../../support/fake-clock.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { currentDeadline } from '../../../src/stores/deadline.js';
import { FaultyStore } from '../../support/faulty-store.js';

async function settle<T>(promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  try {
    return { value: await promise };
  } catch (error) {
    return { error };
  }
}

function codeOf(error: unknown): string | undefined {
  return error instanceof ShardkitStoreError ? error.code : undefined;
}

describe('ResilientStore', function () {
  let clock: FakeClock;
  let faulty: FaultyStore;
  const delays: number[] = [];

  beforeEach(async function () {
    clock = new FakeClock();
    faulty = new FaultyStore('s1');
    await faulty.memory.insert({ _id: 'a', _h: 1, _v: 1 });
    delays.length = 0;
  });

  const wrap = (opts: ConstructorParameters<typeof ResilientStore>[1] = {}): ResilientStore =>
    new ResilientStore(faulty.store, {
      clock,
      random: () => 0.999,
      opTimeoutMs: 1000,
      breaker: { failureThreshold: 100 },
      onRetry: ({ delayMs }) => delays.push(delayMs),
      ...opts,
    });

  describe('over a store that ends its calls by their deadline', function () {
    it('hands each attempt its deadline without a watchdog of its own (no timer), and races one over any other store', async function () {
      let seen: number | undefined;
      const memory = new MemoryStore('s1');
      await memory.insert({ _id: 'a', _h: 1, _v: 1 });
      const realGet = memory.get.bind(memory);
      memory.get = (id: unknown) => {
        seen = currentDeadline()?.at;
        return realGet(id);
      };
      const direct = new ResilientStore(memory, { clock, opTimeoutMs: 1000, breaker: false });
      expect((await direct.get('a'))?._id).to.equal('a');
      expect(seen).to.equal(clock.now() + 1000);
      expect(clock.pending).to.equal(0);
      // A decorator in between may hold a call back: raced (one watchdog timer), as before.
      const raced = new ResilientStore(faulty.store, { clock, opTimeoutMs: 1000, breaker: false });
      await raced.get('a');
      expect(clock.pending).to.equal(1);
    });
  });

  describe('#get (retried)', function () {
    context('when the shard fails a few times with a retryable error', function () {
      it('retries with growing jittered backoff and returns the answer', async function () {
        const store = wrap();
        faulty.failNext(2, ErrorCode.storeUnavailable);
        const result = settle(store.get('a'));
        await clock.advance(1000);
        const { value, error } = await result;
        expect(error).to.equal(undefined);
        expect(value?._id).to.equal('a');
        expect(faulty.count('get')).to.equal(3);
        expect(delays).to.deep.equal([49, 99]);
      });
    });

    context('when every attempt fails', function () {
      it('gives up after `retries` extra attempts with the last error', async function () {
        const store = wrap({ retries: 2 });
        faulty.failNext(10, ErrorCode.storeTimeout);
        const result = settle(store.get('a'));
        await clock.advance(10_000);
        expect(codeOf((await result).error)).to.equal(ErrorCode.storeTimeout);
        expect(faulty.count('get')).to.equal(3);
      });
    });

    context('when a deadline bounds the whole call', function () {
      it('starts no attempt past it and cuts the last one to what is left', async function () {
        const store = wrap({ deadlineMs: 700, opTimeoutMs: 500, baseDelayMs: 100, random: () => 0.999 });
        faulty.hangNext(1).hangNext(1).hangNext(1);
        const started = clock.now();
        const result = settle(store.tombstone('a', 1, 2));
        await clock.advance(2000);
        const { error } = await result;
        expect(codeOf(error)).to.equal(ErrorCode.storeTimeout);
        // 500 ms, a 99 ms backoff, then the 101 ms left of the budget; a third attempt would start too late.
        expect(faulty.count('tombstone')).to.equal(2);
        expect((error as Error).message).to.contain('after 101 ms');
        expect(clock.now() - started).to.be.at.least(700);
      });
    });

    context('when the error is not retryable', function () {
      it('fails at once', async function () {
        const store = wrap();
        faulty.failNext(1, ErrorCode.storeFailure);
        const { error } = await settle(store.get('a'));
        expect(codeOf(error)).to.equal(ErrorCode.storeFailure);
        expect(faulty.count('get')).to.equal(1);
      });
    });

    context('when an attempt hangs', function () {
      it('times it out after opTimeoutMs and retries', async function () {
        const store = wrap();
        faulty.hangNext(1);
        const result = settle(store.get('a'));
        await clock.advance(999);
        expect(faulty.count('get')).to.equal(1);
        await clock.advance(1 + 49);
        const { value } = await result;
        expect(value?._id).to.equal('a');
        expect(faulty.count('get')).to.equal(2);
        // No timer per call: the one watchdog timer stays armed for the last attempt's deadline and,
        // with nothing left to watch, is not armed again once it fired.
        expect(clock.pending).to.equal(1);
        await clock.advance(1000);
        expect(clock.pending).to.equal(0);
      });

      it('reports shardkit.store.timeout naming the shard when retries are off', async function () {
        const store = wrap({ retries: 0 });
        faulty.hangNext(1);
        const result = settle(store.get('a'));
        await clock.advance(1000);
        const { error } = await result;
        expect(codeOf(error)).to.equal(ErrorCode.storeTimeout);
        expect((error as ShardkitStoreError).shardId).to.equal('s1');
      });
    });
  });

  describe('non-idempotent writes', function () {
    for (const [op, call] of [
      ['updateOne', (s: ResilientStore) => s.updateOne({ _id: 'a' }, { $set: { x: 1 } })],
      ['insert', (s: ResilientStore) => s.insert({ _id: 'b', _h: 1, _v: 1 })],
      ['deleteOne', (s: ResilientStore) => s.deleteOne({ _id: 'a' })],
      ['fenceRange', (s: ResilientStore) => s.fenceRange({ start: -1, end: 10 }, null, 10, 2)],
      ['replaceTombstone', (s: ResilientStore) => s.replaceTombstone({ _id: 'a', _h: 1, _v: 2 })],
    ] as const) {
      it(`never retries ${op}: its outcome after a failure is unknown`, async function () {
        const store = wrap();
        faulty.failNext(1, ErrorCode.storeUnavailable);
        const { error } = await settle<unknown>(call(store));
        expect(codeOf(error)).to.equal(ErrorCode.storeUnavailable);
        expect(faulty.count(op)).to.equal(1);
        expect(RETRIED_OPS.has(op)).to.equal(false);
      });
    }

    it('retries the idempotent insertIfAbsent', async function () {
      const store = wrap();
      faulty.failNext(1, ErrorCode.storeUnavailable);
      const result = settle(store.insertIfAbsent([{ _id: 'b', _h: 1, _v: 1 }]));
      await clock.advance(100);
      expect((await result).value).to.equal(1);
      expect(faulty.count('insertIfAbsent')).to.equal(2);
    });
  });

  describe('#backoffMs', function () {
    it('doubles the ceiling per attempt up to maxDelayMs', function () {
      const store = new ResilientStore(faulty.store, { random: () => 0.5, baseDelayMs: 100, maxDelayMs: 1000, clock });
      expect([0, 1, 2, 3, 4, 10].map((a) => store.backoffMs(a))).to.deep.equal([50, 100, 200, 400, 500, 500]);
    });
  });

  describe('circuit breaker', function () {
    it('opens after the threshold, fails fast without calling the shard, then probes and closes', async function () {
      const store = wrap({ retries: 0, breaker: { failureThreshold: 3, resetTimeoutMs: 5000 } });
      faulty.failNext(3, ErrorCode.storeUnavailable);
      for (let i = 0; i < 3; i++) expect(codeOf((await settle(store.get('a'))).error)).to.equal(ErrorCode.storeUnavailable);
      expect(store.breaker?.state).to.equal(BreakerState.open);
      const fast = await settle(store.get('a'));
      expect(codeOf(fast.error)).to.equal(ErrorCode.circuitOpen);
      expect(faulty.count('get')).to.equal(3);
      await clock.advance(5000);
      expect(store.breaker?.state).to.equal(BreakerState.halfOpen);
      faulty.hangNext(1);
      const probe = settle(store.get('a'));
      // Only one probe at a time: a second call meanwhile fails fast.
      expect(codeOf((await settle(store.get('a'))).error)).to.equal(ErrorCode.circuitOpen);
      await clock.advance(1000);
      expect(codeOf((await probe).error)).to.equal(ErrorCode.storeTimeout);
      expect(store.breaker?.state).to.equal(BreakerState.open);
      await clock.advance(5000);
      expect((await store.get('a'))?._id).to.equal('a');
      expect(store.breaker?.state).to.equal(BreakerState.closed);
    });

    it('does not retry into an open circuit', async function () {
      const store = wrap({ retries: 5, breaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } });
      faulty.failNext(10, ErrorCode.storeUnavailable);
      const result = settle(store.get('a'));
      await clock.advance(10_000);
      expect(codeOf((await result).error)).to.equal(ErrorCode.circuitOpen);
      expect(faulty.count('get')).to.equal(2);
    });

    it('counts only unhealthy-shard errors: a duplicate key proves the shard alive', async function () {
      const store = wrap({ retries: 0, breaker: { failureThreshold: 2 } });
      faulty.failNext(1, ErrorCode.storeUnavailable);
      await settle(store.get('a'));
      faulty.failNext(1, ErrorCode.storeDuplicateKey);
      await settle(store.insert({ _id: 'a', _h: 1, _v: 1 }));
      faulty.failNext(1, ErrorCode.storeUnavailable);
      await settle(store.get('a'));
      expect(store.breaker?.state).to.equal(BreakerState.closed);
      expect(store.breaker?.failures).to.equal(1);
    });

    it('reports state changes', async function () {
      const changes: string[] = [];
      const breaker = new CircuitBreaker('s1', { failureThreshold: 1, resetTimeoutMs: 10, clock, onStateChange: (from, to) => changes.push(`${from}>${to}`) });
      const store = wrap({ retries: 0, breaker });
      faulty.failNext(1);
      await settle(store.get('a'));
      await clock.advance(10);
      await store.get('a');
      await flush();
      expect(changes).to.deep.equal(['closed>open', 'open>half-open', 'half-open>closed']);
    });
  });

  describe('options', function () {
    it('rejects bad numbers as misuse', function () {
      expect(() => new ResilientStore(faulty.store, { retries: -1 })).to.throw(ShardkitInvalidArgumentError);
      expect(() => new ResilientStore(faulty.store, { opTimeoutMs: Number.NaN })).to.throw(ShardkitInvalidArgumentError);
      expect(() => new ResilientStore(faulty.store, { breaker: { failureThreshold: 0 } })).to.throw(ShardkitInvalidArgumentError);
    });
  });
});
