import { processIO } from './io.js';
import { runCli } from './program.js';

/** Entry point of `bin/shardkit.js`: run the CLI on the process's arguments and set its exit code. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<void> {
  process.exitCode = await runCli(argv, processIO());
}

await main();
