import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { captureIO } from '../../../src/cli/io.js';
import { runCli } from '../../../src/cli/program.js';

/** What one in-process CLI run produced. */
export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/** Run the CLI in-process with captured output. */
export async function run(argv: string[], options: { isTTY?: boolean } = {}): Promise<RunResult> {
  const io = captureIO(options);
  const code = await runCli(argv, io);
  return { code, out: io.out(), err: io.err() };
}

/** Absolute path of a file in examples/. */
export function example(name: string): string {
  return fileURLToPath(new URL(`../../../examples/${name}`, import.meta.url));
}

/** A scratch directory removed after the suite; `file(name, text)` writes into it. */
export function scratch(): { dir: () => string; file: (name: string, text: string) => string } {
  let dir = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'shardkit-cli-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    file: (name, text) => {
      const path = join(dir, name);
      writeFileSync(path, text);
      return path;
    },
  };
}

/** The single error line a failed run must print, parsed. */
export function errorLine(result: RunResult): { message: string; code: string } {
  const lines = result.err.split('\n').filter((l) => l.startsWith('error: '));
  if (lines.length !== 1) throw new Error(`expected exactly one error line, got: ${JSON.stringify(result.err)}`);
  const m = /^error: (.*) \[([\w.]+)\]$/.exec(lines[0]!);
  if (m === null) throw new Error(`malformed error line ${JSON.stringify(lines[0])}`);
  return { message: m[1]!, code: m[2]! };
}
