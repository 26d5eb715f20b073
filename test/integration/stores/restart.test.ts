/**
 * A shard server goes down and comes back (scripts/test-servers.sh stop-one/start-one on a private
 * FerretDB, same port and data): the bare store reports it unreachable, the resilient store rides
 * it out by retrying, and the data survives.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import { ResilientStore } from '../../../src/stores/resilience.js';

const run = promisify(execFile);

describe('MongoStore across a shard restart', function () {
  this.timeout(120_000);
  const state = mkdtempSync(join(tmpdir(), 'shardkit-restart-'));
  const env = { ...process.env, SHARDKIT_STATE: state };
  const servers = (...args: string[]): Promise<{ stdout: string }> => run('bash', ['scripts/test-servers.sh', ...args], { env });
  let uri: string;

  before(async function () {
    await servers('start', '1');
    const line = readFileSync(join(state, 'env'), 'utf8').split('\n').find((l) => l.startsWith('SHARDKIT_MONGO_URIS='));
    uri = (line ?? '').slice('SHARDKIT_MONGO_URIS='.length);
    expect(uri).to.match(/^mongodb:\/\/127\.0\.0\.1:\d+\/$/);
  });

  after(async function () {
    await servers('stop').catch(() => undefined);
    rmSync(state, { recursive: true, force: true });
  });

  it('fails fast while the shard is down, and retried reads succeed once it is back', async function () {
    const bare = new MongoStore({ shardId: 'r0', uri, db: 'restart', collection: 'c', opTimeoutMs: 500 });
    const resilient = new ResilientStore(new MongoStore({ shardId: 'r0', uri, db: 'restart', collection: 'c', opTimeoutMs: 500 }), {
      opTimeoutMs: 3000,
      retries: 30,
      baseDelayMs: 100,
      maxDelayMs: 300,
      breaker: false,
    });
    try {
      await bare.insert({ _id: 'k', _h: 7, _v: 1, x: 1 });
      await servers('stop-one', '0');

      try {
        await bare.get('k');
        expect.fail('expected the shard to be unreachable');
      } catch (error) {
        expect(error).to.be.instanceOf(ShardkitStoreError);
        expect([ErrorCode.storeUnavailable, ErrorCode.storeTimeout]).to.include((error as ShardkitStoreError).code);
      }

      let retries = 0;
      const counting = new ResilientStore(resilient.inner, { opTimeoutMs: 3000, retries: 30, baseDelayMs: 100, maxDelayMs: 300, breaker: false, onRetry: () => retries++ });
      const read = counting.get('k');
      await new Promise((resolve) => setTimeout(resolve, 800));
      await servers('start-one', '0');
      const doc = await read;
      expect(doc).to.deep.equal({ _id: 'k', _h: 7, _v: 1, x: 1 });
      expect(retries).to.be.greaterThan(0);
    } finally {
      await bare.close();
      await resilient.close();
    }
  });
});
