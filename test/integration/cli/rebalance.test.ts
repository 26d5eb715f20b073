/**
 * The operator's workflow end to end against MongoDB-wire servers, in-process through the real
 * program: `init`, `plan --config` (dry run), `rebalance --yes`, `rebalance status`, `verify`, then
 * an interrupted rebalance that `rebalance resume` finishes and one that `rebalance abort` undoes.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { captureIO } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

interface RunResult {
  code: number;
  out: string;
  err: string;
}

async function cli(argv: string[], options: { isTTY?: boolean; answer?: boolean } = {}): Promise<RunResult> {
  const captured = captureIO(options.isTTY === undefined ? {} : { isTTY: options.isTTY });
  const asked: string[] = [];
  const io = { ...captured, confirm: async (question: string) => (asked.push(question), options.answer === true) };
  const code = await runCli(argv, io);
  if (options.answer !== undefined) expect(asked, 'the confirmation question').to.have.length(1);
  const out = captured.out();
  const err = captured.err();
  return { code, out, err };
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const execFileAsync = promisify(execFile);
const MAIN = fileURLToPath(new URL('../../../src/cli/main.ts', import.meta.url));
const servers = testServerUris();
const prefix = uniqueDbName('rebal');
const DOCS = 300;

function shard(name: string, i: number): { id: string; weight: number; uri: string; db: string } {
  return { id: `s${i}`, weight: 1, uri: servers.shards[i % servers.shards.length]!, db: `${prefix}_${name}_s${i}` };
}

function topology(name: string, ids: readonly number[], epoch = 1): TopologySpec {
  return { name, epoch, hash: 'xxhash32', vnodes: 16, placement: 'hashed', shards: ids.map((i) => shard(name, i)) };
}

describe('shardkit rebalance (live)', function () {
  this.timeout(120_000);
  let dir: string;
  const dbs = new Set<string>();
  const opened: ShardStore[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-rebalance-'));
  });

  after(async () => {
    await Promise.allSettled(opened.map((s) => s.close()));
    await rm(dir, { recursive: true, force: true });
    for (const uri of new Set([servers.config, ...servers.shards])) {
      const client = await MongoClient.connect(uri);
      try {
        for (const db of dbs) await client.db(db).dropDatabase().catch(() => undefined);
      } finally {
        await client.close();
      }
    }
  });

  /** A deployment of `ids` shards with DOCS documents loaded, and a target topology adding one. */
  async function deployment(name: string, ids: number[], target: number[]): Promise<{ config: string; to: string; from: TopologySpec }> {
    const from = topology(name, ids);
    for (const s of [...from.shards, ...topology(name, target).shards]) dbs.add(s.db!);
    const fromPath = join(dir, `${name}-from.json`);
    const toPath = join(dir, `${name}-to.json`);
    await writeFile(fromPath, JSON.stringify(from));
    // Written as an operator would from an older file: the epoch is rebased on the live one.
    await writeFile(toPath, JSON.stringify(topology(name, target, 7)));
    const config = join(dir, `${name}.json`);
    await writeFile(config, JSON.stringify({ configStore: { file: `./${name}-state.json` }, name, collection: 'people', topology: `./${name}-from.json`, leaseMs: 300, opTimeoutMs: 1000 }));
    const init = await cli(['init', '--config', config]);
    expect(init.code, init.err).to.equal(0);
    const stores = new Map<string, ShardStore>();
    for (const s of from.shards) {
      const store = await MongoStore.connect({ shardId: s.id, uri: s.uri!, db: s.db!, collection: 'people' });
      opened.push(store);
      stores.set(s.id, store);
    }
    const coll = new ShardedCollection({
      name: 'people',
      pool: { store: (id: string) => stores.get(id)! },
      routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: from }),
    });
    await coll.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: `p${i}`, n: i })));
    return { config, to: toPath, from };
  }

  context('when the operator adds a shard', () => {
    let config: string;
    let to: string;

    before(async () => {
      ({ config, to } = await deployment('add', [0, 1], [0, 1, 2]));
    });

    it('plan --config shows the documents to move and changes nothing', async () => {
      const result = await cli(['plan', '--config', config, '--to', to, '--throttle', '100', '--json']);
      expect(result.code, result.err).to.equal(0);
      const plan = JSON.parse(result.out) as { fromEpoch: number; toEpoch: number; docsToMove: number; pairs: Array<{ from: string; to: string; docs: number }>; estimatedMs: number; leaseWaitsMs: number; ratio: number; fileEpoch: number };
      expect([plan.fromEpoch, plan.toEpoch, plan.fileEpoch]).to.deep.equal([1, 2, 7]);
      expect(plan.ratio).to.equal(1);
      expect(plan.pairs.every((p) => p.to === 's2')).to.equal(true);
      expect(plan.docsToMove).to.be.greaterThan(0).and.lessThan(DOCS);
      // The copy books each document, cleanup each fence at a quarter of one (MARKER_DELETE_COST).
      expect(plan.estimatedMs).to.be.at.least((1.25 * plan.docsToMove * 1000) / 100);
      // Three waits of leaseMs + opTimeoutMs (300 + 1000): before the sweep, the cleanup and the purge.
      expect(plan.leaseWaitsMs).to.equal(3 * 1300);
      expect(plan.estimatedMs).to.equal(Math.round((1.25 * plan.docsToMove * 1000) / 100) + 3 * 1300);
      const human = await cli(['plan', '--config', config, '--to', to]);
      expect(human.code, human.err).to.equal(0);
      expect(human.out).to.contain('documents to move').and.contain(`total`).and.contain('unthrottled');
      const status = await cli(['status', '--config', config, '--json']);
      expect((JSON.parse(status.out) as { epoch: number; phase: string }).epoch).to.equal(1);
    });

    it('on a terminal, asks first and changes nothing when the answer is no', async () => {
      const result = await cli(['rebalance', '--config', config, '--to', to], { isTTY: true, answer: false });
      expect(result.code).to.equal(2);
      expect(result.err).to.contain('rebalance: not confirmed, nothing changed');
      expect(result.out).to.contain('documents to move');
      const status = await cli(['rebalance', 'status', '--config', config, '--json']);
      expect((JSON.parse(status.out) as { state: { epoch: number }; migration: unknown }).migration).to.equal(null);
      // Regression (issue 10): the new shard's routing index was built before the question.
      const s2 = shard('add', 2);
      const store = await MongoStore.connect({ shardId: s2.id, uri: s2.uri, db: s2.db, collection: 'people' });
      opened.push(store);
      expect(await store.hasRoutingIndex()).to.equal(false);
    });

    it('rebalance refuses to run unattended without --yes (exit 2)', async () => {
      const result = await cli(['rebalance', '--config', config, '--to', to]);
      expect(result.code).to.equal(2);
      expect(result.err).to.match(/not a terminal, pass --yes \[shardkit\.usage\]/);
    });

    it('rebalance --yes --json migrates, status shows it done and verify passes', async () => {
      const result = await cli(['rebalance', '--config', config, '--to', to, '--yes', '--json']);
      expect(result.code, result.err).to.equal(0);
      const events = jsonLines(result.out);
      expect(events[0]!['type']).to.equal('plan');
      const last = events.at(-1)!;
      expect(last['type']).to.equal('result');
      expect(last['outcome']).to.equal('completed');
      // migrating 2, committed (settling) 3, settled 4.
      expect(last['epoch']).to.equal(4);
      expect(events.some((e) => e['type'] === 'progress')).to.equal(true);
      const moved = (last['counters'] as { docsMoved: number }).docsMoved;
      expect(moved).to.equal((events[0] as { docsToMove: number }).docsToMove);

      const status = await cli(['rebalance', 'status', '--config', config, '--json']);
      expect(status.code, status.err).to.equal(0);
      const s = JSON.parse(status.out) as { state: { phase: string; epoch: number }; lock: unknown; migration: { phase: string; outcome: string } };
      expect(s.state).to.deep.include({ phase: 'stable', epoch: 4 });
      expect(s.lock).to.equal(null);
      expect(s.migration).to.deep.include({ phase: 'done', outcome: 'completed' });

      const verify = await cli(['verify', '--config', config, '--json']);
      expect(verify.code, verify.err).to.equal(0);
      const v = JSON.parse(verify.out) as { ok: boolean; totals: { live: number; fenced: number; tombstones: number; placeholders: number }; shards: Record<string, { live: number }> };
      expect(v.ok).to.equal(true);
      expect(v.totals).to.deep.include({ live: DOCS, fenced: 0, tombstones: 0, placeholders: 0 });
      expect(v.shards['s2']!.live).to.equal(moved);
    });

    it('a second rebalance to the same target moves nothing', async () => {
      const result = await cli(['rebalance', '--config', config, '--to', to, '--yes']);
      expect(result.code, result.err).to.equal(0);
      expect(result.out).to.contain('no documents had to move');
    });
  });

  context('when a rebalance is interrupted', () => {
    it('stops at a checkpoint, says how to resume, and resume finishes it', async () => {
      const { config, to } = await deployment('resume', [0, 1], [0, 1, 2]);
      // A pace of 20 docs/s leaves time to interrupt during the copy.
      const run = cli(['rebalance', '--config', config, '--to', to, '--yes', '--throttle', '20', '--batch-size', '5']);
      await waitFor(async () => {
        const s = await cli(['rebalance', 'status', '--config', config, '--json']);
        return (JSON.parse(s.out) as { migration: { copied: number } | null }).migration?.copied ?? 0;
      });
      process.emit('SIGINT');
      const interrupted = await run;
      // Interrupted has its own exit code (issue 10): 130, as shells report a Ctrl-C.
      expect(interrupted.code).to.equal(130);
      expect(interrupted.err).to.match(/\[shardkit\.interrupted\]/);
      expect(interrupted.err).to.contain(`shardkit rebalance resume --config ${config}`);

      const status = await cli(['rebalance', 'status', '--config', config]);
      expect(status.out).to.match(/phase {7}copy/);
      expect(status.out).to.contain('nobody is running it');

      const resumed = await cli(['rebalance', 'resume', '--config', config, '--json']);
      expect(resumed.code, resumed.err).to.equal(0);
      expect(jsonLines(resumed.out).at(-1)).to.deep.include({ type: 'result', outcome: 'completed', epoch: 4 });
      const verify = await cli(['verify', '--config', config, '--json']);
      expect(verify.code, verify.err).to.equal(0);
      expect((JSON.parse(verify.out) as { totals: { live: number } }).totals.live).to.equal(DOCS);
    });

    it('abort carries everything back to the old owners', async () => {
      const { config, to } = await deployment('abort', [0, 1], [0, 1, 2]);
      const run = cli(['rebalance', '--config', config, '--to', to, '--yes', '--throttle', '20', '--batch-size', '5']);
      await waitFor(async () => {
        const s = await cli(['rebalance', 'status', '--config', config, '--json']);
        return (JSON.parse(s.out) as { migration: { copied: number } | null }).migration?.copied ?? 0;
      });
      process.emit('SIGINT');
      expect((await run).code).to.equal(130);

      const unattended = await cli(['rebalance', 'abort', '--config', config]);
      expect(unattended.code).to.equal(2);
      const aborted = await cli(['rebalance', 'abort', '--config', config, '--yes']);
      expect(aborted.code, aborted.err).to.equal(0);
      expect(aborted.out).to.contain('aborted: migration');
      const verify = await cli(['verify', '--config', config, '--json']);
      expect(verify.code, verify.err).to.equal(0);
      const v = JSON.parse(verify.out) as { epoch: number; totals: { live: number }; shards: Record<string, { live: number }> };
      expect(v.totals.live).to.equal(DOCS);
      expect(v.shards['s2']).to.equal(undefined);
      // forward 2, reverse 3, committed (settling) 4, settled 5.
      expect(v.epoch).to.equal(5);
    });
  });

  context('when another operator aborts a running rebalance', () => {
    // Regression (issue 10): a rebalance that ended aborted exited 0, as if the change had happened.
    it('the rebalance ends aborted with exit 3 and its JSON stream ends with the result', async () => {
      // A pace of 5 docs/s keeps the copy going for about 20 s: time for another process to ask.
      const { config, to } = await deployment('aborted', [0, 1], [0, 1, 2]);
      const run = cli(['rebalance', '--config', config, '--to', to, '--yes', '--json', '--throttle', '5', '--batch-size', '5']);
      await waitFor(async () => {
        const s = await cli(['rebalance', 'status', '--config', config, '--json']);
        return (JSON.parse(s.out) as { migration: { copied: number } | null }).migration?.copied ?? 0;
      });
      // Another process, as another operator's would be: in this one it would share the lock owner.
      const request = await execFileAsync(process.execPath, ['--import', 'tsx', MAIN, 'rebalance', 'abort', '--config', config, '--yes']);
      expect(request.stdout).to.contain('asked the running migrator to abort');
      const result = await run;
      expect(result.code).to.equal(3);
      expect(result.err).to.contain('[shardkit.migration.aborted]');
      expect(jsonLines(result.out).at(-1)).to.deep.include({ type: 'result', outcome: 'aborted' });
    });
  });

  context('when the input is wrong', () => {
    it('rejects a target of another topology (exit 2) and an unknown action (exit 2)', async () => {
      const { config } = await deployment('bad', [0], [0, 1]);
      const other = join(dir, 'other.json');
      await writeFile(other, JSON.stringify(topology('other', [0, 1])));
      const wrongName = await cli(['rebalance', '--config', config, '--to', other, '--yes']);
      expect(wrongName.code).to.equal(2);
      expect(wrongName.err).to.contain('describes topology "other"');
      const unknown = await cli(['rebalance', 'restart', '--config', config]);
      expect(unknown.code).to.equal(2);
      const missingTo = await cli(['rebalance', '--config', config, '--yes']);
      expect(missingTo.code).to.equal(2);
      const noJournal = await cli(['rebalance', 'resume', '--config', config]);
      expect(noJournal.code).to.equal(1);
      expect(noJournal.err).to.contain('[shardkit.migration.state]');
    });
  });
});

/** Poll until `probe` returns a positive number (the migration made progress). */
async function waitFor(probe: () => Promise<number>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await probe()) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the migration made no progress');
}
