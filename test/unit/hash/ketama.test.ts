import { expect } from 'chai';
import fc from 'fast-check';
import HashRing from 'hashring';
import { ketamaPoint, ketamaPointOfBytes } from '../../../src/hash/ketama.js';

describe('hash/ketama', function () {
  describe('#ketamaPoint', function () {
    it("equals hashring 3.2.0's hashValue for any string key", function () {
      // hashValue is hashring's own key -> point function; its typings mark it private.
      const ring = new HashRing(['127.0.0.1:11211']) as unknown as { hashValue(key: string): number };
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 80 }), (key) => {
          expect(ketamaPoint(key)).to.equal(ring.hashValue(key));
        }),
        { numRuns: 3000 },
      );
    });
  });

  describe('#ketamaPointOfBytes', function () {
    it('equals ketamaPoint of the same UTF-8 bytes', function () {
      fc.assert(
        fc.property(fc.string({ maxLength: 80 }), (key) => {
          expect(ketamaPointOfBytes(new TextEncoder().encode(key))).to.equal(ketamaPoint(key));
        }),
      );
    });
  });
});
