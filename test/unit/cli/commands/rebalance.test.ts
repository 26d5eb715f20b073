import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { formatRebalanceStatus, migratorTimings, type RebalanceStatusReport } from '../../../../src/cli/commands/rebalance.js';
import { rebaseTarget } from '../../../../src/cli/live-plan.js';
import { withInterrupt } from '../../../../src/cli/interrupt.js';
import { systemClock } from '../../../../src/clock.js';
import { MigrationProgress, formatDuration, progressBar } from '../../../../src/cli/progress.js';
import { emptyCounters } from '../../../../src/rebalance/journal.js';
import type { MigrationEvent } from '../../../../src/rebalance/events.js';
import { planRebalance } from '../../../../src/rebalance/plan.js';
import { applyChange } from '../../../../src/ring/placement.js';
import { Topology } from '../../../../src/topology/topology.js';
import { errorLine, run } from '../helpers.js';

function buffer(isTTY: boolean): { write(t: string): void; isTTY: boolean; columns: number; text: () => string } {
  let text = '';
  return { write: (t: string) => void (text += t), isTTY, columns: 100, text: () => text };
}

/**
 * A progress event; `totals` are the journal's over every move (default: this move's alone), all
 * copied by this run at 250 documents a second unless `run` says otherwise.
 */
const progress = (
  move: number,
  from: string,
  to: string,
  copied: number,
  estimated: number,
  totals: [number, number] = [copied, estimated],
  run: { copied: number; elapsedMs: number } = { copied: totals[0], elapsedMs: totals[0] * 4 },
): MigrationEvent => ({
  type: 'progress',
  migrationId: 'm',
  phase: 'copy',
  move,
  moves: 2,
  from,
  to,
  copied,
  estimated,
  totalCopied: totals[0],
  totalEstimated: totals[1],
  docsPerSec: 250,
  etaMs: 4000,
  runCopied: run.copied,
  runElapsedMs: run.elapsedMs,
});

describe('rebalance', () => {
  describe('#rebaseTarget', () => {
    const live = Topology.from({ name: 't', epoch: 5, shards: [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }] });

    it('runs the file as the live epoch + 1 whatever epoch it was written with', () => {
      const file = Topology.from({ ...live.toJSON(), epoch: 2, shards: [...live.shards, { id: 'c', weight: 1 }] });
      const target = rebaseTarget(live.toJSON(), file);
      expect(target.epoch).to.equal(6);
      expect(target.shards.map((s) => s.id)).to.deep.equal(['a', 'b', 'c']);
    });

    context('when placement is balanced and the file lacks the live tokens', () => {
      it('keeps the live tokens of existing shards so only the new shard takes keys', () => {
        const balanced = applyChange(
          Topology.from({ name: 't', epoch: 1, placement: 'balanced', vnodes: 8, shards: [{ id: 'a', weight: 1 }] }),
          { kind: 'add', shard: { id: 'b', weight: 1 } },
        );
        const handWritten = Topology.from({
          name: 't',
          epoch: 1,
          placement: 'balanced',
          vnodes: 8,
          shards: [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }],
        });
        const target = rebaseTarget(balanced.toJSON(), handWritten);
        expect(target.shard('a')!.tokens).to.deep.equal(balanced.shard('a')!.tokens);
        expect(target.shard('b')!.tokens).to.deep.equal(balanced.shard('b')!.tokens);
        expect(target.shard('c')!.tokens!.length).to.be.greaterThan(0);
        const plan = planRebalance(balanced, target);
        expect(plan.moves.every((m) => m.to === 'c')).to.equal(true);
      });
    });
  });

  describe('#migratorTimings', () => {
    const config = { leaseMs: 2000, opTimeoutMs: 1500 };

    it('defaults to a 5 s lock lease (at least leaseMs), a 60 s retry budget and the config opTimeoutMs', () => {
      expect(migratorTimings({}, config)).to.deep.equal({ lockLeaseMs: 5000, retryBudgetMs: 60_000, opTimeoutMs: 1500 });
      expect(migratorTimings({}, { leaseMs: 9000, opTimeoutMs: 1500 }).lockLeaseMs).to.equal(9000);
    });

    it('takes the flags', () => {
      expect(migratorTimings({ lockLeaseMs: '2500', retryBudgetMs: '0', opTimeoutMs: '600' }, config)).to.deep.equal({ lockLeaseMs: 2500, retryBudgetMs: 0, opTimeoutMs: 600 });
    });

    it('refuses out-of-range values with the flag name (usage errors)', () => {
      expect(() => migratorTimings({ lockLeaseMs: '999' }, config)).to.throw('--lock-lease-ms must be an integer in 1000..3600000');
      expect(() => migratorTimings({ retryBudgetMs: '-1' }, config)).to.throw('--retry-budget-ms must be an integer in 0..86400000');
      expect(() => migratorTimings({ opTimeoutMs: 'soon' }, config)).to.throw('--op-timeout-ms must be an integer >= 1');
      expect(() => migratorTimings({ opTimeoutMs: '1501' }, config)).to.throw("--op-timeout-ms must be at most the config file's opTimeoutMs (1500)");
    });
  });

  describe('#formatRebalanceStatus', () => {
    const base: RebalanceStatusReport = {
      name: 'app',
      configStore: 'file /x',
      state: { phase: 'migrating', epoch: 2, name: 'app' },
      lock: null,
      migration: {
        id: 'm1',
        phase: 'copy',
        reverse: false,
        epoch: 2,
        outcome: null,
        moves: 4,
        copied: 50,
        estimated: 200,
        movesCopied: 1,
        counters: { ...emptyCounters(), docsMoved: 50, docsRead: 50 },
      },
      remedy: { state: 'stopped', command: 'shardkit rebalance resume --config x.yaml', why: 'nobody runs migration m1 (phase copy)' },
    };

    it('prints the way out of the state on a line of its own', () => {
      expect(formatRebalanceStatus(base, 0)).to.contain(
        'remedy      stopped: shardkit rebalance resume --config x.yaml (nobody runs migration m1 (phase copy))\n',
      );
    });

    it('says a stopped migration needs resume or abort', () => {
      const text = formatRebalanceStatus(base, 0);
      expect(text).to.contain('state       migrating at epoch 2');
      expect(text).to.contain('copied      50/200 documents (25.00%), 1/4 ranges copied');
      expect(text).to.contain('nobody is running it');
    });

    it('names the holder of the lock of a running migration', () => {
      const text = formatRebalanceStatus({ ...base, lock: { owner: 'cli@h:1', acquiredAt: 0, expiresAt: 9000, generation: 1 } }, 1000);
      expect(text).to.contain('held by cli@h:1, 8 s left');
      expect(text).to.contain('a migrator is running it');
    });

    // Regression (issue 10): a finished migration read `copied 3835/4020 documents (95.40%)` and
    // `epoch 2` while the live state was at epoch 4.
    it('shows a finished migration as finished, at the live epoch', () => {
      const text = formatRebalanceStatus(
        {
          ...base,
          state: { phase: 'stable', epoch: 4, name: 'app' },
          migration: { ...base.migration!, phase: 'done', outcome: 'completed', copied: 3835, estimated: 4020, movesCopied: 4, counters: { ...emptyCounters(), docsMoved: 3835 } },
        },
        0,
      );
      expect(text).to.contain('phase       done (completed), live state at epoch 4');
      expect(text).to.contain('moved       3835 documents over 4 ranges (all copied)');
      expect(text).to.not.contain('%');
      expect(text).to.not.contain('epoch 2');
    });

    it('shows no next step once done', () => {
      const text = formatRebalanceStatus({ ...base, migration: { ...base.migration!, phase: 'done', outcome: 'completed' } }, 0);
      expect(text).to.contain('phase       done (completed)');
      expect(text).to.not.contain('next');
    });
  });

  describe('MigrationProgress', () => {
    it('prints every event as one JSON line with --json', () => {
      const out = buffer(false);
      const p = new MigrationProgress(out, { mode: 'json' });
      p.onEvent(progress(0, 's1', 's3', 5, 10));
      p.onEvent({ type: 'done', migrationId: 'm', outcome: 'completed', counters: emptyCounters() });
      const lines = out.text().trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string });
      expect(lines.map((l) => l.type)).to.deep.equal(['progress', 'done']);
    });

    it('draws a bar per shard pair and an overall bar on a TTY, redrawing in place', () => {
      const out = buffer(true);
      let now = 0;
      const p = new MigrationProgress(out, { mode: 'tty', clock: { ...systemClock, now: () => now }, barWidth: 10 });
      p.plan([
        { from: 's1', to: 's3', estimated: 10 },
        { from: 's2', to: 's3', estimated: 30 },
      ]);
      p.onEvent(progress(0, 's1', 's3', 5, 10, [5, 40]));
      now = 1000;
      p.onEvent(progress(1, 's2', 's3', 30, 30, [35, 40]));
      p.finish();
      const text = out.text();
      expect(text).to.contain('s1 -> s3 █████░░░░░  50% 5/10');
      expect(text).to.contain('s2 -> s3 ██████████ 100% 30/30');
      expect(text).to.match(/overall {2}█{9}░  87% 35\/40 docs, 250 docs\/s, ETA 0\.0s/);
      expect(text).to.contain('\u001b[3A');
    });

    it('cuts bar lines to the terminal width so redraws stay in place', () => {
      const out = { ...buffer(true), columns: 50 };
      const p = new MigrationProgress(out, { mode: 'tty', barWidth: 10, extra: () => 'x'.repeat(100) });
      p.onEvent(progress(0, 's1', 's3', 5, 10));
      p.finish();
      // Drawn twice (the event, then finish); each drawing is the pair line and the overall line.
      const lines = out.text().split('\n').filter((l) => l.includes('->') || l.includes('overall'));
      expect(lines).to.have.length(4);
      expect(Math.max(...lines.map((l) => l.length))).to.be.at.most(49);
      expect(lines[1]).to.match(/…$/);
    });

    it('writes plain lines without escape codes, at most one progress line per interval', () => {
      const out = buffer(false);
      let now = 0;
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => now }, plainEveryMs: 1000 });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent(progress(0, 's1', 's3', 1, 10));
      now = 10;
      p.onEvent(progress(0, 's1', 's3', 2, 10));
      now = 2000;
      p.onEvent(progress(0, 's1', 's3', 9, 10));
      p.onEvent({ type: 'wait', migrationId: 'm', reason: 'routerLease', ms: 5000 });
      const text = out.text();
      expect(text).to.not.contain('\u001b');
      expect(text.match(/^copy /gm)).to.have.length(2);
      expect(text).to.contain('phase copy at epoch 2');
      expect(text).to.contain("waiting 5.0s for every router's lease");
    });

    // Regression (issue 11's walkthrough): a line printed seconds after a batch showed the rate as of
    // that batch, "copy 4%: 80/1887 docs, 106 docs/s, elapsed 4.1s" for a copy going at 20 docs/s.
    it('divides the copy rate and ETA by the time passed up to the line, not to the last batch', () => {
      const out = buffer(false);
      let now = 0;
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => now }, plainEveryMs: 1000 });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent(progress(0, 's1', 's5', 20, 500, [20, 1887], { copied: 20, elapsedMs: 700 }));
      expect(out.text()).to.match(/^copy 1%: 20\/1887 docs, 29 docs\/s, ETA 1m05s/m);
      // The other pairs' batches land within the same 50 ms, inside the interval between lines.
      now = 50;
      p.onEvent(progress(1, 's2', 's5', 60, 500, [80, 1887], { copied: 80, elapsedMs: 750 }));
      expect(out.text()).to.not.contain('80/1887');
      // The next line, on the throttle's decision 3.2 s later: 80 documents in 3.95 s is 20 a second,
      // and the 1807 to go take 1m29s at that rate.
      now = 3250;
      p.onEvent({ type: 'throttle', migrationId: 'm', action: 'slowed', docsPerSec: 25, p99Ms: 16, limitMs: 5.3, baselineMs: 3.5, windowSamples: 8 });
      expect(out.text()).to.match(/^copy 4%: 80\/1887 docs, 20 docs\/s, ETA 1m29s, elapsed 3\.3s, held at 25 docs\/s by the throttle/m);
    });

    it('takes the ETA at the pace the throttle holds the copy at when that is below its rate so far', () => {
      const out = buffer(false);
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => 0 }, plainEveryMs: 0 });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent({ type: 'throttle', migrationId: 'm', action: 'slowed', docsPerSec: 20, p99Ms: 9.7, limitMs: 6.7, baselineMs: 4.5, windowSamples: 8 });
      p.onEvent(progress(0, 's1', 's5', 1522, 1796, [1522, 1796], { copied: 1522, elapsedMs: 15_070 }));
      // 274 documents to go at 20 a second, not at the 101 a second of the copy so far.
      expect(out.text()).to.match(/^copy 84%: 1522\/1796 docs, 101 docs\/s, ETA 14s, elapsed 0\.0s, held at 20 docs\/s by the throttle/m);
    });

    // Found in a walkthrough: the first copy line read "(last p99 10.0 ms, 6.7 ms allowed)" before any
    // decision window, the p99 being the baseline's over its 40 probes, not a window's slowest of 8.
    it("names no window's p99 beside the limit before the first window decided", () => {
      const out = buffer(false);
      let now = 0;
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => now }, plainEveryMs: 0 });
      const base = { type: 'throttle', migrationId: 'm', baselineMs: 4.5, limitMs: 6.7, windowSamples: 8 } as const;
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent({ ...base, action: 'calibrated', docsPerSec: 50, p99Ms: 10 });
      p.onEvent(progress(0, 's1', 's5', 20, 500, [20, 1812], { copied: 20, elapsedMs: 700 }));
      expect(out.text()).to.contain('docs/s by the throttle (6.7 ms allowed)');
      expect(out.text()).to.not.contain('last p99 10.0 ms');
      now = 2000;
      p.onEvent({ ...base, action: 'slowed', docsPerSec: 25, p99Ms: 12.3 });
      p.onEvent(progress(1, 's2', 's5', 20, 500, [40, 1812], { copied: 40, elapsedMs: 2700 }));
      expect(out.text()).to.contain('held at 25 docs/s by the throttle (last p99 12.3 ms, 6.7 ms allowed)');
    });

    // Regression (issue 10): after a resume the overall line summed only the moves this run had
    // reported (`16/16 docs` next to `ETA 7m40s`).
    it('takes the overall totals from the journal after a resume', () => {
      const out = buffer(false);
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => 0 } });
      p.plan([
        { from: 's1', to: 's5', estimated: 2000, copied: 2000 },
        { from: 's2', to: 's5', estimated: 2020, copied: 0 },
      ]);
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent(progress(1, 's2', 's5', 16, 2020, [2016, 4020]));
      // The copy keeps its document figures: ranges done say less.
      p.onEvent({ type: 'phaseProgress', migrationId: 'm', phase: 'copy', done: 1, total: 2 });
      expect(out.text()).to.match(/^copy 50%: 2016\/4020 docs, 250 docs\/s, ETA 8\.0s, elapsed 0\.0s$/m);
      expect(out.text()).to.not.contain('ranges');
    });

    // Found by the kill -9 walkthrough (issue 10): a resumed copy ended at `copy 100%: 394/394 docs`
    // where 598 were counted, and verify then repaired the 200 the killed run had fenced, unexplained.
    it('says what became of the documents counted but not copied when the copy ends', () => {
      const out = buffer(false);
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => 0 } });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent(progress(0, 's1', 's5', 394, 598, [394, 598]));
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'sweep', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      expect(out.text()).to.match(/^copy 100%: 394\/394 docs/m);
      expect(out.text()).to.contain('the copy found 394 of the 598 documents counted; the other 204 were deleted since, or fenced by an interrupted run');
    });

    it('adds no such line when the copy found every counted document', () => {
      const out = buffer(false);
      const p = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => 0 } });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent(progress(0, 's1', 's5', 598, 598, [598, 598]));
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'sweep', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      expect(out.text()).to.not.contain('the copy found');
    });

    // Regression (issue 10): the copy's last line (94%, ETA 11s) stayed on screen through sweep,
    // verify, cleanup and purge.
    it('ends the copy at 100% and shows each later phase with its own count, rate and ETA', () => {
      const out = buffer(true);
      let now = 0;
      const p = new MigrationProgress(out, { mode: 'tty', clock: { ...systemClock, now: () => now }, barWidth: 10, redrawMs: 0 });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.plan([{ from: 's1', to: 's3', estimated: 100 }]);
      p.onEvent(progress(0, 's1', 's3', 94, 100, [94, 100]));
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'sweep', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      expect(out.text()).to.contain('s1 -> s3 ██████████ 100% 94/94');
      expect(out.text()).to.match(/overall +█{10} 100% 94\/94 docs, 250 docs\/s, ETA 0\.0s/);
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'verify', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      now = 2000;
      p.onEvent({ type: 'phaseProgress', migrationId: 'm', phase: 'verify', done: 1, total: 4 });
      now = 4000;
      p.onEvent({ type: 'phaseProgress', migrationId: 'm', phase: 'verify', done: 2, total: 4 });
      expect(out.text()).to.contain('verify  █████░░░░░  50% 2/4 ranges, 0.5 ranges/s, ETA 4.0s, elapsed 4.0s');
    });

    it('summarizes verify, cleanup and purge when their phase ends', () => {
      const out = buffer(false);
      const p = new MigrationProgress(out, { mode: 'plain' });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'verify', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
      p.onEvent({ type: 'verified', migrationId: 'm', move: 0, checked: 4, repaired: 1, mismatches: 0 });
      p.onEvent({ type: 'verified', migrationId: 'm', move: 1, checked: 6, repaired: 0, mismatches: 0 });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'cleanup', epoch: 2, liveEpoch: 3, publishes: null, reverse: false });
      p.onEvent({ type: 'cleanup', migrationId: 'm', move: 0, deleted: 7 });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'settle', epoch: 2, liveEpoch: 3, publishes: 4, reverse: false });
      p.onEvent({ type: 'phase', migrationId: 'm', phase: 'purge', epoch: 2, liveEpoch: 4, publishes: null, reverse: false });
      p.onEvent({ type: 'cleanup', migrationId: 'm', move: 0, deleted: 2 });
      p.onEvent({ type: 'cleanup', migrationId: 'm', move: 1, deleted: 1 });
      p.onEvent({ type: 'done', migrationId: 'm', outcome: 'completed', counters: emptyCounters() });
      expect(out.text()).to.contain('verified 2 ranges: 10 fenced entries checked, 1 repaired, 0 mismatches');
      expect(out.text()).to.contain('cleaned up 1 ranges: 7 fences and placeholders deleted at the old owners');
      expect(out.text()).to.contain('purged 2 ranges: 3 tombstones and placeholders deleted at the new owners');
    });
  });

  describe('#progressBar / #formatDuration', () => {
    it('clamps and rounds', () => {
      expect(progressBar(0.5, 4)).to.equal('██░░');
      expect(progressBar(2, 3)).to.equal('███');
      expect(progressBar(Number.NaN, 2)).to.equal('░░');
      expect([formatDuration(null), formatDuration(1500), formatDuration(65_000), formatDuration(3_720_000)]).to.deep.equal([
        '--',
        '1.5s',
        '1m05s',
        '1h02m',
      ]);
    });
  });

  describe('#withInterrupt', () => {
    it('aborts the signal on the first SIGINT and exits 130 on the second', async () => {
      const source = new EventEmitter();
      const exits: number[] = [];
      let told = 0;
      const result = await withInterrupt(
        async (signal) => {
          source.emit('SIGINT');
          const first = signal.aborted;
          source.emit('SIGINT');
          return first;
        },
        { source, exit: (code) => exits.push(code), onFirst: () => (told += 1) },
      );
      expect([result, told, exits]).to.deep.equal([true, 1, [130]]);
      expect(source.listenerCount('SIGINT')).to.equal(0);
    });
  });

  describe('CLI usage', () => {
    it('needs --config (exit 2)', async () => {
      const result = await run(['rebalance', '--to', 'x.json']);
      expect(result.code).to.equal(2);
      expect(errorLine(result).code).to.equal('shardkit.usage');
    });

    it('reports a missing config file as bad input (exit 2)', async () => {
      const result = await run(['rebalance', 'status', '--config', '/nonexistent/shardkit.yaml']);
      expect(result.code).to.equal(2);
      expect(errorLine(result).code).to.equal('shardkit.file.notFound');
    });

    it('rejects --throttle without --config in plan (exit 2)', async () => {
      const result = await run(['plan', '--from', 'a.json', '--to', 'b.json', '--throttle', '5']);
      expect(result.code).to.equal(2);
      expect(errorLine(result).message).to.contain('--throttle needs --config');
    });
  });
});
