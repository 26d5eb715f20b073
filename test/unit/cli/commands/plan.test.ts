import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ErrorCode } from '../../../../src/errors.js';
import { planRebalance } from '../../../../src/rebalance/plan.js';
import { Topology } from '../../../../src/topology/topology.js';
import { ROUTER_LEASE_WAITS, routerLeaseWaitsMs, summarizePlan } from '../../../../src/cli/plan-report.js';
import { countPairs } from '../../../../src/cli/live-plan.js';
import { MemoryStore } from '../../../../src/stores/memory-store.js';
import type { HashRange, RangeCounts, ShardStore, StoreFilter } from '../../../../src/stores/shard-store.js';
import { errorLine, example, run, scratch } from '../helpers.js';

function load(name: string): Topology {
  return Topology.parse(readFileSync(example(name), 'utf8'));
}

describe('plan command', () => {
  const tmp = scratch();
  const plan = planRebalance(load('topology.json'), load('topology-5.json'));

  it('prints the exact JSON shape', async () => {
    const r = await run(['plan', '--from', example('topology.json'), '--to', example('topology-5.json'), '--json']);
    expect(r.code, r.err).to.equal(0);
    const json = JSON.parse(r.out) as Record<string, unknown>;
    expect(Object.keys(json)).to.deep.equal(['fromEpoch', 'toEpoch', 'movedFraction', 'minimalFraction', 'ratio', 'perShard', 'moves']);
    expect(json).to.deep.equal({
      fromEpoch: 1,
      toEpoch: 2,
      movedFraction: plan.movedFraction,
      minimalFraction: plan.minimalFraction,
      ratio: plan.movedFraction / plan.minimalFraction,
      perShard: plan.perShard,
      moves: plan.moves.map((m) => ({ start: m.start, end: m.end, from: m.from, to: m.to })),
    });
    // Adding one shard only moves keys onto it: the minimum.
    expect(json['ratio']).to.be.closeTo(1, 1e-12);
    expect((json['moves'] as Array<{ to: string }>).every((m) => m.to === 's5')).to.equal(true);
  });

  it('prints a summary table and the first moves', async () => {
    const r = await run(['plan', '--from', example('topology.json'), '--to', example('topology-5.json'), '--moves', '3']);
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/^plan epoch 1 -> 2: moves 19\.\d\d% of the hash space, minimum 19\.\d\d%, ratio 1\.000, \d+ ranges\n/);
    expect(r.out).to.match(/^s5 +0\.00% +19\.\d\d% +0\.00% +19\.\d\d%$/m);
    const first = plan.moves[0]!;
    expect(r.out).to.include(`(${first.start}, ${first.end}]`);
    expect(r.out).to.include(`… ${plan.moves.length - 3} more`);
  });

  it('reports a no-op plan with ratio 1', async () => {
    const r = await run(['plan', '--from', example('topology.json'), '--to', example('topology.yaml'), '--json']);
    const json = JSON.parse(r.out) as { movedFraction: number; ratio: number; moves: unknown[] };
    expect(json).to.include({ movedFraction: 0, ratio: 1 });
    expect(json.moves).to.deep.equal([]);
  });

  it('needs --from and --to (exit 2)', async () => {
    for (const argv of [['plan', '--to', example('topology.json')], ['plan', '--from', example('topology.json')]]) {
      const r = await run(argv);
      expect(r.code).to.equal(2);
      expect(errorLine(r).code).to.equal(ErrorCode.usage);
    }
  });

  it('names the bad file', async () => {
    const bad = tmp.file('bad.yaml', 'shards:\n  - id: a\n    weight: 0\n');
    const r = await run(['plan', '--from', example('topology.json'), '--to', bad]);
    expect(r.code).to.equal(2);
    expect(errorLine(r)).to.deep.include({ code: ErrorCode.topologyBadWeight });
    expect(errorLine(r).message.startsWith(`${bad}: `)).to.equal(true);
  });

  describe('#routerLeaseWaitsMs', () => {
    it('counts the three router-lease waits of a migration (before sweep, cleanup and purge), not two', () => {
      // Regression: the `plan --config` estimate counted two waits after the settle/purge split added a third.
      expect(ROUTER_LEASE_WAITS).to.equal(3);
      expect(routerLeaseWaitsMs({ leaseMs: 5000, opTimeoutMs: 2000 })).to.equal(21_000);
    });
  });

  describe('#summarizePlan', () => {
    it('gives a null ratio when nothing had to move but something did', () => {
      const s = summarizePlan({ ...plan, movedFraction: 0.1, minimalFraction: 0 });
      expect(s.ratio).to.equal(null);
    });
  });

  describe('#countPairs', () => {
    it('counts every source at once, each in one call for all its ranges', async () => {
      const from = Topology.from({ name: 'app', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: ['s1', 's2', 's3'].map((id) => ({ id, weight: 1 })) });
      const live = planRebalance(from, from.with({ kind: 'add', shard: { id: 's4', weight: 1 } }));
      let inFlight = 0;
      let most = 0;
      const calls: string[] = [];
      /** A source whose count takes a few turns of the event loop, long enough for the others to start theirs. */
      class Slow extends MemoryStore {
        override async countRanges(ranges: readonly HashRange[], filter?: StoreFilter): Promise<RangeCounts> {
          calls.push(this.shardId);
          most = Math.max(most, ++inFlight);
          for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
          inFlight--;
          return super.countRanges(ranges, filter);
        }
      }
      const stores = new Map<string, ShardStore>(['s1', 's2', 's3', 's4'].map((id) => [id, new Slow(id)]));
      await stores.get('s2')!.insert({ _id: 'a', _h: live.moves.find((m) => m.from === 's2')!.end, _v: 1 });
      const notes: Array<[number, number, number]> = [];
      const counted = await countPairs(live, stores, (done, total, docs) => notes.push([done, total, docs]));
      const sources = [...new Set(live.moves.map((m) => m.from))].sort();
      expect(sources.length, 'several sources').to.be.at.least(3);
      expect(calls.sort()).to.deep.equal(sources);
      // One after another (before), a count never overlapped another: 4 FerretDB sources of 30,000 took 15 s.
      expect(most, 'sources counted at once').to.equal(sources.length);
      expect(counted.pairs.reduce((n, p) => n + p.docs, 0)).to.equal(1);
      expect(notes.at(-1)).to.deep.equal([live.moves.length, live.moves.length, 1]);
    });
  });
});
