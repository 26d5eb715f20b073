import { expect } from 'chai';
import { ShardkitError } from '../../../src/errors.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import type { RoutingState } from '../../../src/router/routing-state.js';

/** What a plain-JavaScript caller can hand over; the typed API would not compile these. */
function fromPlainJs(value: unknown): RoutingState {
  return value as RoutingState;
}

describe('StaticRoutingSource', function () {
  const topology = { name: 'users', epoch: 1, shards: [{ id: 's1' }, { id: 's2' }] };

  // Regression (issue 10): a state without a topology was accepted and failed later as a TypeError
  // inside the collection's routing view.
  context('when given a malformed state from plain JavaScript', function () {
    const cases: Array<[string, unknown, RegExp]> = [
      ['nothing', undefined, /needs a routing state/],
      ['no topology', { phase: 'stable', epoch: 1 }, /topology is required/],
      ['no epoch', { phase: 'stable', topology }, /epoch must be a positive integer/],
      ['an unknown phase', { phase: 'moving', epoch: 1, topology }, /phase must be/],
      ['shards as strings', { phase: 'stable', epoch: 1, topology: { name: 'u', shards: ['s1'] } }, /shards\[0\] must be an object/],
      ['a migrating state without from', { phase: 'migrating', epoch: 2, migrationId: 'm', topology }, /needs from/],
    ];
    for (const [what, state, message] of cases) {
      it(`throws a ShardkitError for ${what}`, function () {
        expect(() => new StaticRoutingSource(fromPlainJs(state))).to.throw(ShardkitError, message);
      });
    }

    it('checks what #publish installs too', function () {
      const source = new StaticRoutingSource(fromPlainJs({ phase: 'stable', epoch: 1, topology }));
      expect(() => source.publish(fromPlainJs({ phase: 'stable', epoch: 2 }))).to.throw(ShardkitError, /topology is required/);
      expect(source.current().epoch).to.equal(1);
    });
  });

  it('accepts a plain-object topology spec', function () {
    const source = new StaticRoutingSource(fromPlainJs({ phase: 'stable', epoch: 1, topology }));
    expect(source.current().topology.name).to.equal('users');
  });
});
