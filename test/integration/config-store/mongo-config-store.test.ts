import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { MongoConfigStore, databaseFromUri } from '../../../src/config-store/mongo-config-store.js';
import { ErrorCode, ShardkitError, ShardkitStoreError, isRetryableError } from '../../../src/errors.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';
import { configStoreContract, stableState } from '../../unit/config-store/contract.js';

const uri = testServerUris().config;
const db = uniqueDbName('cfgstore');

configStoreContract('MongoConfigStore', async (clock) => {
  // One collection per case: fresh storage without dropping anything another case uses.
  const collection = `config_${randomBytes(4).toString('hex')}`;
  const opened: MongoConfigStore[] = [];
  const open = async (): Promise<MongoConfigStore> => {
    // The fake clock's wall time is years from the server's: no skew check, and no lease margin, so
    // the contract's lease arithmetic holds (the skew tests below run with real clocks).
    const store = await MongoConfigStore.connect({ uri, db, collection, name: 'users', clock: clock.asClock, checkClockSkew: false, maxClockSkewMs: 0 });
    opened.push(store);
    return store;
  };
  const store = await open();
  return {
    store,
    open,
    cleanup: async () => {
      for (const s of opened) await s.close();
    },
  };
});

describe('MongoConfigStore', function () {
  after(async function () {
    const client = await MongoClient.connect(uri);
    await client.db(db).dropDatabase();
    await client.close();
  });

  describe('storage layout', function () {
    context('when two topologies share one collection', function () {
      it('keeps their states, locks and journals apart', async function () {
        const users = await MongoConfigStore.connect({ uri, db, collection: 'shared', name: 'users' });
        const orders = await MongoConfigStore.connect({ uri, db, collection: 'shared', name: 'orders' });
        try {
          await users.compareAndSet(null, stableState(1));
          await orders.compareAndSet(null, stableState(7));
          await users.acquireLock('m1', 60_000);
          await orders.acquireLock('m2', 60_000);
          await users.writeJournal('j', { who: 'users' });
          expect((await users.load())?.epoch).to.equal(1);
          expect((await orders.load())?.epoch).to.equal(7);
          expect((await orders.readLock())?.owner).to.equal('m2');
          expect(await orders.readJournal('j')).to.equal(null);
          const client = await MongoClient.connect(uri);
          const ids = (await client.db(db).collection('shared').find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
          await client.close();
          expect(ids).to.have.members(['head:users', 'head:orders', 'state:users:1', 'state:orders:7', 'lock:users', 'lock:orders', 'journal:users:j']);
        } finally {
          await users.close();
          await orders.close();
        }
      });
    });
  });

  describe('.connect', function () {
    context('when the server is unreachable', function () {
      it('fails with a retryable store error', async function () {
        const error = await MongoConfigStore.connect({ uri: 'mongodb://127.0.0.1:1/x', name: 'users', opTimeoutMs: 300 }).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).to.be.instanceOf(ShardkitStoreError);
        expect((error as ShardkitError).code).to.equal(ErrorCode.storeUnavailable);
        expect(isRetryableError(error)).to.equal(true);
      });
    });
  });

  describe('databaseFromUri', function () {
    it('reads the path of a connection string', function () {
      expect(databaseFromUri('mongodb://u:p@h1:1,h2:2/cfg?replicaSet=rs')).to.equal('cfg');
      expect(databaseFromUri('mongodb://h:1/?x=1')).to.equal(undefined);
      expect(databaseFromUri('mongodb://h:1')).to.equal(undefined);
    });
  });
});
