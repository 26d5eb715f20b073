import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'benchmarks.md');

/**
 * Replace the section of docs/benchmarks.md that starts with `heading` (up to the next "## "),
 * keeping every other benchmark's section; append it when the file has none yet.
 */
export function writeBenchmarksSection(heading: string, section: string): void {
  let text = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n\n';
  const start = text.indexOf(heading);
  if (start === -1) {
    text = `${text.trimEnd()}\n\n${section}`;
  } else {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start) + section + (next === -1 ? '' : `\n${text.slice(next + 1)}`);
  }
  writeFileSync(DOC, text.endsWith('\n') ? text : `${text}\n`);
}
