import { expect } from 'chai';
import { medianInterval, pairedDifferences, pairedRatios, quantileRatioInterval, verdict } from '../../../bench/lib/paired.js';

describe('bench/lib/paired', function () {
  it('compares each round of blocks with the same round of the other path, so a drift shared by both cancels', function () {
    // Path a is 1% slower than b in every round, while the host drifts by 30% between rounds.
    const block = 5;
    const a: number[] = [];
    const b: number[] = [];
    for (let r = 0; r < 40; r++) {
      const drift = 1 + 0.3 * Math.sin(r);
      for (let i = 0; i < block; i++) {
        const jitter = 1 + 0.001 * i;
        b.push(drift * jitter);
        a.push(drift * jitter * 1.01);
      }
    }
    const ratios = pairedRatios(a, b, block);
    expect(ratios).to.have.length(40);
    const interval = medianInterval(ratios);
    expect(interval.estimate).to.be.closeTo(0.01, 1e-9);
    expect(interval.low).to.be.closeTo(0.01, 1e-9);
    expect(interval.high).to.be.closeTo(0.01, 1e-9);
    expect(verdict(interval, 0.02)).to.equal('met');
    expect(verdict(interval, 0.005)).to.equal('missed');
  });

  it('gives an interval that holds the bound as within noise, and is reproducible', function () {
    const values = Array.from({ length: 60 }, (_, i) => 0.02 + ((i * 7919) % 61) / 1000 - 0.03);
    const one = medianInterval(values);
    const two = medianInterval(values);
    expect(one).to.deep.equal(two);
    expect(one.low).to.be.below(one.estimate);
    expect(one.high).to.be.above(one.estimate);
    expect(verdict(one, one.estimate)).to.equal('within noise');
  });

  it('pairs differences by round and refuses a block size that is not a positive integer', function () {
    expect(pairedDifferences([5, 7, 9], [4, 4])).to.deep.equal([1, 3]);
    expect(() => pairedRatios([1], [1], 0)).to.throw(RangeError, /block/);
    expect(medianInterval([]).estimate).to.be.NaN;
  });

  it('brackets a p99 ratio by resampling both samples: narrow over many operations, wide over few', function () {
    // Latencies 1..1000 ms before, twice as slow during: the p99 ratio is 2.
    const before = Array.from({ length: 1000 }, (_, i) => i + 1);
    const during = before.map((x) => 2 * x);
    const many = quantileRatioInterval(during, before, 0.99);
    expect(many.estimate).to.equal(2);
    expect(many.low).to.be.below(2).and.above(1.8);
    expect(many.high).to.be.above(2).and.below(2.2);
    expect(verdict(many, 1.5)).to.equal('missed');
    expect(quantileRatioInterval(during, before, 0.99)).to.deep.equal(many);
    // The same shape over 100 operations: its p99 is its slowest one or two, and the interval widens.
    const few = quantileRatioInterval(during.filter((_, i) => i % 10 === 0), before.filter((_, i) => i % 10 === 5), 0.99);
    expect(few.high - few.low).to.be.above(2 * (many.high - many.low));
    expect(quantileRatioInterval([], before, 0.99).estimate).to.be.NaN;
  });
});
