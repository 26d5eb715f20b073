/**
 * Migration under fire on MongoDB-wire servers: 4 writer processes, each with its own lease-following
 * router, keep writing while a migrator child process is killed with SIGKILL at random points and
 * resumed (or, in one scenario, aborted), and one shard server is restarted. The end state is checked
 * against the writers' logs: no acknowledged write lost, no delete undone, one copy per key, every key
 * on its owner, no marker left. SHARDKIT_CHAOS_KILLS sets the number of kills per scenario (default 5).
 * The pause scenario instead freezes (SIGSTOP) a shard server past the routers' opTimeoutMs and then
 * the migrator past its lock lease, and the one migrator run must finish without a resume (ADR 0006);
 * SHARDKIT_CHAOS_TIMELINE=1 prints its timeline.
 *
 * Every random choice (kill points, the writers' keys and operations) comes from one seed per run,
 * printed first and in every failure: `SHARDKIT_CHAOS_SEED=<n>` replays a CI failure's draws. Timing
 * still varies between runs (servers, the scheduler), so a replay repeats the schedule, not the
 * interleaving.
 */
import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { MongoConfigStore } from '../../../src/config-store/mongo-config-store.js';
import { prng } from '../../../src/demo/writers.js';
import { ErrorCode } from '../../../src/errors.js';
import { TopologyFollower } from '../../../src/router/follower.js';
import { ShardRouter } from '../../../src/router/router.js';
import { MongoShardPool } from '../../../src/stores/shard-pool.js';
import { Topology } from '../../../src/topology/topology.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';
import { stopProcess } from '../../support/stop-process.js';
import type { KeyLog, WriterArgs, WriterReport } from './fixtures/writer-child.js';

const KILLS = Number(process.env['SHARDKIT_CHAOS_KILLS'] ?? 5);
const SEED = chaosSeed(process.env['SHARDKIT_CHAOS_SEED']);
const REPLAY = `chaos seed ${String(SEED)} (replay: SHARDKIT_CHAOS_SEED=${String(SEED)})`;
const LEASE_MS = 400;
const OP_TIMEOUT_MS = 1500;
const DOCS = 240;
const WRITERS = 4;
/** The pause scenario: the migrator's own store timeout (below the routers' OP_TIMEOUT_MS), its lock lease, and the freezes. */
const MIGRATOR_OP_TIMEOUT_MS = 1000;
const MIGRATOR_LOCK_LEASE_MS = 3000;
const SHARD_FREEZE_MS = 4000;
const MIGRATOR_FREEZE_MS = 4500;
const ABSENT = -1;
const FIXTURE = fileURLToPath(new URL('./fixtures/migrate-child.ts', import.meta.url));
const WRITER = fileURLToPath(new URL('./fixtures/writer-child.ts', import.meta.url));
const SCRIPT = fileURLToPath(new URL('../../../scripts/test-servers.sh', import.meta.url));

interface Doc {
  _id: string;
  v: number;
}

const servers = testServerUris();

/** The run's seed: `SHARDKIT_CHAOS_SEED` when set (a uint32), else a fresh one. */
function chaosSeed(raw: string | undefined): number {
  if (raw === undefined || raw === '') return randomInt(0, 2 ** 32 - 1);
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`SHARDKIT_CHAOS_SEED must be an integer in 0..4294967295, got ${raw}`);
  return seed;
}

/**
 * One stream per scenario, derived from the run's seed and the scenario's name, so replaying a seed
 * with `--grep` on one scenario draws what that scenario drew in the full run.
 */
function scenarioRandom(scenario: string): () => number {
  let h = SEED;
  for (const c of scenario) h = Math.imul(h ^ c.charCodeAt(0), 0x9e3779b1) >>> 0;
  return prng(h);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A running writer process; `stop()` sends SIGTERM and resolves with its report. */
interface Writer {
  stop(): Promise<WriterReport>;
  /** SIGKILL it if it still runs (a failed test must not leave writers behind). */
  kill(): void;
}

function startWriter(args: WriterArgs): Writer {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    // 'close', not 'exit': 'exit' can fire before the pipe is drained, and the report is one line of
    // a few hundred kB (seed 3011341759 parsed a truncated one).
    child.on('close', (code) => resolve(code));
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || line === undefined) throw new Error(`writer ${String(args.writer)} exited ${String(code)}: ${err.slice(0, 2000)}`);
      return JSON.parse(line) as WriterReport;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

interface ChildResult {
  readonly killed: boolean;
  readonly lines: Array<Record<string, unknown>>;
}

/**
 * When to SIGKILL a migrator child: after its `afterEvents`-th event line plus `jitterMs`. Anchored to
 * the migrator's own progress rather than wall-clock time, so a kill lands mid-migration however fast
 * the machine is (a time-based kill let a quick abort leg finish first on an idle machine).
 */
interface KillPoint {
  readonly afterEvents: number;
  readonly jitterMs: number;
}

function runChild(
  args: Record<string, unknown>,
  kill: KillPoint | null,
  onLine: (line: string) => void,
  onEvent?: (child: ChildProcess, event: Record<string, unknown>) => void,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let killed = false;
    let timer: NodeJS.Timeout | undefined;
    let seen = 0;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const complete = out.split('\n').slice(0, -1);
      for (const line of complete.slice(seen)) {
        onLine(line);
        if (onEvent !== undefined && line.startsWith('{')) onEvent(child, JSON.parse(line) as Record<string, unknown>);
      }
      seen = complete.length;
      if (kill === null || timer !== undefined) return;
      const events = out.split('\n').filter((l) => l.startsWith('{')).length;
      if (events >= kill.afterEvents) {
        timer = setTimeout(() => {
          killed = child.kill('SIGKILL');
        }, kill.jitterMs);
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', () => {
      if (timer !== undefined) clearTimeout(timer);
      if (killed) onLine('(killed)');
      // Complete lines only: a SIGKILL can cut the last one short.
      const lines = out
        .split('\n')
        .slice(0, -1)
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      if (!killed && lines.length === 0) reject(new Error(`migrator child printed nothing: ${err.slice(0, 2000)}`));
      else resolve({ killed, lines });
    });
  });
}

function restartOneShard(): boolean {
  const state = process.env['SHARDKIT_STATE'];
  if (state === undefined || !existsSync(state)) return false;
  const r = spawnSync('bash', [SCRIPT, 'restart-one', '1'], { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`restart-one failed: ${r.stderr}`);
  return true;
}

type Scenario = 'add' | 'remove' | 'abort' | 'pause';

describe('migration chaos (live)', function () {
  this.timeout(360_000);

  before(() => {
    console.log(`      ${REPLAY}`);
  });

  // Here rather than a catch in the test, so a timeout's failure names the seed too; the message is
  // edited, not replaced, so mocha still shows an assertion's expected/actual diff.
  afterEach(function () {
    const err = (this.currentTest as (Mocha.Test & { err?: Error }) | undefined)?.err;
    if (err !== undefined && !err.message.includes(REPLAY)) err.message = `[${REPLAY}] ${err.message}`;
  });

  for (const scenario of ['add', 'remove', 'abort'] as const) {
    it(`${scenario}: writers keep writing, the migrator is killed ${KILLS} times and resumed${scenario === 'abort' ? ', then aborted' : ''}`, async () => {
      await runScenario(scenario);
    });
  }

  it('pause: a shard server, then the migrator, frozen (SIGSTOP) past opTimeoutMs and the lock lease; the migration completes without a resume', async () => {
    await runPauseScenario();
  });
});

/**
 * The kill points of one scenario, drawn up front: the k-th kill lands at the same point in every
 * replay, however many runs failed for other reasons (a lock race, the restarting shard) in between.
 * Kill after the 1st..3rd event plus up to 250 ms: random points, always before the child ends. The
 * first run of the abort scenario is killed once copy has begun (its 2nd event), so the abort lands
 * before the commit and its reverse leg has documents to carry back (and waits to be killed in); an
 * abort right after the publish has nothing to undo and ends before any further kill can land.
 */
function killPlan(scenario: Scenario, rand: () => number): KillPoint[] {
  return Array.from({ length: KILLS }, (_, k) =>
    scenario === 'abort' && k === 0
      ? { afterEvents: 2, jitterMs: Math.floor(rand() * 100) }
      : { afterEvents: 1 + Math.floor(rand() * 3), jitterMs: Math.floor(rand() * 250) },
  );
}


/** What every scenario sets up: topologies, config store, pool, a follower, seeded keys and writer processes. */
interface ChaosWorld {
  readonly prefix: string;
  readonly from: Topology;
  readonly to: TopologySpec;
  readonly rand: () => number;
  readonly config: MongoConfigStore;
  readonly pool: MongoShardPool;
  t0: number;
  readonly timeline: string[];
  writers: Writer[];
  follower: TopologyFollower | undefined;
  childArgs(action: string, owner: string, extra?: Record<string, unknown>): Record<string, unknown>;
}

async function openWorld(scenario: Scenario): Promise<ChaosWorld> {
  const prefix = uniqueDbName(`chaos_${scenario}`);
  const shard = (i: number): { id: string; weight: number; uri: string; db: string } => ({
    id: `s${i}`,
    weight: 1,
    uri: servers.shards[i % servers.shards.length]!,
    db: `${prefix}_s${i}`,
  });
  const initial = scenario === 'remove' ? [0, 1, 2, 3] : [0, 1, 2];
  const from = Topology.from({ name: prefix, epoch: 1, vnodes: 16, shards: initial.map(shard) });
  const to: TopologySpec = (scenario === 'remove' ? from.with({ kind: 'remove', id: 's2' }) : from.with({ kind: 'add', shard: shard(3) })).toJSON();
  const configDb = `${prefix}_cfg`;
  const config = await MongoConfigStore.connect({ uri: servers.config, db: configDb, name: prefix, opTimeoutMs: 5000 });
  const pool = new MongoShardPool({ collection: 'items', topology: [from.toJSON(), to], opTimeoutMs: OP_TIMEOUT_MS });
  return {
    prefix,
    from,
    to,
    rand: scenarioRandom(scenario),
    config,
    pool,
    t0: Date.now(),
    timeline: [],
    writers: [],
    follower: undefined,
    childArgs: (action, owner, extra = {}) => ({
      action,
      configUri: servers.config,
      configDb,
      name: prefix,
      collection: 'items',
      from: from.toJSON(),
      to,
      owner,
      leaseMs: LEASE_MS,
      opTimeoutMs: OP_TIMEOUT_MS,
      batchSize: 16,
      ...extra,
    }),
  };
}

/** Seed the keys through a router, then start the writer processes, each owning a slice of the keys and logging what was acknowledged. */
async function startWriters(w: ChaosWorld, writerSeeds: readonly number[]): Promise<void> {
  const { config, pool, from, to, prefix } = w;
  for (const i of [0, 1, 2, 3]) await pool.store(`s${i}`).ensureRoutingIndex();
  await config.compareAndSet(null, { phase: 'stable', epoch: 1, topology: from.toJSON() });
  const follower = await TopologyFollower.start(config, { leaseMs: LEASE_MS, refreshIntervalMs: LEASE_MS / 4 });
  w.follower = follower;
  const coll = new ShardedCollection<Doc>({ name: 'items', routing: follower, pool, maxRedirects: 5 });
  for (let i = 0; i < DOCS; i++) await coll.insertOne({ _id: `k${i}`, v: i });
  w.t0 = Date.now();
  w.writers = Array.from({ length: WRITERS }, (_, k) =>
    startWriter({
      writer: k,
      writers: WRITERS,
      seed: writerSeeds[k]!,
      docs: DOCS,
      t0: w.t0,
      configUri: servers.config,
      configDb: `${prefix}_cfg`,
      name: prefix,
      collection: 'items',
      topologies: [from.toJSON(), to],
      leaseMs: LEASE_MS,
      opTimeoutMs: OP_TIMEOUT_MS,
    }),
  );
}

/**
 * The end state against the writers' logs: no acknowledged write lost, no delete undone, one copy
 * per key, every key on its owner, no marker left. Returns the writers' acknowledged and failed counts.
 */
async function checkEndState(w: ChaosWorld, report: Record<string, unknown>): Promise<{ acked: number; failed: number }> {
  const reports = await Promise.all(w.writers.map((x) => x.stop()));
  w.follower?.close();
  const logs = new Map<string, KeyLog>(reports.flatMap((r) => Object.entries(r.logs)));
  const anomalies = reports.flatMap((r) => r.anomalies).map((a) => `${a}\nMigrator:\n  ${w.timeline.join('\n  ')}`);
  const acked = reports.reduce((n, r) => n + r.acked, 0);
  const failed = reports.reduce((n, r) => n + r.failed, 0);
  expect(logs.size, 'every key has a writer').to.equal(DOCS);
  expect(anomalies, 'writes that contradicted the acknowledged history').to.deep.equal([]);

  const state = await w.config.load();
  expect(state?.phase).to.equal('stable');
  const final = state!.topology;
  const expectedShards = report['outcome'] === 'aborted' ? w.from.shards.map((s) => s.id) : w.to.shards.map((s) => s.id);
  expect(final.shards.map((s) => s.id)).to.deep.equal(expectedShards);
  const router = ShardRouter.fromTopology(final);
  const seen = new Map<string, string>();
  for (const i of [0, 1, 2, 3]) {
    for (const d of await w.pool.store(`s${i}`).find({})) {
      const key = String(d._id);
      expect(d, `marker left on s${i}: ${JSON.stringify(d)}`).to.not.have.any.keys('_moved', '_ph', '_ts');
      expect(seen.get(key), `${key} duplicated`).to.equal(undefined);
      seen.set(key, `s${i}`);
      expect(router.route(key), `${key} is on s${i}`).to.equal(`s${i}`);
      const log = logs.get(key)!;
      const ok = d['v'] === log.acked || log.maybe.includes(d['v'] as number);
      expect(ok, `${key} = ${String(d['v'])}, acknowledged ${log.acked}, maybe ${[...log.maybe].join(',')}; history:\n  ${log.history.join('\n  ')}`).to.equal(true);
    }
  }
  for (const [key, log] of logs) {
    if (!seen.has(key)) expect(log.acked === ABSENT || log.maybe.includes(ABSENT), `${key} lost (acknowledged ${log.acked}); history:\n  ${log.history.join('\n  ')}`).to.equal(true);
  }
  return { acked, failed };
}

async function closeWorld(w: ChaosWorld): Promise<void> {
  for (const x of w.writers) x.kill();
  w.follower?.close();
  await w.pool.close().catch(() => undefined);
  await w.config.close().catch(() => undefined);
}

async function runScenario(scenario: Exclude<Scenario, 'pause'>): Promise<void> {
  const w = await openWorld(scenario);
  const killAt = killPlan(scenario, w.rand);
  const writerSeeds = Array.from({ length: WRITERS }, () => Math.floor(w.rand() * 2 ** 32));
  try {
    await startWriters(w, writerSeeds);
    const { config, prefix, timeline } = w;
    let kills = 0;
    let restarted = false;
    let aborted = false;
    let report: Record<string, unknown> | undefined;
    for (let run = 0; report === undefined; run++) {
      if (run > KILLS + 30) throw new Error(`migration did not finish after ${String(run)} runs, ${String(kills)} kills:\n  ${timeline.slice(-30).join('\n  ')}`);
      const journal = await config.readJournal(`migration:${prefix}`);
      const phase = journal?.['phase'];
      let action = journal === null ? 'start' : 'resume';
      // Once asked, keep asking: an abort child killed before it wrote the reverse leg leaves no trace,
      // and abort on a reverse leg simply resumes it.
      const abortable = journal !== null && phase !== 'done' && (journal['reverse'] === true || ['publish', 'copy', 'sweep', 'verify'].includes(String(phase)));
      if (scenario === 'abort' && kills >= 1 && abortable) {
        action = 'abort';
        aborted = true;
      }
      const kill: KillPoint | null = kills >= KILLS ? null : killAt[kills]!;
      const result = await runChild(w.childArgs(action, `child${run}`), kill, (line) => {
        timeline.push(`+${String(Date.now() - w.t0)}ms child${String(run)} ${action}: ${line.slice(0, 200)}`);
      });
      if (result.killed) {
        kills++;
        if (kills === 2 && !restarted) restarted = restartOneShard();
        continue;
      }
      const last = result.lines[result.lines.length - 1]!;
      if (last['type'] === 'report') {
        const r = last['report'] as Record<string, unknown>;
        // The killed child's lock was still leased: the abort was left as a request; ask again later.
        if (r['outcome'] === 'abortRequested') {
          await sleep(LEASE_MS);
          continue;
        }
        report = r;
        break;
      }
      // A child that lost a race with the killed one's lock, or hit the restarting shard, is retried.
      const code = String(last['code']);
      if (![ErrorCode.lockHeld, ErrorCode.storeUnavailable, ErrorCode.storeTimeout, ErrorCode.preflightFailed, ErrorCode.circuitOpen].includes(code as never)) {
        throw new Error(`migrator child failed: ${JSON.stringify(last)}`);
      }
      await sleep(LEASE_MS);
    }
    if (scenario === 'abort') {
      expect(aborted, 'an abort was issued').to.equal(true);
      expect(report['outcome']).to.equal('aborted');
    }
    expect(kills).to.equal(KILLS);
    const { acked, failed } = await checkEndState(w, report);
    const counters = report['counters'] as Record<string, number>;
    console.log(
      `      ${scenario}: ${kills} kills at ${killAt.map((k) => `${String(k.afterEvents)}+${String(k.jitterMs)}ms`).join(', ')} ` +
        `(event+jitter), restart=${String(restarted)}, ${WRITERS} writer processes, ${acked} acked / ${failed} failed writes, ` +
        `moved ${counters['docsMoved']}, read ${counters['docsRead']}, outcome ${String(report['outcome'])}`,
    );
  } finally {
    await closeWorld(w);
  }
}

/** The pid of shard server `i` as scripts/test-servers.sh started it, or null (no servers of ours to signal). */
function shardServerPid(i: number): number | null {
  const state = process.env['SHARDKIT_STATE'];
  const file = state === undefined ? '' : join(state, `shard${String(i)}`, 'pid');
  if (state === undefined || !existsSync(file)) return null;
  const pid = Number(readFileSync(file, 'utf8').trim());
  // A recycled pid is never ours to stop: it must still be a FerretDB process (as the script checks).
  if (!Number.isSafeInteger(pid) || pid <= 0 || !existsSync(`/proc/${String(pid)}/cmdline`)) return null;
  return readFileSync(`/proc/${String(pid)}/cmdline`, 'utf8').includes('ferretdb') ? pid : null;
}

/** SIGSTOP `pid` for `ms`, then SIGCONT (also when the wait fails). */
async function freeze(pid: number, ms: number, during?: () => Promise<void>): Promise<void> {
  try {
    await stopProcess(pid);
    await sleep(ms);
    await during?.();
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

/**
 * The pause fault (issue 8): while writers run, shard server 3 (s3, the target every copy batch
 * writes to) is frozen for SHARD_FREEZE_MS, longer than the routers' opTimeoutMs and the migrator's own store timeout, once
 * the copy has begun; after it runs again, the migrator process itself is frozen past its lock lease.
 * The one migrator run heals both (ADR 0006): the shard's timeouts by repeating the step, its own
 * pause by stopping before the next write and confirming its lock generation. No resume is run.
 */
async function runPauseScenario(): Promise<void> {
  const w = await openWorld('pause');
  const shardAfter = 3 + Math.floor(w.rand() * 3);
  const migratorAfter = 2 + Math.floor(w.rand() * 4);
  const writerSeeds = Array.from({ length: WRITERS }, () => Math.floor(w.rand() * 2 ** 32));
  const shardPid = shardServerPid(3);
  const stopped = new Set<number>();
  try {
    await startWriters(w, writerSeeds);
    const { timeline, config } = w;
    const mark = (what: string): void => void timeline.push(`+${String(Date.now() - w.t0)}ms ${what}`);
    let events = 0;
    let shardFrozen: Promise<void> | undefined;
    let shardThawedAt: number | undefined;
    let migratorFrozen: Promise<void> | undefined;
    let lockWhileFrozen: unknown = 'not checked';
    let retries = 0;
    let storeRetries = 0;
    const args = w.childArgs('start', 'pause0', { storeOpTimeoutMs: MIGRATOR_OP_TIMEOUT_MS, lockLeaseMs: MIGRATOR_LOCK_LEASE_MS, retryBudgetMs: 60_000 });
    const result = await runChild(
      args,
      null,
      (line) => {
        mark(`pause0: ${line.slice(0, 200)}`);
        if (!line.startsWith('{')) return;
        events++;
        if (line.includes('"type":"retry"')) retries++;
        if (line.includes('"type":"retry"') && line.includes('"code":"shardkit.store.')) storeRetries++;
      },
      (child, event) => {
        if (shardFrozen === undefined && shardPid !== null && events >= shardAfter) {
          mark(`SIGSTOP shard server 3 for ${String(SHARD_FREEZE_MS)} ms`);
          stopped.add(shardPid);
          shardFrozen = freeze(shardPid, SHARD_FREEZE_MS).then(() => {
            stopped.delete(shardPid);
            shardThawedAt = events;
            mark('SIGCONT shard server 3');
          });
        }
        const shardDone = shardPid === null || (shardThawedAt !== undefined && events >= shardThawedAt + migratorAfter);
        if (migratorFrozen === undefined && shardDone && event['type'] !== 'done' && child.pid !== undefined) {
          const pid = child.pid;
          mark(`SIGSTOP migrator for ${String(MIGRATOR_FREEZE_MS)} ms`);
          migratorFrozen = freeze(pid, MIGRATOR_FREEZE_MS, async () => {
            lockWhileFrozen = await config.readLock();
          }).then(() => mark(`SIGCONT migrator (lock while frozen: ${JSON.stringify(lockWhileFrozen)})`));
        }
      },
    );
    await shardFrozen;
    await migratorFrozen;
    const last = result.lines[result.lines.length - 1];
    expect(last?.['type'], `the one migrator run ended with ${JSON.stringify(last)}:\n  ${timeline.slice(-40).join('\n  ')}`).to.equal('report');
    const report = last!['report'] as Record<string, unknown>;
    expect(report['outcome']).to.equal('completed');
    expect(migratorFrozen, 'the migrator was frozen before it finished').to.not.equal(undefined);
    expect(lockWhileFrozen, 'its lock lease lapsed while it was frozen').to.equal(null);
    const { acked, failed } = await checkEndState(w, report);
    if (process.env['SHARDKIT_CHAOS_TIMELINE'] === '1') console.log(`      ${timeline.join('\n      ')}`);
    const counters = report['counters'] as Record<string, number>;
    console.log(
      `      pause: 1 migrator run, no resume; shard server 3 (s3, the target) ${shardPid === null ? 'not frozen (servers not started by scripts/test-servers.sh)' : `frozen ${String(SHARD_FREEZE_MS)} ms after event ${String(shardAfter)}`}, ` +
        `migrator frozen ${String(MIGRATOR_FREEZE_MS)} ms (lock lease ${String(MIGRATOR_LOCK_LEASE_MS)} ms) ${String(migratorAfter)} events after that; ${String(retries)} steps retried (${String(storeRetries)} after a store timeout or unreachable shard); ` +
        `${WRITERS} writer processes, ${acked} acked / ${failed} failed writes, moved ${counters['docsMoved']}, read ${counters['docsRead']}, outcome ${String(report['outcome'])}`,
    );
  } finally {
    // Never leave a stopped server behind, whatever failed.
    for (const pid of stopped) {
      try {
        process.kill(pid, 'SIGCONT');
      } catch {
        // Gone already.
      }
    }
    await closeWorld(w);
  }
}
