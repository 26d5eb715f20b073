/**
 * `connectShardedCollection` against MongoDB-wire servers: an application connected to a 3-shard
 * deployment through the operator's config file keeps reading and writing while a migration adds a
 * 4th shard, and then reaches the keys the new shard owns (its pool learns the new topology).
 */
import { expect } from 'chai';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import { Registry } from 'prom-client';
import { connectShardedCollection } from '../../src/connect.js';
import type { ConnectedCollection } from '../../src/connect.js';
import { MongoConfigStore } from '../../src/config-store/mongo-config-store.js';
import { ErrorCode } from '../../src/errors.js';
import { Migrator } from '../../src/rebalance/migrator.js';
import { ShardRouter } from '../../src/router/router.js';
import { MongoShardPool } from '../../src/stores/shard-pool.js';
import { Topology } from '../../src/topology/topology.js';
import { rejection } from '../support/rejection.js';
import { testServerUris, uniqueDbName } from '../support/servers.js';

interface Person {
  _id: string;
  n: number;
  hits?: number;
}

const servers = testServerUris();
const DOCS = 200;
/**
 * Routers' lease, and the migrator's (the same by construction). A liveness setting: every config
 * load must answer within it (a later answer is never served, ADR 0003), and a loaded CI machine
 * takes longer than 400 ms now and then. The migrator's lock gets 15 s, as the CLI gives it: one slow
 * batch on a loaded machine lapsed a 400 ms lock (issue 8) before anything was copied.
 */
const LEASE_MS = 2000;
/** Deadline of one operation attempt (an insertMany of 200 documents over four shards is one). */
const OP_TIMEOUT_MS = 5000;

describe('connectShardedCollection (live)', function () {
  this.timeout(120_000);
  const prefix = uniqueDbName('connect');
  const shard = (i: number): { id: string; weight: number; uri: string; db: string } => ({
    id: `s${i}`,
    weight: 1,
    uri: servers.shards[i % servers.shards.length]!,
    db: `${prefix}_s${i}`,
  });
  const from = Topology.from({ name: prefix, epoch: 1, vnodes: 16, placement: 'hashed', hash: 'xxhash32', shards: [0, 1, 2].map(shard) });
  const to = from.with({ kind: 'add', shard: shard(3) });
  const configDb = `${prefix}_cfg`;
  let dir: string;
  let configPath: string;
  let admin: MongoConfigStore;
  let operatorPool: MongoShardPool;
  let connected: ConnectedCollection<Person> | undefined;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-connect-'));
    configPath = join(dir, 'shardkit.yaml');
    await writeFile(
      configPath,
      [`configStore:`, `  uri: ${JSON.stringify(servers.config)}`, `  db: ${configDb}`, `name: ${prefix}`, `collection: people`, `leaseMs: ${LEASE_MS}`, `opTimeoutMs: ${OP_TIMEOUT_MS}`, ''].join('\n'),
    );
    // What `shardkit init` does: routing indexes on every shard, then the first stable state.
    operatorPool = new MongoShardPool({ collection: 'people', topology: [from.toJSON(), to.toJSON()], opTimeoutMs: 5000 });
    for (const i of [0, 1, 2, 3]) await operatorPool.store(`s${i}`).ensureRoutingIndex();
    admin = await MongoConfigStore.connect({ uri: servers.config, db: configDb, name: prefix, opTimeoutMs: 5000 });
    await admin.compareAndSet(null, { phase: 'stable', epoch: 1, topology: from.toJSON() });
  });

  after(async function () {
    await connected?.close();
    await operatorPool?.close();
    await admin?.close();
    await rm(dir, { recursive: true, force: true });
    for (const uri of new Set([servers.config, ...servers.shards])) {
      const client = await MongoClient.connect(uri);
      try {
        for (const db of [configDb, ...[0, 1, 2, 3].map((i) => `${prefix}_s${i}`)]) await client.db(db).dropDatabase().catch(() => undefined);
      } finally {
        await client.close();
      }
    }
  });

  it('fails with shardkit.file.notFound for a missing config file', async function () {
    expect((await rejection(connectShardedCollection({ config: join(dir, 'nope.yaml') }))).code).to.equal(ErrorCode.fileNotFound);
  });

  it('reads and writes, keeps working through a migration that adds a shard, then serves that shard', async function () {
    // The application's own prom-client registry, passed in one line, picks up shardkit's metrics.
    const appRegistry = new Registry();
    connected = await connectShardedCollection<Person>({ config: configPath, metrics: { registry: appRegistry } });
    const { collection: people, routing, metrics } = connected;
    expect(metrics.registry).to.equal(appRegistry);
    expect(routing.state.epoch).to.equal(1);
    const result = await people.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: `p${i}`, n: i })));
    expect(result.insertedCount).to.equal(DOCS);
    expect(await people.findOne({ _id: 'p7' })).to.deep.equal({ _id: 'p7', n: 7 });
    expect(await people.countDocuments({})).to.equal(DOCS);

    // An application writer during the migration: every acknowledged $inc must be there afterwards.
    const hits = new Map<string, number>();
    const failures: unknown[] = [];
    let stopping = false;
    const writer = (async () => {
      for (let i = 0; !stopping; i++) {
        const id = `p${(i * 37) % DOCS}`;
        try {
          await people.updateOne({ _id: id }, { $inc: { hits: 1 } });
          hits.set(id, (hits.get(id) ?? 0) + 1);
        } catch (error) {
          failures.push(error);
        }
      }
    })();

    const migratorConfig = await MongoConfigStore.connect({ uri: servers.config, db: configDb, name: prefix, opTimeoutMs: 5000 });
    try {
      const migrator = new Migrator({ config: migratorConfig, pool: operatorPool, owner: 'connect-test', leaseMs: LEASE_MS, lockLeaseMs: 15_000, opTimeoutMs: OP_TIMEOUT_MS, batchSize: 50 });
      const report = await migrator.start(to.toJSON());
      expect(report.outcome).to.equal('completed');
    } finally {
      stopping = true;
      await writer;
      await migratorConfig.close();
    }
    expect(failures, failures.map(String).join('\n')).to.deep.equal([]);
    expect(hits.size).to.be.greaterThan(10);

    // The connected collection follows the stable state that names s3 (its pool never heard of s3 before).
    await routing.refresh();
    expect(routing.state.phase).to.equal('stable');
    expect(routing.state.topology.shards.map((s) => s.id)).to.include('s3');
    const router = ShardRouter.fromTopology(to);
    const onNew = Array.from({ length: DOCS }, (_, i) => `p${i}`).filter((id) => router.route(id) === 's3');
    expect(onNew.length).to.be.greaterThan(0);
    const s3 = operatorPool.store('s3');
    for (const id of onNew) {
      const n = Number(id.slice(1));
      expect(await people.findOne({ _id: id })).to.deep.equal({ _id: id, n, ...(hits.has(id) ? { hits: hits.get(id) } : {}) });
      expect((await people.updateOne({ _id: id }, { $set: { moved: true } })).modifiedCount).to.equal(1);
      expect(await s3.get(id)).to.include({ _id: id, moved: true });
    }
    const fresh = Array.from({ length: 50 }, (_, i) => `new${i}`).filter((id) => router.route(id) === 's3');
    for (const id of fresh) await people.insertOne({ _id: id, n: -1 });
    for (const id of fresh) expect(await s3.get(id)).to.include({ _id: id, n: -1 });
    for (const [id, count] of hits) expect((await people.findOne({ _id: id }))?.hits, id).to.equal(count);
    expect(await people.countDocuments({})).to.equal(DOCS + fresh.length);
    // Every shard call went through the wrapped stores, s3 included.
    const s3Calls = (await metrics.signals()).filter((s) => s.shard === 's3');
    expect(s3Calls.length).to.be.greaterThan(0);
    expect(await appRegistry.metrics()).to.match(/^shardkit_store_calls_total\{shard="s3",op="[a-zA-Z]+"\} [1-9]/m);
  });
});
