import { expect } from 'chai';
import fc from 'fast-check';
import { ObjectId } from 'mongodb';
import { ErrorCode, ShardkitInputError } from '../../../src/errors.js';
import { assertShardKey, canonicalKeyBytes, keyAsHashString, keyToString } from '../../../src/hash/key.js';

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];

const INVALID: ReadonlyArray<[string, unknown]> = [
  ['null', null],
  ['undefined', undefined],
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['a fraction', 1.5],
  ['an unsafe integer', 2 ** 53],
  ['a boolean', true],
  ['a plain object', { a: 1 }],
  ['an array', [1, 2]],
  ['a symbol', Symbol('k')],
  ['a function', () => 1],
  ['an object whose toHexString is not a function', { toHexString: 'abc' }],
];

describe('hash/key', function () {
  describe('#canonicalKeyBytes', function () {
    context('when the key is a string', function () {
      it('returns its UTF-8 bytes', function () {
        expect([...canonicalKeyBytes('héllo €')]).to.deep.equal(utf8('héllo €'));
        expect([...canonicalKeyBytes('')]).to.deep.equal([]);
      });
    });

    context('when the key is a safe integer or a bigint', function () {
      it('returns the bytes of its decimal string, so 42, 42n and "42" route alike', function () {
        expect([...canonicalKeyBytes(42)]).to.deep.equal(utf8('42'));
        expect([...canonicalKeyBytes(42n)]).to.deep.equal(utf8('42'));
        expect([...canonicalKeyBytes(-7)]).to.deep.equal(utf8('-7'));
        expect([...canonicalKeyBytes(Number.MAX_SAFE_INTEGER)]).to.deep.equal(utf8(String(Number.MAX_SAFE_INTEGER)));
        expect([...canonicalKeyBytes(2n ** 70n)]).to.deep.equal(utf8((2n ** 70n).toString()));
      });

      it('maps -0 to "0"', function () {
        expect([...canonicalKeyBytes(-0)]).to.deep.equal(utf8('0'));
      });
    });

    context('when the key is bytes', function () {
      it('returns the bytes themselves (Uint8Array and Buffer)', function () {
        expect([...canonicalKeyBytes(new Uint8Array([1, 2, 255]))]).to.deep.equal([1, 2, 255]);
        expect([...canonicalKeyBytes(Buffer.from('ab'))]).to.deep.equal([97, 98]);
      });
    });

    context('when the key has toHexString (an ObjectId)', function () {
      it('returns the bytes of the lowercase hex string', function () {
        const id = new ObjectId('65A1B2C3D4E5F60718293A4B');
        expect([...canonicalKeyBytes(id)]).to.deep.equal(utf8('65a1b2c3d4e5f60718293a4b'));
        expect([...canonicalKeyBytes({ toHexString: () => 'ABC' })]).to.deep.equal(utf8('abc'));
      });

      it('rejects a toHexString that returns a non-string', function () {
        expect(() => canonicalKeyBytes({ toHexString: () => 42 })).to.throw(ShardkitInputError);
      });
    });

    for (const [what, key] of INVALID) {
      context(`when the key is ${what}`, function () {
        it('throws ShardkitInputError shardkit.key.invalid', function () {
          expect(() => canonicalKeyBytes(key))
            .to.throw(ShardkitInputError)
            .with.property('code', ErrorCode.keyInvalid);
          expect(() => assertShardKey(key)).to.throw(ShardkitInputError).with.property('code', ErrorCode.keyInvalid);
          expect(() => keyToString(key)).to.throw(ShardkitInputError);
        });
      });
    }

    it('agrees with keyAsHashString for every key that has a string form', function () {
      fc.assert(
        fc.property(
          fc.oneof(fc.string({ unit: 'grapheme' }), fc.maxSafeInteger(), fc.bigInt()),
          (key) => {
            const s = keyAsHashString(key);
            expect(s).to.be.a('string');
            expect([...canonicalKeyBytes(key)]).to.deep.equal(utf8(s!));
          },
        ),
      );
    });
  });

  describe('#assertShardKey', function () {
    it('accepts every kind of ShardKey', function () {
      for (const key of ['k', 0, 12n, new Uint8Array(2), new ObjectId()]) expect(() => assertShardKey(key)).not.to.throw();
    });
  });

  describe('#keyAsHashString', function () {
    it('returns undefined for bytes, whose UTF-8 reading need not round-trip', function () {
      expect(keyAsHashString(new Uint8Array([0xff]))).to.equal(undefined);
    });

    it('returns the lowercase hex of an ObjectId', function () {
      expect(keyAsHashString(new ObjectId('65A1B2C3D4E5F60718293A4B'))).to.equal('65a1b2c3d4e5f60718293a4b');
    });
  });

  describe('#keyToString', function () {
    it('prints each kind of key distinctly', function () {
      expect(keyToString('user:1')).to.equal('user:1');
      expect(keyToString(42)).to.equal('42');
      expect(keyToString(42n)).to.equal('42n');
      expect(keyToString(new Uint8Array([0, 15, 255]))).to.equal('0x000fff');
      expect(keyToString(new ObjectId('65a1b2c3d4e5f60718293a4b'))).to.equal('ObjectId(65a1b2c3d4e5f60718293a4b)');
    });
  });
});
