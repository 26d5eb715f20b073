/**
 * Issue 8: error messages and metrics text never hold a password. Driver errors quote connection
 * strings; before the one redactor, `wrapDriverError` printed `mongodb://app:pa/ss@db1` whole and cut
 * `p@ss` at its first `@`.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { MongoNetworkError } from 'mongodb';
import { ErrorCode, ShardkitConflictError, ShardkitError, ShardkitInputError, ShardkitStoreError } from '../../../src/errors.js';
import { StoreMetrics } from '../../../src/metrics/store-metrics.js';
import { wrapDriverError } from '../../../src/stores/driver-errors.js';
import { wrapStore } from '../../../src/stores/instrumented-store.js';
import { MemoryStore } from '../../../src/stores/memory-store.js';
import { hooked } from '../../support/hooked-store.js';
import { leakOf, secretUri } from '../../support/secret-uris.js';

describe('secrets in errors and metrics', function () {
  describe('wrapDriverError', function () {
    const cases: Array<[string, string]> = [
      ['mongodb://app:pa/ss@db1', 'shard s1: find failed: connect mongodb://app:****@db1 refused'],
      ['mongodb://app:p@ss@db1', 'shard s1: find failed: connect mongodb://app:****@db1 refused'],
    ];
    for (const [uri, expected] of cases) {
      it(`masks the whole password of ${uri}`, function () {
        expect(wrapDriverError('s1', 'find', new MongoNetworkError(`connect ${uri} refused`)).message).to.equal(expected);
      });
    }

    it('never lets a generated password through', function () {
      fc.assert(
        fc.property(secretUri, (s) => {
          const error = wrapDriverError('s1', 'find', new MongoNetworkError(`connection to ${s.uri} closed`));
          expect(error.code).to.equal(ErrorCode.storeUnavailable);
          expect(leakOf(error.message, s.password), error.message).to.equal(undefined);
          expect(leakOf(String(error.stack), s.password)).to.equal(undefined);
        }),
        { numRuns: 300 },
      );
    });
  });

  describe('ShardkitError', function () {
    it('redacts its message on construction, in every subclass, stack included', function () {
      fc.assert(
        fc.property(secretUri, fc.constantFrom(ShardkitError, ShardkitInputError, ShardkitConflictError, ShardkitStoreError), (s, Kind) => {
          const error = new Kind(ErrorCode.storeFailure, `cannot reach ${s.uri}:\n  retrying ${s.uri}`);
          expect(error.message).to.equal(`cannot reach ${s.redacted}:\n  retrying ${s.redacted}`);
          expect(leakOf(String(error.stack), s.password)).to.equal(undefined);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('metrics text', function () {
    it('never holds a password, whatever the failed calls said', async function () {
      await fc.assert(
        fc.asyncProperty(secretUri, async (s) => {
          const metrics = new StoreMetrics();
          const failing = hooked(new MemoryStore('s1'), {
            before: () => {
              throw wrapDriverError('s1', 'get', new MongoNetworkError(`connect ${s.uri} failed`));
            },
          });
          const store = wrapStore(failing, { metrics, resilience: { opTimeoutMs: 0, retries: 1, baseDelayMs: 0, breaker: false } });
          const error = await store.get('a').then(
            () => expect.fail('the call should fail'),
            (e: unknown) => e as Error,
          );
          expect(leakOf(error.message, s.password)).to.equal(undefined);
          const text = await metrics.registry.metrics();
          expect(text).to.include(`code="${ErrorCode.storeUnavailable}"`);
          expect(leakOf(text, s.password), text).to.equal(undefined);
          expect(leakOf(JSON.stringify(await metrics.signals()), s.password)).to.equal(undefined);
        }),
        { numRuns: 100 },
      );
    });
  });
});
