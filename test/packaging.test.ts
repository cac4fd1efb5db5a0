/**
 * The three packages as a user installs them: the tarballs packed from this checkout and installed into scratch
 * projects with npm.
 * - A producer-only service (`npm i jobcraft zod`) gets no compiler, no CLI, no dashboard: no typescript, ts-morph,
 *   tsx, esbuild, commander, hono or uplot in its node_modules. It enqueues with plain `node`, by `import` and by
 *   `require()`.
 * - A worker project with the CLI as a dev dependency runs `jobcraft codegen && tsc` (strict) as its build, then the
 *   compiled worker, with plain `node`, processes the producer's jobs on the real Redis. It also installs the
 *   dashboard: its compiled JavaScript serves a page and uPlot's file (resolved from the installed package), and the
 *   installed `jobcraft dashboard` loads it (refusing a non-loopback bind without credentials).
 * Prints the producer-only footprint (packages, MB) recorded in the README's install section.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, defineJobs } from '../src/index.js';
import * as z from 'zod';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const FORBIDDEN = ['typescript', 'ts-morph', '@ts-morph/common', 'tsx', 'esbuild', 'commander', '@jobcraft/cli', 'hono', '@hono/node-server', 'uplot', '@jobcraft/dashboard'];
const exec = promisify(execFile);
/** A command's exit code and stderr, whether it succeeded or not. */
async function outcomeOf(cmd: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stderr: string }> {
  return exec(cmd, args, options).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
}

const tmp = mkdtempSync(join(tmpdir(), 'jobcraft-packaging-'));
const producerDir = join(tmp, 'producer');
const workerDir = join(tmp, 'worker');
const prefix = testPrefix('packaging');
const children: ChildProcess[] = [];

interface Packed {
  readonly filename: string;
  readonly files: readonly { path: string }[];
}
let runtime: Packed;
let cli: Packed;
let dashboard: Packed;

/** Runs a command to completion; its output is in the error when it fails. */
async function run(cmd: string, args: readonly string[], cwd: string): Promise<string> {
  const env = { ...process.env, REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, npm_config_update_notifier: 'false' };
  const { stdout } = await exec(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 });
  return stdout;
}

async function pack(args: readonly string[]): Promise<Packed> {
  const [packed] = JSON.parse(await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp, ...args], ROOT)) as Packed[];
  if (packed === undefined) throw new Error('npm pack reported no tarball');
  return packed;
}

function write(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, contents] of Object.entries(files)) writeFileSync(join(dir, name), contents);
}

/** Every installed package under `node_modules` (scoped and nested ones too), by name, with its size in bytes. */
function installed(nodeModules: string): Map<string, number> {
  const found = new Map<string, number>();
  const size = (path: string): number => {
    const stat = statSync(path);
    if (!stat.isDirectory()) return stat.size;
    return readdirSync(path).reduce((sum, entry) => sum + size(join(path, entry)), 0);
  };
  const visit = (dir: string): void => {
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith('.')) continue;
      if (entry.startsWith('@')) {
        for (const scoped of readdirSync(join(dir, entry))) add(`${entry}/${scoped}`, join(dir, entry, scoped));
      } else {
        add(entry, join(dir, entry));
      }
    }
  };
  const add = (name: string, path: string): void => {
    found.set(name, (found.get(name) ?? 0) + size(path));
    visit(join(path, 'node_modules'));
  };
  visit(nodeModules);
  return found;
}

// The job both scratch projects agree on, declared the same way in each.
const SCHEMA = `import * as z from 'zod';
import { defineJobs } from 'jobcraft/schema';

export const jobs = defineJobs({
  greet: { payload: z.object({ name: z.string(), times: z.number().int().default(1) }), queue: 'greetings' },
});
`;
const jobs = defineJobs({ greet: { payload: z.object({ name: z.string(), times: z.number().int().default(1) }), queue: 'greetings' } });

beforeAll(async () => {
  await run(NPM, ['run', 'compile'], ROOT);
  [runtime, cli, dashboard] = await Promise.all([pack([]), pack(['--workspace', 'codegen']), pack(['--workspace', 'dashboard'])]);
  const runtimeTgz = join(tmp, runtime.filename);
  const cliTgz = join(tmp, cli.filename);
  const dashboardTgz = join(tmp, dashboard.filename);

  write(producerDir, {
    'package.json': JSON.stringify({ name: 'producer', private: true, type: 'module' }),
    'enqueue.mjs': `import * as z from 'zod';
import { createClient, defineJobs } from 'jobcraft';
const jobs = defineJobs({ greet: { payload: z.object({ name: z.string(), times: z.number().int().default(1) }), queue: 'greetings' } });
const client = createClient(jobs, { prefix: process.env.JOBCRAFT_PREFIX });
console.log((await client.enqueue('greet', { name: 'ada' })).id);
await client.close();
`,
    'enqueue.cjs': `const z = require('zod');
const { createClient, defineJobs } = require('jobcraft');
const jobs = defineJobs({ greet: { payload: z.object({ name: z.string(), times: z.number().int().default(1) }), queue: 'greetings' } });
const client = createClient(jobs, { prefix: process.env.JOBCRAFT_PREFIX });
client.enqueue('greet', { name: 'bob', times: 2 }).then(({ id }) => { console.log(id); return client.close(); });
`,
  });
  write(workerDir, {
    'package.json': JSON.stringify({
      name: 'worker',
      private: true,
      type: 'module',
      scripts: { build: 'jobcraft codegen && tsc' },
      dependencies: { jobcraft: `file:${runtimeTgz}`, zod: '^4.6.7', '@jobcraft/dashboard': `file:${dashboardTgz}` },
      devDependencies: { '@jobcraft/cli': `file:${cliTgz}`, typescript: '~5.9.3', '@types/node': '^20.19.43' },
    }),
    'tsconfig.json': JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: true,
        outDir: 'dist',
        rootDir: '.',
        types: ['node'],
      },
      include: ['jobs.schema.ts', 'generated', 'worker.ts'],
    }),
    'jobs.schema.ts': SCHEMA,
    'worker.ts': `import { createWorker } from './generated/index.js';

const worker = createWorker(
  { greet: async ({ name, times }) => console.log(\`greeted \${name.toUpperCase()} x\${times.toFixed(0)}\`) },
  { handleSignals: true },
);
worker.on('completed', ({ job }) => console.log(\`completed \${job.id}\`));
console.log('worker started');
`,
  });
  const install = ['install', '--no-audit', '--no-fund', '--prefer-offline'];
  await Promise.all([run(NPM, [...install, runtimeTgz, 'zod@^4.6.7'], producerDir), run(NPM, install, workerDir)]);
}, 300_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  const redis = rawRedis();
  await deletePrefix(redis, prefix);
  redis.disconnect();
  rmSync(tmp, { recursive: true, force: true });
});

describe('the tarballs', () => {
  it('jobcraft: compiled JavaScript, types, the Lua scripts, docs, README and LICENSE; no sources, maps or CLI', () => {
    const paths = runtime.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/schema.js', 'dist/lua/fetch.lua', 'docs/codegen.md']));
    const unexpected = paths.filter((p) => !/^(README\.md|LICENSE|package\.json|docs\/[\w-]+\.md|dist\/(worker\/)?[\w-]+\.(js|d\.ts)|dist\/lua\/[\w-]+\.lua)$/.test(p));
    expect(unexpected).toEqual([]);
    expect(paths.filter((p) => /^dist\/(cli|codegen|bench|test)\b/.test(p))).toEqual([]);
  });

  it('@jobcraft/cli: the bin, compiled JavaScript and types, README and LICENSE; no sources, no benchmark', () => {
    const paths = cli.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'bin/jobcraft.js', 'dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'dist/load-worker.js']));
    const unexpected = paths.filter((p) => !/^(README\.md|LICENSE|package\.json|bin\/jobcraft\.js|dist\/[\w-]+\.(js|d\.ts))$/.test(p));
    expect(unexpected).toEqual([]);
    expect(paths.filter((p) => /bench/.test(p))).toEqual([]);
  });

  it('@jobcraft/dashboard: compiled JavaScript and types, its script and style sheet, README and LICENSE; no sources', () => {
    const paths = dashboard.files.map((f) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/create.js', 'assets/dashboard.js', 'assets/dashboard.css']));
    const unexpected = paths.filter((p) => !/^(README\.md|LICENSE|package\.json|dist\/[\w-]+\.(js|d\.ts)|assets\/dashboard\.(js|css))$/.test(p));
    expect(unexpected).toEqual([]);
  });
});

describe('installed into scratch projects', () => {
  it('a producer-only install holds no compiler and no CLI', () => {
    const packages = installed(join(producerDir, 'node_modules'));
    expect(packages.has('jobcraft')).toBe(true);
    expect(FORBIDDEN.filter((name) => packages.has(name))).toEqual([]);
    const bytes = [...packages.values()].reduce((a, b) => a + b, 0);
    console.log(
      `producer-only install (npm i jobcraft zod): ${packages.size} packages, ${(bytes / 1e6).toFixed(1)} MB: ${[...packages.keys()].sort().join(', ')}`,
    );
  });

  it('the worker project builds with jobcraft codegen and tsc, and its compiled worker runs the producer’s jobs', async () => {
    await run(NPM, ['run', 'build'], workerDir);
    expect(readdirSync(join(workerDir, 'generated')).sort()).toEqual(['client.ts', 'config.ts', 'index.ts', 'jobs.manifest.json', 'payloads.ts', 'worker.ts']);
    expect(existsSync(join(workerDir, 'dist', 'worker.js'))).toBe(true);
    // The generator is reachable from code too, through the CLI package's entry point.
    const api = await run(process.execPath, ['--input-type=module', '-e', "console.log(Object.keys(await import('@jobcraft/cli')).sort().join(' '))"], workerDir);
    expect(api.trim().split(' ')).toEqual(expect.arrayContaining(['CodegenError', 'Generator', 'runCodegen', 'watchSchema']));

    // The producer enqueues with plain node: an ES module import, then require() (Node >= 20.19 requires ES modules).
    const ids = [(await run(process.execPath, ['enqueue.mjs'], producerDir)).trim(), (await run(process.execPath, ['enqueue.cjs'], producerDir)).trim()];
    expect(ids).toEqual(['greetings#1', 'greetings#2']);
    // The operations commands of the installed CLI, from its compiled JavaScript and its own dependencies: enqueue
    // validates against the schema file (run with tsx), dead ls reads the generated manifest.
    const bin = join(workerDir, 'node_modules', '.bin', 'jobcraft');
    const enqueued = JSON.parse(await run(bin, ['enqueue', 'greet', '--data', '{"name":"cy","times":3}', '--json'], workerDir)) as { id: string };
    ids.push(enqueued.id);
    expect(enqueued.id).toBe('greetings#3');
    expect(JSON.parse(await run(bin, ['dead', 'ls', '--json'], workerDir))).toMatchObject({ total: 0, deadLetters: [] });

    // The dashboard from its tarball: a page of the producer's queue, uPlot's file from the installed uplot, and the
    // installed CLI loading it for `jobcraft dashboard` (which refuses 0.0.0.0 without credentials, exit 2).
    const page = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createDashboard } from '@jobcraft/dashboard';
const d = createDashboard({ prefix: process.env.JOBCRAFT_PREFIX });
const page = await d.fetch(new Request('http://x/queues/greetings'));
const chart = await d.fetch(new Request('http://x/static/uPlot.iife.min.js'));
console.log(JSON.stringify({ page: page.status, rows: ((await page.text()).match(/data-testid="job-row"/g) ?? []).length, chart: chart.status, uplot: (await chart.text()).includes('uPlot') }));
await d.close();`,
      ],
      workerDir,
    );
    expect(JSON.parse(page)).toEqual({ page: 200, rows: 3, chart: 200, uplot: true });
    const refused = await outcomeOf(bin, ['dashboard', '--host', '0.0.0.0', '--port', '0'], { cwd: workerDir, env: { ...process.env, REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('refusing to bind 0.0.0.0');

    const worker = spawn(process.execPath, ['dist/worker.js'], {
      cwd: workerDir,
      env: { ...process.env, REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix },
    });
    children.push(worker);
    let stdout = '';
    let stderr = '';
    worker.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    worker.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => worker.once('exit', (code) => resolve(code)));

    const client = createClient(jobs, { redis: redisUrl(), prefix });
    try {
      for (const id of ids) await waitFor(async () => (await client.getJob(id))?.state === 'completed', `job ${id} completed (worker: ${stderr})`, 60_000);
    } finally {
      await client.close();
    }
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stdout).toContain('greeted ADA x1');
    expect(stdout).toContain('greeted BOB x2');
    expect(stdout).toContain('greeted CY x3');
    expect(stderr).toBe('');
  }, 300_000);

  it('the installed CLI beside an older runtime (no jobcraft/rules) says which version to install instead of crashing', async () => {
    const manifest = join(workerDir, 'node_modules', 'jobcraft', 'package.json');
    const original = readFileSync(manifest, 'utf8');
    const older = JSON.parse(original) as { exports: Record<string, unknown> };
    delete older.exports['./rules'];
    writeFileSync(manifest, JSON.stringify(older, null, 2));
    try {
      const bin = join(workerDir, 'node_modules', '.bin', 'jobcraft');
      const outcome = await outcomeOf(bin, ['codegen'], { cwd: workerDir });
      expect(outcome.code).toBe(1);
      expect(outcome.stderr.trim()).toBe('error: the installed jobcraft package is older than this jobcraft command (it has no jobcraft/rules): npm install jobcraft@0.1.0');
    } finally {
      writeFileSync(manifest, original);
    }
  }, 60_000);
});
