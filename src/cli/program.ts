import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { ErrorCode, ShardkitInputError } from '../errors.js';
import { reportFailure } from './fail.js';
import type { CliIO } from './io.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerInit } from './commands/init.js';
import { register as registerLab } from './commands/lab.js';
import { register as registerPlan } from './commands/plan.js';
import { register as registerRebalance } from './commands/rebalance.js';
import { register as registerRoute } from './commands/route.js';
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
  registerVerify(program, io);
  registerRebalance(program, io);
  registerDemo(program, io);
  return program;
}

/** Run the CLI on `argv` (without node and script), returning the exit code; never throws. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  try {
    await createProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    return reportFailure(io, error);
  }
}

/**
 * The command `name` under `parent`, created with `description` if it does not exist yet: lets
 * several command files add subcommands to one group (`topology validate`, `topology publish`).
 */
export function commandGroup(parent: Command, name: string, description: string): Command {
  const existing = parent.commands.find((c) => c.name() === name);
  if (existing !== undefined) return existing;
  return parent.command(name).description(description);
}

/** Write a value as indented JSON plus a newline: the machine-readable form of every command. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** A usage error raised by a command's own checks (exit 2, code `shardkit.usage`). */
export function usageError(message: string): ShardkitInputError {
  return new ShardkitInputError(ErrorCode.usage, message);
}

/** Parse a number option strictly (commander hands over strings); a usage error otherwise. */
export function parseNumberOption(name: string, value: string, opts: { integer?: boolean; min?: number; max?: number } = {}): number {
  const n = value.trim() === '' ? Number.NaN : Number(value);
  const ok =
    Number.isFinite(n) &&
    (opts.integer !== true || Number.isInteger(n)) &&
    (opts.min === undefined || n >= opts.min) &&
    (opts.max === undefined || n <= opts.max);
  if (!ok) {
    const kind = opts.integer === true ? 'an integer' : 'a number';
    const range = opts.min !== undefined && opts.max !== undefined ? ` in ${opts.min}..${opts.max}` : opts.min !== undefined ? ` >= ${opts.min}` : '';
    throw usageError(`${name} must be ${kind}${range} (got ${JSON.stringify(value)})`);
  }
  return n;
}
