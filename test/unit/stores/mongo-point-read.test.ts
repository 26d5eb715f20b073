/**
 * `pointRead` (MongoStore.get's one `find` command): the driver's retryable read kept, once, for the
 * errors the driver retries, within the call's deadline; never for other errors or when the client
 * does not retry reads.
 */
import { expect } from 'chai';
import { MongoNetworkError, MongoServerError, type Collection, type Document } from 'mongodb';
import { systemClock } from '../../../src/clock.js';
import { pointRead } from '../../../src/stores/mongo-point-read.js';
import { RequestScope } from '../../../src/stores/mongo-request-options.js';
import type { Clock } from '../../../src/clock.js';

async function rejection(work: Promise<unknown>): Promise<Error> {
  return work.then(
    () => {
      throw new Error('resolved');
    },
    (error: unknown) => error as Error,
  );
}

function fakeCollection(answers: Array<Error | Document>): { col: Collection; sent: Document[] } {
  const sent: Document[] = [];
  const db = {
    command: async (command: Document) => {
      sent.push({ ...command });
      const next = answers.shift();
      if (next instanceof Error) throw next;
      return next;
    },
  };
  const col = { collectionName: 'c', db, readConcern: undefined, readPreference: undefined } as unknown as Collection;
  return { col, sent };
}

function scope(ms = 1000): RequestScope {
  return new RequestScope('s1', 5000, { at: systemClock.now() + ms, clock: systemClock }, undefined, undefined);
}

const found = { cursor: { firstBatch: [{ _id: 'k', _h: 1, _v: 1 }] }, ok: 1 };

describe('pointRead', function () {
  it('answers the first document of the batch, or null', async function () {
    expect(await pointRead(fakeCollection([found]).col, scope(), 'k', true)).to.deep.equal({ _id: 'k', _h: 1, _v: 1 });
    expect(await pointRead(fakeCollection([{ cursor: { firstBatch: [] }, ok: 1 }]).col, scope(), 'k', true)).to.equal(null);
  });

  it('retries once after a network error or a retryable server code, as the driver does', async function () {
    for (const error of [new MongoNetworkError('reset'), new MongoServerError({ code: 10107, errmsg: 'not primary' })]) {
      const { col, sent } = fakeCollection([error, found]);
      expect(await pointRead(col, scope(), 'k', true)).to.deep.equal({ _id: 'k', _h: 1, _v: 1 });
      expect(sent).to.have.length(2);
      expect(sent[1]?.['maxTimeMS']).to.be.at.most(sent[0]?.['maxTimeMS'] as number);
    }
  });

  it('does not retry other errors, a second failure, or when the client does not retry reads', async function () {
    const other = fakeCollection([new MongoServerError({ code: 2, errmsg: 'bad value' }), found]);
    expect(await rejection(pointRead(other.col, scope(), 'k', true))).to.have.property('code', 2);
    expect(other.sent).to.have.length(1);
    const twice = fakeCollection([new MongoNetworkError('reset'), new MongoNetworkError('again'), found]);
    expect((await rejection(pointRead(twice.col, scope(), 'k', true))).message).to.equal('again');
    expect(twice.sent).to.have.length(2);
    const off = fakeCollection([new MongoNetworkError('reset'), found]);
    expect(await rejection(pointRead(off.col, scope(), 'k', false))).to.be.instanceOf(MongoNetworkError);
    expect(off.sent).to.have.length(1);
  });

  it('does not retry past the call deadline', async function () {
    // The first attempt fails when less than a millisecond of the call is left.
    let now = 0;
    const clock = { now: () => now } as unknown as Clock;
    const { col, sent } = fakeCollection([new MongoNetworkError('reset'), found]);
    const original = col.db.command.bind(col.db);
    (col.db as unknown as { command: typeof original }).command = async (...args) => {
      now = 999.5;
      return original(...args);
    };
    const call = new RequestScope('s1', 5000, { at: 1000, clock }, undefined, undefined);
    expect(await rejection(pointRead(col, call, 'k', true))).to.be.instanceOf(MongoNetworkError);
    expect(sent).to.have.length(1);
  });
});
