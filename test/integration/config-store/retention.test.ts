/**
 * The MongoDB config store stays bounded and its reads constant (issue 8, ADR 0007), and its lock
 * refuses a host whose clock is off, on the test servers.
 */
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { MongoClient, type Collection, type CommandStartedEvent, type CommandSucceededEvent, type Document } from 'mongodb';
import { MongoConfigStore } from '../../../src/config-store/mongo-config-store.js';
import { systemClock, type Clock } from '../../../src/clock.js';
import { ErrorCode, type ShardkitError } from '../../../src/errors.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';
import { rejection } from '../../support/rejection.js';
import { stableState } from '../../unit/config-store/contract.js';
import { InstantClock, runMigrations } from '../../unit/config-store/migrations.js';

/** Documents of the config collection, whose `_id`s are strings. */
type IdOnly = Document & { _id: string };

const uri = testServerUris().config;
const db = uniqueDbName('cfgretain');

/** Commands a client sent and the documents their replies carried, by command name. */
class CommandLog {
  readonly started: CommandStartedEvent[] = [];
  readonly returned = new Map<number, number>();
  constructor(client: MongoClient) {
    client.on('commandStarted', (e) => this.started.push(e));
    client.on('commandSucceeded', (e: CommandSucceededEvent) => {
      const batch = (e.reply as { cursor?: { firstBatch?: unknown[] } }).cursor?.firstBatch;
      if (batch !== undefined) this.returned.set(e.requestId, batch.length);
    });
  }
  clear(): void {
    this.started.length = 0;
    this.returned.clear();
  }
  named(name: string): CommandStartedEvent[] {
    return this.started.filter((e) => e.commandName === name);
  }
  /** Documents returned by the replies to `events`. */
  documents(events: CommandStartedEvent[]): number {
    return events.reduce((n, e) => n + (this.returned.get(e.requestId) ?? 0), 0);
  }
}

describe('MongoConfigStore retention and clock skew', function () {
  this.timeout(300_000);
  let client: MongoClient;
  let log: CommandLog;

  before(async function () {
    client = new MongoClient(uri, { monitorCommands: true });
    await client.connect();
    log = new CommandLog(client);
  });

  after(async function () {
    await client.db(db).dropDatabase();
    await client.close();
  });

  function open(options: { clock?: Clock; checkClockSkew?: boolean; maxClockSkewMs?: number } = {}): { store: MongoConfigStore; collection: string } {
    const collection = `config_${randomBytes(4).toString('hex')}`;
    const database = client.db(db);
    const store = new MongoConfigStore(database.collection(collection), { name: 'app', db: database, ...options });
    return { store, collection };
  }

  describe('after 20 migrations', function () {
    it('holds at most 8 documents, and a router refresh is one read by _id returning one document', async function () {
      // Lease waits on an instant clock: its wall time runs ahead of the server's, so no skew check.
      const clock = new InstantClock(Date.now());
      const { store, collection } = open({ clock, checkClockSkew: false });
      await store.ensureIndexes();
      const counts: number[] = [];
      const epoch = await runMigrations({
        config: store,
        clock,
        count: 20,
        after: async () => void counts.push(await client.db(db).collection(collection).countDocuments({})),
      });
      expect(epoch).to.equal(61);
      // head + 4 retained states + lock + 2 journal entries after every migration; the first
      // release kept 3 states and a lock document per migration: 83 documents here.
      expect(counts).to.deep.equal(Array(20).fill(8));
      const ids = (await client.db(db).collection<IdOnly>(collection).find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
      expect(ids).to.have.members([
        'head:app',
        'state:app:58',
        'state:app:59',
        'state:app:60',
        'state:app:61',
        'lock:app',
        'journal:app:migration:app',
        'journal:app:migration-control:app',
      ]);

      log.clear();
      expect((await store.load())?.epoch).to.equal(61);
      expect(log.started.map((e) => e.commandName)).to.deep.equal(['find']);
      const [find] = log.named('find') as [CommandStartedEvent];
      expect(find.command['filter']).to.deep.equal({ _id: 'head:app' });
      expect(find.command['sort']).to.equal(undefined);
      expect(log.documents([find])).to.equal(1);

      // The lock document is the generation counter: 20 takes, so the next is the 21st.
      expect((await store.acquireLock('after', 1000)).generation).to.equal(21);
      const indexes = await client.db(db).collection(collection).indexes();
      expect(indexes.map((i) => i.key)).to.deep.include({ name: 1, kind: 1, epoch: 1 });
    });
  });

  describe('a store the first release wrote', function () {
    it('is adopted: same epoch, the generation count goes on, the old lock documents go', async function () {
      const { store, collection } = open({ checkClockSkew: false });
      const raw = client.db(db).collection<IdOnly>(collection);
      const now = Date.now();
      await raw.insertMany([
        { _id: 'state:app:after:0', kind: 'state', name: 'app', after: 0, epoch: 1, state: stableState(1) },
        { _id: 'state:app:after:1', kind: 'state', name: 'app', after: 1, epoch: 2, state: stableState(2) },
        { _id: 'state:app:after:2', kind: 'state', name: 'app', after: 2, epoch: 5, state: stableState(5) },
        { _id: 'lock:app:1', kind: 'lock', name: 'app', gen: 1, owner: 'old', acquiredAt: now - 9000, expiresAt: now - 8000 },
        { _id: 'lock:app:2', kind: 'lock', name: 'app', gen: 2, owner: 'old', acquiredAt: now - 2000, expiresAt: now - 1000 },
      ]);
      expect(await store.load()).to.deep.equal(stableState(5));
      const lock = await store.acquireLock('new', 30_000);
      expect(lock.generation).to.equal(3);
      await store.compareAndSet(5, stableState(6));
      for (let e = 7; e <= 10; e++) await store.compareAndSet(e - 1, stableState(e));
      const ids = (await raw.find({}, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
      expect(ids).to.have.members(['head:app', 'lock:app', 'state:app:7', 'state:app:8', 'state:app:9', 'state:app:10']);
      // A new handle reads the head by _id: nothing of the old layout is needed any more.
      expect((await new MongoConfigStore(raw as unknown as Collection<Document>, { name: 'app', checkClockSkew: false }).load())?.epoch).to.equal(10);
    });
  });

  describe('the clock-skew check', function () {
    it("reads the server's clock on a take and publishes the expiry with the margin", async function () {
      const { store } = open({ maxClockSkewMs: 1500 });
      log.clear();
      const before = Date.now();
      const lock = await store.acquireLock('m1', 20_000);
      const after = Date.now();
      // The driver's own monitoring does not go through command monitoring: this is the check's.
      expect(log.named('hello').length).to.be.at.least(1);
      await store.acquireLock('m1', 20_000, lock.generation);
      expect(lock.expiresAt).to.be.within(before + 20_000 + 3000, after + 20_000 + 3000);
      expect((await store.readLock())?.owner).to.equal('m1');
    });

    it('refuses a host whose wall clock runs ten minutes ahead, and writes nothing', async function () {
      const ahead: Clock = { ...systemClock, wall: () => Date.now() + 600_000 };
      const { store, collection } = open({ clock: ahead });
      const error = await rejection(store.acquireLock('m1', 20_000));
      expect((error as ShardkitError).code).to.equal(ErrorCode.clockSkew);
      expect((error as Error).message).to.match(/ahead of the config server's, over the allowed 1000 ms/);
      expect(await client.db(db).collection(collection).countDocuments({})).to.equal(0);
    });
  });
});
