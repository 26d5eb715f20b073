import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as shardkit from '../../src/index.js';
import * as testing from '../../src/testing.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

// The promise: adding or dropping a runtime export is an API change, so it must change these lists
// (and the reasoning at the top of src/index.ts) on purpose.
const MAIN_EXPORTS = [
  'ErrorCode',
  'FileConfigStore',
  'HashName',
  'MigrationPhase',
  'Migrator',
  'MongoConfigStore',
  'MongoShardPool',
  'MongoStore',
  'Placement',
  'Ring',
  'ShardRouter',
  'ShardedCollection',
  'ShardkitConflictError',
  'ShardkitError',
  'ShardkitInputError',
  'ShardkitInvalidArgumentError',
  'ShardkitRouterError',
  'ShardkitStoreError',
  'StoreMetrics',
  'Topology',
  'TopologyFollower',
  'applyChange',
  'auditPlacement',
  'connectShardedCollection',
  'hasErrorCode',
  'isInputError',
  'isRetryableError',
  'loadConfigFile',
  'openConfigStore',
  'planRebalance',
  'serializeTopology',
  'wrapStore',
];

const TESTING_EXPORTS = ['MemoryConfigStore', 'MemoryShardPool', 'MemoryStore', 'StaticRoutingSource'];

/** Internals an earlier barrel exported; none may come back by accident. */
const INTERNALS = [
  'md5', 'xxhash32', 'xxhash32String', 'ketamaPoint', 'canonicalKeyBytes', 'ringHash', 'HASH_NAMES',
  'redactText', 'redactUri', 'REDACTED', 'RETRIED_OPS', 'Field', 'MAX_POINT', 'runDemo', 'detectFormat',
  'formatOfPath', 'parseTopologyText',
];

function sorted(names: Iterable<string>): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

describe('index', () => {
  describe('shardkit', () => {
    it('exports exactly the promised runtime values, at most 45', () => {
      expect(sorted(Object.keys(shardkit))).to.deep.equal(sorted(MAIN_EXPORTS));
      expect(MAIN_EXPORTS.length).to.be.at.most(45);
    });

    it('exports no internal and no test double', () => {
      for (const name of [...INTERNALS, ...TESTING_EXPORTS]) expect(shardkit, name).to.not.have.property(name);
    });

    it('routes end to end through the barrel alone', () => {
      const t = shardkit.Topology.parse('shards:\n  - id: a\n  - id: b\n');
      const next = shardkit.applyChange(t, { kind: 'add', shard: { id: 'c', weight: 1 } });
      const plan = shardkit.planRebalance(t, next);
      const ring = shardkit.Ring.fromTopology(next);
      expect(['a', 'b', 'c']).to.include(ring.route('user:1'));
      expect(shardkit.ShardRouter.fromTopology(next).route('user:1')).to.equal(ring.route('user:1'));
      expect(plan.movedFraction).to.be.closeTo(plan.minimalFraction, 1e-12);
    });
  });

  describe('shardkit/testing', () => {
    it('exports exactly the test doubles', () => {
      expect(sorted(Object.keys(testing))).to.deep.equal(sorted(TESTING_EXPORTS));
    });

    it('embeds a sharded collection through the two entry points alone', async () => {
      const topology = shardkit.Topology.parse('shards:\n  - id: a\n  - id: b\n');
      const pool = new testing.MemoryShardPool();
      const routing = new testing.StaticRoutingSource({ phase: 'stable', epoch: topology.epoch, topology: topology.toJSON() });
      const users = new shardkit.ShardedCollection<{ _id: string; n: number }>({ name: 'users', routing, pool });
      for (let i = 0; i < 20; i++) await users.insertOne({ _id: `u${i}`, n: i });
      const router = shardkit.ShardRouter.fromTopology(topology);
      for (let i = 0; i < 20; i++) {
        expect(await users.findOne({ _id: `u${i}` })).to.deep.equal({ _id: `u${i}`, n: i });
        expect(await pool.store(router.route(`u${i}`)).count({ _id: `u${i}` }), `u${i} on its owner`).to.equal(1);
      }
      await pool.close();
    });
  });

  describe('the built package', function () {
    // tsc on a busy machine; the build is what users install, so it is worth the wait.
    this.timeout(240_000);

    it('builds, and both entry points load from dist through the exports map', () => {
      const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
      expect(build.status, `npm run build:\n${build.stdout}\n${build.stderr}`).to.equal(0);
      for (const file of ['index.js', 'index.d.ts', 'testing.js', 'testing.d.ts']) {
        expect(existsSync(`${ROOT}dist/${file}`), `dist/${file}`).to.equal(true);
      }
      // Self-reference by package name resolves through package.json's "exports", as an installed
      // dependency would; plain Node, no tsx, so this is the JavaScript users run.
      const load = (specifier: string): string[] => {
        const script = `import(${JSON.stringify(specifier)}).then((m) => console.log(JSON.stringify(Object.keys(m))))`;
        const run = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
        expect(run.status, `import ${specifier}:\n${run.stderr}`).to.equal(0);
        return sorted(JSON.parse(run.stdout) as string[]);
      };
      expect(load('shardkit')).to.deep.equal(sorted(MAIN_EXPORTS));
      expect(load('shardkit/testing')).to.deep.equal(sorted(TESTING_EXPORTS));
    });
  });
});
