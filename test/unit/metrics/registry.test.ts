import { expect } from 'chai';
import fc from 'fast-check';
import { ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { LATENCY_BUCKETS_SECONDS, MetricsRegistry } from '../../../src/metrics/registry.js';

describe('MetricsRegistry', function () {
  describe('#counter', function () {
    it('counts per label set and returns the same counter for the same name', function () {
      const reg = new MetricsRegistry();
      const c = reg.counter('ops_total', 'ops', ['shard']);
      c.inc({ shard: 'a' });
      c.inc({ shard: 'a' }, 2);
      reg.counter('ops_total', 'ops', ['shard']).inc({ shard: 'b' });
      expect(c.get({ shard: 'a' })).to.equal(3);
      expect(c.get({ shard: 'b' })).to.equal(1);
      expect(c.get({ shard: 'zz' })).to.equal(0);
    });

    it('rejects a decrease, a missing label, bad names and a clashing registration', function () {
      const reg = new MetricsRegistry();
      const c = reg.counter('x_total', 'x', ['shard']);
      expect(() => c.inc({ shard: 'a' }, -1)).to.throw(ShardkitInvalidArgumentError);
      expect(() => c.inc({})).to.throw(ShardkitInvalidArgumentError);
      expect(() => reg.counter('bad-name', 'x')).to.throw(ShardkitInvalidArgumentError);
      expect(() => reg.counter('y', 'x', ['le'])).to.throw(ShardkitInvalidArgumentError);
      expect(() => reg.gauge('x_total', 'x', ['shard'])).to.throw(ShardkitInvalidArgumentError);
    });
  });

  describe('#histogram', function () {
    it('estimates p50 and p99 within one bucket of the exact quantile', function () {
      fc.assert(
        fc.property(fc.array(fc.double({ min: 0.0002, max: 30, noNaN: true }), { minLength: 50, maxLength: 400 }), (values) => {
          const h = new MetricsRegistry().histogram('lat_seconds', 'lat', []);
          for (const v of values) h.observe({}, v);
          const sorted = [...values].sort((a, b) => a - b);
          for (const q of [0.5, 0.99]) {
            const exact = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] as number;
            const est = h.quantile({}, q);
            // Buckets grow by 1.5x: the estimate lies in the exact value's bucket or a neighbour.
            expect(est).to.be.within(exact / 1.5 ** 2, exact * 1.5 ** 2);
          }
        }),
        { numRuns: 60 },
      );
    });

    it('reports NaN quantiles before any observation and exact min/max', function () {
      const h = new MetricsRegistry().histogram('lat_seconds', 'lat', ['op']);
      expect(h.quantile({ op: 'get' }, 0.5)).to.be.NaN;
      h.observe({ op: 'get' }, 0.01);
      h.observe({ op: 'get' }, 0.03);
      const [s] = h.summaries();
      expect(s).to.deep.include({ count: 2, min: 0.01, max: 0.03 });
      expect(s?.sum).to.be.closeTo(0.04, 1e-12);
    });

    it('refuses buckets that are not strictly increasing', function () {
      expect(() => new MetricsRegistry().histogram('h', 'h', [], [1, 1])).to.throw(ShardkitInvalidArgumentError);
      expect(LATENCY_BUCKETS_SECONDS.every((b, i) => i === 0 || b > (LATENCY_BUCKETS_SECONDS[i - 1] as number))).to.equal(true);
    });
  });

  describe('#toPrometheus', function () {
    it('writes HELP, TYPE, escaped labels, cumulative buckets, sum and count', function () {
      const reg = new MetricsRegistry();
      reg.counter('req_total', 'Requests\nserved', ['shard']).inc({ shard: 'a"b\\c' }, 2);
      reg.gauge('inflight', 'In flight', ['shard']).set({ shard: 's1' }, 3);
      const h = reg.histogram('lat_seconds', 'Latency', ['op'], [0.1, 1]);
      h.observe({ op: 'get' }, 0.05);
      h.observe({ op: 'get' }, 0.5);
      h.observe({ op: 'get' }, 5);
      expect(reg.toPrometheus()).to.equal(
        [
          '# HELP req_total Requests\\nserved',
          '# TYPE req_total counter',
          'req_total{shard="a\\"b\\\\c"} 2',
          '# HELP inflight In flight',
          '# TYPE inflight gauge',
          'inflight{shard="s1"} 3',
          '# HELP lat_seconds Latency',
          '# TYPE lat_seconds histogram',
          'lat_seconds_bucket{op="get",le="0.1"} 1',
          'lat_seconds_bucket{op="get",le="1"} 2',
          'lat_seconds_bucket{op="get",le="+Inf"} 3',
          'lat_seconds_sum{op="get"} 5.55',
          'lat_seconds_count{op="get"} 3',
          '',
        ].join('\n'),
      );
    });
  });

  describe('#snapshot', function () {
    it('gives every metric as plain data, and reset() empties it', function () {
      const reg = new MetricsRegistry();
      reg.counter('c_total', 'c').inc();
      reg.histogram('h_seconds', 'h').observe({}, 0.002);
      const snap = reg.snapshot();
      expect(snap.counters['c_total']).to.deep.equal([{ labels: {}, value: 1 }]);
      expect(snap.histograms['h_seconds']?.[0]?.count).to.equal(1);
      reg.reset();
      expect(reg.snapshot().counters['c_total']).to.deep.equal([]);
    });
  });
});
