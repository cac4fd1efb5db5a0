/**
 * A schema file in a CommonJS package (no "type": "module" in its package.json): Node loads such a .ts file with
 * require(), so the worker running it needs tsx's require() hook as well as its import hook, and finds the exports
 * on the module namespace's default.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { Generator } from '../codegen/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'jobcraft-commonjs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(files: Record<string, string>): void {
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), contents);
  }
}

it('generates from a schema file of a CommonJS package', async () => {
  const runtime = join(ROOT, 'src', 'schema.js');
  write({
    'package.json': JSON.stringify({ name: 'cjs-service', private: true }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true, types: [] } }),
    // jobcraft/schema, served from this checkout's sources (an ES module package, as the real one is).
    'node_modules/jobcraft/package.json': JSON.stringify({ name: 'jobcraft', type: 'module', exports: { './schema': { types: './schema.d.ts', default: './schema.js' } } }),
    'node_modules/jobcraft/schema.d.ts': `export * from ${JSON.stringify(runtime)};\n`,
    'node_modules/jobcraft/schema.js': `export * from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'schema.ts')).href)};\n`,
    'jobs.schema.ts': `import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';

export const jobs = defineJobs({
  ping: { payload: z.object({ at: z.number(), note: z.string().default('none') }) },
});
`,
  });
  symlinkSync(join(ROOT, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
  const { files } = await new Generator().generate({ schema: join(dir, 'jobs.schema.ts'), out: join(dir, 'generated') });
  const file = (name: string): string => files.find((f) => f.path === name)?.contents ?? '';
  const manifest = JSON.parse(file('jobs.manifest.json')) as { jobs: { name: string; input: unknown }[] };
  expect(manifest.jobs.map((j) => j.name)).toEqual(['ping']);
  expect(JSON.stringify(manifest.jobs[0]?.input)).toContain('"default":"none"');
  expect(file('payloads.ts')).toMatch(/note\?: string/);
}, 120_000);
