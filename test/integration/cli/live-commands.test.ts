/**
 * `shardkit init`, `status` and `verify` against MongoDB-wire servers, run in-process through the
 * real program. Each shard gets its own database, so one server can stand in for many shards.
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { captureIO } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';
import { Ring } from '../../../src/ring/ring.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

interface RunResult {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<RunResult> {
  const io = captureIO();
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

const servers = testServerUris();
const prefix = uniqueDbName('cli');

function topology(name: string, shardCount: number): TopologySpec {
  return {
    name,
    epoch: 1,
    hash: 'xxhash32',
    vnodes: 32,
    placement: 'hashed',
    shards: Array.from({ length: shardCount }, (_, i) => ({
      id: `s${i}`,
      weight: 1,
      uri: servers.shards[i % servers.shards.length] as string,
      db: `${prefix}_${name}_s${i}`,
    })),
  };
}

describe('live CLI commands', function () {
  this.timeout(60_000);
  let dir: string;
  const dbs: string[] = [];

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-live-'));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
    const client = await MongoClient.connect(servers.config);
    try {
      for (const uri of new Set([servers.config, ...servers.shards])) {
        const c = uri === servers.config ? client : await MongoClient.connect(uri);
        for (const db of dbs) await c.db(db).dropDatabase().catch(() => undefined);
        if (c !== client) await c.close();
      }
    } finally {
      await client.close();
    }
  });

  async function deployment(name: string, spec: TopologySpec, store: 'mongo' | 'file', extra: Record<string, unknown> = {}): Promise<string> {
    const topologyPath = join(dir, `${name}-topology.json`);
    await writeFile(topologyPath, JSON.stringify(spec));
    const configDb = `${prefix}_${name}_cfg`;
    dbs.push(configDb, ...spec.shards.map((s) => s.db as string));
    const configStore = store === 'mongo' ? { uri: servers.config, db: configDb } : { file: `./${name}-state.json` };
    const configPath = join(dir, `${name}.json`);
    await writeFile(configPath, JSON.stringify({ configStore, name, collection: 'people', topology: `./${name}-topology.json`, opTimeoutMs: 1500, ...extra }));
    return configPath;
  }

  async function shardStore(spec: TopologySpec, id: string): Promise<MongoStore> {
    const shard = spec.shards.find((s) => s.id === id)!;
    return MongoStore.connect({ shardId: id, uri: shard.uri!, db: shard.db!, collection: 'people' });
  }

  context('with a MongoDB config store', function () {
    const spec = topology('users', 3);
    let config: string;

    before(async function () {
      config = await deployment('users', spec, 'mongo');
    });

    it('status before init fails with configNoState', async function () {
      const r = await cli('status', '--config', config);
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/^error: .*shardkit init.* \[shardkit\.config\.noState\]\n$/);
    });

    it('init publishes epoch 1 and creates the routing index; a second init changes nothing', async function () {
      const first = await cli('init', '--config', config, '--json');
      expect(first.code, first.err).to.equal(0);
      expect(JSON.parse(first.out)).to.deep.equal({ name: 'users', epoch: 1, published: true, indexed: ['s0', 's1', 's2'] });
      const store = await shardStore(spec, 's1');
      expect(await store.hasRoutingIndex()).to.equal(true);
      await store.close();
      const second = await cli('init', '--config', config);
      expect(second.code, second.err).to.equal(0);
      expect(second.out).to.contain('already published');
    });

    it('status shows the state and every shard up with its counts', async function () {
      const ring = Ring.fromTopology(spec);
      const stores = await Promise.all(spec.shards.map((s) => shardStore(spec, s.id)));
      for (let i = 0; i < 30; i++) {
        const id = `p${i}`;
        const store = stores.find((s) => s.shardId === ring.route(id))!;
        await store.insert({ _id: id, _h: ring.hash.point(id), _v: 1, n: i });
      }
      for (const s of stores) await s.close();
      const r = await cli('status', '--config', config, '--json');
      expect(r.code, r.err).to.equal(0);
      const report = JSON.parse(r.out) as {
        phase: string;
        epoch: number;
        lock: unknown;
        shards: Array<{ id: string; reachable: boolean; documents: number; markers: number; latencyMs: number; share: number }>;
      };
      expect(report).to.include({ phase: 'stable', epoch: 1, lock: null });
      expect(report.shards.map((s) => s.id)).to.deep.equal(['s0', 's1', 's2']);
      expect(report.shards.every((s) => s.reachable && s.latencyMs >= 0 && s.markers === 0)).to.equal(true);
      expect(report.shards.reduce((sum, s) => sum + s.documents, 0)).to.equal(30);
      expect(report.shards.reduce((sum, s) => sum + s.share, 0)).to.be.closeTo(1, 1e-9);
      const human = await cli('status', '--config', config);
      expect(human.out).to.contain('stable at epoch 1');
      expect(human.out).to.match(/s0\s+1\s+[\d.]+%\s+up/);
    });

    it('health exits 0 when every shard answers its ping', async function () {
      const r = await cli('health', '--config', config, '--json');
      expect(r.code, r.err).to.equal(0);
      const report = JSON.parse(r.out) as { healthy: boolean; epoch: number; shards: Array<{ id: string; reachable: boolean; latencyMs: number }> };
      expect(report).to.include({ healthy: true, epoch: 1 });
      expect(report.shards.map((s) => s.reachable)).to.deep.equal([true, true, true]);
      const human = await cli('health', '--config', config);
      expect(human.out).to.match(/^healthy: users stable at epoch 1, 3\/3 shards reachable\n/);
    });

    it('verify passes while every document is on its owner', async function () {
      const r = await cli('verify', '--config', config, '--json', '--batch-size', '4');
      expect(r.code, r.err).to.equal(0);
      const report = JSON.parse(r.out) as { ok: boolean; totals: { live: number; misplaced: number } };
      expect(report.ok).to.equal(true);
      expect(report.totals).to.include({ live: 30, misplaced: 0 });
    });

    it('verify fails with exit 1 on a misplaced document and a document without _h', async function () {
      const ring = Ring.fromTopology(spec);
      const wrong = spec.shards.map((s) => s.id).find((id) => id !== ring.route('stray'))!;
      const store = await shardStore(spec, wrong);
      await store.insert({ _id: 'stray', _h: ring.hash.point('stray'), _v: 1 });
      await store.collection.insertOne({ _id: 'nohash', _v: 1 } as never);
      await store.close();
      const r = await cli('verify', '--config', config, '--json');
      expect(r.code).to.equal(1);
      expect(r.err).to.match(/1 misplaced.*1 without _h.*\[shardkit\.migration\.verifyFailed\]/);
      const report = JSON.parse(r.out) as { ok: boolean; totals: Record<string, number>; samples: Array<{ kind: string; id: string; shards: string[] }> };
      expect(report.ok).to.equal(false);
      expect(report.totals).to.include({ misplaced: 1, missingHash: 1, duplicates: 0 });
      expect(report.samples).to.deep.include({ kind: 'misplaced', id: 'stray', h: ring.hash.point('stray'), shards: [wrong], expected: [ring.route('stray')] });
      const human = await cli('verify', '--config', config);
      expect(human.out).to.contain('FAILED');
    });
  });

  context('with a file config store and a shard that is down', function () {
    const spec = topology('orders', 2);
    const down: TopologySpec = {
      ...spec,
      shards: [...spec.shards, { id: 'gone', weight: 1, uri: 'mongodb://admin:s3cret@127.0.0.1:1/x' }],
    };
    let config: string;

    before(async function () {
      config = await deployment('orders', down, 'file');
    });

    it('init fails without publishing, naming the shard', async function () {
      const r = await cli('init', '--config', config);
      expect(r.code).to.equal(1);
      expect(r.err).to.contain('gone');
      expect(r.err).not.to.contain('s3cret');
      const status = await cli('status', '--config', config);
      expect(status.err).to.contain('[shardkit.config.noState]');
    });

    it('status reports the shard DOWN, masks its password and exits 1', async function () {
      const init = await cli('init', '--config', config, '--no-indexes');
      expect(init.code, init.err).to.equal(0);
      const r = await cli('status', '--config', config);
      expect(r.code).to.equal(1);
      expect(r.out).to.match(/gone\s+1\s+[\d.]+%\s+DOWN/);
      expect(r.out + r.err).not.to.contain('s3cret');
      expect(r.out).to.contain('admin:****@');
      expect(r.err).to.equal('error: unreachable shards: gone [shardkit.store.unavailable]\n');
      // The reason sits under the table, not in the uri column.
      expect(r.out).to.match(/^gone: unreachable: /m);
    });

    it('health exits 4 and --json prints exactly one document', async function () {
      const r = await cli('health', '--config', config, '--json');
      expect(r.code).to.equal(4);
      const report = JSON.parse(r.out) as { healthy: boolean; shards: Array<{ id: string; reachable: boolean }> };
      expect(report.healthy).to.equal(false);
      expect(report.shards.filter((s) => !s.reachable).map((s) => s.id)).to.deep.equal(['gone']);
      expect(r.err).to.equal('error: unreachable shards: gone [shardkit.health.unhealthy]\n');
    });
  });

  context('when the topology file names another topology', function () {
    it('init refuses with a usage error', async function () {
      const config = await deployment('mismatch', topology('other', 1), 'file');
      const r = await cli('init', '--config', config);
      expect(r.code).to.equal(2);
      expect(r.err).to.contain('[shardkit.usage]');
    });
  });
});
