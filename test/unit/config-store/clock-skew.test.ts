import { expect } from 'chai';
import fc from 'fast-check';
import type { Collection, Db, Document } from 'mongodb';
import type { Clock } from '../../../src/clock.js';
import { DEFAULT_MAX_CLOCK_SKEW_MS, checkClockSkew, estimateSkew, visibleExpiry, withinAllowance } from '../../../src/config-store/clock-skew.js';
import { MongoConfigStore } from '../../../src/config-store/mongo-config-store.js';
import { ErrorCode, ShardkitConflictError, ShardkitInvalidArgumentError, isRetryableError, type ShardkitError } from '../../../src/errors.js';
import { rejection } from '../../support/rejection.js';

/** True time is `t`; this host's wall clock reads `t + offset`; a server reply takes `rtt` ms. */
class SkewedClock implements Clock {
  t = 1_800_000_000_000;
  constructor(public offset: number) {}
  now(): number {
    return this.t - 1_800_000_000_000;
  }
  wall(): number {
    return this.t + this.offset;
  }
  setTimeout(): unknown {
    throw new Error('the skew check sets no timers');
  }
  clearTimeout(): void {}
  /** A server with the true time, replying after `rtts[i]` ms on the i-th call (the last one repeats). */
  server(rtts: number[]): { read: () => Promise<number>; calls: number } {
    const self = { calls: 0, read: async (): Promise<number> => 0 };
    self.read = async () => {
      const rtt = rtts[Math.min(self.calls, rtts.length - 1)] ?? 0;
      self.calls++;
      this.t += rtt / 2;
      const at = this.t;
      this.t += rtt / 2;
      return at;
    };
    return self;
  }
}

describe('clock skew', function () {
  describe('estimateSkew', function () {
    it('places the server reading at the middle of the round trip, give or take half of it', function () {
      expect(estimateSkew({ sentWall: 1000, roundTripMs: 40, serverWall: 1520 })).to.deep.equal({ skewMs: 500, uncertaintyMs: 20 });
      expect(withinAllowance({ skewMs: 500, uncertaintyMs: 20 }, 520)).to.equal(true);
      expect(withinAllowance({ skewMs: -500, uncertaintyMs: 20 }, 519)).to.equal(false);
    });
  });

  describe('checkClockSkew', function () {
    context('when the host is within the allowance', function () {
      it('passes after one reading', async function () {
        const clock = new SkewedClock(300);
        const server = clock.server([10]);
        const estimate = await checkClockSkew(clock, 1000, server.read);
        expect(estimate.skewMs).to.be.closeTo(-300, 0.001);
        expect(server.calls).to.equal(1);
      });
    });

    context('when the host clock runs ahead by more than the allowance', function () {
      it('refuses with clockSkew, not retryable, after one reading', async function () {
        const clock = new SkewedClock(5_000);
        const server = clock.server([10]);
        const error = await rejection(checkClockSkew(clock, 1000, server.read));
        expect(error).to.be.instanceOf(ShardkitConflictError);
        expect((error as ShardkitError).code).to.equal(ErrorCode.clockSkew);
        expect(isRetryableError(error)).to.equal(false);
        expect((error as Error).message).to.match(/5000 ms \(± 5 ms\) ahead of the config server's, over the allowed 1000 ms/);
        expect(server.calls).to.equal(1);
      });
    });

    context('when a slow reply leaves the skew unproven', function () {
      it('reads again and passes on a faster reply', async function () {
        const clock = new SkewedClock(-800);
        const server = clock.server([600, 20]);
        const estimate = await checkClockSkew(clock, 1000, server.read);
        expect(estimate.skewMs).to.be.closeTo(800, 0.001);
        expect(server.calls).to.equal(2);
      });

      it('fails with a retryable timeout after three readings that prove nothing either way', async function () {
        const clock = new SkewedClock(-800);
        const server = clock.server([900, 700, 800]);
        const error = await rejection(checkClockSkew(clock, 1000, server.read));
        expect((error as ShardkitError).code).to.equal(ErrorCode.storeTimeout);
        expect(isRetryableError(error)).to.equal(true);
        expect((error as Error).message).to.contain('round trip >= 700 ms');
        expect(server.calls).to.equal(3);
      });

      it('refuses at once when a reading proves the host outside, slow as it was', async function () {
        const clock = new SkewedClock(-3_000);
        const server = clock.server([900]);
        const error = await rejection(checkClockSkew(clock, 1000, server.read));
        expect((error as ShardkitError).code).to.equal(ErrorCode.clockSkew);
        expect((error as Error).message).to.contain('behind');
        expect(server.calls).to.equal(1);
      });
    });
  });

  describe('visibleExpiry', function () {
    it('never lets another host take the lock before the holder stops, for any skews within the allowance', function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: 5000 }),
          fc.integer({ min: 1, max: 60_000 }),
          fc.double({ min: -1, max: 1, noNaN: true }),
          fc.double({ min: -1, max: 1, noNaN: true }),
          fc.integer({ min: 0, max: 10_000 }),
          (maxSkew, leaseMs, a, b, requestMs) => {
            const offHolder = a * maxSkew;
            const offTaker = b * maxSkew;
            const asked = 1_000_000;
            // The holder reads its wall clock up to `requestMs` after it asked, and stops at asked + lease.
            const expiresAt = visibleExpiry(asked + requestMs + offHolder, leaseMs, maxSkew);
            const holderStops = asked + leaseMs;
            // The taker sees the lock free once its wall clock (true time + offTaker) reaches expiresAt.
            const takerStarts = expiresAt - offTaker;
            return takerStarts >= holderStops - 1e-6;
          },
        ),
      );
    });

    it('without the margin, a host running ahead takes over while the holder still writes', function () {
      const maxSkew = DEFAULT_MAX_CLOCK_SKEW_MS;
      const asked = 1_000_000;
      const expiresAt = asked + 5000 - maxSkew; // holder behind by maxSkew, no margin
      const takerStarts = expiresAt - maxSkew; // taker ahead by maxSkew
      expect(takerStarts).to.be.below(asked + 5000);
      expect(visibleExpiry(asked - maxSkew, 5000, maxSkew) - maxSkew).to.be.at.least(asked + 5000);
    });
  });

  describe('MongoConfigStore#acquireLock', function () {
    /** A collection that records every call: a refused lock must not reach it. */
    function recordingCollection(calls: string[]): Collection<Document> {
      return new Proxy({} as Collection<Document>, {
        get: (_target, property) => {
          if (property === 'dbName') return 'test';
          return () => {
            calls.push(String(property));
            throw new Error(`collection.${String(property)} called`);
          };
        },
      });
    }

    function serverDb(clock: SkewedClock, commands: Document[]): Db {
      return {
        command: async (command: Document) => {
          commands.push(command);
          return { ok: 1, localTime: new Date(await clock.server([4]).read()) };
        },
      } as unknown as Db;
    }

    context("when this host's clock is off by more than maxClockSkewMs", function () {
      it('refuses before it reads or writes the lock', async function () {
        const clock = new SkewedClock(-3_000);
        const calls: string[] = [];
        const commands: Document[] = [];
        const store = new MongoConfigStore(recordingCollection(calls), { name: 'users', clock, db: serverDb(clock, commands), maxClockSkewMs: 2000 });
        for (const attempt of [store.acquireLock('m1', 30_000), store.acquireLock('m1', 30_000, 4)]) {
          const error = await rejection(attempt);
          expect((error as ShardkitError).code).to.equal(ErrorCode.clockSkew);
        }
        expect(commands).to.deep.equal([{ hello: 1 }, { hello: 1 }]);
        expect(calls).to.deep.equal([]);
      });
    });

    context('when the skew is within maxClockSkewMs', function () {
      it('goes on to the lock', async function () {
        const clock = new SkewedClock(1_500);
        const calls: string[] = [];
        const store = new MongoConfigStore(recordingCollection(calls), { name: 'users', clock, db: serverDb(clock, []), maxClockSkewMs: 2000 });
        await rejection(store.acquireLock('m1', 30_000));
        expect(calls).to.deep.equal(['findOne']);
      });
    });

    context('when a generation is renewed soon after a check passed', function () {
      it('reads the server clock on every take, and on renewals once the last reading is 10 s old', async function () {
        const clock = new SkewedClock(100);
        const commands: Document[] = [];
        const store = new MongoConfigStore(recordingCollection([]), { name: 'users', clock, db: serverDb(clock, commands) });
        // The recording collection fails every lock read: only the skew check's reads are counted.
        await rejection(store.acquireLock('m1', 3000));
        await rejection(store.acquireLock('m1', 3000, 1));
        clock.t += 9_000;
        await rejection(store.acquireLock('m1', 3000, 1));
        expect(commands).to.have.length(1);
        clock.t += 1_000;
        await rejection(store.acquireLock('m1', 3000, 1));
        expect(commands).to.have.length(2);
        await rejection(store.acquireLock('m1', 3000));
        expect(commands).to.have.length(3);
      });
    });

    context('when no database is given to read the server clock from', function () {
      it('refuses to construct unless the check is turned off', function () {
        expect(() => new MongoConfigStore(recordingCollection([]), { name: 'users' })).to.throw(ShardkitInvalidArgumentError, /checkClockSkew/);
        expect(() => new MongoConfigStore(recordingCollection([]), { name: 'users', checkClockSkew: false })).not.to.throw();
        expect(() => new MongoConfigStore(recordingCollection([]), { name: 'users', checkClockSkew: false, maxClockSkewMs: -1 })).to.throw(ShardkitInvalidArgumentError, /maxClockSkewMs/);
      });

      it('connect refuses a bad allowance as shardkit.invalidArgument before it connects', async function () {
        const error = await MongoConfigStore.connect({ uri: 'mongodb://127.0.0.1:1/x', name: 'users', maxClockSkewMs: Number.NaN, opTimeoutMs: 100 }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(ShardkitInvalidArgumentError);
        expect((error as Error).message).to.contain('maxClockSkewMs');
      });
    });
  });
});
