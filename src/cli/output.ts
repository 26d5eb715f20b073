import type { CliIO } from './io.js';

/** Write a value as indented JSON plus a newline: the machine-readable form of every command. */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
