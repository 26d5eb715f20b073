import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT } from '../../../src/serve/dashboard.js';
import { notReadyReasons, startServer, type RunningServer } from '../../../src/serve/server.js';
import { StatusCollector } from '../../../src/serve/collector.js';
import type { ServeStatus } from '../../../src/serve/status-model.js';
import { counterIn } from '../../../src/metrics/prom.js';
import { FakeClock } from '../../support/fake-clock.js';
import { fakeDeployment } from '../../support/serve-deployment.js';

describe('serve HTTP server', function () {
  let server: RunningServer;
  let status: ServeStatus | undefined;
  const registry = new Registry();
  counterIn(registry, 'probe_total', 'a probe', []).inc(3);

  before(async function () {
    server = await startServer({ status: () => status, registry, host: '127.0.0.1', port: 0 });
  });

  after(async function () {
    await server.close();
  });

  it('answers /healthz at once, and /readyz and /api/status with 503 before the first poll', async function () {
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${server.url}/healthz`);
    expect([health.status, await health.text()]).to.deep.equal([200, 'ok\n']);
    const ready = await fetch(`${server.url}/readyz`);
    expect([ready.status, await ready.text()]).to.deep.equal([503, 'not ready\nno poll of the deployment has finished yet\n']);
    expect((await fetch(`${server.url}/api/status`)).status).to.equal(503);
  });

  it('serves the status as redacted JSON, readiness with reasons, and the registry as Prometheus text', async function () {
    const d = await fakeDeployment();
    d.down.add('s2');
    status = await new StatusCollector({ deployment: d, clock: new FakeClock(), intervalMs: 1000 }).poll();
    const api = await fetch(`${server.url}/api/status`);
    expect(api.headers.get('content-type')).to.equal('application/json');
    const body = await api.text();
    expect(body).to.not.contain('secret');
    expect((JSON.parse(body) as ServeStatus).deployment?.shards.map((s) => s.id)).to.deep.equal(['s1', 's2']);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).to.equal(503);
    expect(await ready.text()).to.match(/^not ready\nshard s2: .*failed/);
    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.headers.get('content-type')).to.equal(registry.contentType);
    expect(await metrics.text()).to.contain('probe_total 3');
    d.down.clear();
    status = await new StatusCollector({ deployment: d, clock: new FakeClock(), intervalMs: 1000 }).poll();
    const readyNow = await fetch(`${server.url}/readyz`);
    expect([readyNow.status, await readyNow.text()]).to.deep.equal([200, 'ready\n']);
  });

  it('serves the dashboard with a CSP that allows exactly its own script', async function () {
    const res = await fetch(`${server.url}/`);
    expect(res.status).to.equal(200);
    expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8');
    expect(await res.text()).to.equal(DASHBOARD_HTML);
    const hash = createHash('sha256').update(DASHBOARD_SCRIPT).digest('base64');
    expect(res.headers.get('content-security-policy')).to.contain(`script-src 'sha256-${hash}'`).and.contain("default-src 'none'");
    expect(DASHBOARD_HTML).to.contain(`<script>${DASHBOARD_SCRIPT}</script>`);
  });

  it('is read-only and says which paths exist', async function () {
    const post = await fetch(`${server.url}/api/status`, { method: 'POST' });
    expect([post.status, post.headers.get('allow')]).to.deep.equal([405, 'GET, HEAD']);
    const missing = await fetch(`${server.url}/admin`);
    expect(missing.status).to.equal(404);
    expect(await missing.text()).to.contain('/api/status');
    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
  });

  describe('notReadyReasons', function () {
    it('names the config store when it cannot be read', function () {
      expect(notReadyReasons({ at: 0, configStore: { reachable: false, error: 'gone' }, deployment: null, ring: null, migration: null, ready: false })).to.deep.equal([
        'config store: gone',
      ]);
    });
  });
});
