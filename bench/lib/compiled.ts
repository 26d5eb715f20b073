/**
 * The package as it ships: `dist/`, compiled by `tsc` (`npm run build`, run here first so it is never
 * stale). A benchmark of the data path measures what an application runs: run from `src/` through
 * `tsx`, every closure the data path creates also pays esbuild's `keepNames` helper (a
 * `defineProperty` of its name), which made the full stack's hot loop half as slow again (6.9 against
 * 9.9 µs per update in a loop without a server).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
let built = false;

/** The compiled module `dist/<path>` (e.g. `stores/mongo-store.js`), typed as its source `T`. */
export async function compiled<T>(path: string): Promise<T> {
  if (!built) {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
    built = true;
  }
  return (await import(pathToFileURL(join(root, 'dist', path)).href)) as T;
}
