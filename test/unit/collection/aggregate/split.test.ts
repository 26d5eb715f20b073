import { expect } from 'chai';
import { ErrorCode, ShardkitInvalidArgumentError } from '../../../../src/errors.js';
import { assertPipeline, isPushable, splitGroup, splitPipeline } from '../../../../src/collection/aggregate/split.js';
import { rejection } from '../../../support/rejection.js';

/** The code of the `ShardkitError` `fn` throws (the test fails if it throws nothing else). */
const code = async (fn: () => unknown): Promise<string> => (await rejection(Promise.resolve().then(fn))).code;

describe('aggregate/split', () => {
  describe('#splitPipeline', () => {
    it('runs a pipeline of per-document stages wholly on the shards, merged by concatenation', () => {
      const pipeline = [{ $match: { a: 1 } }, { $unset: 'b' }, { $project: { a: 1, t: 1 } }, { $set: { k: 1 } }];
      expect(splitPipeline(pipeline)).to.deep.equal({ shard: pipeline, merge: { kind: 'concat' }, skip: 0, limit: undefined, router: [] });
      const unwinding = [...pipeline.slice(0, 2), { $unwind: '$t' }, ...pipeline.slice(2)];
      expect(splitPipeline(unwinding, 'mongodb')).to.deep.equal({ shard: unwinding, merge: { kind: 'concat' }, skip: 0, limit: undefined, router: [] });
    });

    it("runs $unwind in the router unless the shards are MongoDB (FerretDB 1.24's drops every other field)", () => {
      const pipeline = [{ $match: { a: 1 } }, { $unset: 'b' }, { $unwind: '$t' }, { $project: { a: 1, t: 1 } }];
      expect(splitPipeline(pipeline)).to.deep.equal({ shard: pipeline.slice(0, 2), merge: { kind: 'concat' }, skip: 0, limit: undefined, router: pipeline.slice(2) });
    });

    it('splits a $group of one accumulator into partials on the shards and the rest in the router', () => {
      const plan = splitPipeline([{ $match: { a: 1 } }, { $group: { _id: '$g', m: { $max: '$n' } } }, { $sort: { m: -1 } }]);
      expect(plan.shard).to.deep.equal([{ $match: { a: 1 } }, { $group: { _id: '$g', m: { $max: '$n' } } }]);
      expect(plan.merge).to.deep.equal({ kind: 'group', fields: [{ name: 'm', op: '$max', parts: ['m'] }] });
      expect(plan.router).to.deep.equal([{ $sort: { m: -1 } }]);
      expect(splitPipeline([{ $group: { _id: '$g', c: { $count: {} } } }]).shard).to.deep.equal([{ $group: { _id: '$g', c: { $sum: 1 } } }]);
    });

    it('runs a $group of several accumulators in the router unless the shards are MongoDB (FerretDB computes only the first)', () => {
      const pipeline = [{ $match: { a: 1 } }, { $group: { _id: '$g', s: { $sum: '$n' }, m: { $max: '$n' } } }];
      expect(splitPipeline(pipeline)).to.deep.equal({ shard: [{ $match: { a: 1 } }], merge: { kind: 'concat' }, skip: 0, limit: undefined, router: pipeline.slice(1) });
      const plan = splitPipeline(pipeline, 'mongodb');
      expect(plan.shard).to.deep.equal(pipeline);
      expect(plan.merge).to.deep.equal({
        kind: 'group',
        fields: [
          { name: 's', op: '$sum', parts: ['s'] },
          { name: 'm', op: '$max', parts: ['m'] },
        ],
      });
    });

    it('pushes $avg (mongodb profile) as a sum and a count of numbers, and $count as $sum: 1', () => {
      const group = splitGroup({ _id: null, a: { $avg: '$n' }, c: { $sum: 1 }, k: { $count: {} } }, 'mongodb');
      expect(group?.shard).to.deep.equal({
        $group: {
          _id: null,
          __shardkit_0: { $sum: '$n' },
          __shardkit_1: { $sum: { $cond: [{ $isNumber: '$n' }, 1, 0] } },
          c: { $sum: 1 },
          k: { $sum: 1 },
        },
      });
      expect(group?.fields).to.deep.equal([
        { name: 'a', op: '$avg', parts: ['__shardkit_0', '__shardkit_1'] },
        { name: 'c', op: '$sum', parts: ['c'] },
        { name: 'k', op: '$sum', parts: ['k'] },
      ]);
      expect(splitGroup({ _id: null, a: { $avg: '$n' } }), 'two partials: not portable').to.equal(undefined);
    });

    it('never names a partial field after an output field of the group', () => {
      const group = splitGroup({ _id: null, __shardkit_0: { $avg: '$n' } }, 'mongodb');
      expect(group?.fields[0]?.parts).to.deep.equal(['__shardkit_1', '__shardkit_2']);
    });

    it('runs a $group with an accumulator it cannot merge (but the router can run) in the router', () => {
      const plan = splitPipeline([{ $match: { a: 1 } }, { $group: { _id: null, sd: { $stdDevPop: '$n' } } }]);
      expect(plan.shard).to.deep.equal([{ $match: { a: 1 } }]);
      expect(plan.merge).to.deep.equal({ kind: 'concat' });
      expect(plan.router).to.deep.equal([{ $group: { _id: null, sd: { $stdDevPop: '$n' } } }]);
    });

    it('pushes $sort with skip + limit down and merges sorted streams, skipping and limiting in the router', () => {
      const plan = splitPipeline([{ $sort: { n: -1 } }, { $skip: 5 }, { $limit: 10 }, { $skip: 2 }, { $project: { n: 1 } }]);
      expect(plan.shard).to.deep.equal([{ $sort: { n: -1 } }, { $limit: 15 }]);
      expect(plan.merge).to.deep.equal({ kind: 'sort', sort: [{ path: 'n', dir: -1 }] });
      expect([plan.skip, plan.limit]).to.deep.equal([7, 8]);
      expect(plan.router).to.deep.equal([{ $project: { n: 1 } }]);
    });

    it('pushes a bare $limit down and concatenates; a bare $skip pushes nothing', () => {
      expect(splitPipeline([{ $limit: 3 }])).to.deep.include({ shard: [{ $limit: 3 }], skip: 0, limit: 3 });
      expect(splitPipeline([{ $skip: 3 }])).to.deep.include({ shard: [], skip: 3, limit: undefined });
    });

    it('counts per shard and sums in the router', () => {
      const plan = splitPipeline([{ $match: { a: 1 } }, { $count: 'n' }, { $project: { n: 1 } }]);
      expect(plan.shard).to.deep.equal([{ $match: { a: 1 } }, { $count: 'n' }]);
      expect(plan.merge).to.deep.equal({ kind: 'count', field: 'n' });
      expect(plan.router).to.deep.equal([{ $project: { n: 1 } }]);
    });

    it('runs computed fields in the router: the prefix stops at the first stage FerretDB may answer wrongly', () => {
      const plan = splitPipeline([{ $match: { a: 1 } }, { $addFields: { c: '$a' } }, { $group: { _id: '$c', n: { $sum: 1 } } }]);
      expect(plan.shard).to.deep.equal([{ $match: { a: 1 } }]);
      expect(plan.router).to.deep.equal([{ $addFields: { c: '$a' } }, { $group: { _id: '$c', n: { $sum: 1 } } }]);
      expect(isPushable('$project', { a: { $add: ['$a', 1] } })).to.equal(false);
      expect(isPushable('$set', { a: 'plain', b: { c: [1, 2] } })).to.equal(true);
      expect(isPushable('$replaceRoot', { newRoot: '$a' })).to.equal(false);
      expect(splitPipeline([{ $addFields: { c: '$a' } }, { $replaceRoot: { newRoot: '$c' } }], 'mongodb').router).to.deep.equal([]);
    });

    it('splits $sortByCount as the $group and $sort it stands for', () => {
      const plan = splitPipeline([{ $sortByCount: '$g' }]);
      expect(plan.shard).to.deep.equal([{ $group: { _id: '$g', count: { $sum: 1 } } }]);
      expect(plan.router).to.deep.equal([{ $sort: { count: -1 } }]);
    });

    it('runs a $group after a $sort in the router, where $first and $last have an order', () => {
      const plan = splitPipeline([{ $sort: { n: 1 } }, { $group: { _id: '$g', f: { $first: '$n' } } }]);
      expect(plan.shard).to.deep.equal([{ $sort: { n: 1 } }]);
      expect(plan.router).to.deep.equal([{ $group: { _id: '$g', f: { $first: '$n' } } }]);
    });
  });

  describe('refusals', () => {
    for (const stage of [{ $out: 'x' }, { $merge: { into: 'x' } }, { $lookup: { from: 'x', localField: 'a', foreignField: 'b', as: 'c' } }, { $graphLookup: {} }, { $unionWith: 'x' }, { $geoNear: {} }, { $collStats: {} }, { $bogus: 1 }]) {
      const name = Object.keys(stage)[0] as string;
      it(`refuses ${name} with shardkit.aggregate.unsupportedStage, wherever it is`, async () => {
        expect(await code(() => splitPipeline([stage]))).to.equal(ErrorCode.aggregateUnsupportedStage);
        expect(await code(() => splitPipeline([{ $match: {} }, { $group: { _id: null } }, stage]))).to.equal(ErrorCode.aggregateUnsupportedStage);
        expect(await code(() => splitPipeline([{ $facet: { a: [{ $match: {} }], b: [stage] } }]))).to.equal(ErrorCode.aggregateUnsupportedStage);
      });
    }

    it('refuses $first/$last in a $group with no $sort before it (a group has no order across shards)', async () => {
      for (const op of ['$first', '$last', '$mergeObjects', '$top']) {
        expect(await code(() => splitPipeline([{ $group: { _id: null, f: { [op]: '$n' } } }]))).to.equal(ErrorCode.aggregateUnsupportedAccumulator);
      }
    });

    it('refuses an unknown accumulator and a $meta sort', async () => {
      expect(await code(() => splitPipeline([{ $group: { _id: null, f: { $accumulator: {} } } }]))).to.equal(ErrorCode.aggregateUnsupportedAccumulator);
      expect(await code(() => splitPipeline([{ $sort: { score: { $meta: 'textScore' } } }]))).to.equal(ErrorCode.aggregateUnsupportedStage);
    });

    it('refuses malformed pipelines as misuse', () => {
      for (const bad of [{}, [{}], [{ $match: {}, $limit: 1 }], [{ match: {} }], [null], [{ $limit: 0 }], [{ $skip: -1 }], [{ $count: '$n' }], [{ $group: {} }]]) {
        expect(() => splitPipeline(bad as never), JSON.stringify(bad)).to.throw(ShardkitInvalidArgumentError);
      }
      expect(() => assertPipeline('nope')).to.throw(ShardkitInvalidArgumentError);
    });
  });
});
