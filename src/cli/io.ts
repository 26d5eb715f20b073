import { readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ErrorCode, ShardkitInputError } from '../errors.js';

/** A stream the CLI writes to: stdout or stderr, or a buffer in tests. */
export interface CliStream {
  write(text: string): void;
  /** True when a person is watching (bar charts, colour-free but wider output). */
  readonly isTTY?: boolean;
  /** Terminal width, when known. */
  readonly columns?: number;
}

/** Everything the CLI touches outside itself, injectable so commands run in-process under test. */
export interface CliIO {
  readonly stdout: CliStream;
  readonly stderr: CliStream;
  /** Read a UTF-8 text file; `shardkit.file.notFound` when it does not exist. */
  readText(path: string): Promise<string>;
  /** Write a UTF-8 text file, replacing it. */
  writeText(path: string, text: string): Promise<void>;
  /** Environment variables (for commands that take defaults from it). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** File reading that turns "no such file" into an input error (exit 2) rather than a crash. */
export async function readTextFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') {
      throw new ShardkitInputError(ErrorCode.fileNotFound, `cannot read ${path}: ${code === 'EISDIR' ? 'is a directory' : 'no such file'}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/**
 * File writing whose usual failures are input errors with a stable code: a missing directory or a
 * path through a file is the operator's typo, not a crash to report with a raw `[ENOENT]`.
 */
export async function writeTextFile(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why: Record<string, string> = {
      ENOENT: `directory ${dirname(path)} does not exist`,
      ENOTDIR: `a part of ${dirname(path)} is not a directory`,
      EISDIR: 'it is a directory',
      EACCES: 'permission denied',
      EPERM: 'permission denied',
      EROFS: 'read-only file system',
    };
    const reason = typeof code === 'string' ? why[code] : undefined;
    if (reason !== undefined) throw new ShardkitInputError(ErrorCode.fileNotWritable, `cannot write ${path}: ${reason}`, { cause: error });
    throw error;
  }
}

/** The real process's streams, files and environment. */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readText: readTextFile,
    writeText: writeTextFile,
    env: process.env,
  };
}

/** A CliIO whose output is captured in strings and whose files are real: for in-process tests. */
export interface CapturedIO extends CliIO {
  readonly out: () => string;
  readonly err: () => string;
}

/** Build a {@link CapturedIO}; `isTTY` makes stdout pose as a terminal. */
export function captureIO(options: { isTTY?: boolean; columns?: number; env?: Record<string, string | undefined> } = {}): CapturedIO {
  let out = '';
  let err = '';
  return {
    stdout: {
      write: (text: string) => {
        out += text;
      },
      isTTY: options.isTTY ?? false,
      columns: options.columns ?? 100,
    },
    stderr: {
      write: (text: string) => {
        err += text;
      },
    },
    readText: readTextFile,
    writeText: writeTextFile,
    env: options.env ?? {},
    out: () => out,
    err: () => err,
  };
}
