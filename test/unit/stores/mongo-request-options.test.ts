/**
 * What one `MongoStore` request carries of the application's driver options, by the request's role:
 * the application's reads and writes take them, the migration protocol's markers never get a weaker
 * write concern than the store's own, and a write's own decision reads take none but the comment.
 */
import { expect } from 'chai';
import { ReadConcern, ReadPreference, WriteConcern } from 'mongodb';
import { systemClock } from '../../../src/clock.js';
import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import { withDeadline } from '../../../src/stores/deadline.js';
import { withDriverOptions, type DriverCallOptions } from '../../../src/stores/driver-options.js';
import { requestOptions, strongerWriteConcern } from '../../../src/stores/mongo-request-options.js';

const wc = (o: object): WriteConcern => WriteConcern.fromOptions({ writeConcern: o }) as WriteConcern;
const read: DriverCallOptions = { kind: 'read', readPreference: ReadPreference.fromOptions({ readPreference: 'secondaryPreferred' }) as ReadPreference, readConcern: new ReadConcern('majority'), comment: 'r1' };
const write: DriverCallOptions = { kind: 'write', writeConcern: wc({ w: 1 }), comment: 'w1' };

describe('requestOptions', () => {
  it('adds nothing but maxTimeMS outside an application call (the migrator, admin calls)', () => {
    expect(requestOptions('s1', 500, 'read', undefined, { projection: { _id: 1 } })).to.deep.equal({ projection: { _id: 1 }, maxTimeMS: 500 });
    expect(requestOptions('s1', 500, 'marker', wc({ w: 'majority' }))).to.deep.equal({ maxTimeMS: 500 });
  });

  it("gives an application read its read preference, read concern and comment", async () => {
    const got = await withDriverOptions(read, async () => requestOptions('s1', 500, 'read', undefined));
    expect(got.comment).to.equal('r1');
    expect((got as { readPreference?: ReadPreference }).readPreference?.mode).to.equal('secondaryPreferred');
    expect((got as { readConcern?: ReadConcern }).readConcern?.level).to.equal('majority');
  });

  it('never sends a read a write makes to decide to a secondary, only the comment', async () => {
    const got = await withDriverOptions(read, async () => requestOptions('s1', 500, 'internal', undefined));
    expect(got).to.deep.equal({ comment: 'r1', maxTimeMS: 500 });
  });

  it("gives the application's write its own write concern, as the driver's per-operation override", async () => {
    const got = await withDriverOptions(write, async () => requestOptions('s1', 500, 'write', wc({ w: 'majority' })));
    expect((got as { writeConcern?: WriteConcern }).writeConcern?.w).to.equal(1);
    expect(got.comment).to.equal('w1');
  });

  it('never lets an application weaken a protocol marker below the store write concern', async () => {
    const got = await withDriverOptions(write, async () => requestOptions('s1', 500, 'marker', wc({ w: 'majority', journal: true })));
    const concern = (got as { writeConcern?: WriteConcern }).writeConcern;
    expect(concern?.w).to.equal('majority');
    expect(concern?.journal).to.equal(true);
  });

  it('a read call carries no write concern to a write and a write call no read preference to a read', async () => {
    expect(await withDriverOptions(read, async () => requestOptions('s1', 500, 'write', undefined))).to.deep.equal({ comment: 'r1', maxTimeMS: 500 });
    expect(await withDriverOptions(write, async () => requestOptions('s1', 500, 'read', undefined))).to.deep.equal({ comment: 'w1', maxTimeMS: 500 });
  });

  it('sends the time left of the call as maxTimeMS, and nothing once it passed', async () => {
    const got = await withDeadline({ at: systemClock.now() + 200, clock: systemClock }, async () => requestOptions('s1', 10_000, 'read', undefined));
    expect(got.maxTimeMS).to.be.within(1, 200);
    try {
      await withDeadline({ at: systemClock.now() - 1, clock: systemClock }, async () => requestOptions('s1', 10_000, 'read', undefined));
      expect.fail('expected a timeout');
    } catch (error) {
      expect(hasErrorCode(error, ErrorCode.storeTimeout), String(error)).to.equal(true);
    }
  });
});

describe('strongerWriteConcern', () => {
  it("takes the application's when the store has none of its own (the server default, one member)", () => {
    expect(strongerWriteConcern(undefined, wc({ w: 2 })).w).to.equal(2);
  });

  it('takes the larger member count, majority over one, and a journal when either asks', () => {
    expect(strongerWriteConcern(wc({ w: 2 }), wc({ w: 1 })).w).to.equal(2);
    expect(strongerWriteConcern(wc({ w: 1 }), wc({ w: 3 })).w).to.equal(3);
    expect(strongerWriteConcern(wc({ w: 1 }), wc({ w: 'majority' })).w).to.equal('majority');
    expect(strongerWriteConcern(wc({ w: 'majority' }), wc({ w: 1 })).w).to.equal('majority');
    expect(strongerWriteConcern(wc({ w: 1 }), wc({ w: 1, journal: true })).journal).to.equal(true);
  });

  it("keeps the store's w where the two cannot be ordered, and its own wtimeoutMS", () => {
    expect(strongerWriteConcern(wc({ w: 2 }), wc({ w: 'majority' })).w).to.equal(2);
    const both = strongerWriteConcern(wc({ w: 2, wtimeoutMS: 700 }), wc({ w: 3, wtimeoutMS: 50 }));
    expect([both.w, both.wtimeoutMS]).to.deep.equal([3, 700]);
  });
});
