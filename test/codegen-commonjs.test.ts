/**
 * A schema file in a CommonJS package (no "type": "module" in its package.json): Node loads such a .ts file with
 * require(), so the worker running it needs tsx's require() hook as well as its import hook, and finds the exports
 * on the module namespace's default.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Generator } from '../codegen/index.js';
import { writeSchemaProject } from './cli.js';

const dir = mkdtempSync(join(tmpdir(), 'jobcraft-commonjs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


it('generates from a schema file of a CommonJS package', async () => {
  writeSchemaProject(dir, {
    'package.json': JSON.stringify({ name: 'cjs-service', private: true }),
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, skipLibCheck: true, types: [] } }),
    'jobs.schema.ts': `import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';

export const jobs = defineJobs({
  ping: { payload: z.object({ at: z.number(), note: z.string().default('none') }) },
});
`,
  });
  const { files } = await new Generator().generate({ schema: join(dir, 'jobs.schema.ts'), out: join(dir, 'generated') });
  const file = (name: string): string => files.find((f) => f.path === name)?.contents ?? '';
  const manifest = JSON.parse(file('jobs.manifest.json')) as { jobs: { name: string; input: unknown }[] };
  expect(manifest.jobs.map((j) => j.name)).toEqual(['ping']);
  expect(JSON.stringify(manifest.jobs[0]?.input)).toContain('"default":"none"');
  expect(file('payloads.ts')).toMatch(/note\?: string/);
}, 120_000);
