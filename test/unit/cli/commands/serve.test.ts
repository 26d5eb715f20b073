import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { register } from '../../../../src/cli/commands/serve.js';
import { reportFailure } from '../../../../src/cli/fail.js';
import { captureIO } from '../../../../src/cli/io.js';
import { runCli } from '../../../../src/cli/program.js';
import { ErrorCode } from '../../../../src/errors.js';

interface Running {
  readonly io: ReturnType<typeof captureIO>;
  readonly done: Promise<number>;
}

/** `serve` on a program of its own, with stop signals from `signals` instead of the process. */
function start(argv: string[], signals: EventEmitter): Running {
  const io = captureIO();
  const program = new Command('shardkit').exitOverride().configureOutput({ outputError: () => undefined });
  register(program, io, signals);
  const done = program.parseAsync(argv, { from: 'user' }).then(
    () => 0,
    (error: unknown) => reportFailure(io, error),
  );
  return { io, done };
}

async function listening(running: Running): Promise<string> {
  for (let i = 0; i < 1000; i++) {
    const url = /"url":"([^"]+)"/.exec(running.io.out())?.[1];
    if (url !== undefined) return url;
    if (running.io.err() !== '') throw new Error(running.io.err());
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error('serve printed no listening line');
}

describe('shardkit serve', function () {
  let dir: string;
  let config: string;

  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'shardkit-serve-unit-'));
    config = join(dir, 'shardkit.json');
    // A file config store with nothing published: serve starts, and says it is not ready.
    await writeFile(config, JSON.stringify({ configStore: { file: './state.json' }, name: 'people' }));
  });

  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a bad port or interval as a usage error (exit 2)', async function () {
    for (const args of [['--port', '70000'], ['--port', 'http'], ['--interval', '5']]) {
      const io = captureIO();
      expect(await runCli(['serve', '--config', config, ...args], io), args.join(' ')).to.equal(2);
      expect(io.err()).to.match(/\[shardkit\.usage\]/);
    }
  });

  it('says a port in use in one line with its own code (exit 1), not a raw EADDRINUSE', async function () {
    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const running = start(['serve', '--config', config, '--port', String(port)], new EventEmitter());
      expect(await running.done).to.equal(1);
      expect(running.io.err()).to.equal(`error: serve: cannot listen on 127.0.0.1:${port}: the port is in use [${ErrorCode.serveListen}]\n`);
    } finally {
      busy.close();
    }
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`serves until ${signal}, then closes its port and exits 0`, async function () {
      const signals = new EventEmitter();
      const running = start(['serve', '--config', config, '--port', '0', '--interval', '100', '--json'], signals);
      const url = await listening(running);
      expect(url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${url}/healthz`)).status).to.equal(200);
      // Nothing published yet: alive, not ready, and the reason names the fix.
      let ready: Response | undefined;
      for (let i = 0; i < 100; i++) {
        ready = await fetch(`${url}/readyz`);
        if ((await ready.clone().text()).includes('config store')) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(ready?.status).to.equal(503);
      expect(await ready?.text()).to.contain(`config store: the config store holds no topology "people" yet`).and.contain(ErrorCode.configNoState);
      expect(signals.listenerCount(signal)).to.equal(1);
      signals.emit(signal);
      const result = { code: await running.done, out: running.io.out(), err: running.io.err() };
      expect(result.code, result.err).to.equal(0);
      const lines = result.out.trim().split('\n').map((l) => JSON.parse(l) as { type: string; url?: string; signal?: string });
      expect(lines[0]?.type).to.equal('listening');
      expect(lines.at(-1)).to.deep.equal({ type: 'stopped', signal });
      expect(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM'), 'handlers removed').to.equal(0);
      const refused = await fetch(`${lines[0]!.url}/healthz`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(refused).to.be.instanceOf(Error);
    });
  }
});
