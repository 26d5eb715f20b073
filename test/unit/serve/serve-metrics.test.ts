import { expect } from 'chai';
import { Registry } from 'prom-client';
import { StatusCollector } from '../../../src/serve/collector.js';
import { ServeMetrics } from '../../../src/serve/serve-metrics.js';
import { migrationView, type ServeStatus } from '../../../src/serve/status-model.js';
import { FakeClock } from '../../support/fake-clock.js';
import { fakeDeployment, journal, topology } from '../../support/serve-deployment.js';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => !l.startsWith('#'));
}

describe('ServeMetrics', function () {
  it('exposes reachability, latency, documents, shares, epoch, phase and the migration', async function () {
    const d = await fakeDeployment();
    await d.setJournal(journal(10));
    const registry = new Registry();
    const metrics = new ServeMetrics(registry);
    const clock = new FakeClock();
    const collector = new StatusCollector({ deployment: d, clock, intervalMs: 1000, onPoll: (s) => metrics.update(s) });
    await collector.poll();
    await d.setJournal(journal(30));
    await clock.advance(2000);
    const status = await collector.poll();
    const text = lines(await registry.metrics());
    const share = status.deployment!.shards[0]!.share;
    for (const line of [
      'shardkit_config_store_up 1',
      'shardkit_shard_up{shard="s1"} 1',
      'shardkit_shard_up{shard="s2"} 1',
      'shardkit_shard_documents{shard="s1"} 0',
      'shardkit_shard_markers{shard="s2"} 0',
      `shardkit_shard_ring_share{shard="s1"} ${share}`,
      'shardkit_routing_epoch 1',
      'shardkit_routing_phase{phase="stable"} 1',
      'shardkit_routing_phase{phase="migrating"} 0',
      'shardkit_migration_active 1',
      'shardkit_migration_phase{phase="copy"} 1',
      'shardkit_migration_phase{phase="done"} 0',
      'shardkit_migration_copied_documents 90',
      'shardkit_migration_estimated_documents 100',
      'shardkit_migration_moves{state="total"} 2',
      'shardkit_migration_moves{state="copied"} 1',
      'shardkit_migration_rate_docs_per_second 10',
      'shardkit_migration_eta_seconds 1',
      'shardkit_migration_documents{kind="moved"} 90',
      'shardkit_config_store_errors_total 0',
    ]) {
      expect(text, line).to.include(line);
    }
    expect(text.some((l) => /^shardkit_shard_ping_seconds\{shard="s1"\} \d/.test(l))).to.equal(true);
  });

  it('counts failed probes, drops a shard that left, and says the ETA is unknown without a rate', async function () {
    const registry = new Registry();
    const metrics = new ServeMetrics(registry);
    const shard = (id: string, reachable: boolean): NonNullable<ServeStatus['deployment']>['shards'][number] => ({
      id, weight: 1, draining: false, uri: null, share: 0.5, reachable, latencyMs: reachable ? 2 : null, documents: reachable ? 5 : null, markers: reachable ? 0 : null,
    });
    const base = { at: 1_000, configStore: { reachable: true }, ring: null, ready: false };
    const deployment = {
      name: 'people', collection: 'people', configStore: 'memory', phase: 'stable' as const, epoch: 3, migrationId: 'm1', fromEpoch: 2, settling: true, lock: null, lastMigration: null,
      topology: topology(), shards: [shard('s1', true), shard('s2', false)],
    };
    const m = migrationView(journal(10), 0, 0);
    metrics.update({ ...base, deployment, migration: m });
    metrics.update({ ...base, deployment: { ...deployment, shards: [shard('s1', true)] }, migration: m });
    const text = lines(await registry.metrics());
    expect(text).to.include('shardkit_shard_probe_errors_total{shard="s2"} 1');
    expect(text.filter((l) => l.startsWith('shardkit_shard_up'))).to.deep.equal(['shardkit_shard_up{shard="s1"} 1']);
    expect(text).to.include('shardkit_routing_phase{phase="settling"} 1');
    expect(text.filter((l) => l.startsWith('shardkit_migration_eta_seconds')).map((l) => Number.parseFloat(l.split(' ')[1]!.replace(/^nan$/i, 'NaN')))).to.deep.equal([Number.NaN]);
    metrics.update({ ...base, configStore: { reachable: false, error: 'gone' }, deployment: null, migration: null });
    const after = lines(await registry.metrics());
    expect(after).to.include('shardkit_config_store_up 0');
    expect(after).to.include('shardkit_config_store_errors_total 1');
    expect(after).to.include('shardkit_migration_active 0');
  });
});
