import { redactedJson } from '../redact.js';
import type { CliIO } from './io.js';

/**
 * Write a value as indented JSON plus a newline: the machine-readable form of every command. Every
 * string goes through the one redactor, so no URI in a report carries its password.
 */
export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(`${redactedJson(value, 2)}\n`);
}
