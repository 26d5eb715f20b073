import { expect } from 'chai';
import { MigrationProgress } from '../../../src/cli/progress.js';
import type { MigrationEvent } from '../../../src/rebalance/events.js';
import { systemClock } from '../../../src/clock.js';
import { baseTopology, World } from './migrate-harness.js';

type PhaseEvent = Extract<MigrationEvent, { type: 'phase' }>;

describe('migration events', () => {
  describe('#phaseEvent', () => {
    // Regression (issue 10): the phase lines of cleanup, settle and purge said `at epoch 2` (the
    // leg's migrating epoch) while routers followed epochs 3 and 4.
    it('names the live epoch each phase runs under and the one it publishes', async () => {
      const w = new World();
      const from = baseTopology();
      await w.init(from, ['s4']);
      await w.seed(40);
      const phases: { event: PhaseEvent; live: Promise<number | undefined> }[] = [];
      const events: MigrationEvent[] = [];
      const migrator = w.migrator({
        onEvent: (e) => {
          events.push(e);
          // The memory config store reads its state when called: this is the state at the emit.
          if (e.type === 'phase') phases.push({ event: e, live: w.config.load().then((s) => s?.epoch) });
        },
      });
      const report = await migrator.start(from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
      expect(report.outcome).to.equal('completed');

      const seen = await Promise.all(phases.map(async (p) => ({ ...p.event, live: await p.live })));
      expect(seen.map((e) => [e.phase, e.live, e.liveEpoch, e.publishes])).to.deep.equal([
        ['publish', 1, 1, 2],
        ['copy', 2, 2, null],
        ['sweep', 2, 2, null],
        ['verify', 2, 2, null],
        ['commit', 2, 2, 3],
        ['cleanup', 3, 3, null],
        ['settle', 3, 3, 4],
        ['purge', 4, 4, null],
      ]);
      // The leg's own epoch stays in the event for `--json` readers.
      expect(seen.every((e) => e.epoch === 2)).to.equal(true);

      const out = { text: '', isTTY: false, columns: 100, write(t: string): void { this.text += t; } };
      const progress = new MigrationProgress(out, { mode: 'plain' });
      for (const e of events) progress.onEvent(e);
      const lines = out.text.split('\n').filter((l) => l.startsWith('phase '));
      expect(lines).to.deep.equal([
        'phase publish at epoch 1, publishing epoch 2',
        'phase copy at epoch 2',
        'phase sweep at epoch 2',
        'phase verify at epoch 2',
        'phase commit at epoch 2, publishing epoch 3',
        'phase cleanup at epoch 3',
        'phase settle at epoch 3, publishing epoch 4',
        'phase purge at epoch 4',
      ]);
    });
  });
});

describe('MigrationProgress and the adaptive throttle', () => {
  it("says when the throttle slows the copy and why, shows the pace it holds in the copy's figures, and when it lets go", () => {
    const out = { text: '', isTTY: false, columns: 200, write(t: string): void { this.text += t; } };
    let now = 0;
    const progress = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => now }, plainEveryMs: 0 });
    const base = { type: 'throttle', migrationId: 'm1', baselineMs: 4, windowSamples: 8 } as const;
    progress.onEvent({ type: 'phase', migrationId: 'm1', phase: 'copy', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
    // The baseline's p99 over its 40 probes is above the limit: the limit multiplies what the slowest of 8 took.
    progress.onEvent({ ...base, action: 'calibrated', docsPerSec: 0, p99Ms: 7, limitMs: 6 });
    progress.onEvent({ ...base, action: 'slowed', docsPerSec: 40, p99Ms: 9.1, limitMs: 6 });
    // Swinging around its pace, the throttle is not a line a window.
    progress.onEvent({ ...base, action: 'raised', docsPerSec: 50, p99Ms: 5, limitMs: 6 });
    progress.onEvent({ ...base, action: 'slowed', docsPerSec: 40, p99Ms: 9.5, limitMs: 6 });
    progress.onEvent({ ...base, action: 'slowed', docsPerSec: 20, p99Ms: 12, limitMs: 6 });
    now = 5000;
    progress.onEvent({
      type: 'progress', migrationId: 'm1', phase: 'copy', move: 0, moves: 1, from: 's1', to: 's2', copied: 10, estimated: 100,
      totalCopied: 10, totalEstimated: 100, docsPerSec: 15, etaMs: 6_000, runCopied: 10, runElapsedMs: 2000 / 3,
    } as never);
    // Raised far past what the copy achieves, the throttle no longer holds it: it allows that pace.
    progress.onEvent({ ...base, action: 'raised', docsPerSec: 12622, p99Ms: 5, limitMs: 6 });
    progress.onEvent({
      type: 'progress', migrationId: 'm1', phase: 'copy', move: 0, moves: 1, from: 's1', to: 's2', copied: 20, estimated: 100,
      totalCopied: 20, totalEstimated: 100, docsPerSec: 380, etaMs: 1_000, runCopied: 20, runElapsedMs: 1000 / 19,
    } as never);
    progress.onEvent({ ...base, action: 'released', docsPerSec: 0, p99Ms: 5, limitMs: 6 });
    const lines = out.text.split('\n');
    expect(lines).to.include(
      'throttle: before copying, the slowest of 8 probes of the shards typically took 4.0 ms (p99 7.0 ms); the copy slows down when the slowest of 8 takes over 6.0 ms twice in a row',
    );
    expect(lines).to.include('throttle: p99 9.1 ms is over the 6.0 ms allowed, a second window in a row: copying at 40 docs/s');
    expect(lines.filter((l) => l.startsWith('throttle: p99') && l.includes('is over'))).to.deep.equal([
      'throttle: p99 9.1 ms is over the 6.0 ms allowed, a second window in a row: copying at 40 docs/s',
      'throttle: p99 12.0 ms is over the 6.0 ms allowed, a second window in a row: copying at 20 docs/s',
    ]);
    expect(lines.some((l) => l.startsWith('copy 10%') && l.includes('held at 20 docs/s by the throttle (last p99 12.0 ms, 6.0 ms allowed)'))).to.equal(true);
    const raised = lines.find((l) => l.startsWith('copy 20%'));
    expect(raised).to.include('380 docs/s').and.include('the throttle allows up to 12622 docs/s (last p99 5.0 ms, 6.0 ms allowed)');
    expect(raised).not.to.include('held at');
    expect(lines).to.include('throttle: p99 5.0 ms is within the 6.0 ms allowed: copying at full speed again');
  });
});

describe('MigrationProgress when a phase is retried', () => {
  it('keeps the copy open across its retries: no end-of-copy figures until the next phase begins', () => {
    const out = { text: '', isTTY: false, columns: 200, write(t: string): void { this.text += t; } };
    const progress = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => 0 }, plainEveryMs: 0 });
    const phase = (name: 'copy' | 'sweep') => ({ type: 'phase', migrationId: 'm1', phase: name, epoch: 2, liveEpoch: 2, publishes: null, reverse: false }) as const;
    const copied = (n: number) =>
      ({ type: 'progress', migrationId: 'm1', phase: 'copy', move: 0, moves: 1, from: 's1', to: 's2', copied: n, estimated: 100, totalCopied: n, totalEstimated: 100, docsPerSec: 2, etaMs: 1000 }) as never;
    progress.onEvent(phase('copy'));
    progress.onEvent(copied(40));
    progress.onEvent({ type: 'retry', migrationId: 'm1', phase: 'copy', attempt: 1, delayMs: 100, message: 'shard s1: spanKeys timed out' } as never);
    progress.onEvent(phase('copy'));
    expect(out.text).to.not.contain('the copy found');
    expect(out.text).to.not.contain('copy 100%');
    expect(out.text).to.contain('phase copy at epoch 2: again, after the retry');
    progress.onEvent(copied(100));
    progress.onEvent(phase('sweep'));
    expect(out.text).to.contain('phase sweep at epoch 2');
    expect(out.text).to.not.contain('the copy found');
  });
});

describe('MigrationProgress when an abort cuts the copy short', () => {
  it('says where the copy stopped instead of ending it at 100%', () => {
    const out = { text: '', isTTY: false, columns: 200, write(t: string): void { this.text += t; } };
    const progress = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => 0 }, plainEveryMs: 0 });
    const phase = (name: 'copy' | 'publish', reverse: boolean) => ({ type: 'phase', migrationId: 'm1', phase: name, epoch: 2, liveEpoch: 2, publishes: null, reverse }) as const;
    const copied = (n: number) =>
      ({ type: 'progress', migrationId: 'm1', phase: 'copy', move: 0, moves: 1, from: 's1', to: 's2', copied: n, estimated: 24929, totalCopied: n, totalEstimated: 24929, docsPerSec: 2, etaMs: 1000 }) as never;
    progress.onEvent(phase('copy', false));
    progress.onEvent(copied(4000));
    progress.onEvent(phase('publish', true));
    expect(out.text).to.contain('copy stopped by the abort after 4000 of 24929 documents: those go back to their old owners');
    expect(out.text).to.not.contain('copy 100%');
    expect(out.text).to.not.contain('the copy found');
    expect(out.text).to.contain('phase publish (abort: carrying documents back)');
  });
});

describe('MigrationProgress of a phase whose pairs finish their moves together', () => {
  /** Plain progress on a clock the test sets, a per-move `phase` of `total` moves begun at epoch 2. */
  function phaseRun(phase: 'verify' | 'sweep' | 'cleanup', total: number) {
    const out = { text: '', isTTY: false, columns: 200, write(t: string): void { this.text += t; } };
    const clock = { now: 0 };
    const progress = new MigrationProgress(out, { mode: 'plain', clock: { ...systemClock, now: () => clock.now }, plainEveryMs: 0 });
    const step = (done: number, atStart?: boolean) => ({ type: 'phaseProgress', migrationId: 'm1', phase, done, total, ...(atStart === undefined ? {} : { atStart }) }) as const;
    progress.onEvent({ type: 'phase', migrationId: 'm1', phase, epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
    return { out, clock, progress, step };
  }

  it('counts its rate from where the phase started, not from the first pair to finish', () => {
    const { out, clock, progress, step } = phaseRun('verify', 51);
    progress.onEvent(step(0, true));
    clock.now = 120_000;
    // The first pair's 15 ranges end at once, 2 minutes in: 15 ranges in 120 s, 36 left.
    progress.onEvent(step(15));
    expect(out.text).to.contain('verify 29%: 15/51 ranges, 0.1 ranges/s, ETA 4m48s');
  });

  it("ends a phase without repeating its last line, though the rate drifted since", () => {
    const { out, clock, progress, step } = phaseRun('sweep', 51);
    progress.onEvent(step(0, true));
    clock.now = 21_000;
    progress.onEvent(step(51));
    clock.now = 22_000;
    progress.onEvent({ type: 'phase', migrationId: 'm1', phase: 'verify', epoch: 2, liveEpoch: 2, publishes: null, reverse: false });
    expect(out.text.match(/sweep 100%: 51\/51 ranges/g)).to.have.length(1);
  });

  it('says the markers deleted of those found so far, and their rate, while a range with thousands of them is cleaned up, instead of nothing for minutes', () => {
    const { out, clock, progress, step } = phaseRun('cleanup', 51);
    progress.onEvent(step(0, true));
    progress.onEvent({ type: 'markersListed', migrationId: 'm1', phase: 'cleanup', listed: 100 });
    for (let i = 1; i <= 3; i++) {
      clock.now = i * 1000;
      progress.onEvent({ type: 'markersDeleted', migrationId: 'm1', phase: 'cleanup', deleted: 20 });
    }
    // A pair's ranges end together once its markers are gone: the share and the ETA go by the markers.
    expect(out.text).to.contain('cleanup 20%: 0/51 ranges, markers: 20 deleted of 100 found so far, 0.0 ranges/s, 20 markers/s, ETA 4.0s');
    expect(out.text).to.contain('cleanup 60%: 0/51 ranges, markers: 60 deleted of 100 found so far, 0.0 ranges/s, 20 markers/s, ETA 2.0s');
    // The next pair lists its markers as it starts: found so far grows.
    progress.onEvent({ type: 'markersListed', migrationId: 'm1', phase: 'cleanup', listed: 50 });
    clock.now = 4000;
    progress.onEvent({ type: 'markersDeleted', migrationId: 'm1', phase: 'cleanup', deleted: 40 });
    expect(out.text).to.contain('cleanup 66%: 0/51 ranges, markers: 100 deleted of 150 found so far, 0.0 ranges/s, 25 markers/s, ETA 2.0s');
    // Every marker found is gone, yet ranges are left (a pair that has not listed yet): not 100%.
    clock.now = 5000;
    progress.onEvent({ type: 'markersDeleted', migrationId: 'm1', phase: 'cleanup', deleted: 50 });
    expect(out.text).to.contain('cleanup 99%: 0/51 ranges, markers: 150 deleted of 150 found so far, 0.0 ranges/s, 30 markers/s, ETA --');
    progress.onEvent(step(12));
    expect(out.text, 'the markers further along than the ranges').to.contain('cleanup 99%: 12/51 ranges, markers: 150 deleted of 150 found so far, 2.4 ranges/s, 30 markers/s, ETA --');
    progress.onEvent({ type: 'phase', migrationId: 'm1', phase: 'purge', epoch: 3, liveEpoch: 3, publishes: null, reverse: false });
    progress.onEvent({ type: 'phaseProgress', migrationId: 'm1', phase: 'purge', done: 0, total: 51, atStart: true });
    progress.onEvent({ type: 'phaseProgress', migrationId: 'm1', phase: 'purge', done: 51, total: 51 });
    expect(out.text, 'a new phase counts its own').to.contain('purge 100%: 51/51 ranges, ');
    expect(out.text).not.to.match(/purge 100%: 51\/51 ranges, markers/);
  });

  it('counts from the first move done here when the migrator sent no start (moves of an earlier run skipped)', () => {
    const { out, clock, progress, step } = phaseRun('cleanup', 10);
    clock.now = 10_000;
    progress.onEvent(step(6));
    expect(out.text).to.contain('cleanup 60%: 6/10 ranges, 0.1 ranges/s');
  });
});
