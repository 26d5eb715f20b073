import { expect } from 'chai';
import { ErrorCode } from '../../../src/errors.js';
import { Topology } from '../../../src/topology/topology.js';
import { STANDARD_WORKLOAD, WorkloadBuilder, generateWorkload } from '../../../src/lab/workload.js';
import { topologyChanges, workloadFromDocument } from '../../../src/lab/workload-file.js';
import { shards } from './helpers.js';

describe('lab workloads', () => {
  describe('#generateWorkload', () => {
    it('builds the standard workload: 4 shards, 60 joins to 64, then 16 churn steps that keep the count level', () => {
      const w = generateWorkload('standard');
      expect(w.spec).to.equal('standard');
      expect(w.initial).to.have.length(4);
      expect(w.steps).to.have.length(60 + 16);
      expect(w.steps.slice(0, 60).every((s) => s.changes[0]!.kind === 'add')).to.equal(true);
      expect(w.steps[0]!.label).to.equal('add:s5');
      expect(w.steps[59]!.label).to.equal('add:s64');
      const churn = w.steps.slice(60).map((s) => s.changes[0]!.kind);
      expect(churn.filter((k) => k === 'remove')).to.have.length(8);
      expect(STANDARD_WORKLOAD).to.equal('grow:4..64+churn:16');
    });

    it('is deterministic for a seed and differs across seeds', () => {
      expect(generateWorkload('churn:10', 7)).to.deep.equal(generateWorkload('churn:10', 7));
      expect(generateWorkload('churn:10', 7).steps.map((s) => s.label)).to.not.deep.equal(generateWorkload('churn:10', 8).steps.map((s) => s.label));
    });

    it('shrinks, reweights, and fails then recovers the same shard', () => {
      const shrink = generateWorkload('shrink:10..4');
      expect(shrink.initial).to.have.length(10);
      expect(shrink.steps).to.have.length(6);
      const rw = generateWorkload('reweight:5');
      expect(rw.initial).to.have.length(16);
      expect(rw.steps.every((s) => s.changes[0]!.kind === 'reweight')).to.equal(true);
      const fail = generateWorkload('grow:3..3+fail:s2');
      expect(fail.steps.map((s) => s.label)).to.deep.equal(['fail:s2', 'recover:s2']);
      expect(fail.steps[1]!.changes).to.deep.equal([{ kind: 'add', id: 's2', weight: 1 }]);
      expect(generateWorkload('fail').steps).to.have.length(2);
    });

    for (const bad of ['grow', 'grow:8..4', 'grow:0..4', 'shrink:4..8', 'churn:0', 'explode', 'grow:4..8+', 'grow:4..9999']) {
      it(`refuses ${JSON.stringify(bad)} with a usage error`, () => {
        expect(() => generateWorkload(bad)).to.throw().with.property('code', ErrorCode.usage);
      });
    }
  });

  describe('WorkloadBuilder', () => {
    it('checks every change against the live shards', () => {
      const b = new WorkloadBuilder(shards(2));
      expect(() => b.step('x', [{ kind: 'remove', id: 'nope' }])).to.throw().with.property('code', ErrorCode.topologyUnknownShard);
      expect(() => b.step('x', [{ kind: 'add', id: 's1', weight: 1 }])).to.throw().with.property('code', ErrorCode.topologyDuplicateShard);
      expect(() => b.recover('s1')).to.throw().with.property('code', ErrorCode.topologyUnknownShard);
      b.step('remove:s1', [{ kind: 'remove', id: 's1' }]);
      expect(() => b.step('x', [{ kind: 'remove', id: 's2' }])).to.throw().with.property('code', ErrorCode.topologyNoShards);
      expect(() => new WorkloadBuilder([])).to.throw().with.property('code', ErrorCode.usage);
      expect(() => new WorkloadBuilder([...shards(1), ...shards(1)])).to.throw().with.property('code', ErrorCode.topologyDuplicateShard);
    });
  });

  describe('#workloadFromDocument', () => {
    it('reads a list of steps, drains included', () => {
      const w = workloadFromDocument('ops.yaml', { shards: [{ id: 'a' }, { id: 'b', weight: 2 }], steps: ['add:c=3', 'weight:a=2', 'drain:b', 'fail:c', 'recover:c'] }, () => {
        throw new Error('no topology files here');
      });
      expect(w.spec).to.equal('file:ops.yaml');
      expect(w.initial).to.deep.equal([{ id: 'a', weight: 1 }, { id: 'b', weight: 2 }]);
      expect(w.steps.map((s) => s.changes)).to.deep.equal([
        [{ kind: 'add', id: 'c', weight: 3 }],
        [{ kind: 'reweight', id: 'a', weight: 2 }],
        [{ kind: 'remove', id: 'b' }],
        [{ kind: 'remove', id: 'c' }],
        [{ kind: 'add', id: 'c', weight: 3 }],
      ]);
      expect(workloadFromDocument('n', { shards: 3, steps: ['remove:s1'] }, () => Topology.from({ shards: [{ id: 'a' }] })).initial).to.have.length(3);
    });

    it('turns consecutive topology files into one step each', () => {
      const files: Record<string, Topology> = {
        'a.json': Topology.from({ shards: [{ id: 's1' }, { id: 's2' }, { id: 's3' }] }),
        'b.json': Topology.from({ epoch: 2, shards: [{ id: 's1', weight: 2 }, { id: 's3' }, { id: 's4' }] }),
        'c.json': Topology.from({ epoch: 3, shards: [{ id: 's1', weight: 2 }, { id: 's3', draining: true }, { id: 's4' }] }),
      };
      const w = workloadFromDocument('history.yaml', { topologies: ['a.json', 'b.json', 'c.json'] }, (p) => files[p]!);
      expect(w.initial.map((s) => s.id)).to.deep.equal(['s1', 's2', 's3']);
      expect(w.steps.map((s) => s.label)).to.deep.equal(['b.json', 'c.json']);
      expect(w.steps[0]!.changes).to.deep.equal([
        { kind: 'reweight', id: 's1', weight: 2 },
        { kind: 'remove', id: 's2' },
        { kind: 'add', id: 's4', weight: 1 },
      ]);
      expect(w.steps[1]!.changes).to.deep.equal([{ kind: 'remove', id: 's3' }]);
      expect(topologyChanges(shards(2), shards(2))).to.deep.equal([]);
    });

    for (const [doc, re] of [
      [[], /expected an object/],
      [{ steps: 'add:x' }, /"steps" must be a list/],
      [{ topologies: ['one.json'] }, /at least two topology files/],
      [{ steps: [], extra: 1 }, /unknown field "extra"/],
      [{ shards: 'many', steps: [] }, /"shards" must be a count/],
      [{ steps: ['grow:s9'] }, /cannot read step "grow:s9"/],
      [{ steps: ['remove:s1=2'] }, /cannot read step/],
      [{ steps: ['weight:s1'] }, /cannot read step/],
    ] as const) {
      it(`refuses ${JSON.stringify(doc)}`, () => {
        expect(() => workloadFromDocument('w.yaml', doc, () => Topology.from({ shards: [{ id: 'a' }] }))).to.throw(re);
      });
    }
  });
});
