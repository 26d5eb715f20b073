import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import { ErrorCode } from '../../../../src/errors.js';
import { planRebalance } from '../../../../src/rebalance/plan.js';
import { Topology } from '../../../../src/topology/topology.js';
import { ROUTER_LEASE_WAITS, routerLeaseWaitsMs, summarizePlan } from '../../../../src/cli/plan-report.js';
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
});
