import { expect } from 'chai';
import { archiveFinished, formatHistory, historyKey, readHistory } from '../../../src/cli/history.js';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { emptyCounters, freshMove, journalKey, journalToRecord, type MigrationJournal } from '../../../src/rebalance/journal.js';

const topology = { name: 'app', epoch: 1, hash: 'xxhash32' as const, vnodes: 8, placement: 'hashed' as const, shards: [{ id: 's1', weight: 1 }] };

function journal(id: string, done: boolean, baseEpoch: number): MigrationJournal {
  return {
    id,
    name: 'app',
    owner: 'cli',
    baseEpoch,
    reverse: false,
    from: topology,
    to: topology,
    epoch: baseEpoch + 1,
    stableEpoch: baseEpoch + 2,
    phase: done ? 'done' : 'copy',
    publishedAt: 1,
    committedAt: null,
    settledAt: null,
    moves: [freshMove(0, 10, 's1', 's2', 40)],
    counters: { ...emptyCounters(), docsMoved: 38, docsRead: 39 },
    startedAt: Date.UTC(2026, 11, 1, 18, 0, 0),
    finishedAt: done ? Date.UTC(2026, 11, 1, 18, 1, 5) : null,
    outcome: done ? 'completed' : null,
  };
}

describe('history', () => {
  // Issue 10: `rebalance history` lists past migrations, though the config store keeps one journal.
  it('keeps each finished journal once, before the next migration replaces it', async () => {
    const config = new MemoryConfigStore();
    await config.writeJournal(journalKey('app'), journalToRecord(journal('m1', true, 1)));
    await archiveFinished(config, 'app');
    await archiveFinished(config, 'app');
    await config.writeJournal(journalKey('app'), journalToRecord(journal('m2', false, 4)));
    await archiveFinished(config, 'app');
    const entries = await readHistory(config, 'app');
    expect(entries.map((e) => [e.id, e.outcome, e.fromEpoch, e.toEpoch])).to.deep.equal([
      ['m1', 'completed', 1, 4],
      ['m2', 'stopped', 4, 5],
    ]);
    expect(((await config.readJournal(historyKey('app')))!['entries'] as unknown[]).length).to.equal(1);
    const text = formatHistory('app', entries);
    expect(text).to.match(/^m1 +completed +1 -> 4 +2026-12-01T18:00:00Z +1m05s +1 +38 +1\.026 +0 +0$/m);
    expect(text).to.match(/^m2 +stopped \(copy\) +4 -> 5 /m);
  });

  it('says when nothing is recorded', async () => {
    expect(formatHistory('app', await readHistory(new MemoryConfigStore(), 'app'))).to.equal('no migration of "app" is recorded\n');
  });
});
