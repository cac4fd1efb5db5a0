/**
 * The monorepo recipe of docs/codegen.md, as examples/monorepo lays it out: a contracts package owning the schema
 * and the code generated from it, a producer service importing its enqueue functions, and a worker service that
 * generates its own typed worker from the contracts' schema with `--schema-import @acme/contracts`. Copied into a
 * scratch folder, each package's `codegen` script run (with this repository's CLI), built with `tsc -b` (project
 * references, the repository's TypeScript), then run with plain `node` against the real Redis: a job the producer
 * enqueues is handled by the worker.
 *
 * No network: the packages resolve jobcraft from a build of this checkout placed in the scratch node_modules, and
 * zod, ioredis, cron-parser and @types/node through symlinks to the repository's node_modules; @acme/contracts is
 * a symlink to its package folder, as npm workspaces link it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLE = join(ROOT, 'examples', 'monorepo');
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const exec = promisify(execFile);

const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-monorepo-'));
const repo = join(tmp, 'monorepo');
const prefix = testPrefix('monorepo');
const env = { ...process.env, REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix };
const children: ChildProcess[] = [];

/** Runs a command to completion; its output is in the error when it fails. */
async function run(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  try {
    const { stdout, stderr } = await exec(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The arguments of a package's `codegen` script (`jobcraft codegen --schema …`), to run with this checkout's CLI. */
function codegenArgs(pkgDir: string): string[] | undefined {
  const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const script = pkg.scripts?.codegen;
  if (script === undefined) return undefined;
  const [command, ...args] = script.split(/\s+/);
  expect(command).toBe('jobcraft');
  return args;
}

function link(target: string, path: string): void {
  mkdirSync(join(path, '..'), { recursive: true });
  symlinkSync(target, path, 'dir');
}

beforeAll(async () => {
  cpSync(EXAMPLE, repo, { recursive: true, filter: (src) => !/[\\/](node_modules|dist|generated)$/.test(src) && !src.endsWith('.tsbuildinfo') });
  const modules = join(repo, 'node_modules');
  // jobcraft as a user installs it: its compiled JavaScript and declarations, the Lua scripts, its package.json.
  const runtime = join(modules, 'jobcraft');
  await run(process.execPath, [TSC, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(runtime, 'dist')], ROOT);
  cpSync(join(ROOT, 'src', 'lua'), join(runtime, 'dist', 'lua'), { recursive: true });
  writeFileSync(join(runtime, 'package.json'), readFileSync(join(ROOT, 'package.json')));
  for (const name of ['zod', 'ioredis', 'cron-parser', '@types/node']) link(join(ROOT, 'node_modules', name), join(modules, name));
  link(join('..', '..', 'packages', 'contracts'), join(modules, '@acme', 'contracts'));
}, 300_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  const redis = rawRedis();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the monorepo recipe (examples/monorepo)', () => {
  it('codegen in the contracts and the worker package, tsc -b, then plain node: the worker handles what the producer enqueues', async () => {
    // Each package's codegen script, contracts first (the build's `npm run codegen --workspaces`).
    for (const name of ['contracts', 'producer', 'worker']) {
      const dir = join(repo, 'packages', name);
      const args = codegenArgs(dir);
      if (args !== undefined) await run(process.execPath, [join(ROOT, 'bin', 'jobcraft.js'), ...args], dir);
    }
    // The worker's generated files import the job set by package name, not by a path into the contracts' sources.
    const workerGenerated = readFileSync(join(repo, 'packages', 'worker', 'src', 'generated', 'worker.ts'), 'utf8');
    expect(workerGenerated).toContain("import { jobs } from '@acme/contracts';");
    expect(workerGenerated).not.toMatch(/from '[^']*contracts\/src/);

    await run(process.execPath, [TSC, '-b'], repo);
    for (const name of ['contracts', 'producer', 'worker']) expect(existsSync(join(repo, 'packages', name, 'dist', name === 'contracts' ? 'index.js' : 'main.js'))).toBe(true);

    const worker = spawn(process.execPath, ['packages/worker/dist/main.js'], { cwd: repo, env });
    children.push(worker);
    let output = '';
    worker.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));
    await waitFor(() => output.includes('worker started') || worker.exitCode !== null, 'the worker to start', 60_000);
    expect(output).toContain('worker started (queues billing, inventory)');

    const produced = await run(process.execPath, ['packages/producer/dist/main.js'], repo);
    expect(produced.trim().split('\n')).toEqual(['enqueued sendInvoice billing#1', 'enqueued syncInventory inventory#1']);

    await waitFor(() => output.includes('handled syncInventory') && output.includes('handled sendInvoice'), `the worker to handle both jobs (output: ${output})`, 60_000);
    // The handler got the output form: defaults filled in by the contracts' schema.
    expect(output).toContain('handled sendInvoice inv-1001 4990 EUR');
    expect(output).toContain('handled syncInventory sku-1,sku-2 full=false');
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 300_000);
});
