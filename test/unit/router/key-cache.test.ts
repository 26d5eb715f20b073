import { expect } from 'chai';
import fc from 'fast-check';
import { ShardkitInvalidArgumentError } from '../../../src/errors.js';
import { KeyCache, MAX_KEY_CACHE_SIZE } from '../../../src/router/key-cache.js';

describe('router/KeyCache', function () {
  describe('constructor', function () {
    for (const bad of [0, -1, 1.5, Number.NaN, MAX_KEY_CACHE_SIZE + 1]) {
      context(`when the capacity is ${bad}`, function () {
        it('throws shardkit.invalidArgument', function () {
          expect(() => new KeyCache(bad)).to.throw(ShardkitInvalidArgumentError);
        });
      });
    }
  });

  describe('#capacity', function () {
    it('is the capacity it was built with', function () {
      expect(new KeyCache(7).capacity).to.equal(7);
    });
  });

  describe('#get', function () {
    it('returns what was set, for any string key incl. Object.prototype names', function () {
      const cache = new KeyCache(10);
      const keys = ['__proto__', 'constructor', 'toString', '', 'k'];
      keys.forEach((k, i) => cache.set(k, i));
      keys.forEach((k, i) => expect(cache.get(k)).to.equal(i));
      expect(cache.get('hasOwnProperty')).to.equal(undefined);
    });
  });

  describe('#set', function () {
    it('replaces the value of a key already present without growing', function () {
      const cache = new KeyCache(2);
      cache.set('a', 1);
      cache.set('a', 2);
      expect(cache.get('a')).to.equal(2);
      expect(cache.size).to.equal(1);
    });

    context('when full', function () {
      it('evicts an entry that was not read since it was passed, and keeps the ones that were', function () {
        const cache = new KeyCache(3);
        cache.set('a', 1);
        cache.set('b', 2);
        cache.set('c', 3);
        cache.get('a');
        cache.get('c');
        cache.set('d', 4);
        expect(cache.get('b')).to.equal(undefined);
        expect([cache.get('a'), cache.get('c'), cache.get('d')]).to.deep.equal([1, 3, 4]);
      });

      it('evicts something even when every entry is referenced', function () {
        const cache = new KeyCache(3);
        for (const k of ['a', 'b', 'c']) cache.set(k, 0);
        for (const k of ['a', 'b', 'c']) cache.get(k);
        cache.set('d', 1);
        expect(cache.size).to.equal(3);
        expect(cache.get('d')).to.equal(1);
      });
    });

    it('never exceeds its capacity and never returns a value other than the last one set', function () {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 8 }),
          fc.array(fc.tuple(fc.boolean(), fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', '__proto__'), fc.nat(0xffff)), {
            maxLength: 200,
          }),
          (capacity, ops) => {
            const cache = new KeyCache(capacity);
            const last = new Map<string, number>();
            for (const [isSet, key, value] of ops) {
              if (isSet) {
                cache.set(key, value);
                last.set(key, value);
              } else {
                const got = cache.get(key);
                if (got !== undefined) expect(got).to.equal(last.get(key));
              }
              expect(cache.size).to.be.at.most(capacity);
            }
          },
        ),
      );
    });

    it('keeps a frequently read key through a long run of one-off inserts', function () {
      const cache = new KeyCache(4);
      cache.set('hot', 7);
      for (let i = 0; i < 1000; i++) {
        cache.get('hot');
        cache.set(`cold${i}`, 1);
      }
      expect(cache.get('hot')).to.equal(7);
    });
  });

  describe('#clear', function () {
    it('drops every entry and starts over', function () {
      const cache = new KeyCache(2);
      cache.set('a', 1);
      cache.set('b', 2);
      cache.clear();
      expect(cache.size).to.equal(0);
      expect(cache.get('a')).to.equal(undefined);
      cache.set('c', 3);
      cache.set('d', 4);
      expect([cache.get('c'), cache.get('d'), cache.size]).to.deep.equal([3, 4, 2]);
    });
  });
});
