import { expect } from 'chai';
import { Int32, MongoNetworkError, MongoNetworkTimeoutError, MongoServerError } from 'mongodb';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import { classifyDriverError, wrapDriverError } from '../../../src/stores/driver-errors.js';
import { redactText } from '../../../src/redact.js';

/** Stands in for the driver's selection error, whose constructor needs a live topology description. */
class SelectionError extends Error {
  override get name(): string {
    return 'MongoServerSelectionError';
  }
}

describe('driver-errors', function () {
  describe('#classifyDriverError', function () {
    it('maps duplicate keys, timeouts, unreachable servers and the rest', function () {
      expect(classifyDriverError(new MongoServerError({ code: 11000, errmsg: 'E11000' }))).to.equal(ErrorCode.storeDuplicateKey);
      expect(classifyDriverError({ name: 'MongoBulkWriteError', writeErrors: [{ index: 0, code: 11000 }] })).to.equal(ErrorCode.storeDuplicateKey);
      expect(classifyDriverError({ writeErrors: [{ index: 0, code: 11000 }, { index: 1, code: 121 }] })).to.equal(ErrorCode.storeFailure);
      expect(classifyDriverError(new MongoServerError({ code: 50, errmsg: 'operation exceeded time limit' }))).to.equal(ErrorCode.storeTimeout);
      expect(classifyDriverError(new MongoNetworkTimeoutError('socket timed out'))).to.equal(ErrorCode.storeTimeout);
      expect(classifyDriverError(new SelectionError('no server'))).to.equal(ErrorCode.storeUnavailable);
      expect(classifyDriverError(new MongoNetworkError('connection reset'))).to.equal(ErrorCode.storeUnavailable);
      expect(classifyDriverError(new MongoServerError({ code: 91, errmsg: 'shutting down' }))).to.equal(ErrorCode.storeUnavailable);
      expect(classifyDriverError(new MongoServerError({ code: 2, errmsg: 'bad value' }))).to.equal(ErrorCode.storeFailure);
      expect(classifyDriverError(new Error('boom'))).to.equal(ErrorCode.storeFailure);
    });

    context('when the request was sent with exact types (promoteValues: false)', function () {
      it('classifies the unpromoted Int32 code of the error response as its number', function () {
        // What the driver throws for a findOneAndUpdate upsert meeting a fenced _id with EXACT_TYPES.
        expect(classifyDriverError(new MongoServerError({ code: new Int32(11000) as never, errmsg: 'E11000' }))).to.equal(ErrorCode.storeDuplicateKey);
        expect(classifyDriverError(new MongoServerError({ code: new Int32(50) as never, errmsg: 'operation exceeded time limit' }))).to.equal(ErrorCode.storeTimeout);
      });
    });
  });

  describe('#wrapDriverError', function () {
    it('names the shard and op, keeps the cause and never shows a password', function () {
      const cause = new SelectionError('connect failed for mongodb://admin:hunter2@db1:27017/app');
      const e = wrapDriverError('s9', 'find', cause);
      expect(e).to.be.instanceOf(ShardkitStoreError);
      expect(e.code).to.equal(ErrorCode.storeUnavailable);
      expect(e.shardId).to.equal('s9');
      expect(e.message).to.equal('shard s9: find failed: connect failed for mongodb://admin:****@db1:27017/app');
      expect(e.cause).to.equal(cause);
    });

    it('passes shardkit errors through', function () {
      const original = new ShardkitStoreError(ErrorCode.storeTimeout, 'x');
      expect(wrapDriverError('s1', 'get', original)).to.equal(original);
    });
  });

  describe('redactText, the one redactor the driver errors go through', function () {
    it('redacts every connection string password, srv included, and leaves others alone', function () {
      expect(redactText('a mongodb+srv://u:p@x.net/db and mongodb://v:q%40r@h:1/ ok')).to.equal('a mongodb+srv://u:****@x.net/db and mongodb://v:****@h:1/ ok');
      expect(redactText('mongodb://h:27017/db')).to.equal('mongodb://h:27017/db');
    });
  });
});
