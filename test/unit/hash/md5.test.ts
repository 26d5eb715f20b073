import { expect } from 'chai';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { md5, md5FirstWord, md5Words } from '../../../src/hash/md5.js';

const nodeMd5 = (input: string | Uint8Array): Buffer => createHash('md5').update(input).digest();
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('hash/md5', function () {
  describe('#md5', function () {
    it('matches the RFC 1321 test suite', function () {
      const suite: Array<[string, string]> = [
        ['', 'd41d8cd98f00b204e9800998ecf8427e'],
        ['a', '0cc175b9c0f1b6a831c399e269772661'],
        ['abc', '900150983cd24fb0d6963f7d28e17f72'],
        ['message digest', 'f96b697d7cb7938d525a2f31aaf161d0'],
        ['abcdefghijklmnopqrstuvwxyz', 'c3fcd3d76192e4007dfb496cca67e13b'],
        ['12345678901234567890123456789012345678901234567890123456789012345678901234567890', '57edf4a22be3c955ac49da2e2107b67a'],
      ];
      for (const [input, want] of suite) expect(hex(md5(input)), input).to.equal(want);
    });

    it('matches node:crypto on random strings incl. non-ASCII and multi-block inputs', function () {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
          expect(hex(md5(s))).to.equal(nodeMd5(s).toString('hex'));
        }),
        { numRuns: 3000 },
      );
    });

    it('matches node:crypto on random bytes', function () {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
          expect(hex(md5(bytes))).to.equal(nodeMd5(bytes).toString('hex'));
        }),
        { numRuns: 2000 },
      );
    });

    it('is right at every length across the one-block limit (55/56 bytes) and beyond', function () {
      for (let n = 0; n <= 200; n++) {
        const s = 'x'.repeat(n);
        expect(hex(md5(s)), `length ${n}`).to.equal(nodeMd5(s).toString('hex'));
        const u = 'é'.repeat(n);
        expect(hex(md5(u)), `non-ASCII length ${n}`).to.equal(nodeMd5(u).toString('hex'));
      }
    });

    it('survives an input far larger than its reused buffer, then a short one', function () {
      const big = 'q'.repeat(100_000);
      expect(hex(md5(big))).to.equal(nodeMd5(big).toString('hex'));
      expect(hex(md5('q'))).to.equal(nodeMd5('q').toString('hex'));
    });
  });

  describe('#md5Words', function () {
    it('returns the four little-endian digest words', function () {
      const d = nodeMd5('server-1');
      const words = md5Words('server-1', new Uint32Array(4));
      expect([...words]).to.deep.equal([0, 1, 2, 3].map((j) => d.readUInt32LE(j * 4)));
    });
  });

  describe('#md5FirstWord', function () {
    it('is the first four digest bytes read little-endian', function () {
      fc.assert(
        fc.property(fc.string({ maxLength: 60 }), (s) => {
          expect(md5FirstWord(s)).to.equal(nodeMd5(s).readUInt32LE(0));
        }),
        { numRuns: 2000 },
      );
    });
  });
});
