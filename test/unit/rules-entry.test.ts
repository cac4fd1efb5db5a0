/**
 * The `jobcraft` command's main thread checks job names and writes the manifest with rules from `jobcraft/rules`
 * (src/rules.ts), which must load no package at run time: importing zod and cron-parser there cost about 100 ms of
 * every build (docs/codegen.md, "Speed"). The runtime itself is imported by the worker thread that runs the schema
 * file, by the cron check only when a job has a schedule (codegen/cron.ts), and by the operations commands.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as rules from '../../src/rules.js';
import * as schema from '../../src/schema.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The specifiers a file imports at run time (`import type` and `export type` left out), with their line numbers. */
function valueImports(file: string): { specifier: string; line: number }[] {
  const out: { specifier: string; line: number }[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const statement = /^\s*(?:import|export)\s+(?!type\b)[^'"]*from\s+['"]([^'"]+)['"]/.exec(text);
      const dynamic = /(?<!typeof )\bimport\(\s*['"]([^'"]+)['"]\s*\)/.exec(text);
      for (const m of [statement, dynamic]) if (m?.[1] !== undefined) out.push({ specifier: m[1], line: i + 1 });
    });
  return out;
}

describe('jobcraft/rules', () => {
  it('src/rules.ts loads no package at run time, through any of the modules it imports', () => {
    const packages: string[] = [];
    const visited = new Set<string>();
    const visit = (file: string): void => {
      if (visited.has(file)) return;
      visited.add(file);
      for (const { specifier, line } of valueImports(file)) {
        if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
        else packages.push(`src/${file.slice(join(ROOT, 'src').length + 1)}:${line}: ${specifier}`);
      }
    };
    visit(join(ROOT, 'src', 'rules.ts'));
    expect(packages).toEqual([]);
    expect(visited.size).toBeLessThan(4); // rules.ts and the leaf modules it re-exports, not the runtime
  });

  it('is what jobcraft/schema exports under the same names', () => {
    expect(schema.JOB_NAME_PATTERN).toBe(rules.JOB_NAME_PATTERN);
    expect(schema.JOB_DESCRIPTION).toBe(rules.JOB_DESCRIPTION);
    expect(schema.describeResolvedJob).toBe(rules.describeResolvedJob);
  });

  it("the command's modules import the runtime only where it is meant to load", () => {
    // Files that may load the runtime (zod, cron-parser) in the main thread, and why: the cron rule, imported once a
    // job has a schedule; `jobcraft check --live` and the operations commands (ops-*.ts), which talk to Redis with
    // the runtime and are imported only when one of them runs.
    const allowed = (name: string): boolean => name === 'cron.ts' || name === 'check-live.ts' || name.startsWith('ops-');
    const found: string[] = [];
    for (const name of readdirSync(join(ROOT, 'codegen')).filter((n) => n.endsWith('.ts'))) {
      for (const { specifier, line } of valueImports(join(ROOT, 'codegen', name))) {
        if ((specifier === 'jobcraft' || specifier === 'jobcraft/schema' || specifier === 'zod' || specifier === 'cron-parser') && !allowed(name)) {
          found.push(`codegen/${name}:${line}: ${specifier}`);
        }
      }
    }
    expect(found).toEqual([]);
  });
});
