import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { reportFailure, wantsJson } from './fail.js';
import type { CliIO } from './io.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerHealth } from './commands/health.js';
import { register as registerInit } from './commands/init.js';
import { register as registerLab } from './commands/lab.js';
import { register as registerPlan } from './commands/plan.js';
import { register as registerRebalance } from './commands/rebalance.js';
import { register as registerRoute } from './commands/route.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerSimulate } from './commands/simulate.js';
import { register as registerStatus } from './commands/status.js';
import { register as registerTopology } from './commands/topology.js';
import { register as registerVerify } from './commands/verify.js';

/** The package version, read at run time: both src/cli and dist/cli sit two levels below the root. */
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * The `shardkit` commander program, writing through `io`. Commander never exits the process or
 * prints its own errors: `exitOverride()` turns them into thrown CommanderErrors and `runCli`
 * reports them through the one failure function, so tests run every command in-process.
 */
export function createProgram(io: CliIO): Command {
  const program = new Command('shardkit')
    .description('Sharding router for MongoDB: topologies, routing, rebalance plans and migrations')
    .version(packageVersion(), '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      // Usage errors are printed by reportFailure as one `error: … [shardkit.usage]` line.
      outputError: () => undefined,
    });
  // Each command file adds its commands; subcommands inherit exitOverride and configureOutput.
  registerTopology(program, io);
  registerRoute(program, io);
  registerPlan(program, io);
  registerSimulate(program, io);
  registerLab(program, io);
  registerInit(program, io);
  registerStatus(program, io);
  registerHealth(program, io);
  registerVerify(program, io);
  registerRebalance(program, io);
  registerServe(program, io);
  registerDemo(program, io);
  return program;
}

/** Run the CLI on `argv` (without node and script), returning the exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportFailure(io, error, { json: wantsJson(argv) });
  }
}
