/**
 * Where the demo's shards and config store live: embedded `MemoryStore`s and a `MemoryConfigStore`
 * (no server), or MongoDB-wire servers given as URIs (the first also hosts the config store).
 */
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { MemoryConfigStore } from '../config-store/memory-config-store.js';
import { MongoConfigStore } from '../config-store/mongo-config-store.js';
import type { ConfigStore } from '../config-store/types.js';
import { MemoryStore } from '../stores/memory-store.js';
import { MongoStore } from '../stores/mongo-store.js';
import type { ShardStore } from '../stores/shard-store.js';

/** The demo's stores, one per shard id, and its config store. */
export interface DemoBackend {
  readonly kind: 'memory' | 'mongo';
  /** Topology name: unique per run on servers, so reruns never meet an earlier run's state. */
  readonly name: string;
  readonly stores: ReadonlyMap<string, ShardStore>;
  readonly config: ConfigStore;
  /** Server URI per shard id (mongo only), for the topology. */
  readonly uris: ReadonlyMap<string, string>;
  /** Drop the databases the demo created (servers only) and close every connection. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Embedded shards: nothing to connect, nothing survives the process. */
export function memoryBackend(shardIds: readonly string[]): DemoBackend {
  const stores = new Map<string, ShardStore>(shardIds.map((id) => [id, new MemoryStore(id)]));
  return {
    kind: 'memory',
    name: 'demo',
    stores,
    config: new MemoryConfigStore(),
    uris: new Map(),
    async close() {
      await Promise.allSettled([...stores.values()].map((s) => s.close()));
    },
  };
}

/**
 * Drop the run's databases on every server: the demo created them, and an operator who tries it on
 * their own servers should find nothing left behind. Best effort: a server gone by now keeps its copy.
 */
async function dropDatabases(dbsByUri: ReadonlyMap<string, ReadonlySet<string>>, opTimeoutMs: number): Promise<void> {
  await Promise.allSettled(
    [...dbsByUri].map(async ([uri, dbs]) => {
      const client = new MongoClient(uri, { serverSelectionTimeoutMS: opTimeoutMs, connectTimeoutMS: opTimeoutMs });
      try {
        for (const db of dbs) await client.db(db).dropDatabase();
      } finally {
        await client.close();
      }
    }),
  );
}

/**
 * Shards on servers: shard i uses `uris[i % uris.length]` and its own database, so fewer servers
 * than shards still give separate shards. The config store lives on `uris[0]`.
 */
export async function mongoBackend(shardIds: readonly string[], uris: readonly string[], opTimeoutMs: number): Promise<DemoBackend> {
  if (uris.length === 0) throw new TypeError('mongoBackend needs at least one URI');
  const run = randomBytes(4).toString('hex');
  const name = `demo-${run}`;
  const collection = `demo_${run}`;
  // Databases unique to the run, so dropping them at the end never touches another run's data.
  const configDb = `shardkit_demo_${run}`;
  const dbsByUri = new Map<string, Set<string>>([[uris[0]!, new Set([configDb])]]);
  const stores = new Map<string, ShardStore>();
  const uriOf = new Map<string, string>();
  const opened: ShardStore[] = [];
  let config: ConfigStore | undefined;
  try {
    for (const [i, id] of shardIds.entries()) {
      const uri = uris[i % uris.length]!;
      const db = `shardkit_demo_${run}_${id}`;
      const dbs = dbsByUri.get(uri) ?? new Set<string>();
      dbsByUri.set(uri, dbs.add(db));
      const store = await MongoStore.connect({ shardId: id, uri, db, collection, opTimeoutMs });
      opened.push(store);
      stores.set(id, store);
      uriOf.set(id, uri);
    }
    config = await MongoConfigStore.connect({ uri: uris[0]!, name, db: configDb, opTimeoutMs: Math.max(opTimeoutMs, 1000) });
  } catch (error) {
    await Promise.allSettled(opened.map((s) => s.close()));
    throw error;
  }
  const configStore = config;
  return {
    kind: 'mongo',
    name,
    stores,
    config: configStore,
    uris: uriOf,
    async close(options = {}) {
      await Promise.allSettled([...opened.map((s) => s.close()), configStore.close()]);
      if (options.keepData !== true) await dropDatabases(dbsByUri, Math.max(opTimeoutMs, 1000));
    },
  };
}
