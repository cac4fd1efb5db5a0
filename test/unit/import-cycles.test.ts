/**
 * No import cycles in src/: every module can be read (and tested) after the modules it imports. Reads the relative
 * `import … from './…'` / `export … from './…'` statements of src/**\/*.ts — type-only ones too, since a type cycle
 * is a coupling cycle all the same — and fails naming the first cycle found.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');

/** Relative specifiers a module imports: static imports and re-exports (type-only included), and `import('./…')` types. */
export function relativeImports(text: string): string[] {
  const out: string[] = [];
  const statement = /(?:^|[\n;])\s*(?:import|export)\s+(?:type\s+)?(?:[^;'"]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/g;
  const typeImport = /\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g;
  for (const m of text.matchAll(statement)) out.push(m[1] as string);
  for (const m of text.matchAll(typeImport)) out.push(m[1] as string);
  return out;
}

/** The first cycle in `graph` (module → modules it imports), as the path that closes it, or undefined. */
export function findCycle(graph: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | undefined => {
    const s = state.get(node);
    if (s === 'done') return undefined;
    if (s === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of [...graph.keys()].sort()) {
    const cycle = visit(node);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** The import graph of src/, by path relative to the repository (`.js` specifiers resolved to their `.ts` file). */
function srcGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of tsFiles(SRC)) {
    const deps = relativeImports(readFileSync(file, 'utf8')).map((spec) =>
      relative(ROOT, resolve(dirname(file), spec.replace(/\.js$/, '.ts'))),
    );
    graph.set(relative(ROOT, file), deps);
  }
  return graph;
}

describe('import cycles', () => {
  it('finds none in src/ (type-only imports included)', () => {
    const graph = srcGraph();
    expect(graph.size).toBeGreaterThan(20);
    const cycle = findCycle(graph);
    expect(cycle === undefined ? 'no cycle' : `import cycle: ${cycle.join(' → ')}`).toBe('no cycle');
  });

  it('every relative import of src/ names a file that exists (the graph is complete)', () => {
    const graph = srcGraph();
    const missing = [...graph].flatMap(([from, deps]) => deps.filter((d) => !graph.has(d)).map((d) => `${from} → ${d}`));
    expect(missing).toEqual([]);
  });

  it('reads import, import type, export … from, multi-line imports and import() types', () => {
    const text = [
      "import { a } from './a.js';",
      "import type { B } from '../b.js';",
      'import {',
      '  c,',
      '  type D,',
      "} from './c.js';",
      "export { e } from './e.js';",
      "export type { F } from './f.js';",
      "import './side.js';",
      "type G = import('./g.js').G;",
      "import { z } from 'zod';",
    ].join('\n');
    expect(relativeImports(text)).toEqual(['./a.js', '../b.js', './c.js', './e.js', './f.js', './side.js', './g.js']);
  });

  it('names a cycle, type-only or not, and passes a graph without one', () => {
    const cyclic = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a', 'd']],
      ['d', []],
    ]);
    expect(findCycle(cyclic)).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(new Map([['a', ['a']]]))).toEqual(['a', 'a']);
    expect(findCycle(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toBeUndefined();
  });
});
