import { expect } from 'chai';
import { ErrorCode } from '../../../src/errors.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { InstrumentedStore, wrapStore } from '../../../src/stores/instrumented-store.js';
import { FakeClock } from '../../support/fake-clock.js';
import { FaultyStore } from '../../support/faulty-store.js';
import { metricValue } from '../../support/metric-value.js';

describe('StoreMetrics', function () {
  describe('via InstrumentedStore', function () {
    it('records latency, traffic, errors by code and in-flight saturation per shard and op', async function () {
      const clock = new FakeClock();
      const faulty = new FaultyStore('s1');
      const metrics = new StoreMetrics();
      const store = new InstrumentedStore(faulty.store, metrics, clock);
      await store.insert({ _id: 'a', _h: 1, _v: 1 });
      faulty.failNext(1, ErrorCode.storeDuplicateKey);
      await store.insert({ _id: 'a', _h: 1, _v: 1 }).catch(() => undefined);
      faulty.hangNext(1);
      void store.get('a');
      expect(await metrics.saturation()).to.deep.equal({ s1: 1 });
      const signals = await metrics.signals();
      expect(signals.map((s) => [s.shard, s.op, s.calls, s.errors])).to.deep.equal([['s1', 'insert', 2, { [ErrorCode.storeDuplicateKey]: 1 }]]);
      const text = await metrics.registry.metrics();
      expect(text).to.contain('shardkit_store_calls_total{shard="s1",op="insert"} 2');
      expect(text).to.contain(`shardkit_store_errors_total{shard="s1",op="insert",code="${ErrorCode.storeDuplicateKey}"} 1`);
      expect(text).to.contain('shardkit_store_in_flight{shard="s1"} 1');
    });

    it('measures latency with the injected clock', async function () {
      const clock = new FakeClock();
      const faulty = new FaultyStore('s1');
      const metrics = new StoreMetrics();
      const store = new InstrumentedStore(faulty.store, metrics, clock);
      faulty.delayNext(1, 250, clock);
      const pending = store.ping();
      await clock.advance(250);
      await pending;
      const [s] = await metrics.signals();
      expect(s?.maxMs).to.equal(250);
      expect(s?.p50Ms).to.be.within(250 / 1.5, 250 * 1.5);
      expect(s?.calls).to.equal(1);
    });
  });

  describe('off the call path', function () {
    it('notes each call and updates the prom-client metrics later, and before any of them is read', async function () {
      const metrics = new StoreMetrics();
      const faulty = new FaultyStore('s1');
      const store = new InstrumentedStore(faulty.store, metrics, new FakeClock());
      let updates = 0;
      const observe = metrics.latency.observe.bind(metrics.latency);
      metrics.latency.observe = ((...args: Parameters<typeof observe>) => {
        updates++;
        return observe(...args);
      }) as typeof metrics.latency.observe;
      await store.insert({ _id: 'a', _h: 1, _v: 1 });
      await store.get('a');
      expect(updates).to.equal(0);
      // A scrape (any metric's get, here the registry's text) takes both calls in first.
      expect(await metrics.registry.metrics()).to.contain('shardkit_store_calls_total{shard="s1",op="get"} 1');
      expect(updates).to.equal(2);
      // With no reader, a call waits for a batch: no turn of the event loop is spent per call.
      await store.get('a');
      await new Promise((resolve) => setImmediate(resolve));
      expect(updates).to.equal(2);
      // A batch of 64 calls is taken in on the next turn, reader or not.
      for (let i = 0; i < 63; i++) await store.get('a');
      expect(updates).to.equal(2);
      await new Promise((resolve) => setImmediate(resolve));
      expect(updates).to.equal(66);
      expect(await metricValue(metrics.inFlight, { shard: 's1' })).to.equal(0);
      expect(await metricValue(metrics.calls, { shard: 's1', op: 'get' })).to.equal(65);
    });
  });

  describe('wrapStore', function () {
    it('reports retries and breaker state changes to the same metrics', async function () {
      const clock = new FakeClock();
      const faulty = new FaultyStore('s1');
      await faulty.memory.insert({ _id: 'a', _h: 1, _v: 1 });
      const metrics = new StoreMetrics();
      const store = wrapStore(faulty.store, {
        metrics,
        resilience: { clock, random: () => 0, retries: 1, breaker: { failureThreshold: 2, resetTimeoutMs: 1000 } },
      });
      faulty.failNext(2, ErrorCode.storeUnavailable);
      const first = store.get('a').catch((e: unknown) => e);
      await clock.advance(10);
      await first;
      expect(await metricValue(metrics.retries, { shard: 's1', op: 'get' })).to.equal(1);
      expect(await metricValue(metrics.breakerState, { shard: 's1' })).to.equal(2);
      expect(await metricValue(metrics.errors, { shard: 's1', op: 'get', code: ErrorCode.storeUnavailable })).to.equal(1);
      await clock.advance(1000);
      expect((await store.get('a'))?._id).to.equal('a');
      expect(await metricValue(metrics.breakerState, { shard: 's1' })).to.equal(0);
    });
  });
});
