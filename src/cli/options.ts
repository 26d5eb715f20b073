/**
 * What command files share to read their options: the usage error, strict number parsing and command
 * groups. Kept apart from `program.ts` so commands never import the program that imports them.
 */
import type { Command } from 'commander';
import { ErrorCode, ShardkitInputError } from '../errors.js';

/**
 * The command `name` under `parent`, created with `description` if it does not exist yet: lets
 * several command files add subcommands to one group (`topology validate`, `topology publish`).
 */
export function commandGroup(parent: Command, name: string, description: string): Command {
  const existing = parent.commands.find((c) => c.name() === name);
  if (existing !== undefined) return existing;
  return parent.command(name).description(description);
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
