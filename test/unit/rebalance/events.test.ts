import { expect } from 'chai';
import { MigrationProgress } from '../../../src/cli/progress.js';
import type { MigrationEvent } from '../../../src/rebalance/events.js';
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
