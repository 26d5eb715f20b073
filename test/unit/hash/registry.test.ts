import { expect } from 'chai';
import fc from 'fast-check';
import { ObjectId } from 'mongodb';
import { ErrorCode, ShardkitInputError } from '../../../src/errors.js';
import { canonicalKeyBytes } from '../../../src/hash/key.js';
import { ketamaPointOfBytes } from '../../../src/hash/ketama.js';
import { HASH_NAMES, ringHash } from '../../../src/hash/registry.js';
import type { ShardKey } from '../../../src/hash/types.js';
import type { HashName } from '../../../src/hash/types.js';
import { xxhash32 } from '../../../src/hash/xxhash32.js';

const BY_BYTES: Record<HashName, (b: Uint8Array) => number> = {
  xxhash32: (b) => xxhash32(b),
  ketama: ketamaPointOfBytes,
};

const anyKey = (): fc.Arbitrary<ShardKey> =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: 60 }),
    fc.maxSafeInteger(),
    fc.bigInt(),
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ minLength: 12, maxLength: 12 }).map((b) => new ObjectId(b)),
  );

describe('hash/registry', function () {
  describe('#ringHash', function () {
    for (const name of HASH_NAMES) {
      context(`when the hash is ${name}`, function () {
        const hash = ringHash(name);

        it('is named after itself', function () {
          expect(hash.name).to.equal(name);
        });

        it('hashes every kind of key as its canonical bytes', function () {
          fc.assert(
            fc.property(anyKey(), (key) => {
              expect(hash.point(key)).to.equal(BY_BYTES[name](canonicalKeyBytes(key)));
            }),
            { numRuns: 1000 },
          );
        });

        it('gives pointOfString the same answer as point', function () {
          fc.assert(
            fc.property(fc.string({ unit: 'binary', maxLength: 60 }), (key) => {
              expect(hash.pointOfString(key)).to.equal(hash.point(key));
            }),
          );
        });

        it('routes 42, 42n and "42" alike', function () {
          expect(hash.point(42)).to.equal(hash.point('42'));
          expect(hash.point(42n)).to.equal(hash.point('42'));
        });

        it('rejects a key that is not a ShardKey', function () {
          for (const bad of [1.5, null, true, {}]) {
            expect(() => hash.point(bad as unknown as ShardKey))
              .to.throw(ShardkitInputError)
              .with.property('code', ErrorCode.keyInvalid);
          }
        });
      });
    }

    context('when the name is unknown', function () {
      it('throws shardkit.topology.unknownHash', function () {
        expect(() => ringHash('sha1' as HashName))
          .to.throw(ShardkitInputError)
          .with.property('code', ErrorCode.topologyUnknownHash);
      });
    });
  });
});
