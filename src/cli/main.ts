import { processIO } from './io.js';
import { runCli } from './program.js';

/**
 * A reader that goes away (`shardkit plan ... | head`) closes the pipe: that is the reader's choice,
 * not a failure, so stop quietly instead of dying on an unhandled EPIPE with a stack trace.
 */
function exitQuietlyOnClosedPipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

/** Entry point of `bin/shardkit.js`: run the CLI on the process's arguments and set its exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  exitQuietlyOnClosedPipe(process.stdout);
  process.exitCode = await runCli(argv, processIO());
}

await main();
