/**
 * The HTTP side of `shardkit serve`, on Node's `http` module: `/` (the dashboard), `/api/status`
 * (JSON), `/metrics` (Prometheus text), `/healthz` (the process answers) and `/readyz` (config store
 * and every shard reachable at the last poll). Read-only: nothing here writes to the deployment.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { redactedJson, redactText } from '../redact.js';
import { DASHBOARD_HTML, DASHBOARD_SCRIPT } from './dashboard.js';
import type { ServeStatus } from './status-model.js';

/** Options of {@link startServer}. */
export interface ServerOptions {
  /** The last poll's status (undefined before the first one). */
  readonly status: () => ServeStatus | undefined;
  readonly registry: Registry;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`, with the port actually bound. */
  readonly url: string;
  /** Stop accepting, drop open connections (dashboards keep theirs alive) and wait for the socket to close. */
  close(): Promise<void>;
}

/** Why the deployment is not ready, one reason per line; empty when it is. */
export function notReadyReasons(status: ServeStatus | undefined): string[] {
  if (status === undefined) return ['no poll of the deployment has finished yet'];
  if (!status.configStore.reachable || status.deployment === null) return [`config store: ${status.configStore.error ?? 'unreachable'}`];
  return status.deployment.shards.filter((s) => !s.reachable).map((s) => `shard ${s.id}: ${s.error ?? 'unreachable'}`);
}

// The page's one inline script is allowed by its hash, and nothing else runs or loads from elsewhere.
const CSP = `default-src 'none'; script-src 'sha256-${createHash('sha256').update(DASHBOARD_SCRIPT).digest('base64')}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:`;

function send(res: ServerResponse, code: number, type: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

async function route(options: ServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: this endpoint is read-only\n', { allow: 'GET, HEAD' });
    return;
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  switch (path) {
    case '/':
      send(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, { 'content-security-policy': CSP });
      return;
    case '/healthz':
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/readyz': {
      const reasons = notReadyReasons(options.status());
      send(res, reasons.length === 0 ? 200 : 503, 'text/plain; charset=utf-8', reasons.length === 0 ? 'ready\n' : `not ready\n${reasons.join('\n')}\n`);
      return;
    }
    case '/metrics':
      send(res, 200, options.registry.contentType, await options.registry.metrics());
      return;
    case '/api/status': {
      const status = options.status();
      if (status === undefined) send(res, 503, 'application/json', JSON.stringify({ error: { message: 'no poll of the deployment has finished yet' } }));
      // Every string through the one redactor, as every CLI printout: no URI here carries its password.
      else send(res, 200, 'application/json', redactedJson(status));
      return;
    }
    default:
      send(res, 404, 'text/plain; charset=utf-8', `not found: ${path} (try /, /api/status, /metrics, /healthz, /readyz)\n`);
  }
}

/** Listen on `host:port` and answer from `options.status()` and `options.registry`. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const server = createServer((req, res) => {
    route(options, req, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${redactText(error instanceof Error ? error.message : String(error))}\n`);
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      }),
  };
}
