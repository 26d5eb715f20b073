/**
 * The router's `$sort` (a stage after a `$group`, or any stage while a migration runs) sorts as a
 * server does: an array value by its smallest element ascending, its largest descending, an empty
 * array below null. mingo compares arrays element by element, so `['z', 'a']` came after `['b']`
 * ascending where a server (and the shards' part of the same pipeline) puts it first.
 */
import { expect } from 'chai';
import { runInRouter } from '../../../../src/collection/aggregate/run.js';

describe('aggregate: the router runs $sort in the server order', function () {
  const docs = [
    { _id: 1, a: ['b'] },
    { _id: 2, a: ['z', 'a'] },
    { _id: 3, a: [] },
    { _id: 4, a: null },
    { _id: 5, a: 'c' },
  ];

  it('sorts an array by its smallest element ascending, an empty array below null', function () {
    expect(runInRouter([{ $sort: { a: 1, _id: 1 } }], docs.map((d) => ({ ...d }))).map((d) => d['_id'])).to.deep.equal([3, 4, 2, 1, 5]);
  });

  it('sorts an array by its largest element descending', function () {
    expect(runInRouter([{ $sort: { a: -1, _id: 1 } }], docs.map((d) => ({ ...d }))).map((d) => d['_id'])).to.deep.equal([2, 5, 1, 4, 3]);
  });

  it('runs the stages around the $sort in order', function () {
    const out = runInRouter([{ $group: { _id: '$a', c: { $sum: 1 } } }, { $sort: { _id: 1 } }, { $limit: 3 }, { $project: { c: 0 } }], docs.map((d) => ({ ...d })));
    expect(out).to.deep.equal([{ _id: [] }, { _id: null }, { _id: ['z', 'a'] }]);
  });
});
