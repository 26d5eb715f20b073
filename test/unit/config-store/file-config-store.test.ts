import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, utimes } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { FILE_FORMAT, FileConfigStore } from '../../../src/config-store/file-config-store.js';
import { ErrorCode, ShardkitError, ShardkitStoreError } from '../../../src/errors.js';
import { configStoreContract, stableState } from './contract.js';
import { InstantClock, runMigrations } from './migrations.js';
import { rejection } from '../../support/rejection.js';

const run = promisify(execFile);

configStoreContract('FileConfigStore', async (clock) => {
  const dir = await mkdtemp(join(tmpdir(), 'shardkit-cfg-'));
  const path = join(dir, 'state.json');
  const store = new FileConfigStore(path, { clock: clock.asClock });
  return {
    store,
    open: async () => new FileConfigStore(path, { clock: clock.asClock }),
    cleanup: async () => rm(dir, { recursive: true, force: true }),
  };
});

describe('FileConfigStore', function () {
  let dir: string;
  let path: string;

  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-cfg-'));
    path = join(dir, 'state.json');
  });

  afterEach(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  describe('#compareAndSet', function () {
    context('when it succeeds', function () {
      it('leaves one well-formed file and no temporary or mutex files', async function () {
        const store = new FileConfigStore(path);
        await store.compareAndSet(null, stableState(1));
        await store.compareAndSet(1, stableState(2));
        expect(await readdir(dir)).to.deep.equal(['state.json']);
        const doc = JSON.parse(await readFile(path, 'utf8')) as { format: string; state: { epoch: number } };
        expect(doc.format).to.equal(FILE_FORMAT);
        expect(doc.state.epoch).to.equal(2);
      });
    });

    context('when several processes bump the epoch concurrently', function () {
      it('never lets two of them win the same epoch', async function () {
        this.timeout(60_000);
        await new FileConfigStore(path).compareAndSet(null, stableState(1));
        const worker = fileURLToPath(new URL('./fixtures/cas-worker.ts', import.meta.url));
        const processes = 4;
        const perProcess = 12;
        const outputs = await Promise.all(
          Array.from({ length: processes }, () => run(process.execPath, ['--import', 'tsx', worker, path, String(perProcess)])),
        );
        const wins = outputs.map((o) => (JSON.parse(o.stdout) as { wins: number }).wins);
        expect(wins).to.deep.equal(Array(processes).fill(perProcess));
        // Every win moved the epoch by exactly one: a lost update would leave it lower.
        expect((await new FileConfigStore(path).load())?.epoch).to.equal(1 + processes * perProcess);
      });
    });
  });

  describe('#load', function () {
    context('when a crashed writer left a temporary file behind', function () {
      it('reads the last complete state', async function () {
        const store = new FileConfigStore(path);
        await store.compareAndSet(null, stableState(1));
        await writeFile(`${path}.999.abcdef.tmp`, '{"format": "shardkit.config-store/1", "state": {"epo');
        expect(await store.load()).to.deep.equal(stableState(1));
      });
    });

    context('when the file is not a state file', function () {
      it('throws a store error instead of treating it as empty', async function () {
        await writeFile(path, '{"hello": 1}');
        const error = await rejection(new FileConfigStore(path).load());
        expect(error).to.be.instanceOf(ShardkitStoreError);
        expect((error as ShardkitError).code).to.equal(ErrorCode.storeFailure);
        await writeFile(path, '{not json');
        expect(((await rejection(new FileConfigStore(path).load())) as ShardkitError).code).to.equal(ErrorCode.storeFailure);
      });
    });
  });

  describe('mutex', function () {
    context('when a dead process left the mutex file', function () {
      it('breaks it and writes', async function () {
        // A pid far above any default pid_max: no such process.
        await writeFile(`${path}.lock`, JSON.stringify({ pid: 99_999_999, host: hostname(), token: 'dead', at: Date.now() }));
        const store = new FileConfigStore(path, { mutexWaitMs: 2000 });
        await store.compareAndSet(null, stableState(1));
        expect((await store.load())?.epoch).to.equal(1);
        expect(await readdir(dir)).to.deep.equal(['state.json']);
      });
    });

    context('when a live process holds the mutex', function () {
      it('waits, then fails with a retryable timeout and writes nothing', async function () {
        await writeFile(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'live', at: Date.now() }));
        const store = new FileConfigStore(path, { mutexWaitMs: 100 });
        const started = Date.now();
        const error = await rejection(store.compareAndSet(null, stableState(1)));
        expect(Date.now() - started).to.be.at.least(90);
        expect((error as ShardkitError).code).to.equal(ErrorCode.storeTimeout);
        expect(await store.load()).to.equal(null);
        expect(JSON.parse(await readFile(`${path}.lock`, 'utf8'))).to.include({ token: 'live' });
      });
    });

    context('when the mutex file is older than mutexStaleMs', function () {
      it('breaks it even if its pid is alive', async function () {
        await writeFile(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), token: 'old', at: 0 }));
        const past = new Date(Date.now() - 60_000);
        await utimes(`${path}.lock`, past, past);
        const store = new FileConfigStore(path, { mutexWaitMs: 2000, mutexStaleMs: 30_000 });
        await store.acquireLock('m1', 1000);
        expect((await store.readLock())?.owner).to.equal('m1');
      });
    });
  });

  describe('#releaseLock', function () {
    context('when nothing is held', function () {
      it('does not create the file', async function () {
        await new FileConfigStore(path).releaseLock('m1');
        expect(await readdir(dir)).to.deep.equal([]);
      });
    });
  });

  describe('retention', function () {
    context('after 20 migrations', function () {
      it('keeps one state, one lock record and the two journal entries: the file stops growing', async function () {
        this.timeout(120_000);
        const clock = new InstantClock(1_700_000_000_000);
        const store = new FileConfigStore(path, { clock });
        const sizes: number[] = [];
        const epoch = await runMigrations({ config: store, clock, count: 20, after: async () => void sizes.push((await stat(path)).size) });
        expect(epoch).to.equal(61);
        const doc = JSON.parse(await readFile(path, 'utf8')) as { state: { epoch: number }; lock: unknown; lockGeneration: number; journal: Record<string, unknown> };
        expect(doc.state.epoch).to.equal(61);
        expect(doc.lock).to.equal(null);
        expect(doc.lockGeneration).to.equal(20);
        expect(Object.keys(doc.journal).sort()).to.deep.equal(['migration-control:app', 'migration:app']);
        // Odd and even migrations move different ranges; compare like with like. A file that kept
        // each migration's state or journal would be about ten times the size of the second one.
        const [first, second] = sizes as [number, number];
        for (const [i, size] of sizes.entries()) expect(size, `after migration ${i + 1}`).to.be.at.most((i % 2 === 0 ? first : second) + 64);
        expect(await readdir(dir)).to.deep.equal(['state.json']);
      });
    });
  });
});
