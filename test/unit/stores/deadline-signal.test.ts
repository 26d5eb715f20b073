import { expect } from 'chai';
import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import { DeadlineSignal, DeadlineWatchdog } from '../../../src/stores/deadline-signal.js';
import { FakeClock } from '../../support/fake-clock.js';

describe('DeadlineWatchdog', function () {
  let clock: FakeClock;
  let watchdog: DeadlineWatchdog;

  beforeEach(function () {
    clock = new FakeClock();
    watchdog = new DeadlineWatchdog(clock);
  });

  function watched(at: number, op = 'get'): DeadlineSignal {
    const signal = new DeadlineSignal(at, 's0', op, at - clock.now());
    watchdog.watch(signal);
    return signal;
  }

  describe('#watch', function () {
    it('aborts a call at its deadline with shardkit.store.timeout naming the shard and the operation, not before', async function () {
      const signal = watched(100);
      await clock.advance(98);
      expect(signal.aborted).to.equal(false);
      expect(() => signal.throwIfAborted()).not.to.throw();
      await clock.advance(2);
      expect(signal.aborted).to.equal(true);
      expect(hasErrorCode(signal.reason, ErrorCode.storeTimeout)).to.equal(true);
      expect((signal.reason as Error).message).to.match(/shard s0: get timed out: its deadline passed after 100 ms/);
      expect(() => signal.throwIfAborted()).to.throw(Error, /timed out/);
    });

    it('keeps one timer for calls whose deadlines come in order, and aborts each at its own deadline', async function () {
      const first = watched(100);
      await clock.advance(10);
      const second = watched(110);
      const third = watched(120);
      expect(clock.pending).to.equal(1);
      await clock.advance(90);
      expect([first.aborted, second.aborted, third.aborted]).to.deep.equal([true, false, false]);
      await clock.advance(10);
      expect([second.aborted, third.aborted]).to.deep.equal([true, false]);
      await clock.advance(10);
      expect(third.aborted).to.equal(true);
      expect(clock.pending).to.equal(0);
    });

    it('re-arms for a call that brings an earlier deadline (an operation deadline shorter than opTimeoutMs)', async function () {
      const late = watched(1000);
      const early = watched(50);
      expect(clock.pending).to.equal(1);
      await clock.advance(50);
      expect([early.aborted, late.aborted]).to.deep.equal([true, false]);
      await clock.advance(950);
      expect(late.aborted).to.equal(true);
    });
  });

  describe('#release', function () {
    it('never aborts a call that ended, and stops re-arming once nothing is watched', async function () {
      const signal = watched(100);
      watchdog.release(signal);
      await clock.advance(200);
      expect(signal.aborted).to.equal(false);
      expect(clock.pending).to.equal(0);
    });
  });

  describe('#close', function () {
    it('drops an idle timer but keeps the deadline of a call still in flight', async function () {
      const ended = watched(100);
      watchdog.release(ended);
      watchdog.close();
      expect(clock.pending).to.equal(0);
      const inFlight = watched(300);
      watchdog.close();
      await clock.advance(300);
      expect(inFlight.aborted).to.equal(true);
    });
  });
});

describe('DeadlineSignal', function () {
  it('runs each abort listener once with the signal as this, skips removed ones, and ignores ones added after', function () {
    const signal = new DeadlineSignal(0, 's1', 'find', 5);
    const seen: unknown[] = [];
    const keep = function (this: DeadlineSignal): void {
      seen.push(this.reason);
    };
    const removed = (): void => {
      seen.push('removed');
    };
    signal.addEventListener('abort', keep);
    signal.addEventListener('abort', keep);
    signal.addEventListener('abort', removed);
    signal.removeEventListener('abort', removed);
    expect(signal.listenerCount).to.equal(1);
    signal.expire();
    signal.expire();
    signal.addEventListener('abort', removed);
    expect(seen).to.have.length(1);
    expect(seen[0]).to.equal(signal.reason);
    expect(signal.listenerCount).to.equal(0);
  });
});
