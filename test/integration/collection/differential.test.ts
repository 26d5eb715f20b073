/**
 * The differential test of issue 9: the same seeded random operations against a `ShardedCollection`
 * over the test servers and against one plain collection through the driver; every result and the
 * final contents must be equal. Runs once on a stable state and once with a migration (add a shard,
 * then remove one) running in the middle, under the shard key `_id` and again under the shard key
 * `tenant` (ADR 0008). Prints its seed and figures; `SHARDKIT_DIFF_SEED=<n>` replays a run and
 * `SHARDKIT_DIFF_OPS=<n>` sets each run's length.
 *
 * Under `tenant`, every document's tenant is a function of its `_id` (`tenantOf`): shardkit keeps `_id`
 * unique per shard only, so an `_id` always carrying the same tenant keeps it on one shard and the
 * duplicate-key answers equal the plain collection's. Single-document writes pin `{_id, tenant}` or
 * only `_id` (at most one match; shardkit finds the pair first); upserts always pin the tenant, and no
 * update changes it (both refused by design).
 */
import { expect } from 'chai';
import { MongoClient, MongoServerError } from 'mongodb';
import type { Collection, Document } from 'mongodb';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { MemoryConfigStore } from '../../../src/config-store/memory-config-store.js';
import { ErrorCode, hasErrorCode, ShardkitError, ShardkitRouterError } from '../../../src/errors.js';
import { prng } from '../../../src/demo/writers.js';
import { Migrator } from '../../../src/rebalance/migrator.js';
import type { RoutingSource } from '../../../src/router/routing-source.js';
import type { RoutingState } from '../../../src/router/routing-state.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import { Topology } from '../../../src/topology/topology.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const { shards, config: configUri } = testServerUris();
const SEED = Number(process.env['SHARDKIT_DIFF_SEED'] ?? 9009);
const OPS = Number(process.env['SHARDKIT_DIFF_OPS'] ?? 400);
const KEYS = 60;
const LEASE_MS = 4000;
const TENANTS = ['t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7'];

/** The tenant of a document `_id`: fixed per `_id` (see the file's comment). */
function tenantOf(id: string): string {
  let h = 7;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return TENANTS[h % TENANTS.length] as string;
}

/** BSON order of the values these documents hold (numbers before strings, strings by UTF-8 bytes). */
function bsonCompare(a: unknown, b: unknown): number {
  const rank = (v: unknown): number => (v === null || v === undefined ? 0 : typeof v === 'number' ? 1 : typeof v === 'string' ? 2 : 3);
  if (rank(a) !== rank(b)) return rank(a) - rank(b);
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'string' && typeof b === 'string') return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : JSON.stringify(a) > JSON.stringify(b) ? 1 : 0;
}

/** Documents in a total order (their canonical JSON), for results whose order the pipeline leaves open. */
function totalOrder(docs: readonly unknown[]): unknown[] {
  return docs.map((d) => JSON.stringify(canonical(d))).sort();
}

type Kind =
  | 'insertOne'
  | 'insertMany'
  | 'updateOne'
  | 'updateMany'
  | 'replaceOne'
  | 'deleteOne'
  | 'deleteMany'
  | 'findOneAndUpdate'
  | 'findOneAndReplace'
  | 'findOneAndDelete'
  | 'find'
  | 'countDocuments'
  | 'bulkWrite'
  | 'aggregate'
  | 'distinct'
  | 'estimatedDocumentCount'
  | 'findCursor';
const KINDS: readonly Kind[] = [
  'insertOne', 'insertMany', 'updateOne', 'updateMany', 'replaceOne', 'deleteOne', 'deleteMany',
  'findOneAndUpdate', 'findOneAndReplace', 'findOneAndDelete', 'find', 'countDocuments', 'bulkWrite',
  'aggregate', 'distinct', 'estimatedDocumentCount', 'findCursor',
];

/** What a run lets the generator do. */
interface Mode {
  /** The topology's shard key is `tenant` (else `_id`). */
  readonly tenant: boolean;
  /** `estimatedDocumentCount` is exact here: a stable run where no migration ever ran (no fenced copies, no tombstones). */
  readonly estimate: boolean;
}

/** Keys sorted, so field order (which the two sides may build differently) is no difference. */
function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, canonical((value as Document)[k])]));
  }
  return value;
}

/** An error as comparable data: duplicate key, immutable field, or anything else by name. */
function errorKind(error: unknown): string {
  if (error instanceof MongoServerError) return error.code === 11000 ? 'duplicate' : error.code === 66 ? 'immutable' : `server:${String(error.code)}`;
  if (hasErrorCode(error, ErrorCode.storeDuplicateKey)) return 'duplicate';
  if (hasErrorCode(error, ErrorCode.storeImmutableField)) return 'immutable';
  if (error instanceof ShardkitError) return error.code;
  const e = error as { code?: unknown; writeErrors?: Array<{ code?: number }> };
  if (Array.isArray(e.writeErrors) && e.writeErrors.every((w) => w.code === 11000)) return 'duplicate';
  return String((error as Error).name);
}

interface Op {
  readonly kind: Kind;
  readonly run: (c: ShardedCollection) => Promise<unknown>;
  readonly ref: (c: Collection<Document>) => Promise<unknown>;
  /** What a mismatch report shows of the op besides its results (its pipeline, filter…). */
  readonly what?: unknown;
}

/** One random operation, built from the seeded generator, with its run on each side. */
function randomOp(rand: () => number, n: number, mode: Mode): Op {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const key = (): string => `k${Math.floor(rand() * KEYS)}`;
  const doc = (id: string): Document => ({ _id: id, tenant: tenantOf(id), n: Math.floor(rand() * 100), g: Math.floor(rand() * 5), s: pick(['a', 'b', 'é']), tags: rand() < 0.5 ? [] : ['x'] });
  const update = (): Document => pick([{ $set: { n: Math.floor(rand() * 100) } }, { $inc: { n: 1 } }, { $set: { tags: [] } }, { $unset: { s: '' } }, { $push: { tags: 'y' } }, { $set: { g: 2 } }]);
  /** A filter pinning `_id`: under `tenant`, with the tenant when `must` (upserts) or at random. */
  const pinned = (id: string, must = false): Document => (mode.tenant && (must || rand() < 0.5) ? { _id: id, tenant: tenantOf(id) } : { _id: id });
  /** Under `tenant`, `f` pinning one tenant or an `$in` of them, now and then; else `f`. */
  const keyed = (f: Document): Document => {
    if (!mode.tenant || rand() < 0.5) return f;
    return { ...f, tenant: rand() < 0.5 ? pick(TENANTS) : { $in: [pick(TENANTS), pick(TENANTS), pick(TENANTS)] } };
  };
  /** A read filter: on a field, a range, an `$in`, or nothing; on the key and off it. */
  const anyFilter = (): Document =>
    keyed(pick<() => Document>([() => ({}), () => ({ g: Math.floor(rand() * 5) }), () => ({ n: { $gte: Math.floor(rand() * 100) } }), () => ({ n: { $lt: Math.floor(rand() * 100) }, g: { $in: [0, 2, 4] } }), () => ({ s: pick(['a', 'b', 'é']) }), () => ({ g: { $in: [1, 3] } })])());
  const kinds = KINDS.filter((k) => k !== 'estimatedDocumentCount' || mode.estimate);
  const kind = pick(kinds);
  const sort = { n: -1, _id: 1 } as const;
  switch (kind) {
    case 'insertOne': {
      const d = doc(key());
      // Whole results: the driver's field names and `acknowledged` (issue 9, part 7).
      return { kind, run: async (c) => ({ ...(await c.insertOne({ ...d })) }), ref: async (c) => ({ ...(await c.insertOne({ ...d })) }) };
    }
    case 'insertMany': {
      const docs = [doc(`m${n}a`), doc(`m${n}b`), doc(key())];
      return {
        kind,
        run: async (c) => ({ ...(await c.insertMany(docs.map((d) => ({ ...d })))) }),
        ref: async (c) => ({ ...(await c.insertMany(docs.map((d) => ({ ...d })), { ordered: false })) }),
      };
    }
    case 'updateOne':
    case 'replaceOne': {
      const upsert = rand() < 0.3;
      const id = key();
      const filter: Document = rand() < 0.3 ? { ...pinned(id, upsert), g: Math.floor(rand() * 5) } : pinned(id, upsert);
      const shape = (r: { acknowledged: boolean; matchedCount: number; modifiedCount: number; upsertedCount: number; upsertedId: unknown }): unknown => ({ ...r, upsertedId: r.upsertedId ?? null });
      if (kind === 'updateOne') {
        const u = update();
        const opts = { upsert, writeConcern: { w: 1 }, comment: `diff-${n}` };
        return { kind, run: async (c) => shape(await c.updateOne(filter, u, opts)), ref: async (c) => shape(await c.updateOne(filter, u, opts)) };
      }
      const r = { tenant: tenantOf(id), n: Math.floor(rand() * 100), g: 1 };
      return { kind, run: async (c) => shape(await c.replaceOne(filter, r, { upsert })), ref: async (c) => shape(await c.replaceOne(filter, r, { upsert })) };
    }
    case 'updateMany': {
      const filter = keyed({ g: Math.floor(rand() * 5) });
      const u = update();
      return { kind, run: async (c) => ({ ...(await c.updateMany(filter, u)) }), ref: async (c) => ({ ...(await c.updateMany(filter, u)) }) };
    }
    case 'deleteOne': {
      const filter: Document = pinned(key());
      return { kind, run: async (c) => ({ ...(await c.deleteOne(filter)) }), ref: async (c) => ({ ...(await c.deleteOne(filter)) }) };
    }
    case 'deleteMany': {
      const filter = keyed({ g: Math.floor(rand() * 5), n: { $lt: 30 } });
      return { kind, run: async (c) => ({ ...(await c.deleteMany(filter)) }), ref: async (c) => ({ ...(await c.deleteMany(filter)) }) };
    }
    case 'findOneAndUpdate': {
      // Many documents match: the sort (a total order) names the one both sides modify.
      const filter = keyed({ g: Math.floor(rand() * 5) });
      const u = update();
      const returnDocument = pick(['before', 'after'] as const);
      return { kind, run: (c) => c.findOneAndUpdate(filter, u, { sort, returnDocument }), ref: (c) => c.findOneAndUpdate(filter, u, { sort, returnDocument }) };
    }
    case 'findOneAndReplace': {
      const id = key();
      const filter: Document = pinned(id);
      const r = { tenant: tenantOf(id), n: Math.floor(rand() * 100), g: 3 };
      return { kind, run: (c) => c.findOneAndReplace(filter, r, { returnDocument: 'after' }), ref: (c) => c.findOneAndReplace(filter, r, { returnDocument: 'after' }) };
    }
    case 'findOneAndDelete': {
      const filter = keyed({ g: Math.floor(rand() * 5) });
      return { kind, run: (c) => c.findOneAndDelete(filter, { sort }), ref: (c) => c.findOneAndDelete(filter, { sort }) };
    }
    case 'find': {
      const filter = keyed(rand() < 0.5 ? { n: { $gte: Math.floor(rand() * 100) } } : { g: { $in: [1, 3] } });
      const limit = 1 + Math.floor(rand() * 10);
      const opts = { comment: `diff-${n}`, maxTimeMS: 60_000 };
      return { kind, run: (c) => c.find(filter, { sort, limit, ...opts }).toArray(), ref: (c) => c.find(filter, opts).sort(sort).limit(limit).toArray() };
    }
    case 'countDocuments': {
      const filter = keyed(rand() < 0.5 ? {} : { g: Math.floor(rand() * 5) });
      const opts = { comment: `diff-${n}`, readPreference: 'primaryPreferred' } as const;
      return { kind, run: (c) => c.countDocuments(filter, opts), ref: (c) => c.countDocuments(filter, opts) };
    }
    case 'bulkWrite': {
      // The upsert is the first update: FerretDB 1.24 reports an upsert's index within the batch of
      // updates, not in the bulk (a MongoDB would say the bulk's index; shardkit does).
      const ops: Document[] = [
        { insertOne: { document: doc(`b${n}`) } },
        // Under `tenant`, bulkWrite's single-document ops pin the tenant with `_id` (docs/data-api.md).
        { updateOne: { filter: pinned(`u${n}`, true), update: { $set: { n: 1 } }, upsert: true } },
        { updateOne: { filter: pinned(`k${Math.floor(rand() * (KEYS / 2))}`, true), update: { $inc: { n: 1 } } } },
        // An unordered bulk runs its ops in no promised order: the delete meets neither the updateOne
        // (other keys) nor the updateMany (g 4 vs g 0..3), so every order gives the same counts.
        { deleteOne: { filter: { ...pinned(`k${KEYS / 2 + Math.floor(rand() * (KEYS / 2))}`, true), g: 4 } } },
        { updateMany: { filter: keyed({ g: Math.floor(rand() * 4) }), update: { $set: { s: 'z' } } } },
      ];
      const shape = (r: { ok: number; insertedCount: number; matchedCount: number; deletedCount: number; upsertedCount: number; insertedIds: unknown; upsertedIds: unknown }): unknown => [
        r.ok, r.insertedCount, r.matchedCount, r.deletedCount, r.upsertedCount, r.insertedIds, r.upsertedIds,
      ];
      return {
        kind,
        run: async (c) => shape(await c.bulkWrite(ops as never)),
        ref: async (c) => shape(await c.bulkWrite(ops as never, { ordered: false })),
      };
    }
    case 'aggregate': {
      // Forms FerretDB 1.24 answers (docs/data-api.md, "Aggregation"). The result is compared in the
      // pipeline's order when that order is total, else both sides in one total order.
      const pipeline: Document[] = [];
      if (rand() < 0.7) pipeline.push({ $match: anyFilter() });
      // FerretDB 1.24's $unwind keeps only `_id` and the unwound field (MongoDB and the router's mingo
      // keep every field): a $project of the unwound field right after makes the two answers one.
      const unwound = rand() < 0.25;
      if (unwound) pipeline.push({ $unwind: '$tags' }, { $project: { tags: 1 } });
      let ordered = false;
      const page = (): void => {
        if (rand() < 0.4) pipeline.push({ $skip: Math.floor(rand() * 6) });
        if (rand() < 0.6) pipeline.push({ $limit: 1 + Math.floor(rand() * 10) });
      };
      // After $unwind, one document's copies differ by `tags` only: it completes the order.
      const docSort: Document = unwound ? { tags: 1, _id: 1 } : { n: -1, _id: 1 };
      switch (pick(['group', 'sort', 'count', 'project', 'plain'] as const)) {
        case 'group': {
          const by = unwound ? '$tags' : pick(['$g', '$s', '$tenant', '$tags']);
          pipeline.push({ $group: { _id: by, c: pick([{ $sum: 1 }, { $sum: unwound ? '$_id' : '$n' }]) } });
          // Array keys (`tags` not unwound) sort by their smallest element, with ties: no total order.
          if (rand() < 0.6 && (unwound || by !== '$tags')) {
            pipeline.push({ $sort: { _id: 1 } });
            ordered = true;
            page();
          }
          break;
        }
        case 'sort':
          pipeline.push({ $sort: docSort });
          ordered = true;
          page();
          break;
        case 'count':
          pipeline.push({ $count: 'total' });
          break;
        case 'project':
          pipeline.push({ $project: unwound ? { tags: 1 } : pick([{ n: 1, g: 1 }, { tenant: 1, s: 1, tags: 1 }]) });
          if (rand() < 0.5) {
            // Ties left (a field projected away) are between equal documents only.
            pipeline.push({ $sort: docSort });
            ordered = true;
            page();
          }
          break;
        case 'plain':
          break;
      }
      const shape = (docs: readonly unknown[]): unknown => (ordered ? docs : totalOrder(docs));
      return { kind, what: pipeline, run: async (c) => shape(await c.aggregate(pipeline).toArray()), ref: async (c) => shape(await c.aggregate(pipeline).toArray()) };
    }
    case 'distinct': {
      // shardkit answers in BSON order (documented); the server's order is unspecified: its values
      // are put in BSON order, shardkit's are compared as they come.
      const field = pick(['g', 's', 'tags', 'tenant', 'n']);
      const filter = anyFilter();
      return { kind, what: [field, filter], run: (c) => c.distinct(field, filter), ref: async (c) => [...(await c.distinct(field, filter))].sort(bsonCompare) };
    }
    case 'estimatedDocumentCount':
      return { kind, run: (c) => c.estimatedDocumentCount(), ref: (c) => c.estimatedDocumentCount() };
    case 'findCursor': {
      // The cursor's builders, read by `for await` or by `next()`, in batches of 1 to 5.
      const filter = anyFilter();
      const skip = rand() < 0.5 ? 0 : Math.floor(rand() * 8);
      const limit = rand() < 0.3 ? 0 : 1 + Math.floor(rand() * 15);
      const projection = pick<Document | undefined>([undefined, { n: 1, g: 1 }, { tags: 0 }, { tenant: 1, s: 1 }]);
      const batch = 1 + Math.floor(rand() * 5);
      const byNext = rand() < 0.5;
      type Cursor = { sort(s: Document): Cursor; skip(k: number): Cursor; limit(l: number): Cursor; project(p: Document): Cursor; batchSize(b: number): Cursor; next(): Promise<unknown>; [Symbol.asyncIterator](): AsyncIterator<unknown> };
      const read = async (cursor: Cursor): Promise<unknown[]> => {
        let c = cursor.sort(sort).skip(skip).limit(limit).batchSize(batch);
        if (projection !== undefined) c = c.project(projection);
        const out: unknown[] = [];
        if (byNext) {
          for (let d = await c.next(); d !== null; d = await c.next()) out.push(d);
        } else {
          for await (const d of c as AsyncIterable<unknown>) out.push(d);
        }
        return out;
      };
      return { kind, what: { filter, skip, limit, projection, batch, byNext }, run: (c) => read(c.find(filter) as unknown as Cursor), ref: (c) => read(c.find(filter) as unknown as Cursor) };
    }
  }
}

/** A routing source on a lease over the config store, as a router in another process holds it. */
function leased(config: MemoryConfigStore): RoutingSource {
  let held: RoutingState | null = null;
  let at = 0;
  return {
    current: () => {
      if (held === null || Date.now() - at > LEASE_MS) throw new ShardkitRouterError(ErrorCode.leaseExpired, 'lease lapsed');
      return held;
    },
    refresh: async () => {
      at = Date.now();
      held = await config.load();
      if (held === null) throw new Error('no state');
      return held;
    },
  };
}

describe('differential test: ShardedCollection against one plain collection', function () {
  this.timeout(600_000);
  const clients: MongoClient[] = [];
  const dbs: string[] = [];

  after(async function () {
    for (const client of clients) {
      for (const name of dbs) await client.db(name).dropDatabase().catch(() => undefined);
      await client.close();
    }
  });

  async function run(withMigration: boolean, tenant = false): Promise<void> {
    expect(shards.length, 'the differential test needs 4 shard servers').to.be.at.least(4);
    const db = uniqueDbName(`${tenant ? 'difft' : 'diff'}${withMigration ? 'mig' : ''}`);
    dbs.push(db);
    const uris = shards.slice(0, 4);
    const spec = (ids: readonly number[]): Topology =>
      Topology.from({ name: 'diff', epoch: 1, hash: 'xxhash32', vnodes: 64, placement: 'hashed', ...(tenant ? { shardKey: 'tenant' } : {}), shards: ids.map((i) => ({ id: `s${i + 1}`, weight: 1, uri: uris[i] as string, db })) });
    const start = withMigration ? spec([0, 1, 2]) : spec([0, 1, 2, 3]);
    const pool = new MongoShardPool({ collection: 'diff', topology: [spec([0, 1, 2, 3]).toJSON()], opTimeoutMs: 10_000 });
    const config = new MemoryConfigStore({ initial: { phase: 'stable', epoch: 1, topology: start.toJSON() } });
    for (const id of ['s1', 's2', 's3', 's4']) await pool.store(id).ensureRoutingIndex();
    const coll = new ShardedCollection({ name: 'diff', routing: leased(config), pool, maxRedirects: 8 });
    const client = new MongoClient(configUri);
    clients.push(client);
    const ref = client.db(db).collection<Document>('reference');
    const seed = SEED + (withMigration ? 1 : 0) + (tenant ? 2 : 0);
    const rand = prng(seed);
    const mode: Mode = { tenant, estimate: !withMigration };
    const perKind: Record<string, number> = {};
    const mismatches: string[] = [];
    let migration: Promise<void> | undefined;
    let migrations = 0;
    /** Operations started while a migration was running. */
    let during = 0;
    /** Operations both sides refused alike (duplicate keys, mostly). */
    let refused = 0;
    try {
      for (let n = 0; n < OPS; n++) {
        if (withMigration && n === Math.floor(OPS / 4)) {
          // Grow to 4 shards, then remove s1, while the operations go on.
          const migrator = new Migrator({ config, pool, owner: 'diff', leaseMs: LEASE_MS, opTimeoutMs: 1000, lockLeaseMs: 30_000, batchSize: 8 });
          const grown = start.with({ kind: 'add', shard: { id: 's4', weight: 1, uri: uris[3] as string, db } });
          migration = (async () => {
            await migrator.start(grown);
            migrations++;
            const now = await config.load();
            await migrator.start(Topology.from((now as RoutingState).topology).with({ kind: 'remove', id: 's1' }));
            migrations++;
          })();
          // Awaited after the operations; a failure meanwhile is kept, not reported as unhandled.
          migration.catch(() => undefined);
        }
        if (migration !== undefined && migrations < 2) during++;
        const op = randomOp(rand, n, mode);
        perKind[op.kind] = (perKind[op.kind] ?? 0) + 1;
        const [mine, theirs] = await Promise.all([op.run(coll).then((v) => ({ v }), (e: unknown) => ({ e: errorKind(e) })), op.ref(ref).then((v) => ({ v }), (e: unknown) => ({ e: errorKind(e) }))]);
        const a = JSON.stringify(canonical(mine));
        const b = JSON.stringify(canonical(theirs));
        if (a === b && 'e' in mine) refused++;
        if (a !== b) mismatches.push(`op ${n} ${op.kind}${op.what === undefined ? '' : ` ${JSON.stringify(op.what)}`}: shardkit ${a} / driver ${b}`);
      }
      await migration;
      const finalMine = JSON.stringify(canonical(await coll.find({}, { sort: { _id: 1 } }).toArray()));
      const finalTheirs = JSON.stringify(canonical(await ref.find({}).sort({ _id: 1 }).toArray()));
      if (finalMine !== finalTheirs) mismatches.push(`final contents differ:\n  shardkit ${finalMine}\n  driver   ${finalTheirs}`);
    } finally {
      await pool.close();
    }
    console.log(
      `      seed ${seed}, shard key ${tenant ? 'tenant' : '_id'}: ${OPS} operations of ${Object.keys(perKind).length} kinds (${Object.entries(perKind)
        .sort(([x], [y]) => (x < y ? -1 : 1))
        .map(([k, c]) => `${k} ${c}`)
        .join(', ')})${withMigration ? `, ${migrations} migrations in the middle (${during} operations started while one ran)` : ''}, ${refused} refused alike: ${mismatches.length} mismatches`,
    );
    for (const m of mismatches.slice(0, 40)) console.log(`        ${m}`);
    expect(mismatches).to.deep.equal([]);
    if (withMigration) {
      expect(migrations).to.equal(2);
      expect(during, 'operations that overlapped a migration').to.be.greaterThan(0);
    }
  }

  it('gives the driver\'s results on a stable state', async function () {
    await run(false);
  });

  it('gives the driver\'s results while a shard is added, then one removed', async function () {
    await run(true);
  });

  it('gives the driver\'s results on a stable state, shard key tenant', async function () {
    await run(false, true);
  });

  it('gives the driver\'s results while a shard is added, then one removed, shard key tenant', async function () {
    await run(true, true);
  });
});
