import { CommanderError } from 'commander';
import { ErrorCode, ShardkitError, isInputError } from '../errors.js';
import { redactText } from '../redact.js';
import type { CliIO } from './io.js';

/** Exit codes of the CLI. Stable. */
export const ExitCode = {
  ok: 0,
  /** A runtime failure: a shard unreachable, a conflict, a bug. */
  runtime: 1,
  /** Bad input or usage: a malformed file, an unknown option, a missing argument. */
  usage: 2,
} as const;

/** What the one failure line says and which exit code goes with it. */
export interface Failure {
  readonly message: string;
  readonly code: string;
  readonly exitCode: number;
}

/** Code printed for an error shardkit did not raise on purpose (a bug, an unexpected syscall error). */
export const INTERNAL_CODE = 'shardkit.internal';

/**
 * Classify any thrown value. Commander's usage errors (unknown option, missing argument) become
 * `shardkit.usage` with exit 2, shardkit's input and misuse errors exit 2 with their own code,
 * everything else exits 1. Help and version requests are not failures (exit 0, nothing printed).
 */
export function failureOf(error: unknown): Failure {
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
      return { message: '', code: error.code, exitCode: ExitCode.ok };
    }
    // Help printed because a command group was called without a subcommand.
    const message = error.code === 'commander.help' ? 'a command is required (see the help above)' : error.message;
    return { message: oneLine(message.replace(/^error:\s*/, '')), code: ErrorCode.usage, exitCode: ExitCode.usage };
  }
  if (error instanceof ShardkitError) {
    return { message: oneLine(error.message), code: error.code, exitCode: isInputError(error) ? ExitCode.usage : ExitCode.runtime };
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { message: oneLine(error.message), code: typeof code === 'string' ? code : INTERNAL_CODE, exitCode: ExitCode.runtime };
  }
  return { message: oneLine(String(error)), code: INTERNAL_CODE, exitCode: ExitCode.runtime };
}

/**
 * The one place a CLI failure is reported: one stderr line `error: <message> [<code>]`, no stack
 * trace, passwords masked. Returns the exit code.
 */
export function reportFailure(io: CliIO, error: unknown): number {
  const failure = failureOf(error);
  if (failure.exitCode !== ExitCode.ok) io.stderr.write(`error: ${failure.message} [${failure.code}]\n`);
  return failure.exitCode;
}

function oneLine(message: string): string {
  const line = message.split('\n').map((part) => part.trim()).filter((part) => part !== '').join(' ');
  return redactText(line === '' ? 'unknown error' : line);
}
