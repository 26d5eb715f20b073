import { expect } from 'chai';
import fc from 'fast-check';
import xxhashWasm from 'xxhash-wasm';
import { xxh32 as nodeRsXxh32 } from '@node-rs/xxhash';
import { xxhash32, xxhash32String } from '../../../src/hash/xxhash32.js';

const enc = new TextEncoder();

// Published XXH32 vectors (xxHash's reference and its widely quoted test values).
const VECTORS: ReadonlyArray<[string, number, number]> = [
  ['', 0, 0x02cc5d05],
  ['a', 0, 0x550d7456],
  ['abc', 0, 0x32d153ff],
  ['Nobody inspects the spammish repetition', 0, 0xe2293b2f],
  ['', 1, 0x0b2cb792],
];

describe('hash/xxhash32', function () {
  let oracle: (bytes: Uint8Array, seed: number) => number;

  before(async function () {
    const wasm = await xxhashWasm();
    oracle = (bytes, seed) => wasm.h32Raw(bytes, seed);
  });

  describe('#xxhash32', function () {
    for (const [input, seed, want] of VECTORS) {
      it(`hashes ${JSON.stringify(input)} with seed ${seed} to 0x${want.toString(16)}`, function () {
        expect(xxhash32(enc.encode(input), seed)).to.equal(want);
        expect(xxhash32String(input, seed)).to.equal(want);
      });
    }

    it('matches xxhash-wasm on random bytes of every length around the 4- and 16-byte strides', function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 100 }), fc.nat({ max: 0xffffffff }), (bytes, seed) => {
          expect(xxhash32(bytes, seed)).to.equal(oracle(bytes, seed));
        }),
        { numRuns: 3000 },
      );
    });

    it('matches @node-rs/xxhash (a second, native implementation)', function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          expect(xxhash32(bytes)).to.equal(nodeRsXxh32(Buffer.from(bytes), 0));
        }),
        { numRuns: 500 },
      );
    });

    it('returns a uint32', function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
          const h = xxhash32(bytes);
          expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).to.equal(true);
        }),
      );
    });
  });

  describe('#xxhash32String', function () {
    it('equals xxhash32 of the UTF-8 bytes for any string, incl. non-ASCII and lone surrogates', function () {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 80 }), fc.nat({ max: 0xffffffff }), (s, seed) => {
          expect(xxhash32String(s, seed)).to.equal(oracle(enc.encode(s), seed));
        }),
        { numRuns: 3000 },
      );
    });

    it('equals the oracle on ASCII keys of every length 0..80', function () {
      for (let n = 0; n <= 80; n++) {
        const s = 'k'.repeat(n).replace(/k/g, (_m, i: number) => String.fromCharCode(33 + ((i * 7) % 90)));
        expect(xxhash32String(s), `length ${n}`).to.equal(oracle(enc.encode(s), 0));
      }
    });

    it('handles a non-ASCII character in the last position after an ASCII stripe', function () {
      const s = `${'a'.repeat(17)}é`;
      expect(xxhash32String(s)).to.equal(oracle(enc.encode(s), 0));
    });

    it('handles keys longer than the reused scratch buffer', function () {
      const s = 'ü'.repeat(5000);
      expect(xxhash32String(s)).to.equal(oracle(enc.encode(s), 0));
      expect(xxhash32String('ü')).to.equal(oracle(enc.encode('ü'), 0));
    });
  });
});
