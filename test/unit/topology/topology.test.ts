import { expect } from 'chai';
import fc from 'fast-check';
import { ErrorCode, ShardkitInputError, ShardkitInvalidArgumentError } from '../../../src/errors.js';
import type { ErrorCode as ErrorCodeT } from '../../../src/errors.js';
import { serializeTopology } from '../../../src/topology/serialize.js';
import { Topology } from '../../../src/topology/topology.js';
import type { TopologyChange } from '../../../src/topology/types.js';
import { MAX_SHARDS } from '../../../src/topology/validate.js';

const base = {
  name: 'app',
  epoch: 3,
  shards: [
    { id: 's1', uri: 'mongodb://admin:hunter2@127.0.0.1:27101/app' },
    { id: 's2', weight: 2, db: 'app2' },
    { id: 's3' },
  ],
};

function withShards(...shards: unknown[]): Record<string, unknown> {
  return { ...base, shards };
}

function codeOf(fn: () => unknown): ErrorCodeT {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ShardkitInputError);
    const message = (error as Error).message;
    expect(message, 'one line').to.not.include('\n');
    expect(message, 'no password').to.not.include('hunter2');
    return (error as ShardkitInputError).code;
  }
  throw new Error('expected an error');
}

describe('Topology', () => {
  describe('.from', () => {
    it('fills the defaults', () => {
      const t = Topology.from({ shards: [{ id: 'a' }] });
      expect(t.toJSON()).to.deep.equal({
        name: 'default',
        epoch: 1,
        hash: 'xxhash32',
        vnodes: 160,
        placement: 'hashed',
        shards: [{ id: 'a', weight: 1 }],
      });
    });

    it('returns a Topology unchanged', () => {
      const t = Topology.from(base);
      expect(Topology.from(t)).to.equal(t);
    });

    it('freezes the topology, its shard list and each shard', () => {
      const t = Topology.from({ ...base, placement: 'balanced', shards: [{ id: 'a', tokens: [1, 2] }] });
      expect(Object.isFrozen(t)).to.equal(true);
      expect(Object.isFrozen(t.shards)).to.equal(true);
      expect(Object.isFrozen(t.shards[0])).to.equal(true);
      expect(Object.isFrozen(t.shards[0]?.tokens)).to.equal(true);
      expect(() => {
        (t as unknown as { epoch: number }).epoch = 9;
      }).to.throw(TypeError);
    });

    it('does not keep a reference to the input', () => {
      const input = { shards: [{ id: 'a', weight: 1 }] };
      const t = Topology.from(input);
      input.shards[0]!.weight = 5;
      expect(t.shard('a')?.weight).to.equal(1);
    });

    it('accepts the ketama hash, balanced placement and tokens at the uint32 bounds', () => {
      const t = Topology.from({ hash: 'ketama', placement: 'balanced', vnodes: 4096, shards: [{ id: 'x.y:z-1_', tokens: [0, 0xffffffff] }] });
      expect(t.hash).to.equal('ketama');
      expect(t.shard('x.y:z-1_')?.tokens).to.deep.equal([0, 0xffffffff]);
    });

    const invalid: Array<[string, unknown, ErrorCodeT]> = [
      ['not an object', [1, 2], ErrorCode.topologyInvalid],
      ['null', null, ErrorCode.topologyInvalid],
      ['shards missing', { name: 'x' }, ErrorCode.topologyNoShards],
      ['shards empty', withShards(), ErrorCode.topologyNoShards],
      ['shards not an array', { ...base, shards: { s1: {} } }, ErrorCode.topologyInvalid],
      ['every shard draining', withShards({ id: 'a', draining: true }), ErrorCode.topologyNoShards],
      ['a duplicate id', withShards({ id: 'a' }, { id: 'b' }, { id: 'a' }), ErrorCode.topologyDuplicateShard],
      ['weight 0', withShards({ id: 'a', weight: 0 }), ErrorCode.topologyBadWeight],
      ['a negative weight', withShards({ id: 'a', weight: -1 }), ErrorCode.topologyBadWeight],
      ['an infinite weight', withShards({ id: 'a', weight: Infinity }), ErrorCode.topologyBadWeight],
      ['a NaN weight', withShards({ id: 'a', weight: NaN }), ErrorCode.topologyBadWeight],
      ['a string weight', withShards({ id: 'a', weight: '2' }), ErrorCode.topologyBadWeight],
      ['a weight too large for the ring', withShards({ id: 'a', weight: 1e9 }), ErrorCode.topologyBadWeight],
      ['vnodes 0', { ...base, vnodes: 0 }, ErrorCode.topologyBadVnodes],
      ['vnodes 4097', { ...base, vnodes: 4097 }, ErrorCode.topologyBadVnodes],
      ['fractional vnodes', { ...base, vnodes: 1.5 }, ErrorCode.topologyBadVnodes],
      ['string vnodes', { ...base, vnodes: '160' }, ErrorCode.topologyBadVnodes],
      ['an unknown hash', { ...base, hash: 'md5' }, ErrorCode.topologyUnknownHash],
      ['an unknown placement', { ...base, placement: 'random' }, ErrorCode.topologyUnknownPlacement],
      ['an unknown top-level field', { ...base, replicas: 3 }, ErrorCode.topologyUnknownField],
      ['an unknown shard field', withShards({ id: 'a', host: 'x' }), ErrorCode.topologyUnknownField],
      ['a shard that is not an object', withShards('s1'), ErrorCode.topologyInvalid],
      ['a missing id', withShards({ weight: 1 }), ErrorCode.topologyBadId],
      ['an empty id', withShards({ id: '' }), ErrorCode.topologyBadId],
      ['an id with a space', withShards({ id: 'a b' }), ErrorCode.topologyBadId],
      ['an id of 65 chars', withShards({ id: 'a'.repeat(65) }), ErrorCode.topologyBadId],
      ['a numeric id', withShards({ id: 1 }), ErrorCode.topologyBadId],
      ['epoch 0', { ...base, epoch: 0 }, ErrorCode.topologyBadEpoch],
      ['a fractional epoch', { ...base, epoch: 1.5 }, ErrorCode.topologyBadEpoch],
      ['an unsafe epoch', { ...base, epoch: 2 ** 53 }, ErrorCode.topologyBadEpoch],
      ['a string epoch', { ...base, epoch: '1' }, ErrorCode.topologyBadEpoch],
      ['tokens with hashed placement', withShards({ id: 'a', tokens: [1] }), ErrorCode.topologyBadTokens],
      ['a negative token', { ...base, placement: 'balanced', shards: [{ id: 'a', tokens: [-1] }] }, ErrorCode.topologyBadTokens],
      ['a token above uint32', { ...base, placement: 'balanced', shards: [{ id: 'a', tokens: [2 ** 32] }] }, ErrorCode.topologyBadTokens],
      ['a fractional token', { ...base, placement: 'balanced', shards: [{ id: 'a', tokens: [1.5] }] }, ErrorCode.topologyBadTokens],
      ['tokens not an array', { ...base, placement: 'balanced', shards: [{ id: 'a', tokens: 5 }] }, ErrorCode.topologyBadTokens],
      ['a token twice in a shard', { ...base, placement: 'balanced', shards: [{ id: 'a', tokens: [7, 7] }] }, ErrorCode.topologyBadTokens],
      [
        'a token claimed by two shards',
        { ...base, placement: 'balanced', shards: [{ id: 'a', tokens: [7] }, { id: 'b', tokens: [7] }] },
        ErrorCode.topologyBadTokens,
      ],
      ['a uri that is not mongodb', withShards({ id: 'a', uri: 'http://admin:hunter2@h' }), ErrorCode.topologyInvalid],
      ['a uri that is not a string', withShards({ id: 'a', uri: 5 }), ErrorCode.topologyInvalid],
      ['a db name with a dot', withShards({ id: 'a', db: 'a.b' }), ErrorCode.topologyInvalid],
      ['a non-boolean draining', withShards({ id: 'a', draining: 'yes' }), ErrorCode.topologyInvalid],
      ['an empty name', { ...base, name: '' }, ErrorCode.topologyInvalid],
      ['a name with a newline', { ...base, name: 'a\nb' }, ErrorCode.topologyInvalid],
      ['too many shards', { ...base, shards: Array.from({ length: MAX_SHARDS + 1 }, (_, i) => ({ id: `s${i}` })) }, ErrorCode.topologyInvalid],
    ];
    for (const [what, input, code] of invalid) {
      context(`when given ${what}`, () => {
        it(`throws ${code} with a one-line message`, () => {
          expect(codeOf(() => Topology.from(input))).to.equal(code);
        });
      });
    }
  });

  describe('.parse', () => {
    it('reads JSON and YAML of the same topology alike', () => {
      const json = Topology.parse(JSON.stringify(base));
      const yaml = Topology.parse(serializeTopology(json.toJSON(), 'yaml'));
      expect(yaml.toJSON()).to.deep.equal(json.toJSON());
    });

    it('honours an explicit format', () => {
      expect(codeOf(() => Topology.parse('shards: []', 'json'))).to.equal(ErrorCode.topologyParse);
    });

    it('validates what it parsed', () => {
      expect(codeOf(() => Topology.parse('shards:\n  - id: a\n    wieght: 2\n'))).to.equal(ErrorCode.topologyUnknownField);
    });
  });

  describe('#shard / #activeShards', () => {
    it('finds shards by id and leaves draining ones out of the active list', () => {
      const t = Topology.from(withShards({ id: 'a' }, { id: 'b', draining: true }));
      expect(t.shard('b')?.draining).to.equal(true);
      expect(t.shard('zz')).to.equal(undefined);
      expect(t.activeShards().map((s) => s.id)).to.deep.equal(['a']);
    });
  });

  describe('#with', () => {
    const t = Topology.from(base);
    const before = JSON.stringify(t.toJSON());

    afterEach(() => {
      expect(JSON.stringify(t.toJSON()), 'the original is never mutated').to.equal(before);
    });

    context('when adding a shard', () => {
      it('appends it with epoch + 1 and a frozen result', () => {
        const next = t.with({ kind: 'add', shard: { id: 's4', weight: 1.5, uri: 'mongodb://h4/app' } });
        expect(next.epoch).to.equal(4);
        expect(next.shards.map((s) => s.id)).to.deep.equal(['s1', 's2', 's3', 's4']);
        expect(next.shard('s4')).to.deep.equal({ id: 's4', weight: 1.5, uri: 'mongodb://h4/app' });
        expect(Object.isFrozen(next)).to.equal(true);
        expect(next).to.not.equal(t);
      });

      it('refuses an existing id', () => {
        expect(codeOf(() => t.with({ kind: 'add', shard: { id: 's2', weight: 1 } }))).to.equal(ErrorCode.topologyDuplicateShard);
      });

      it('refuses a bad id or weight', () => {
        expect(codeOf(() => t.with({ kind: 'add', shard: { id: 'bad id', weight: 1 } }))).to.equal(ErrorCode.topologyBadId);
        expect(codeOf(() => t.with({ kind: 'add', shard: { id: 's9', weight: -2 } }))).to.equal(ErrorCode.topologyBadWeight);
      });

      it('refuses tokens under hashed placement', () => {
        expect(codeOf(() => t.with({ kind: 'add', shard: { id: 's9', weight: 1, tokens: [5] } }))).to.equal(ErrorCode.topologyBadTokens);
      });
    });

    context('when removing a shard', () => {
      it('drops it with epoch + 1', () => {
        const next = t.with({ kind: 'remove', id: 's2' });
        expect(next.epoch).to.equal(4);
        expect(next.shards.map((s) => s.id)).to.deep.equal(['s1', 's3']);
      });

      it('refuses an unknown id', () => {
        expect(codeOf(() => t.with({ kind: 'remove', id: 'nope' }))).to.equal(ErrorCode.topologyUnknownShard);
      });

      it('refuses to remove the last shard', () => {
        const one = Topology.from({ shards: [{ id: 'only' }] });
        expect(codeOf(() => one.with({ kind: 'remove', id: 'only' }))).to.equal(ErrorCode.topologyNoShards);
      });

      it('refuses to leave only draining shards', () => {
        const two = Topology.from({ shards: [{ id: 'a' }, { id: 'b', draining: true }] });
        expect(codeOf(() => two.with({ kind: 'remove', id: 'a' }))).to.equal(ErrorCode.topologyNoShards);
      });
    });

    context('when reweighting a shard', () => {
      it('changes only its weight, keeping tokens', () => {
        const balanced = Topology.from({ placement: 'balanced', shards: [{ id: 'a', tokens: [10, 20] }, { id: 'b' }] });
        const next = balanced.with({ kind: 'reweight', id: 'a', weight: 3 });
        expect(next.epoch).to.equal(2);
        expect(next.shard('a')).to.deep.equal({ id: 'a', weight: 3, tokens: [10, 20] });
        expect(balanced.shard('a')?.weight).to.equal(1);
      });

      it('refuses a bad weight and an unknown id', () => {
        expect(codeOf(() => t.with({ kind: 'reweight', id: 's1', weight: 0 }))).to.equal(ErrorCode.topologyBadWeight);
        expect(codeOf(() => t.with({ kind: 'reweight', id: 's1', weight: Number.NaN }))).to.equal(ErrorCode.topologyBadWeight);
        expect(codeOf(() => t.with({ kind: 'reweight', id: 'nope', weight: 2 }))).to.equal(ErrorCode.topologyUnknownShard);
      });
    });

    context('when draining a shard', () => {
      it('marks it draining with epoch + 1', () => {
        const next = t.with({ kind: 'drain', id: 's3' });
        expect(next.epoch).to.equal(4);
        expect(next.shard('s3')?.draining).to.equal(true);
        expect(next.activeShards().map((s) => s.id)).to.deep.equal(['s1', 's2']);
      });

      it('refuses a shard already draining, the last active shard and an unknown id', () => {
        const drained = t.with({ kind: 'drain', id: 's3' });
        expect(codeOf(() => drained.with({ kind: 'drain', id: 's3' }))).to.equal(ErrorCode.topologyInvalid);
        const last = drained.with({ kind: 'drain', id: 's2' });
        expect(codeOf(() => last.with({ kind: 'drain', id: 's1' }))).to.equal(ErrorCode.topologyNoShards);
        expect(codeOf(() => t.with({ kind: 'drain', id: 'nope' }))).to.equal(ErrorCode.topologyUnknownShard);
      });
    });

    context('when the change is not one of the four kinds', () => {
      it('throws an invalid-argument error', () => {
        expect(() => t.with({ kind: 'split', id: 's1' } as unknown as TopologyChange)).to.throw(ShardkitInvalidArgumentError);
      });
    });

    context('when the epoch cannot grow', () => {
      it('throws shardkit.topology.badEpoch', () => {
        const top = Topology.from({ ...base, epoch: Number.MAX_SAFE_INTEGER });
        expect(codeOf(() => top.with({ kind: 'remove', id: 's1' }))).to.equal(ErrorCode.topologyBadEpoch);
      });
    });
  });

  describe('#withTokens', () => {
    const t = Topology.from({ placement: 'balanced', epoch: 5, shards: [{ id: 'a' }, { id: 'b', tokens: [3] }] });

    it('sets tokens and keeps the epoch', () => {
      const next = t.withTokens(new Map([['a', [1, 2]]]));
      expect(next.epoch).to.equal(5);
      expect(next.shard('a')?.tokens).to.deep.equal([1, 2]);
      expect(next.shard('b')?.tokens).to.deep.equal([3]);
      expect(t.shard('a')?.tokens).to.equal(undefined);
    });

    it('refuses an unknown shard and invalid tokens', () => {
      expect(codeOf(() => t.withTokens(new Map([['zz', [1]]])))).to.equal(ErrorCode.topologyUnknownShard);
      expect(codeOf(() => t.withTokens(new Map([['a', [3]]])))).to.equal(ErrorCode.topologyBadTokens);
    });
  });

  describe('#toJSON / #redacted', () => {
    const t = Topology.from(base);

    it('keeps the uri as given in toJSON and masks its password in redacted()', () => {
      expect(t.toJSON().shards[0]?.uri).to.equal('mongodb://admin:hunter2@127.0.0.1:27101/app');
      expect(t.redacted().shards[0]?.uri).to.equal('mongodb://admin:****@127.0.0.1:27101/app');
      expect(JSON.stringify(t.redacted())).to.not.include('hunter2');
    });

    it('serializes through JSON.stringify as the spec', () => {
      expect(JSON.parse(JSON.stringify(t))).to.deep.equal(t.toJSON());
    });

    it('round-trips any valid topology through JSON and YAML text', () => {
      const shard = fc.record(
        {
          id: fc.stringMatching(/^[A-Za-z0-9._:-]{1,12}$/),
          weight: fc.double({ min: 0.01, max: 100, noNaN: true }),
          db: fc.constantFrom('app', 'x_1'),
          draining: fc.constant(false),
        },
        { requiredKeys: ['id', 'weight'] },
      );
      const spec = fc.record({
        name: fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\0-\x1f]/.test(s)),
        epoch: fc.integer({ min: 1, max: 2 ** 40 }),
        hash: fc.constantFrom('xxhash32', 'ketama'),
        vnodes: fc.integer({ min: 1, max: 4096 }),
        placement: fc.constant('hashed'),
        shards: fc.uniqueArray(shard, { minLength: 1, maxLength: 6, selector: (s) => s.id }),
      });
      fc.assert(
        fc.property(spec, (input) => {
          const t1 = Topology.from(input);
          for (const format of ['json', 'yaml'] as const) {
            expect(Topology.parse(serializeTopology(t1.toJSON(), format), format).toJSON()).to.deep.equal(t1.toJSON());
          }
        }),
        { numRuns: 200 },
      );
    });
  });
});
