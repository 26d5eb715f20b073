/**
 * `shardkit serve --config FILE [--port P] [--host H] [--interval MS]`: a long-running, read-only
 * operator endpoint over the live deployment (dashboard, `/api/status`, `/metrics`, `/healthz`,
 * `/readyz`) until SIGINT or SIGTERM.
 */
import type { Command } from 'commander';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { systemClock } from '../../clock.js';
import { openDeployment } from '../../deployment/deployment.js';
import { ErrorCode, ShardkitError } from '../../errors.js';
import { StoreMetrics } from '../../metrics/store-metrics.js';
import { StatusCollector } from '../../serve/collector.js';
import { ServeMetrics } from '../../serve/serve-metrics.js';
import { startServer, type RunningServer } from '../../serve/server.js';
import { wrapStore } from '../../stores/instrumented-store.js';
import type { CliIO } from '../io.js';
import { parseNumberOption } from '../options.js';

interface ServeCliOptions {
  config: string;
  port: string;
  host: string;
  interval: string;
  json?: boolean;
}

/** Where stop signals come from: the process, or an emitter in tests. */
export interface SignalSource {
  once(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
  off(event: 'SIGINT' | 'SIGTERM', listener: () => void): unknown;
}

/** Resolves at the first SIGINT or SIGTERM; `dispose` removes the handlers. */
function stopSignal(source: SignalSource): { stopped: Promise<string>; dispose: () => void } {
  let onInt = (): void => undefined;
  let onTerm = (): void => undefined;
  const stopped = new Promise<string>((resolve) => {
    onInt = () => resolve('SIGINT');
    onTerm = () => resolve('SIGTERM');
  });
  source.once('SIGINT', onInt);
  source.once('SIGTERM', onTerm);
  return {
    stopped,
    dispose: () => {
      source.off('SIGINT', onInt);
      source.off('SIGTERM', onTerm);
    },
  };
}

async function listen(host: string, port: number, start: () => Promise<RunningServer>): Promise<RunningServer> {
  try {
    return await start();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = code === 'EADDRINUSE' ? 'the port is in use' : code === 'EACCES' ? 'not permitted' : code === 'EADDRNOTAVAIL' ? 'no such local address' : String(code ?? error);
    throw new ShardkitError(ErrorCode.serveListen, `serve: cannot listen on ${host}:${port}: ${why}`, { cause: error });
  }
}

async function serve(io: CliIO, opts: ServeCliOptions, signals: SignalSource): Promise<void> {
  const port = parseNumberOption('--port', opts.port, { integer: true, min: 0, max: 65535 });
  const intervalMs = parseNumberOption('--interval', opts.interval, { integer: true, min: 100, max: 3_600_000 });
  // Handlers first: a SIGTERM while the deployment opens must still shut down cleanly.
  const stop = stopSignal(signals);
  try {
    const deployment = await openDeployment(opts.config);
    try {
      const registry = new Registry();
      collectDefaultMetrics({ register: registry });
      const storeMetrics = new StoreMetrics(registry);
      const serveMetrics = new ServeMetrics(registry);
      const collector = new StatusCollector({
        deployment,
        clock: systemClock,
        intervalMs,
        // serve's own calls to the shards (pings, counts) are measured like an application's.
        wrap: (store) => wrapStore(store, { metrics: storeMetrics, resilience: false }),
        onPoll: (status) => serveMetrics.update(status),
      });
      const server = await listen(opts.host, port, () => startServer({ status: () => collector.latest, registry, host: opts.host, port }));
      try {
        if (opts.json === true) io.stdout.write(`${JSON.stringify({ type: 'listening', url: server.url })}\n`);
        else io.stdout.write(`serving ${deployment.config.name} on ${server.url}/ (also /api/status, /metrics, /healthz, /readyz); Ctrl-C stops\n`);
        void collector.start();
        const signal = await stop.stopped;
        await collector.stop();
        if (opts.json === true) io.stdout.write(`${JSON.stringify({ type: 'stopped', signal })}\n`);
        else io.stdout.write(`${signal}: stopped\n`);
      } finally {
        await server.close();
      }
    } finally {
      await deployment.close();
    }
  } finally {
    stop.dispose();
  }
}

/** Adds `serve --config FILE [--port P] [--host H] [--interval MS] [--json]`. */
export function register(program: Command, io: CliIO, signals: SignalSource = process): void {
  program
    .command('serve')
    .description('Serve a live dashboard, /api/status, /metrics, /healthz and /readyz over the deployment until SIGINT or SIGTERM (read-only)')
    .requiredOption('--config <file>', 'shardkit config file (JSON or YAML)')
    .option('--port <port>', 'TCP port (0 picks a free one)', '9464')
    .option('--host <address>', 'address to listen on; anything but loopback exposes the deployment\'s status to that network', '127.0.0.1')
    .option('--interval <ms>', 'time between polls of the config store and the shards', '2000')
    .option('--json', 'print the listening URL and the stop as JSON lines')
    .action((opts: ServeCliOptions) => serve(io, opts, signals));
}
