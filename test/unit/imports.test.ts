/**
 * The import graph of src/, as Node loads it. A runtime import cycle makes module evaluation order
 * depend on which file is imported first (a class read before its module ran is `undefined`), and a
 * down-stack import breaks the layering of ADR 0001. Both are checked on the source text, parsed with
 * the TypeScript compiler, so the check needs no build and no extra package.
 */
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

interface Edge {
  /** Path below src/ of the imported file. */
  readonly to: string;
  /**
   * False for `import type` / `export type`, the only forms `verbatimModuleSyntax` erases. An import
   * whose every name is marked `type` inline still loads the module (`import {} from`), so it counts.
   */
  readonly runtime: boolean;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** Every file below src/ (as a path relative to it) with the relative imports and re-exports it makes. */
function importGraph(): Map<string, Edge[]> {
  const graph = new Map<string, Edge[]>();
  for (const file of sourceFiles(SRC)) {
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
    const edges: Edge[] = [];
    for (const statement of source.statements) {
      let specifier: ts.Expression | undefined;
      let typeOnly = false;
      if (ts.isImportDeclaration(statement)) {
        specifier = statement.moduleSpecifier;
        typeOnly = statement.importClause?.isTypeOnly === true;
      } else if (ts.isExportDeclaration(statement)) {
        specifier = statement.moduleSpecifier;
        typeOnly = statement.isTypeOnly;
      }
      if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
      const target = resolve(dirname(file), specifier.text.replace(/\.js$/, '.ts'));
      edges.push({ to: relative(SRC, target), runtime: !typeOnly });
    }
    graph.set(relative(SRC, file), edges);
  }
  return graph;
}

/** Every strongly connected set of two or more files over runtime edges (Tarjan), each as a sorted list. */
function runtimeCycles(graph: ReadonlyMap<string, readonly Edge[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (file: string): void => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const edge of graph.get(file) ?? []) {
      if (!edge.runtime || !graph.has(edge.to)) continue;
      if (!index.has(edge.to)) {
        visit(edge.to);
        low.set(file, Math.min(low.get(file)!, low.get(edge.to)!));
      } else if (onStack.has(edge.to)) {
        low.set(file, Math.min(low.get(file)!, index.get(edge.to)!));
      }
    }
    if (low.get(file) !== index.get(file)) return;
    const component: string[] = [];
    for (;;) {
      const member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
      if (member === file) break;
    }
    const selfImport = (graph.get(file) ?? []).some((e) => e.runtime && e.to === file);
    if (component.length > 1 || selfImport) cycles.push(component.sort());
  };
  for (const file of [...graph.keys()].sort()) if (!index.has(file)) visit(file);
  return cycles;
}

/**
 * The layers of ADR 0001 from the top down, with the folders outside that list placed where their
 * imports put them. A file may import its own layer and the layers above it, never one below.
 * `errors.ts` and `clock.ts` are cross-cutting: every layer may import them, and they import nothing.
 */
const LAYERS: ReadonlyArray<readonly [name: string, test: (path: string) => boolean]> = [
  // Errors redact their messages, so the one redactor (and the env references it leaves visible) sits with them.
  ['cross-cutting', (p) => ['errors.ts', 'clock.ts', 'redact.ts', 'env-reference.ts', 'arguments.ts'].includes(p)],
  ['hash', (p) => p.startsWith('hash/')],
  ['topology', (p) => p.startsWith('topology/')],
  ['ring', (p) => p.startsWith('ring/')],
  ['router', (p) => p.startsWith('router/')],
  ['plan', (p) => p === 'rebalance/plan.ts'],
  // The key-movement lab compares placements over the pure core (and the hashring package); only the CLI uses it.
  ['lab', (p) => p.startsWith('lab/')],
  // Store metrics are recorded by a store decorator, so they sit just above the stores.
  ['metrics', (p) => p.startsWith('metrics/')],
  ['stores', (p) => p.startsWith('stores/')],
  ['config store', (p) => p.startsWith('config-store/')],
  // An operator's deployment and the placement audit read shard stores and the config store.
  ['deployment', (p) => p.startsWith('deployment/') || p.startsWith('audit/')],
  ['collection', (p) => p.startsWith('collection/') || p === 'connect.ts'],
  ['migration', (p) => p.startsWith('rebalance/')],
  ['demo', (p) => p.startsWith('demo/')],
  // `shardkit serve` is a long-running CLI command: it reads the deployment as `status` and `rebalance status` do.
  ['CLI', (p) => p.startsWith('cli/') || p.startsWith('serve/')],
  ['barrel', (p) => p === 'index.ts' || p === 'testing.ts'],
];

function layerOf(path: string): number {
  const layer = LAYERS.findIndex(([, test]) => test(path));
  if (layer < 0) throw new Error(`src/${path} belongs to no layer: place it in LAYERS`);
  return layer;
}

describe('src/ imports', function () {
  const graph = importGraph();

  it('finds the source files and their imports', function () {
    expect(graph.size).to.be.greaterThan(50);
    expect(graph.get('cli/main.ts')?.map((e) => e.to)).to.include('cli/program.ts');
  });

  it('contain no runtime import cycle', function () {
    expect(runtimeCycles(graph).map((cycle) => cycle.join(' -> '))).to.deep.equal([]);
  });

  it('never reach down-stack (ADR 0001 layers)', function () {
    const violations: string[] = [];
    for (const [file, edges] of graph) {
      for (const edge of edges) {
        if (layerOf(edge.to) > layerOf(file)) {
          violations.push(`${file} (${LAYERS[layerOf(file)]![0]}) imports ${edge.to} (${LAYERS[layerOf(edge.to)]![0]})`);
        }
      }
    }
    expect(violations).to.deep.equal([]);
  });

  it('keep the config store apart from the shard stores (a deployment opens both)', function () {
    const reaching = [...graph]
      .filter(([file]) => file.startsWith('config-store/'))
      .flatMap(([file, edges]) => edges.filter((e) => e.to.startsWith('stores/')).map((e) => `${file} imports ${e.to}`));
    expect(reaching).to.deep.equal([]);
  });

  it('keep the pure core free of the MongoDB driver', function () {
    const core = [...graph.keys()].filter((p) => layerOf(p) <= layerOf('lab/types.ts'));
    const driven = core.filter((p) => /from\s+['"]mongodb['"]/.test(readFileSync(join(SRC, p), 'utf8')));
    expect(driven).to.deep.equal([]);
  });

  context('when the graph has a cycle', function () {
    it('reports it (the checker is not vacuous)', function () {
      const cyclic = new Map<string, Edge[]>([
        ['a.ts', [{ to: 'b.ts', runtime: true }]],
        ['b.ts', [{ to: 'c.ts', runtime: true }]],
        ['c.ts', [{ to: 'a.ts', runtime: true }]],
        ['d.ts', [{ to: 'a.ts', runtime: false }]],
        ['e.ts', [{ to: 'd.ts', runtime: true }]],
      ]);
      expect(runtimeCycles(cyclic)).to.deep.equal([['a.ts', 'b.ts', 'c.ts']]);
      cyclic.set('a.ts', [{ to: 'e.ts', runtime: false }]);
      expect(runtimeCycles(cyclic)).to.deep.equal([]);
    });
  });
});
