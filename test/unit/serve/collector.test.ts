import { expect } from 'chai';
import { StatusCollector } from '../../../src/serve/collector.js';
import type { ServeStatus } from '../../../src/serve/status-model.js';
import type { HashRange, RangeTallies, RangeTallyResult } from '../../../src/stores/shard-store.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { FakeClock } from '../../support/fake-clock.js';
import { fakeDeployment, journal } from '../../support/serve-deployment.js';

describe('StatusCollector', function () {
  it('reads the state, every shard and the journal, and keeps its shard stores between polls', async function () {
    const d = await fakeDeployment();
    const clock = new FakeClock();
    const polls: ServeStatus[] = [];
    const collector = new StatusCollector({ deployment: d, clock, intervalMs: 1000, onPoll: (s) => polls.push(s) });
    const first = await collector.start();
    await d.stores.get('s1')!.insert({ _id: 'a', _h: 1, _v: 1 });
    expect(first).to.deep.include({ ready: true, configStore: { reachable: true }, migration: null });
    expect(first.deployment?.shards.map((s) => [s.id, s.reachable, s.documents])).to.deep.equal([
      ['s1', true, 0],
      ['s2', true, 0],
    ]);
    expect(first.ring?.shards).to.deep.equal(['s1', 's2']);

    await d.setJournal(journal(10));
    await clock.advance(1000);
    await collector.poll();
    const second = collector.latest!;
    expect(second.deployment?.shards[0]?.documents).to.equal(1);
    expect(second.migration).to.deep.include({ id: 'm1', copied: 70, active: true });
    expect(d.opens, 'stores kept open between polls').to.equal(2);
    expect(polls.length).to.be.at.least(2);
    await collector.stop();
  });

  it("keeps a slow shard's counts for ten times their duration, says since when, and counts a quick shard at every poll", async function () {
    const d = await fakeDeployment();
    const clock = new FakeClock();
    const calls: Record<string, number> = { s1: 0, s2: 0 };
    /** A shard whose count pass takes 300 ms of the fake clock (a large FerretDB shard's, scaled down). */
    class Counted extends MemoryStore {
      override async tallyRanges(ranges: readonly HashRange[], tallies: RangeTallies): Promise<RangeTallyResult> {
        calls[this.shardId] = (calls[this.shardId] ?? 0) + 1;
        if (this.shardId === 's1') await clock.advance(300);
        return super.tallyRanges(ranges, tallies);
      }
    }
    d.stores.set('s1', new Counted('s1'));
    d.stores.set('s2', new Counted('s2'));
    const collector = new StatusCollector({ deployment: d, clock, intervalMs: 1000 });
    const documents = (status: ServeStatus, id: string): unknown => {
      const line = status.deployment?.shards.find((x) => x.id === id);
      return [line?.documents, line?.countedAt];
    };
    const first = await collector.poll();
    const countedAt = clock.wall();
    expect(documents(first, 's1'), 'read now: no countedAt').to.deep.equal([0, undefined]);
    expect(calls).to.deep.equal({ s1: 1, s2: 1 });
    await d.stores.get('s1')!.insert({ _id: 'a', _h: 1, _v: 1 });
    await d.stores.get('s2')!.insert({ _id: 'b', _h: 1, _v: 1 });

    await clock.advance(2000);
    const second = await collector.poll();
    expect(documents(second, 's1'), 'kept, with the time it was read').to.deep.equal([0, countedAt]);
    expect(documents(second, 's2')).to.deep.equal([1, undefined]);
    expect(calls).to.deep.equal({ s1: 1, s2: 2 });

    // The first count took 300 ms (its one pass): kept for 3 s from its end, then read again.
    await clock.advance(900);
    expect(documents(await collector.poll(), 's1'), 'still kept 2.9 s on').to.deep.equal([0, countedAt]);
    expect(calls.s1).to.equal(1);
    await clock.advance(200);
    const third = await collector.poll();
    expect(documents(third, 's1'), 'read again').to.deep.equal([1, undefined]);
    expect(calls.s1).to.equal(2);
  });

  it('measures the copy rate between polls', async function () {
    const d = await fakeDeployment();
    const clock = new FakeClock();
    const collector = new StatusCollector({ deployment: d, clock, intervalMs: 500 });
    await d.setJournal(journal(0));
    await collector.poll();
    await d.setJournal(journal(20));
    await clock.advance(2000);
    const status = await collector.poll();
    expect(status.migration).to.deep.include({ docsPerSec: 10, etaMs: 2000 });
  });

  it('is not ready while a shard is down, says why without its password, and reconnects when it is back', async function () {
    const d = await fakeDeployment();
    d.down.add('s2');
    const collector = new StatusCollector({ deployment: d, clock: new FakeClock(), intervalMs: 1000 });
    const down = await collector.poll();
    expect(down.ready).to.equal(false);
    const s2 = down.deployment?.shards.find((s) => s.id === 's2');
    expect(s2).to.deep.include({ reachable: false, documents: null });
    expect(s2?.error).to.contain('failed').and.not.contain('secret');
    d.down.delete('s2');
    expect((await collector.poll()).ready).to.equal(true);
  });

  it('is not ready when the config store cannot be read, and says why', async function () {
    const d = await fakeDeployment();
    d.configStore.load = () => Promise.reject(new Error('config server mongodb://pw:secret@cfg.example gone'));
    const status = await new StatusCollector({ deployment: d, clock: new FakeClock(), intervalMs: 1000 }).poll();
    expect(status).to.deep.include({ ready: false, deployment: null, ring: null });
    expect(status.configStore.reachable).to.equal(false);
    expect(status.configStore.error).to.contain('gone').and.not.contain('secret');
  });

  it('still shows the shards when the journal is malformed, and says what is wrong with it', async function () {
    const d = await fakeDeployment();
    await d.configStore.writeJournal('migration:people', { format: 'shardkit.journal/99' });
    const status = await new StatusCollector({ deployment: d, clock: new FakeClock(), intervalMs: 1000 }).poll();
    expect(status.ready).to.equal(true);
    expect(status.deployment?.shards).to.have.length(2);
    expect(status.migration).to.equal(null);
    expect(status.journalError).to.contain('shardkit.journal/99').and.contain('shardkit.migration.journalInvalid');
  });

  it('polls every interval until stopped, one poll at a time', async function () {
    const d = await fakeDeployment();
    const clock = new FakeClock();
    let polls = 0;
    const collector = new StatusCollector({ deployment: d, clock, intervalMs: 1000, onPoll: () => polls++ });
    await collector.start();
    const [a, b] = [collector.poll(), collector.poll()];
    expect(a).to.equal(b);
    await a;
    await clock.advance(1000);
    await clock.advance(1000);
    const seen = polls;
    expect(seen).to.be.at.least(3);
    await collector.stop();
    await clock.advance(5000);
    expect(polls).to.equal(seen);
  });
});
