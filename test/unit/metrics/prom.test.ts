import { expect } from 'chai';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { counterIn, gaugeIn, histogramIn } from '../../../src/metrics/prom.js';
import { bucketQuantile, LATENCY_BUCKETS_SECONDS, type CumulativeBucket } from '../../../src/metrics/quantile.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { metricValue } from '../../support/metric-value.js';

async function bucketsOf(registry: Registry, name: string): Promise<CumulativeBucket[]> {
  const metric = registry.getSingleMetric(name);
  const { values } = (await metric!.get()) as { values: Array<{ metricName?: string; labels: Record<string, string | number>; value: number }> };
  return values
    .filter((v) => v.metricName === `${name}_bucket`)
    .map((v) => ({ le: v.labels['le'] === '+Inf' ? Number.POSITIVE_INFINITY : Number(v.labels['le']), count: v.value }));
}

describe('prom-client metrics', function () {
  describe('counterIn', function () {
    it('counts per label set and returns the same counter for the same name', async function () {
      const reg = new Registry();
      const c = counterIn(reg, 'ops_total', 'ops', ['shard']);
      c.inc({ shard: 'a' });
      c.inc({ shard: 'a' }, 2);
      counterIn(reg, 'ops_total', 'ops', ['shard']).inc({ shard: 'b' });
      expect(await metricValue(c, { shard: 'a' })).to.equal(3);
      expect(await metricValue(c, { shard: 'b' })).to.equal(1);
      expect(await metricValue(c, { shard: 'zz' })).to.equal(0);
    });

    it('rejects a decrease, bad names and a registration of the name as another kind', function () {
      const reg = new Registry();
      const c = counterIn(reg, 'x_total', 'x', ['shard']);
      expect(() => c.inc({ shard: 'a' }, -1)).to.throw(/not possible to decrease/);
      expect(() => counterIn(reg, 'bad-name', 'x', [])).to.throw(/invalid metric name/i);
      expect(() => histogramIn(reg, 'y', 'x', ['le'], [1])).to.throw(/reserved/i);
      expect(() => counterIn(reg, 'z', 'x', ['bad-label'])).to.throw(/label name/i);
      expect(() => gaugeIn(reg, 'x_total', 'x', ['shard'])).to.throw(ShardkitInvalidArgumentError, /already registered/);
    });

    it('lets two StoreMetrics share one application registry', async function () {
      const reg = new Registry();
      const a = new StoreMetrics(reg);
      const b = new StoreMetrics(reg);
      a.start('s1', 'get', 0)(1);
      b.start('s1', 'get', 0)(1);
      expect(await metricValue(a.calls, { shard: 's1', op: 'get' })).to.equal(2);
      expect(await reg.metrics()).to.contain('shardkit_store_calls_total{shard="s1",op="get"} 2');
    });
  });

  describe('bucketQuantile', function () {
    it('estimates p50 and p99 within one bucket of the exact quantile', async function () {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.double({ min: 0.0002, max: 30, noNaN: true }), { minLength: 50, maxLength: 400 }), async (values) => {
          const reg = new Registry();
          const h = histogramIn(reg, 'lat_seconds', 'lat', [], LATENCY_BUCKETS_SECONDS);
          for (const v of values) h.observe(v);
          const buckets = await bucketsOf(reg, 'lat_seconds');
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of [0.5, 0.99]) {
            const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
            const est = bucketQuantile(buckets, q, sorted.at(-1));
            // Buckets grow by 1.5x: the estimate lies in the exact value's bucket or a neighbour.
            expect(est).to.be.within(exact / 1.5 ** 2, exact * 1.5 ** 2);
          }
        }),
        { numRuns: 60 },
      );
    });

    it('is NaN before any observation and never above the largest value seen', function () {
      expect(bucketQuantile([], 0.5)).to.be.NaN;
      expect(bucketQuantile([{ le: 1, count: 0 }, { le: Number.POSITIVE_INFINITY, count: 0 }], 0.5)).to.be.NaN;
      expect(bucketQuantile([{ le: 1, count: 0 }, { le: Number.POSITIVE_INFINITY, count: 2 }], 0.99, 7)).to.be.within(1, 7);
      expect(bucketQuantile([{ le: 0.1, count: 1 }, { le: 1, count: 1 }], 0.5, 0.03)).to.equal(0.03);
      expect(LATENCY_BUCKETS_SECONDS.every((b, i) => i === 0 || b > (LATENCY_BUCKETS_SECONDS[i - 1] as number))).to.equal(true);
    });
  });

  describe('Registry#metrics', function () {
    it('writes HELP, TYPE, escaped labels, cumulative buckets, sum and count', async function () {
      const reg = new Registry();
      counterIn(reg, 'req_total', 'Requests\nserved', ['shard']).inc({ shard: 'a"b\\c' }, 2);
      gaugeIn(reg, 'inflight', 'In flight', ['shard']).set({ shard: 's1' }, 3);
      const h = histogramIn(reg, 'lat_seconds', 'Latency', ['op'], [0.1, 1]);
      h.observe({ op: 'get' }, 0.05);
      h.observe({ op: 'get' }, 0.5);
      h.observe({ op: 'get' }, 5);
      const lines = (await reg.metrics()).split('\n');
      for (const line of [
        '# HELP req_total Requests\\nserved',
        '# TYPE req_total counter',
        'req_total{shard="a\\"b\\\\c"} 2',
        '# TYPE inflight gauge',
        'inflight{shard="s1"} 3',
        '# TYPE lat_seconds histogram',
        'lat_seconds_bucket{le="0.1",op="get"} 1',
        'lat_seconds_bucket{le="1",op="get"} 2',
        'lat_seconds_bucket{le="+Inf",op="get"} 3',
        'lat_seconds_sum{op="get"} 5.55',
        'lat_seconds_count{op="get"} 3',
      ]) {
        expect(lines).to.include(line);
      }
    });

    it('resetMetrics() empties every series', async function () {
      const reg = new Registry();
      counterIn(reg, 'c_total', 'c', []).inc();
      expect(await reg.metrics()).to.contain('c_total 1');
      reg.resetMetrics();
      expect(await reg.metrics()).to.not.contain('c_total 1');
    });
  });
});
