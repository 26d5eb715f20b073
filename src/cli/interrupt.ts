/**
 * Ctrl-C for long-running commands: the first SIGINT aborts an `AbortSignal` so the migrator stops
 * at its next checkpoint with a consistent journal; a second one exits at once, as a user who
 * presses Ctrl-C twice expects.
 */

/** A source of interrupts; the process by default, a plain emitter in tests. */
export interface InterruptSource {
  on(event: 'SIGINT', listener: () => void): unknown;
  off(event: 'SIGINT', listener: () => void): unknown;
}

/**
 * Run `fn` with a signal that the first SIGINT aborts (`onFirst` is told, e.g. to print "stopping at
 * the next checkpoint"); the second SIGINT exits with 130. The handlers are removed afterwards.
 */
export async function withInterrupt<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  options: { source?: InterruptSource; onFirst?: () => void; exit?: (code: number) => void } = {},
): Promise<T> {
  const source = options.source ?? process;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  const handler = (): void => {
    if (controller.signal.aborted) {
      exit(130);
      return;
    }
    controller.abort();
    options.onFirst?.();
  };
  source.on('SIGINT', handler);
  try {
    return await fn(controller.signal);
  } finally {
    source.off('SIGINT', handler);
  }
}
