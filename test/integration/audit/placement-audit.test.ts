/**
 * `auditPlacement` (`shardkit verify`) on a MongoDB-wire server, through `MongoStore`s whose
 * `opTimeoutMs` is far shorter than a read of a whole shard.
 */
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { auditPlacement } from '../../../src/audit/placement-audit.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { Ring } from '../../../src/ring/ring.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { StoredDocument } from '../../../src/stores/shard-store.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { busyOnBatches } from '../../support/busy-batches.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards } = testServerUris();
const uri = shards[0] as string;

describe('auditPlacement on a MongoDB-wire server', function () {
  this.timeout(120_000);
  const db = uniqueDbName('audit');

  after(async function () {
    const client = new MongoClient(uri);
    try {
      await client.db(db).dropDatabase();
    } finally {
      await client.close();
    }
  });

  // Regression: the audit read each shard in `(_h, _id)` order, a page per call; on FerretDB each page
  // sorted the whole collection, and on shards of 30,000 documents under `opTimeoutMs: 1000` its pages
  // timed out (`shard s1: scanRange timed out`), so `shardkit verify` could not run on them.
  it('reads each shard a batch at a time, each under a deadline of its own, and finds a misplaced duplicate by _id', async function () {
    const topology: TopologySpec = { name: 'users', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', shards: [{ id: 's1', weight: 1 }, { id: 's2', weight: 1 }] };
    const ring = Ring.fromTopology(topology);
    const state: RoutingState = { phase: 'stable', epoch: 1, topology };
    const n = 6000;
    const docs: StoredDocument[] = Array.from({ length: n }, (_, i) => ({ _id: i, _h: ring.hash.point(i), _v: 1, name: `user ${i}` }));
    const plain = new MongoClient(uri);
    const monitored = new MongoClient(uri, { monitorCommands: true });
    // Every batch's answer holds this process for 60 ms: 7 batches or more take 420 ms, over the stores' 250.
    const batches = busyOnBatches(monitored, db, 60);
    try {
      for (const id of ['s1', 's2']) {
        const mine = docs.filter((d) => ring.route(d._id as number) === id);
        await plain.db(db).collection<StoredDocument>(id).insertMany(mine);
      }
      // A key of s1's, live on s2 as well: misplaced there, and a duplicate.
      const stray = docs.find((d) => ring.route(d._id as number) === 's1') as StoredDocument;
      await plain.db(db).collection<StoredDocument>('s2').insertOne({ ...stray });
      const stores = new Map(['s1', 's2'].map((id) => [id, new MongoStore({ shardId: id, client: monitored, db, collection: id, opTimeoutMs: 250 })]));
      const started = performance.now();
      // Batches of 500: each one's own read stays well inside 250 ms on a loaded 2-CPU machine (batches
      // of 1000 once took longer in CI, which was the machine, not the audit), and there are twice as many.
      const report = await auditPlacement({ state, stores, batchSize: 500 });
      const tookMs = performance.now() - started;
      expect(report.totals.documents).to.equal(n + 1);
      expect(report.totals.misplaced).to.equal(1);
      expect(report.totals.duplicates).to.equal(1);
      expect(report.samples.find((s) => s.kind === 'duplicate')).to.deep.include({ id: stray._id, shards: ['s1', 's2'] });
      expect(report.ok).to.equal(false);
      expect(batches.count, 'batches of 500 entries, and one _id lookup').to.be.at.least(7);
      // Well over the stores' 250 ms: as one call it would have timed out.
      expect(tookMs).to.be.above(400);
    } finally {
      await monitored.close();
      await plain.close();
    }
  });
});
