import { readFile, writeFile } from 'node:fs/promises';
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

/** The real process's streams, files and environment. */
export function processIO(): CliIO {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readText: readTextFile,
    writeText: (path, text) => writeFile(path, text, 'utf8'),
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
    writeText: (path, text) => writeFile(path, text, 'utf8'),
    env: options.env ?? {},
    out: () => out,
    err: () => err,
  };
}
