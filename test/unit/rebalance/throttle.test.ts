import { expect } from 'chai';
import { AdaptiveThrottle, MARKER_DELETE_COST, Throttle } from '../../../src/rebalance/throttle.js';
import { FakeClock } from '../../support/fake-clock.js';

/** Feed `n` samples of `ms` each, booking `docs` documents and moving the clock 10 ms per sample. */
async function feed(t: AdaptiveThrottle, clock: FakeClock, n: number, ms: number, docs = 0): Promise<void> {
  for (let i = 0; i < n; i++) {
    t.consume(docs);
    await clock.advance(10);
    t.observe(ms);
  }
}

describe('Throttle', () => {
  describe('#delay', () => {
    it('paces booked documents to the rate on the monotonic clock', async () => {
      const clock = new FakeClock();
      const t = new Throttle(100, clock);
      t.consume(50);
      expect(t.delay()).to.equal(500);
      await clock.advance(200);
      expect(t.delay()).to.equal(300);
    });

    // The migration benchmark's trace: four pairs copying from one shard waited for all the work
    // booked, were let go together, and fenced there at once every four seconds (70-121 ms each,
    // against 30 alone); the adaptive throttle's probes saw the burst and halved the pace.
    it('lets each worker sharing it wait for its own work, so they take turns at the same rate', async () => {
      const clock = new FakeClock();
      const t = new Throttle(100, clock);
      const a = t.consume(50);
      const b = t.consume(50);
      expect([t.delay(a), t.delay(b), t.delay()]).to.deep.equal([500, 1000, 1000]);
      await clock.advance(500);
      expect(t.delay(a), 'a goes on').to.equal(0);
      // a's next batch is owed after b's: the two together still go at 100 documents a second.
      const next = t.consume(50);
      expect([t.delay(b), t.delay(next)]).to.deep.equal([500, 1000]);
      expect(t.delay(null), 'nothing owed').to.equal(0);
      expect(t.consume(0), 'nothing booked, nothing owed').to.equal(null);
      expect(new Throttle(0, clock).consume(50), 'unthrottled').to.equal(null);
    });
  });
});

describe('AdaptiveThrottle', () => {
  context('when constructed', () => {
    it('rejects an impact of 1 or less, and a window too small to hold a p99', () => {
      const clock = new FakeClock();
      expect(() => new AdaptiveThrottle({ maxP99Impact: 1 }, clock)).to.throw(TypeError, /maxP99Impact/);
      expect(() => new AdaptiveThrottle({ maxP99Impact: Number.NaN }, clock)).to.throw(TypeError, /maxP99Impact/);
      expect(() => new AdaptiveThrottle({ maxP99Impact: 1.5, window: 2 }, clock)).to.throw(TypeError, /window/);
    });
  });

  context('while the shards stay within the allowed impact', () => {
    it('takes a baseline from the first window and never slows the migrator down', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10 }, clock);
      expect(t.calibrating).to.equal(true);
      await feed(t, clock, 10, 4);
      expect(t.calibrating).to.equal(false);
      expect(t.baselineP99).to.equal(4);
      await feed(t, clock, 50, 5.9, 100);
      expect(t.docsPerSec, 'unthrottled').to.equal(0);
      expect(t.delay()).to.equal(0);
    });
  });

  context('when the p99 rises above the allowed impact', () => {
    it('halves the pace it measured, keeps halving while the breach lasts, and never goes below the floor', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, minDocsPerSec: 20 }, clock);
      await feed(t, clock, 10, 4);
      // 100 documents per 10 ms sample: 10,000 docs/s achieved while unthrottled.
      await feed(t, clock, 10, 7, 100);
      expect(t.docsPerSec, 'one window over the limit holds the pace').to.equal(0);
      await feed(t, clock, 10, 7, 100);
      expect(t.docsPerSec, 'the next one in a row halves it').to.equal(5000);
      await feed(t, clock, 10, 7);
      expect(t.docsPerSec).to.equal(2500);
      for (let i = 0; i < 12; i++) await feed(t, clock, 10, 7);
      expect(t.docsPerSec).to.equal(20);
      t.consume(10);
      expect(t.delay(), 'booked work now waits for the lowered pace').to.equal(500);
    });

    it('judges the p99, not the median: a tail of slow samples counts as a breach', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 20 }, clock);
      await feed(t, clock, 20, 4);
      for (let w = 0; w < 2; w++) {
        await feed(t, clock, 19, 4, 10);
        await feed(t, clock, 1, 30, 10);
      }
      expect(t.docsPerSec).to.be.greaterThan(0);
    });

    it('holds the pace on one window over the limit alone, which is too often noise', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, decisionWindow: 4, startDocsPerSec: 100 }, clock);
      await feed(t, clock, 10, 4);
      // Every other window over the limit, none twice in a row: never slowed.
      for (let i = 0; i < 10; i++) {
        await feed(t, clock, 4, 9);
        await feed(t, clock, 4, 4);
      }
      expect(t.docsPerSec).to.be.at.least(100);
      await feed(t, clock, 4, 9);
      await feed(t, clock, 4, 9);
      expect(t.docsPerSec, 'two in a row').to.be.below(100);
    });
  });

  context('once the shards recover', () => {
    it('raises the pace window by window and goes back to unthrottled', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, increase: 2 }, clock);
      await feed(t, clock, 10, 4);
      await feed(t, clock, 10, 9, 10);
      await feed(t, clock, 10, 9, 10);
      const slowed = t.docsPerSec;
      expect(slowed).to.equal(500);
      await feed(t, clock, 10, 4, 5);
      expect(t.docsPerSec).to.equal(1000);
      for (let i = 0; i < 5 && t.docsPerSec > 0; i++) await feed(t, clock, 10, 4, 5);
      expect(t.docsPerSec, 'unthrottled again').to.equal(0);
    });
  });

  it('tells each decision with the p99 that made it and the limit: calibrated, slowed, raised, released', async () => {
    const clock = new FakeClock();
    const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, increase: 2 }, clock);
    const told: Array<[string, number, number, number]> = [];
    t.onDecision = (d) => told.push([d.action, Math.round(d.docsPerSec), d.p99Ms, d.limitMs]);
    await feed(t, clock, 10, 4);
    await feed(t, clock, 10, 9, 10);
    await feed(t, clock, 10, 9, 10);
    await feed(t, clock, 10, 4, 5);
    for (let i = 0; i < 5 && t.docsPerSec > 0; i++) await feed(t, clock, 10, 4, 5);
    expect(told[0]).to.deep.equal(['calibrated', 0, 4, 6]);
    expect(told[1]).to.deep.equal(['slowed', 500, 9, 6]);
    expect(told[2]).to.deep.equal(['raised', 1000, 4, 6]);
    expect(told[told.length - 1]?.[0]).to.equal('released');
    expect(told[told.length - 1]?.[1]).to.equal(0);
  });

  context('while the copy books nothing (it is listing its next page)', () => {
    it('keeps the pace instead of raising it window after window, so the page that follows is not one burst', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, decisionWindow: 4, startDocsPerSec: 50, batchMs: 100 }, clock);
      await feed(t, clock, 10, 4);
      await feed(t, clock, 4 * 20, 4);
      expect(t.docsPerSec, '20 quiet windows without a document').to.equal(50);
      expect(t.batchSize(500)).to.equal(5);
      await feed(t, clock, 4, 4, 1);
      expect(t.docsPerSec, 'a quiet window that booked documents raises it').to.equal(62.5);
    });
  });

  context('with batches of 1 s of work (as the migrator builds it), each booked once', () => {
    it('raises the pace when the next batch books, for the quiet windows the last one was paced over, at most doubling it', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, decisionWindow: 4, startDocsPerSec: 20, batchMs: 1000 }, clock);
      await feed(t, clock, 10, 4);
      expect(t.batchSize(500), '1 s of work at 20 docs/s').to.equal(20);
      expect(t.batchSize(500, MARKER_DELETE_COST), 'markers deleted, a quarter of a document each').to.equal(80);
      expect(t.batchSize(50, MARKER_DELETE_COST), 'never above the configured batch').to.equal(50);
      await feed(t, clock, 4, 4, 20);
      expect(t.docsPerSec, 'the window that booked the batch').to.equal(25);
      // The copy waits out its 20 documents (800 ms at 25 docs/s): 20 quiet windows that book nothing.
      for (let i = 0; t.delay() > 0 && i < 200; i++) await feed(t, clock, 1, 4);
      expect(t.docsPerSec, 'no raise while it waits').to.equal(25);
      await feed(t, clock, 4, 4, t.batchSize(500));
      expect(t.docsPerSec, '1.25x per window it was paced over, capped at 2x').to.equal(50);
      // A breach while it waits forgets them: the next batch raises by one window only.
      await feed(t, clock, 4, 9);
      await feed(t, clock, 4, 9);
      const halved = t.docsPerSec;
      expect(halved).to.equal(25);
      await feed(t, clock, 4, 4, t.batchSize(500));
      expect(t.docsPerSec).to.equal(halved * 1.25);
    });
  });

  context('with a warm-up and short decisions (as the migrator builds it)', () => {
    it('starts at the warm-up pace in small batches, grows while the shards hold, and reacts within a few samples', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 10, decisionWindow: 4, startDocsPerSec: 50, batchMs: 100 }, clock);
      expect(t.batchSize(500), 'whole batches while calibrating').to.equal(500);
      await feed(t, clock, 10, 4);
      expect(t.docsPerSec, 'the warm-up pace, not unthrottled').to.equal(50);
      expect(t.batchSize(500), '100 ms of work at 50 docs/s').to.equal(5);
      await feed(t, clock, 4, 4, 1);
      expect(t.docsPerSec, 'one quiet decision of 4 samples raises it').to.equal(62.5);
      await feed(t, clock, 3, 9, 1);
      expect(t.docsPerSec, 'no decision before the fourth sample').to.equal(62.5);
      await feed(t, clock, 1, 9, 1);
      expect(t.docsPerSec, 'one window over the limit holds it').to.equal(62.5);
      await feed(t, clock, 4, 9, 1);
      expect(t.docsPerSec, 'a second one in a row, 4 samples later, halves it').to.equal(31.25);
      expect(t.batchSize(500)).to.equal(4);
      expect(t.batchSize(2), 'never above the configured batch').to.equal(2);
    });

    it('holds a short window to the baseline quantile its largest sample estimates, not to the baseline p99', async () => {
      const clock = new FakeClock();
      const t = new AdaptiveThrottle({ maxP99Impact: 1.5, window: 40, decisionWindow: 8, startDocsPerSec: 50, batchMs: 100 }, clock);
      const told: number[] = [];
      t.onDecision = (d) => told.push(d.limitMs);
      // A shard with a long tail: most calls take 2 ms, one in ten 20 ms.
      for (let i = 0; i < 40; i++) await feed(t, clock, 1, i % 10 === 9 ? 20 : 2);
      expect(t.baselineP99).to.equal(20);
      // Eight samples estimate the 8/9 quantile, 2 ms here: the limit is 3 ms, not 30.
      expect(told[0]).to.equal(3);
      // The copy doubles every call's latency: eight samples rarely hold one of the tail, and held to
      // 1.5x the baseline p99 (30 ms) they never broke it. Held to 1.5x the quantile they estimate, they do.
      await feed(t, clock, 16, 4, 1);
      expect(t.docsPerSec).to.equal(25);
      // Within the allowed impact, the pace grows again.
      await feed(t, clock, 8, 2.9, 1);
      expect(t.docsPerSec).to.equal(31.25);
    });

    it('rejects a decision window, warm-up pace or batch time out of range', () => {
      const clock = new FakeClock();
      expect(() => new AdaptiveThrottle({ maxP99Impact: 1.5, decisionWindow: 0 }, clock)).to.throw(TypeError, /decisionWindow/);
      expect(() => new AdaptiveThrottle({ maxP99Impact: 1.5, startDocsPerSec: -1 }, clock)).to.throw(TypeError, /startDocsPerSec/);
      expect(() => new AdaptiveThrottle({ maxP99Impact: 1.5, batchMs: Number.NaN }, clock)).to.throw(TypeError, /batchMs/);
    });
  });
});
