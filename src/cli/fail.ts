import { CommanderError } from 'commander';
import { ErrorCode, ShardkitError, isInputError } from '../errors.js';
import { redactText } from '../redact.js';
import type { CliIO } from './io.js';

/** Exit codes of the CLI. Stable; the runbook and README list them. */
export const ExitCode = {
  ok: 0,
  /** A runtime failure: a shard unreachable, a conflict, a bug. */
  runtime: 1,
  /** Bad input or usage: a malformed file, an unknown option, a missing argument. */
  usage: 2,
  /** A migration that ended aborted (every document carried back): the change did not happen. */
  aborted: 3,
  /** `shardkit health`: the deployment answers, but not all of it (a shard unreachable). */
  unhealthy: 4,
  /** Stopped by Ctrl-C at a checkpoint (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const;

/** Exit codes that a failure's code selects over its class: outcomes a script must tell apart. */
const EXIT_BY_CODE: ReadonlyMap<string, number> = new Map<string, number>([
  [ErrorCode.migrationAborted, ExitCode.aborted],
  [ErrorCode.unhealthy, ExitCode.unhealthy],
  [ErrorCode.interrupted, ExitCode.interrupted],
]);

/**
 * A failure whose report the command already printed (a status table, a JSON document): only the
 * exit code and the one stderr line are left to give, and `--json` adds no second document.
 */
export class ReportedFailure extends Error {
  constructor(readonly error: ShardkitError) {
    super(error.message, { cause: error });
  }
}

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
  if (error instanceof ReportedFailure) return failureOf(error.error);
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
      return { message: '', code: error.code, exitCode: ExitCode.ok };
    }
    // Help printed because a command group was called without a subcommand.
    const message = error.code === 'commander.help' ? 'a command is required (see the help above)' : error.message;
    return { message: oneLine(message.replace(/^error:\s*/, '')), code: ErrorCode.usage, exitCode: ExitCode.usage };
  }
  if (error instanceof ShardkitError) {
    const exitCode = EXIT_BY_CODE.get(error.code) ?? (isInputError(error) ? ExitCode.usage : ExitCode.runtime);
    return { message: oneLine(error.message), code: error.code, exitCode };
  }
  if (error instanceof Error) {
    // A raw Node code (EACCES) is no stable shardkit code: it stays in the message for the reader.
    const code = (error as { code?: unknown }).code;
    const message = typeof code === 'string' && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
    return { message: oneLine(message), code: INTERNAL_CODE, exitCode: ExitCode.runtime };
  }
  return { message: oneLine(String(error)), code: INTERNAL_CODE, exitCode: ExitCode.runtime };
}

/**
 * The one place a CLI failure is reported: one stderr line `error: <message> [<code>]`, no stack
 * trace, passwords masked; under `--json` also one `{"error":{"code","message"}}` line on stdout,
 * so a script reads every outcome from stdout. Returns the exit code.
 */
export function reportFailure(io: CliIO, error: unknown, options: { json?: boolean } = {}): number {
  const failure = failureOf(error);
  if (failure.exitCode === ExitCode.ok) return failure.exitCode;
  io.stderr.write(`error: ${failure.message} [${failure.code}]\n`);
  if (options.json === true && !(error instanceof ReportedFailure)) {
    io.stdout.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n`);
  }
  return failure.exitCode;
}

/** Whether `argv` asks for JSON output (an option before any `--`). */
export function wantsJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}

function oneLine(message: string): string {
  const line = message.split('\n').map((part) => part.trim()).filter((part) => part !== '').join(' ');
  return redactText(line === '' ? 'unknown error' : line);
}
