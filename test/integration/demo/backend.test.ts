/**
 * The demo's server backend cleans up after itself: `shardkit demo --mongo` runs on an operator's
 * own servers, which should look afterwards as they did before.
 */
import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { mongoBackend } from '../../../src/demo/backend.js';
import { testServerUris } from '../../support/servers.js';

describe('demo mongoBackend', function () {
  this.timeout(60_000);
  const servers = testServerUris();

  async function demoDatabases(client: MongoClient): Promise<string[]> {
    const { databases } = await client.db('admin').admin().listDatabases({ nameOnly: true });
    return databases.map((d) => d.name).filter((name) => name.startsWith('shardkit_demo'));
  }

  // Regression (issue 10): close() deleted the documents but left the databases behind.
  it('#close drops every database the run created', async function () {
    const uri = servers.shards[0]!;
    const client = await MongoClient.connect(uri);
    try {
      const before = await demoDatabases(client);
      const backend = await mongoBackend(['s1', 's2'], [uri], 5000);
      for (const store of backend.stores.values()) await store.ensureRoutingIndex();
      await backend.config.compareAndSet(null, {
        phase: 'stable',
        epoch: 1,
        topology: { name: backend.name, epoch: 1, hash: 'xxhash32', vnodes: 8, placement: 'hashed', shards: [{ id: 's1', weight: 1 }] },
      });
      const during = await demoDatabases(client);
      expect(during.length).to.be.greaterThan(before.length);
      await backend.close();
      expect(await demoDatabases(client)).to.deep.equal(before);
    } finally {
      await client.close();
    }
  });
});
