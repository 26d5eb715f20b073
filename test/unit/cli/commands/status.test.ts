import { expect } from 'chai';
import { formatStatus, statusReport, type ShardStatus, type StatusReport } from '../../../../src/cli/commands/status.js';
import { MemoryStore } from '../../../../src/stores/memory-store.js';
import { StoreDecorator, type StoreOp } from '../../../../src/stores/store-decorator.js';
import { fakeDeployment } from '../../../support/serve-deployment.js';

/** A shard a writer inserts into right before each of status's passes: the counts race with it. */
class RacingWriterStore extends StoreDecorator {
  #n = 0;
  #turn: Promise<unknown> = Promise.resolve();

  protected around<T>(op: StoreOp, fn: () => Promise<T>): Promise<T> {
    if (op !== 'countRanges' && op !== 'tallyRanges') return fn();
    // One pass after another, each after one more insert: what a busy writer does between them.
    const next = this.#turn.then(async () => {
      await this.inner.insert({ _id: `w${++this.#n}`, _h: 7, _v: 1 });
      return fn();
    });
    this.#turn = next;
    return next;
  }
}

function report(shards: ShardStatus[]): StatusReport {
  return {
    name: 'users',
    collection: 'people',
    configStore: 'mongodb mongodb://127.0.0.1:1/',
    phase: 'stable',
    epoch: 4,
    migrationId: null,
    fromEpoch: null,
    settling: false,
    lock: null,
    topology: { name: 'users', epoch: 4, hash: 'xxhash32', vnodes: 32, placement: 'hashed', shards: [] },
    shards,
    lastMigration: null,
  };
}

const shard = { weight: 1, draining: false, share: 0.5, uri: 'mongodb://h:1/' };

describe('status', () => {
  describe('#statusReport', () => {
    it('counts documents and markers in one pass, so a writer shows neither a marker nor a document that was never there', async () => {
      const d = await fakeDeployment();
      const s1 = new MemoryStore('s1');
      d.stores.set('s1', s1);
      await s1.insert({ _id: 'tomb', _h: 3, _v: 1, _ts: true });
      const report = await statusReport(d, async (shard) => (shard.id === 's1' ? new RacingWriterStore(s1) : d.openShard(shard)));
      const line = report.shards.find((s) => s.id === 's1')!;
      expect(line.markers, 'the tombstone, and nothing the writer wrote').to.equal(1);
      expect(line.documents).to.equal(1);
      // Both figures describe one moment: the shard held the tombstone and one written document then.
      // Two passes (before) read it at two moments, with a write in between.
      expect((await s1.find({})).length, 'entries the shard holds').to.equal(line.documents! + line.markers!);
    });
  });


  describe('#formatStatus', () => {
    // Regression (issue 10): a healthy shard whose count hit the time limit was shown DOWN, with the
    // error text in the uri column.
    it('shows a shard that answered its ping but not its count as up with unknown counts', () => {
      const text = formatStatus(
        report([
          { ...shard, id: 's1', reachable: true, latencyMs: 2.5, documents: 10, markers: 0 },
          { ...shard, id: 's2', reachable: true, latencyMs: 3, documents: null, markers: null, countError: 'operation exceeded time limit' },
        ]),
        0,
      );
      expect(text).to.match(/^s2 +1 +50\.00% +up +3\.00 +unknown +unknown +mongodb:\/\/h:1\/$/m);
      expect(text).to.not.contain('DOWN');
      expect(text).to.contain('s2: documents unknown (the shard is up): operation exceeded time limit');
    });

    it('puts the reason of an unreachable shard under the table', () => {
      const text = formatStatus(report([{ ...shard, id: 's3', reachable: false, latencyMs: null, documents: null, markers: null, error: 'connect ECONNREFUSED' }]), 0);
      expect(text).to.match(/^s3 +1 +50\.00% +DOWN +- +- +- +mongodb:\/\/h:1\/$/m);
      expect(text).to.contain('s3: unreachable: connect ECONNREFUSED');
    });
  });
});
