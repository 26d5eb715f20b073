import { expect } from 'chai';
import { BSON, Double, Int32, Long } from 'mongodb';
import type { Document } from 'mongodb';
import { updateEffect } from '../../../src/stores/update-effect.js';

/** A document as `MongoStore` reads it with exact types: every number keeps its BSON wrapper. */
function exact(doc: Document): Document {
  return BSON.deserialize(BSON.serialize(doc), { promoteValues: false, promoteLongs: false });
}

function changed(update: Document, before: Document): boolean {
  const effect = updateEffect(update);
  expect(effect, 'decidable').to.be.a('function');
  return (effect as (doc: Document) => boolean)(exact(before));
}

describe('updateEffect', function () {
  const before = {
    ...{ _id: 'k', _h: 1, _v: 3, n: 5, d: new Double(5), s: 'x', tags: ['a'], sub: { a: 1, b: 'y' }, big: Long.fromNumber(7) },
    ...{ half: 5.5, zero: new Double(0), nan: Number.NaN, lone: '\uD800' },
  };

  context('when a $set writes the bytes already there', function () {
    it('decides no modification (MongoDB reports modifiedCount 0)', function () {
      expect(changed({ $set: { n: 5 } }, before)).to.equal(false);
      expect(changed({ $set: { s: 'x', tags: ['a'] } }, before)).to.equal(false);
      expect(changed({ $set: { sub: { a: 1, b: 'y' } } }, before)).to.equal(false);
      expect(changed({ $set: { 'sub.a': 1 } }, before)).to.equal(false);
      expect(changed({ $set: { d: new Double(5), big: Long.fromNumber(7) } }, before)).to.equal(false);
      expect(changed({ $set: { n: new Int32(5) } }, before)).to.equal(false);
      expect(changed({ $set: { half: 5.5, zero: new Double(0), nan: Number.NaN } }, before)).to.equal(false);
      // A lone surrogate is stored as U+FFFD, as another lone surrogate would be.
      expect(changed({ $set: { lone: '\uDBFF' } }, before)).to.equal(false);
    });
  });

  context('when a $set changes a value, its BSON type or a sub-document\'s field order', function () {
    it('decides a modification', function () {
      expect(changed({ $set: { n: 6 } }, before)).to.equal(true);
      // int32 5 over a double 5.0, and back: the bytes differ, so MongoDB counts a modification.
      expect(changed({ $set: { d: 5 } }, before)).to.equal(true);
      expect(changed({ $set: { n: new Double(5) } }, before)).to.equal(true);
      expect(changed({ $set: { big: 7 } }, before)).to.equal(true);
      expect(changed({ $set: { sub: { b: 'y', a: 1 } } }, before)).to.equal(true);
      expect(changed({ $set: { n: 5, s: 'z' } }, before)).to.equal(true);
      // -0 goes out as a double -0.0, whose bytes are not those of 0.0.
      expect(changed({ $set: { zero: -0 } }, before)).to.equal(true);
      expect(changed({ $set: { half: 5 } }, before)).to.equal(true);
    });

    it('decides a modification for a field or a sub-document that is not there yet', function () {
      expect(changed({ $set: { m: null } }, before)).to.equal(true);
      expect(changed({ $set: { 'sub.c': 1 } }, before)).to.equal(true);
      expect(changed({ $set: { 'new.a': 1 } }, before)).to.equal(true);
    });
  });

  context('when the update unsets, increments by 0 or only sets on insert', function () {
    it('decides by whether the field is there', function () {
      expect(changed({ $unset: { missing: '' } }, before)).to.equal(false);
      expect(changed({ $unset: { 'sub.missing': '' } }, before)).to.equal(false);
      expect(changed({ $unset: { s: '' } }, before)).to.equal(true);
      expect(changed({ $inc: { n: 0, d: 0, big: 0 } }, before)).to.equal(false);
      expect(changed({ $inc: { missing: 0 } }, before)).to.equal(true);
      expect(changed({ $set: { n: 5 }, $setOnInsert: { _h: 9 } }, before)).to.equal(false);
    });
  });

  context('when every match is a modification', function () {
    it("answers 'always'", function () {
      expect(updateEffect({ $inc: { n: 1 }, $setOnInsert: { _h: 1 } })).to.equal('always');
      expect(updateEffect({ $set: { n: 5 }, $push: { tags: 'b' } })).to.equal('always');
      expect(updateEffect({ $currentDate: { at: true } })).to.equal('always');
    });
  });

  context('when the document before cannot decide it', function () {
    it("answers 'unknown', before anything is sent", function () {
      expect(updateEffect([{ $set: { n: 1 } }])).to.equal('unknown');
      expect(updateEffect({ $addToSet: { tags: 'a' } })).to.equal('unknown');
      expect(updateEffect({ $set: { n: 5 }, $max: { n: 1 } })).to.equal('unknown');
      expect(updateEffect({ $set: { 'tags.0': 'a' } })).to.equal('unknown');
      expect(updateEffect({ $set: { 'tags.$[]': 'a' } })).to.equal('unknown');
      expect(updateEffect({ $unset: { 'tags.0': '' } })).to.equal('unknown');
      expect(updateEffect({ $inc: { n: -0 } })).to.equal('unknown');
      expect(updateEffect({ $inc: { n: Long.fromNumber(0) } })).to.equal('unknown');
      expect(updateEffect({ $set: { n: undefined } })).to.equal('unknown');
      expect(updateEffect({ $set: { sub: { a: [1, undefined] } } })).to.equal('unknown');
    });
  });
});
