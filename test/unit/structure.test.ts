/**
 * The shape rules of issue 7, kept true by a test instead of a one-off review: under src/, no file
 * over 600 lines and no function over 80 lines (the unrolled md5 excepted: its length is the
 * algorithm's 64 steps written out). Measured with the TypeScript compiler's own parser, so a function is what
 * the language says it is (declarations, methods, accessors, arrows and function expressions).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const MAX_FILE_LINES = 600;
const MAX_FUNCTION_LINES = 80;
const LONG_BY_NATURE = new Set(['hash/md5.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Functions of `file` longer than `max` lines, as `name (N lines) at line L`. */
export function longFunctions(file: ts.SourceFile, max: number): string[] {
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
      const start = file.getLineAndCharacterOfPosition(node.getStart(file)).line;
      const end = file.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      if (lines > max) {
        const name = node.name !== undefined && ts.isIdentifier(node.name) ? node.name.text : node.name?.getText(file) ?? '(anonymous)';
        found.push(`${name} (${String(lines)} lines) at line ${String(start + 1)}`);
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

describe('source shape (issue 7)', () => {
  const files = sourceFiles(SRC).map((path) => ({ rel: relative(SRC, path), text: readFileSync(path, 'utf8') }));

  it('finds the sources it measures', () => {
    expect(files.map((f) => f.rel)).to.include.members(['index.ts', 'router/router.ts']);
  });

  it(`keeps every file under src/ at ${String(MAX_FILE_LINES)} lines or fewer`, () => {
    const long = files
      .filter((f) => !LONG_BY_NATURE.has(f.rel))
      .map((f) => ({ rel: f.rel, lines: f.text.split('\n').length - (f.text.endsWith('\n') ? 1 : 0) }))
      .filter((f) => f.lines > MAX_FILE_LINES)
      .map((f) => `${f.rel}: ${String(f.lines)} lines`);
    expect(long).to.deep.equal([]);
  });

  it(`keeps every function under src/ at ${String(MAX_FUNCTION_LINES)} lines or fewer`, () => {
    const long = files.filter((f) => !LONG_BY_NATURE.has(f.rel)).flatMap((f) =>
      longFunctions(ts.createSourceFile(f.rel, f.text, ts.ScriptTarget.Latest, true), MAX_FUNCTION_LINES).map((x) => `${f.rel}: ${x}`),
    );
    expect(long).to.deep.equal([]);
  });

  it('measures a long function as long (the check itself can fail)', () => {
    const body = Array.from({ length: 90 }, (_, i) => `  const v${String(i)} = ${String(i)};`).join('\n');
    const file = ts.createSourceFile('x.ts', `class A {\n  m(): void {\n${body}\n  }\n}\n`, ts.ScriptTarget.Latest, true);
    expect(longFunctions(file, MAX_FUNCTION_LINES)).to.deep.equal(['m (92 lines) at line 2']);
  });
});
