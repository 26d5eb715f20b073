/**
 * One deadline per shard call on a real server (a private FerretDB): a call whose deadline passes
 * while it waits for the pool's only connection fails with `shardkit.store.timeout` and never reaches
 * the shard later, and the server enforces the `maxTimeMS` every request carries.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { MongoClient } from 'mongodb';
import { systemClock } from '../../../src/clock.js';
import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import { deadlineIn, withDeadline } from '../../../src/stores/deadline.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import { ResilientStore } from '../../../src/stores/resilience.js';
import { stopProcess } from '../../support/stop-process.js';

const run = promisify(execFile);

describe('MongoStore deadlines on FerretDB', function () {
  this.timeout(120_000);
  const state = mkdtempSync(join(tmpdir(), 'shardkit-deadline-'));
  const env = { ...process.env, SHARDKIT_STATE: state };
  let uri: string;
  let pid: number;

  before(async function () {
    await run('bash', ['scripts/test-servers.sh', 'start', '1'], { env });
    const line = readFileSync(join(state, 'env'), 'utf8').split('\n').find((l) => l.startsWith('SHARDKIT_MONGO_URIS='));
    uri = (line ?? '').slice('SHARDKIT_MONGO_URIS='.length);
    pid = Number(readFileSync(join(state, 'shard0', 'pid'), 'utf8').trim());
    expect(uri).to.match(/^mongodb:\/\/127\.0\.0\.1:\d+\/$/);
    expect(pid).to.be.greaterThan(0);
  });

  after(async function () {
    await run('bash', ['scripts/test-servers.sh', 'stop'], { env }).catch(() => undefined);
    rmSync(state, { recursive: true, force: true });
  });

  // Regression (issue 8): the client had no bound on the pool's queue and ResilientStore only stopped
  // waiting, so this insert sat in the queue, and reached the shard once the connection came free,
  // long after its caller was told it timed out (and after any migrator wait for stragglers).
  it('a call whose deadline passes in the pool queue fails with shardkit.store.timeout and never lands', async function () {
    const client = new MongoClient(uri, { maxPoolSize: 1 });
    const store = new MongoStore({ shardId: 'd0', client, db: 'deadline', collection: 'c', opTimeoutMs: 8000 });
    const caller = new ResilientStore(store, { opTimeoutMs: 400, retries: 0, breaker: false });
    try {
      await store.ping(); // the pool's one connection now exists
      let holder: Promise<unknown> = Promise.resolve();
      let outcome: unknown;
      let waitedMs = 0;
      try {
        // Frozen before the read below is sent: `kill` alone returns while the server may still run.
        await stopProcess(pid);
        // A read sent to the frozen shard holds the only connection (waited for: on a loaded machine
        // the insert could otherwise take the connection first and be sent before its deadline).
        const checkedOut = once(client, 'connectionCheckedOut');
        holder = store.get('anything').catch((error: unknown) => error);
        await checkedOut;
        await sleep(50);
        const started = performance.now();
        outcome = await caller.insert({ _id: 'late', _h: 1, _v: 1 }).then(
          () => 'applied',
          (error: unknown) => error,
        );
        waitedMs = performance.now() - started;
      } finally {
        process.kill(pid, 'SIGCONT');
      }
      expect(hasErrorCode(outcome, ErrorCode.storeTimeout), String(outcome)).to.equal(true);
      expect(waitedMs).to.be.below(4000);
      // The shard is back and the connection free again: the insert must not come out of the queue now.
      await holder;
      await sleep(1500);
      expect(await store.get('late')).to.equal(null);
      expect(await store.count({})).to.equal(0);
    } finally {
      await store.close();
      await client.close();
    }
  });

  it('a request whose deadline is past before it is sent is not sent at all', async function () {
    const store = new MongoStore({ shardId: 'd0', uri, db: 'deadline2', collection: 'c', opTimeoutMs: 2000 });
    try {
      await store.ping();
      const deadline = deadlineIn(systemClock, 1);
      await sleep(5);
      const error = await withDeadline(deadline, () => store.insert({ _id: 'never', _h: 1, _v: 1 })).then(
        () => null,
        (e: unknown) => e,
      );
      expect(hasErrorCode(error, ErrorCode.storeTimeout)).to.equal(true);
      expect(await store.get('never')).to.equal(null);
    } finally {
      await store.close();
    }
  });
});
