import type { CliIO } from './io.js';

/** How long a step runs silently before the CLI says what it is doing. */
export const SLOW_STEP_MS = 2000;

/**
 * `work`'s answer, with `text` written to stderr (one line) if it has not settled after `afterMs`: a
 * step that reads whole shards (`status`'s counts, `verify`'s audit) takes seconds on a large
 * deployment, and a command that says nothing meanwhile looks hung.
 */
export async function noteIfSlow<T>(io: CliIO, text: string, work: Promise<T>, afterMs = SLOW_STEP_MS): Promise<T> {
  const timer = setTimeout(() => io.stderr.write(`${text}\n`), afterMs);
  try {
    return await work;
  } finally {
    clearTimeout(timer);
  }
}
