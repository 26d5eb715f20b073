import { expect } from 'chai';
import { MongoClient } from 'mongodb';
import { ErrorCode, ShardkitStoreError } from '../../../src/errors.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';
import { describeShardStoreContract } from '../../support/shard-store-contract.js';

const { shards } = testServerUris();
const uri = shards[0] as string;
const db = uniqueDbName('store_contract');
let client: MongoClient;
let seq = 0;

before(async function () {
  client = new MongoClient(uri);
  await client.connect();
});

after(async function () {
  await client.db(db).dropDatabase().catch(() => undefined);
  await client.close();
});

describeShardStoreContract('MongoStore', {
  // One shared client (the store does not own it), a fresh collection per test.
  create: async (shardId) => new MongoStore({ shardId, client, db, collection: `c${++seq}`, opTimeoutMs: 5000 }),
  // FerretDB 1.x rejects update pipelines; set SHARDKIT_PIPELINE_UPDATES=1 against real MongoDB.
  pipelineUpdates: process.env['SHARDKIT_PIPELINE_UPDATES'] === '1',
  propertyRuns: 8,
});

describe('MongoStore', function () {
  describe('.connect', function () {
    it('connects with its own client and closes it', async function () {
      const store = await MongoStore.connect({ shardId: 's1', uri, db, collection: 'own', opTimeoutMs: 5000 });
      await store.insert({ _id: 'a', _h: 1, _v: 1 });
      expect((await store.get('a'))?._v).to.equal(1);
      await store.close();
    });

    context('when the server is unreachable', function () {
      it('fails fast with storeUnavailable naming the shard and never the password', async function () {
        const started = Date.now();
        try {
          await MongoStore.connect({ shardId: 'dead', uri: 'mongodb://user:s3cret@127.0.0.1:1/x', collection: 'c', opTimeoutMs: 300 });
          expect.fail('expected unavailable');
        } catch (error) {
          expect(error).to.be.instanceOf(ShardkitStoreError);
          const e = error as ShardkitStoreError;
          expect(e.code).to.equal(ErrorCode.storeUnavailable);
          expect(e.shardId).to.equal('dead');
          expect(e.message).to.contain('shard dead');
          expect(e.message).to.not.contain('s3cret');
          expect(e.cause).to.be.instanceOf(Error);
        }
        expect(Date.now() - started).to.be.below(5000);
      });
    });
  });

  describe('#hasRoutingIndex', function () {
    it('is false before the collection exists', async function () {
      const store = new MongoStore({ shardId: 's1', client, db, collection: 'never-created' });
      expect(await store.hasRoutingIndex()).to.equal(false);
    });
  });
});
