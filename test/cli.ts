/** Spawns the real `jobcraft` command (`node bin/jobcraft.js …`, what `npx jobcraft` runs) for the CLI end-to-end tests. */
import { spawn } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `jobcraft …` in the repository with `env` over the process environment and stdin not a terminal; `onSpawn` may kill it. */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, onSpawn?: (child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/jobcraft.js', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stdin.end();
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
    onSpawn?.(child);
  });
}

/** Writes `files` (paths relative to `dir`) into `dir`, making their folders. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), contents);
  }
}

/**
 * A scratch project in `dir` whose schema file can import `jobcraft/schema` (an ES module package served from this
 * checkout's sources, as the real one is) and `zod` (this checkout's, linked): `files` are written beside it.
 */
export function writeSchemaProject(dir: string, files: Record<string, string>): void {
  writeFiles(dir, {
    'node_modules/jobcraft/package.json': JSON.stringify({ name: 'jobcraft', type: 'module', exports: { './schema': { types: './schema.d.ts', default: './schema.js' } } }),
    'node_modules/jobcraft/schema.d.ts': `export * from ${JSON.stringify(join(ROOT, 'src', 'schema.js'))};\n`,
    'node_modules/jobcraft/schema.js': `export * from ${JSON.stringify(pathToFileURL(join(ROOT, 'src', 'schema.ts')).href)};\n`,
    ...files,
  });
  symlinkSync(join(ROOT, 'node_modules', 'zod'), join(dir, 'node_modules', 'zod'), 'dir');
}
