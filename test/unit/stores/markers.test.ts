import { expect } from 'chai';
import { Query } from 'mingo';
import { hasData, isFence, isFenced, isLive, isPlaceholder, isTombstone } from '../../../src/stores/markers.js';
import type { StoredDocument } from '../../../src/stores/shard-store.js';
import { LIVE, UNFENCED } from '../../../src/stores/store-filters.js';

describe('markers', function () {
  // Every entry a shard can hold, and what each predicate says of it.
  const cases: ReadonlyArray<{ name: string; doc: StoredDocument; is: Record<string, boolean> }> = [
    { name: 'live document', doc: { _id: 'k', _h: 1, _v: 1, a: 1 }, is: { live: true, fenced: false, placeholder: false, tombstone: false, fence: false, data: true } },
    { name: 'fenced document', doc: { _id: 'k', _h: 1, _v: 1, a: 1, _moved: 2 }, is: { live: false, fenced: true, placeholder: false, tombstone: false, fence: true, data: true } },
    { name: 'placeholder', doc: { _id: 'k', _h: 1, _v: 0, _moved: 2, _ph: true }, is: { live: false, fenced: true, placeholder: true, tombstone: false, fence: true, data: false } },
    { name: 'tombstone', doc: { _id: 'k', _h: 1, _v: 2, _ts: true }, is: { live: false, fenced: false, placeholder: false, tombstone: true, fence: false, data: false } },
    { name: 'fenced tombstone', doc: { _id: 'k', _h: 1, _v: 2, _ts: true, _moved: 3 }, is: { live: false, fenced: true, placeholder: false, tombstone: true, fence: true, data: false } },
  ];

  for (const { name, doc, is } of cases) {
    context(`when the entry is a ${name}`, function () {
      it('is classified as the stores and the server filters see it', function () {
        expect({
          live: isLive(doc),
          fenced: isFenced(doc),
          placeholder: isPlaceholder(doc),
          tombstone: isTombstone(doc),
          fence: isFence(doc),
          data: hasData(doc),
        }).to.deep.equal(is);
      });

      it('agrees with the query filters MongoStore sends', function () {
        expect(new Query(LIVE).test(doc)).to.equal(isLive(doc));
        expect(new Query(UNFENCED).test(doc)).to.equal(!isFenced(doc));
      });
    });
  }
});
