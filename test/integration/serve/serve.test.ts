/**
 * `shardkit serve` on MongoDB-wire servers, in-process through the real program: the endpoints
 * answer from the live deployment, and the dashboard, loaded in headless Chromium, shows every shard
 * and follows a `shardkit rebalance` that adds a shard while it runs. Saves a screenshot of the page
 * mid-migration in the test's temp dir (and at `SHARDKIT_DASHBOARD_PNG` when set, for the README).
 */
import { expect } from 'chai';
import { copyFile, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MongoClient } from 'mongodb';
import type { Browser, Page } from 'playwright-core';
import { captureIO } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';
import { ShardedCollection } from '../../../src/collection/sharded-collection.js';
import { StaticRoutingSource } from '../../../src/router/routing-source.js';
import type { ServeStatus } from '../../../src/serve/status-model.js';
import { MongoStore } from '../../../src/stores/mongo-store.js';
import type { ShardStore } from '../../../src/stores/shard-store.js';
import type { TopologySpec } from '../../../src/topology/types.js';
import { launchChromium } from '../../support/chromium.js';
import { testServerUris, uniqueDbName } from '../../support/servers.js';

const servers = testServerUris();
const prefix = uniqueDbName('serve');
const DOCS = 400;
const TOP = 0xffffffff;

function topology(ids: readonly number[], epoch = 1): TopologySpec {
  return {
    name: 'people',
    epoch,
    hash: 'xxhash32',
    vnodes: 16,
    placement: 'hashed',
    shards: ids.map((i) => ({ id: `s${i}`, weight: 1, uri: servers.shards[i % servers.shards.length]!, db: `${prefix}_s${i}` })),
  };
}

async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

function gauge(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series} in /metrics`);
  return Number(line.slice(series.length + 1));
}

describe('shardkit serve (live)', function () {
  this.timeout(180_000);
  let dir: string;
  let config: string;
  let to: string;
  let url: string;
  let serving: Promise<number>;
  let served: ReturnType<typeof captureIO>;
  let browser: Browser | undefined;
  const opened: ShardStore[] = [];

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-serve-'));
    const from = topology([0, 1]);
    await writeFile(join(dir, 'from.json'), JSON.stringify(from));
    to = join(dir, 'to.json');
    await writeFile(to, JSON.stringify(topology([0, 1, 2], 2)));
    config = join(dir, 'shardkit.json');
    await writeFile(
      config,
      JSON.stringify({ configStore: { uri: servers.config, db: `${prefix}_config` }, name: 'people', topology: './from.json', leaseMs: 300, opTimeoutMs: 2000 }),
    );
    const init = captureIO();
    expect(await runCli(['init', '--config', config], init), init.err()).to.equal(0);
    const stores = new Map<string, ShardStore>();
    for (const s of from.shards) {
      const store = await MongoStore.connect({ shardId: s.id, uri: s.uri!, db: s.db!, collection: 'people' });
      opened.push(store);
      stores.set(s.id, store);
    }
    const people = new ShardedCollection({
      name: 'people',
      pool: { store: (id: string) => stores.get(id)! },
      routing: new StaticRoutingSource({ phase: 'stable', epoch: 1, topology: from }),
    });
    await people.insertMany(Array.from({ length: DOCS }, (_, i) => ({ _id: `p${i}`, n: i })));

    served = captureIO();
    serving = runCli(['serve', '--config', config, '--port', '0', '--interval', '250'], served);
    url = await waitUntil('the listening line', async () => /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(served.out())?.[1], 30_000);
  });

  after(async function () {
    await browser?.close();
    process.emit('SIGTERM');
    await serving?.catch(() => undefined);
    await Promise.allSettled(opened.map((s) => s.close()));
    const client = await MongoClient.connect(servers.config);
    try {
      await client.db(`${prefix}_config`).dropDatabase();
    } finally {
      await client.close();
    }
    for (const uri of new Set(servers.shards)) {
      const c = await MongoClient.connect(uri);
      try {
        for (const i of [0, 1, 2]) await c.db(`${prefix}_s${i}`).dropDatabase().catch(() => undefined);
      } finally {
        await c.close();
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz, /readyz, /api/status and /metrics from the live deployment', async function () {
    expect(await get(`${url}/healthz`)).to.deep.include({ status: 200, body: 'ok\n' });
    const ready = await waitUntil('readiness', async () => {
      const r = await get(`${url}/readyz`);
      return r.status === 200 && r;
    });
    expect(ready.body).to.equal('ready\n');

    const api = await get(`${url}/api/status`);
    expect(api.type).to.equal('application/json');
    const status = JSON.parse(api.body) as ServeStatus;
    expect(status.ready).to.equal(true);
    expect(status.deployment?.epoch).to.equal(1);
    expect(status.deployment?.phase).to.equal('stable');
    expect(status.deployment?.shards.map((s) => s.id)).to.deep.equal(['s0', 's1']);
    expect(status.deployment?.shards.reduce((n, s) => n + (s.documents ?? 0), 0)).to.equal(DOCS);
    expect(status.migration).to.equal(null);
    // The ring's arcs tile the whole hash space, in order, without a gap.
    const arcs = status.ring!.arcs;
    expect(arcs[0]![0]).to.equal(-1);
    expect(arcs.at(-1)![1]).to.equal(TOP);
    for (let i = 1; i < arcs.length; i++) expect(arcs[i]![0]).to.equal(arcs[i - 1]![1]);

    const metrics = await get(`${url}/metrics`);
    expect(metrics.type).to.match(/^text\/plain; version=0\.0\.4/);
    expect(gauge(metrics.body, 'shardkit_config_store_up')).to.equal(1);
    expect(gauge(metrics.body, 'shardkit_routing_epoch')).to.equal(1);
    expect(gauge(metrics.body, 'shardkit_routing_phase{phase="stable"}')).to.equal(1);
    expect(gauge(metrics.body, 'shardkit_shard_up{shard="s0"}')).to.equal(1);
    expect(gauge(metrics.body, 'shardkit_shard_up{shard="s1"}')).to.equal(1);
    expect(gauge(metrics.body, 'shardkit_shard_documents{shard="s0"}') + gauge(metrics.body, 'shardkit_shard_documents{shard="s1"}')).to.equal(DOCS);
    expect(gauge(metrics.body, 'shardkit_shard_ping_seconds{shard="s0"}')).to.be.greaterThan(0).and.lessThan(5);
    expect(gauge(metrics.body, 'shardkit_migration_active')).to.equal(0);
    expect(metrics.body).to.match(/^shardkit_store_calls_total\{shard="s0",op="ping"\} [1-9]/m);
    expect(metrics.body).to.contain('process_cpu_seconds_total');

    expect((await get(`${url}/nope`)).status).to.equal(404);
    expect((await fetch(`${url}/api/status`, { method: 'POST' })).status).to.equal(405);
  });

  it('shows every shard on the dashboard and follows a rebalance while it runs', async function () {
    // Liveness only: on a loaded 2-core machine the throttled migration and its lease waits crawl.
    this.timeout(600_000);
    browser = await launchChromium();
    const page: Page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(`${url}/?poll=250`);
    await page.waitForSelector('#shards-body tr[data-shard="s1"]');
    expect(await page.$$eval('#shards-body tr', (rows) => rows.map((r) => r.getAttribute('data-shard')))).to.deep.equal(['s0', 's1']);
    expect(await page.$$eval('#ring path.arc', (paths) => [...new Set(paths.map((p) => p.getAttribute('data-shard')))].sort())).to.deep.equal(['s0', 's1']);
    expect(await page.textContent('#ring .epoch')).to.equal('epoch 1');
    expect(await page.textContent('#conn')).to.equal('ready');

    // Slow enough (40 docs/s in batches of 5) that the page sees the copy progress.
    const rebalanceIO = captureIO();
    const rebalance = runCli(['rebalance', '--config', config, '--to', to, '--yes', '--throttle', '40', '--batch-size', '5'], rebalanceIO);
    const copied = async (): Promise<number> => Number((await page.getAttribute('#migration', 'data-copied')) ?? '0');
    await page.waitForSelector('#migration[data-active="true"]', { timeout: 180_000 });
    const first = await waitUntil('copy progress on the page', async () => (await copied()) > 0 && copied(), 180_000);
    const later = await waitUntil(
      'the page to update',
      async () => {
        const now = await copied();
        return now > first && now;
      },
      180_000,
    );
    expect(later).to.be.greaterThan(first);
    expect(await page.$$eval('#moves-body tr', (rows) => rows.length)).to.be.greaterThan(0);
    expect(await page.textContent('#moves-body')).to.contain('s2');
    const metrics = (await get(`${url}/metrics`)).body;
    expect(gauge(metrics, 'shardkit_migration_active')).to.equal(1);
    expect(gauge(metrics, 'shardkit_migration_estimated_documents')).to.be.greaterThan(0);
    const shot = join(dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect((await stat(shot)).size).to.be.greaterThan(10_000);
    const keep = process.env['SHARDKIT_DASHBOARD_PNG'];
    if (keep !== undefined && keep !== '') await copyFile(shot, keep);

    expect(await rebalance, rebalanceIO.err()).to.equal(0);
    // migrating 2, committed (settling) 3, settled 4: the page follows to the end.
    await page.waitForSelector('#ring .epoch:text-is("epoch 4")', { timeout: 180_000 });
    await page.waitForSelector('#migration[data-active="false"][data-phase="done"]', { timeout: 180_000 });
    expect(await page.$$eval('#shards-body tr', (rows) => rows.map((r) => r.getAttribute('data-shard')))).to.deep.equal(['s0', 's1', 's2']);
    expect(await page.textContent('#mig-summary')).to.contain('completed');
    const done = JSON.parse((await get(`${url}/api/status`)).body) as ServeStatus;
    expect(done.deployment?.shards.reduce((n, s) => n + (s.documents ?? 0), 0)).to.equal(DOCS);
    expect(errors).to.deep.equal([]);
  });

  it('stops cleanly on SIGTERM and closes its port', async function () {
    process.emit('SIGTERM');
    expect(await serving, served.err()).to.equal(0);
    expect(served.out()).to.contain('SIGTERM: stopped');
    const refused = await fetch(`${url}/healthz`).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).to.be.instanceOf(Error);
  });
});
