import { expect } from 'chai';
import type { ConfigStore } from '../../../src/config-store/types.js';
import { prng } from '../../../src/demo/writers.js';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import type { MigrationEvent } from '../../../src/rebalance/events.js';
import { backoffDelay, isHealable } from '../../../src/rebalance/heal.js';
import { Phase } from '../../../src/rebalance/journal.js';
import { LockLapsedError } from '../../../src/rebalance/lock.js';
import { rejection } from '../../support/rejection.js';
import { baseTopology, World } from './migrate-harness.js';

type RetryEvent = Extract<MigrationEvent, { type: 'retry' }>;

/** The config store as a flaky network shows it: the calls `fail` picks throw a retryable error, writing nothing. */
function flakyConfig(inner: ConfigStore, fail: (method: string) => boolean): ConfigStore {
  const gate =
    <A extends unknown[], R>(name: string, call: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      if (fail(name)) throw new ShardkitStoreError(ErrorCode.storeTimeout, `config store: cannot ${name}: injected timeout`);
      return call(...args);
    };
  return {
    load: gate('load', () => inner.load()),
    compareAndSet: gate('compareAndSet', (e: number | null, next: Parameters<ConfigStore['compareAndSet']>[1]) => inner.compareAndSet(e, next)),
    acquireLock: gate('acquireLock', (o: string, l: number, g?: number) => inner.acquireLock(o, l, g)),
    releaseLock: (o: string) => inner.releaseLock(o),
    readLock: gate('readLock', () => inner.readLock()),
    readJournal: gate('readJournal', (k: string) => inner.readJournal(k)),
    writeJournal: gate('writeJournal', (k: string, v: Record<string, unknown>, g?: number) => inner.writeJournal(k, v, g)),
    close: () => inner.close(),
  };
}

describe('Migrator fault handling (ADR 0006)', () => {
  describe('backoffDelay', () => {
    it('draws uniformly below min(max, base x 2^attempt) (full jitter)', () => {
      expect(backoffDelay(0, 100, 5000, () => 0.999)).to.equal(99);
      expect(backoffDelay(3, 100, 5000, () => 0.5)).to.equal(400);
      expect(backoffDelay(10, 100, 5000, () => 0.999)).to.equal(4995);
      expect(backoffDelay(60, 100, 5000, () => 0)).to.equal(0);
    });
  });

  describe('isHealable', () => {
    it('retries transient store errors and a lapse of its own lease, never a takeover or bad input', () => {
      for (const code of [ErrorCode.storeTimeout, ErrorCode.storeUnavailable, ErrorCode.circuitOpen]) {
        expect(isHealable(new ShardkitStoreError(code, 'x')), code).to.equal(true);
      }
      expect(isHealable(new LockLapsedError(ErrorCode.lockHeld, 'lapsed'))).to.equal(true);
      expect(isHealable(new ShardkitStoreError(ErrorCode.lockHeld, 'taken over'))).to.equal(false);
      expect(isHealable(new ShardkitStoreError(ErrorCode.storeFailure, 'bad'))).to.equal(false);
      expect(isHealable(new Error('boom'))).to.equal(false);
    });
  });

  describe('#start', () => {
    context('when shard calls time out or find the shard unreachable now and then', () => {
      it('repeats the failed step and completes, every document once on its owner', async () => {
        const w = new World();
        const from = baseTopology();
        await w.init(from, ['s4']);
        const expected = await w.seed(200);
        let calls = 0;
        let armed = false;
        const rand = prng(3);
        // From the first phase on: before it, pre-flight fails fast by design (ADR 0002 point 5).
        w.hooks = {
          before: (shardId) => {
            if (!armed) return;
            calls++;
            if (rand() < 0.08) throw new ShardkitStoreError(calls % 2 === 0 ? ErrorCode.storeTimeout : ErrorCode.storeUnavailable, `shard ${shardId}: injected`, { shardId });
          },
        };
        const retries: RetryEvent[] = [];
        const report = await w
          .migrator({
            onEvent: (e) => {
              armed = true;
              if (e.type === 'retry') retries.push(e);
            },
          })
          .start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
        w.hooks = {};
        expect(report.outcome).to.equal('completed');
        expect(retries.length, 'steps repeated').to.be.greaterThan(5);
        expect(Math.max(...retries.map((r) => r.attempt)), 'each fault healed within a few retries').to.be.at.most(4);
        expect(await w.config.readLock()).to.equal(null);
        const state = await w.state();
        expect(state).to.include({ phase: 'stable', epoch: 4 });
        await w.assertSettled(state.topology, expected);
      });
    });

    context('when config-store calls time out now and then', () => {
      it('repeats the failed step (journal, lock, publish) and completes', async () => {
        const w = new World();
        const from = baseTopology();
        await w.init(from, ['s4']);
        const expected = await w.seed(150);
        let calls = 0;
        let injected = 0;
        const rand = prng(8);
        let armed = false;
        const config = flakyConfig(w.config, () => {
          // From the first phase on: a start that cannot take the lock has nothing to heal yet.
          if (!armed || (++calls < 3 || rand() >= 0.2)) return false;
          injected++;
          return true;
        });
        const retries: RetryEvent[] = [];
        const report = await w.migrator({ config, onEvent: (e) => void ((armed = true) && e.type === 'retry' && retries.push(e)) }).start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
        expect(report.outcome).to.equal('completed');
        expect(injected).to.be.greaterThan(10);
        expect(retries.length).to.be.greaterThan(5);
        expect(new Set(retries.map((r) => r.code))).to.deep.equal(new Set([ErrorCode.storeTimeout]));
        const state = await w.state();
        expect(state).to.include({ phase: 'stable', epoch: 4 });
        await w.assertSettled(state.topology, expected);
      });
    });

    context('when a shard stays unreachable longer than the retry budget', () => {
      it('stops with the fault\'s code and the remedy, journal consistent, lock released; resume then completes', async () => {
        const w = new World();
        const from = baseTopology();
        await w.init(from, ['s4']);
        const expected = await w.seed(120);
        let down = false;
        let batches = 0;
        w.hooks = {
          before: (shardId) => {
            if (down && shardId === 's4') throw new ShardkitStoreError(ErrorCode.storeUnavailable, 'shard s4: connection refused', { shardId });
          },
        };
        const retries: RetryEvent[] = [];
        const t0 = w.now;
        let failedAt = 0;
        const error = await rejection(
          w
            .migrator({
              retryBudgetMs: 3000,
              onEvent: (e) => {
                if (e.type === 'progress' && ++batches === 2) down = true;
                if (e.type === 'retry') retries.push(e);
              },
            })
            .start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }))
            .finally(() => (failedAt = w.now)),
        );
        expect(error.code).to.equal(ErrorCode.storeUnavailable);
        expect(error.message).to.include('retry budget 3000 ms');
        expect(error.message).to.include('shardkit rebalance resume --config');
        expect(retries.length).to.be.greaterThan(3);
        expect(retries.map((r) => r.attempt)).to.deep.equal(retries.map((_, i) => i + 1));
        expect(failedAt - t0, 'gave up once the budget was spent').to.be.within(3000, 3000 + 5000 + 2000);
        expect(await w.config.readLock()).to.equal(null);
        // The copy probes the target before it fences and lists the batch it fenced but could not carry
        // again, so with the target down it fences nothing more and stays in the copy; the resume
        // below carries the rest once the target is back (then assertSettled).
        expect((await w.migrator().status()).migration?.phase).to.equal(Phase.copy);

        down = false;
        const report = await w.migrator({ owner: 'm2' }).resume();
        expect(report.outcome).to.equal('completed');
        await w.assertSettled((await w.state()).topology, expected);
      });
    });

    context('when the target is down for several retries of the copy', () => {
      it('leaves at most one batch fenced at the source and not carried, and completes once it is back', async () => {
        const w = new World();
        const from = baseTopology();
        await w.init(from, ['s4']);
        const expected = await w.seed(200);
        const batch = 7;
        let down = false;
        let progress = 0;
        let retries = 0;
        w.hooks = {
          before: (shardId) => {
            if (down && shardId === 's4') throw new ShardkitStoreError(ErrorCode.storeUnavailable, 'shard s4: connection refused', { shardId });
          },
        };
        // Source entries with data fenced at the migration's epoch that the target does not hold.
        const fencedNotCarried = async (): Promise<number> => {
          const at = new Set((await w.stores.get('s4')!.find({})).map((d) => String(d._id)));
          let n = 0;
          for (const id of ['s1', 's2', 's3']) n += (await w.stores.get(id)!.find({ _moved: 2, _ph: { $exists: false } })).filter((d) => !at.has(String(d._id))).length;
          return n;
        };
        const seen: Array<Promise<number>> = [];
        const report = await w
          .migrator({
            batchSize: batch,
            onEvent: (e) => {
              if (e.type === 'progress' && ++progress === 2) down = true;
              if (e.type !== 'retry' || !down) return;
              seen.push(fencedNotCarried());
              // The target comes back after eight retries.
              if (++retries === 8) down = false;
            },
          })
          .start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
        expect(report.outcome).to.equal('completed');
        expect(retries, 'retries while the target was down').to.equal(8);
        const counts = await Promise.all(seen);
        // Before, each retry listed only unfenced keys and fenced the next batch: 8 retries, 8 batches.
        expect(Math.max(...counts), `fenced and not carried after each retry: ${counts.join(', ')}`).to.be.at.most(batch);
        expect(report.counters.repaired, 'the copy carried its own failed batch; verify had nothing to repair').to.equal(0);
        await w.assertSettled((await w.state()).topology, expected);
      });
    });

    context('when a store call takes three lock leases', () => {
      it('keeps the lock on its own timer: no lapse, no retry, one lock generation', async () => {
        const w = new World();
        const from = baseTopology();
        await w.init(from, ['s4']);
        const expected = await w.seed(100);
        let batches = 0;
        let slow = false;
        w.hooks = {
          before: async () => {
            if (!slow) return;
            slow = false;
            // Three leases of 1000 ms on the world's clock, while the renewal timer runs beside it.
            await new Promise<void>((resolve) => w.clock.setTimeout(resolve, 3000));
          },
        };
        const events: MigrationEvent[] = [];
        const report = await w
          .migrator({
            onEvent: (e) => {
              events.push(e);
              if (e.type === 'progress' && ++batches === 2) slow = true;
            },
          })
          .start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
        expect(report.outcome).to.equal('completed');
        expect(events.filter((e) => e.type === 'retry')).to.deep.equal([]);
        // The next take is generation 2: nobody took the lock in between, not even this run again.
        expect((await w.config.acquireLock('probe', 1000)).generation).to.equal(2);
        await w.assertSettled((await w.state()).topology, expected);
      });
    });

    context('when the migrator is frozen past its lock lease and nobody takes over', () => {
      it('stops before its next write, confirms its lock generation, and completes without a resume', async () => {
        const w = new World();
        const from = baseTopology();
        await w.init(from, ['s4']);
        const expected = await w.seed(150);
        let batches = 0;
        // SIGSTOP: the call after the third batch and every timer of this migrator wait for wake().
        const freezer = w.freezer();
        const retries: RetryEvent[] = [];
        const run = w
          .migrator({
            clock: freezer.clock,
            onEvent: (e) => {
              if (e.type === 'progress' && ++batches === 3) freezer.armed = true;
              if (e.type === 'retry') retries.push(e);
            },
          })
          .start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
        expect(await w.frozen(freezer), 'the migrator reached its pause').to.equal(true);
        w.now += 5000;
        expect(await w.config.readLock(), 'lease lapsed while frozen').to.equal(null);

        freezer.wake();
        const report = await run;
        expect(report.outcome).to.equal('completed');
        expect(retries.map((r) => r.code)).to.include(ErrorCode.lockHeld);
        expect(retries.find((r) => r.code === ErrorCode.lockHeld)?.message).to.match(/lapsed/);
        const state = await w.state();
        expect(state).to.include({ phase: 'stable', epoch: 4 });
        await w.assertSettled(state.topology, expected);
      });
    });
  });

  describe('options', () => {
    it('refuses a negative or non-numeric retry budget and backoff with precise errors', () => {
      const w = new World();
      for (const [options, text] of [
        [{ retryBudgetMs: -1 }, 'retryBudgetMs'],
        [{ retryBudgetMs: Number.NaN }, 'retryBudgetMs'],
        [{ retryBaseDelayMs: 0 }, 'retryBaseDelayMs'],
        [{ retryBaseDelayMs: 500, retryMaxDelayMs: 100 }, 'retryMaxDelayMs'],
      ] as const) {
        expect(() => w.migrator(options), text).to.throw(text);
      }
    });
  });
});
