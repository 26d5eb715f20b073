import { expect } from 'chai';
import fc from 'fast-check';
import { ErrorCode, ShardkitInputError } from '../../../src/errors.js';
import { Topology } from '../../../src/topology/topology.js';
import { validateTopologySpec } from '../../../src/topology/validate.js';
import { leakOf, secretUri } from '../../support/secret-uris.js';

function withUri(uri: unknown): unknown {
  return { name: 'app', shards: [{ id: 's1', uri }, { id: 's2' }] };
}

function refusal(input: unknown): ShardkitInputError {
  try {
    validateTopologySpec(input);
  } catch (error) {
    expect(error).to.be.instanceOf(ShardkitInputError);
    return error as ShardkitInputError;
  }
  expect.fail('expected the topology to be refused');
}

describe('validate: shard URIs', () => {
  // Each of these was accepted before issue 8 and failed only when the shard was first reached.
  const refused: Array<[string, string, RegExp]> = [
    ['a port that is not a number', 'mongodb://db1:notaport/app', /shard s1: uri "mongodb:\/\/db1:notaport\/app" is not valid: host "db1:notaport"/],
    ['an unknown option', 'mongodb://db1:27017/app?retryWrite=true', /unknown option "retryWrite"/],
    ['an unescaped @ in the password', 'mongodb://app:sec@retpw@db1:27017/app', /uri "mongodb:\/\/app:\*\*\*\*@db1:27017\/app" is not valid: .*'@' after the user info/],
    ['an unescaped / in the password', 'mongodb://app:pa/ss@db1', /password contains a raw/],
  ];
  for (const [what, uri, message] of refused) {
    context(`when a shard uri has ${what}`, () => {
      it('refuses it with shardkit.topology.invalid, quoting it redacted', () => {
        const error = refusal(withUri(uri));
        expect(error.code).to.equal(ErrorCode.topologyInvalid);
        expect(error.message).to.match(message);
        expect(error.message).to.not.match(/retpw|pa\/ss|sec@/);
      });
    });
  }

  context('when a shard uri names its secret with an environment reference', () => {
    it('accepts it and keeps the reference, so the stored topology holds no secret', () => {
      const uri = 'mongodb://app:${SHARD1_PASSWORD}@10.0.0.1:27017/app';
      const t = Topology.from(withUri(uri));
      expect(t.toJSON().shards[0]?.uri).to.equal(uri);
      expect(t.redacted().shards[0]?.uri).to.equal(uri);
      expect(Topology.from(withUri('${SHARD1_URI}')).toJSON().shards[0]?.uri).to.equal('${SHARD1_URI}');
    });

    it('refuses a reference outside the user info', () => {
      expect(refusal(withUri('mongodb://${SHARD1_HOST}:27017/app')).code).to.equal(ErrorCode.topologyInvalid);
    });
  });

  it('accepts every escaped generated URI as written and never quotes a password when it refuses one', () => {
    fc.assert(
      fc.property(secretUri, (s) => {
        let spec;
        try {
          spec = validateTopologySpec(withUri(s.uri));
        } catch (error) {
          expect(s.written, 'an escaped URI is valid').to.equal('raw');
          expect(error).to.be.instanceOf(ShardkitInputError);
          expect((error as ShardkitInputError).code).to.equal(ErrorCode.topologyInvalid);
          expect(leakOf((error as Error).message, s.password), (error as Error).message).to.equal(undefined);
          return;
        }
        expect(spec.shards[0]?.uri).to.equal(s.uri);
      }),
      { numRuns: 300 },
    );
  });
});
