/**
 * Codegen wall time, measured the way a build pays it: a fresh `jobcraft codegen` process, from start to exit; and
 * the way an editor session pays it: `jobcraft codegen --watch` regenerating after a save. The benchmark harness's
 * workloads codegen-10 and codegen-200 are {@link runCodegen}, codegen-watch is {@link runCodegenWatch}; on its own:
 *
 *   npx tsx bench/codegen.ts                      times the example schema and a 200-job schema (3 runs each)
 *   npx tsx bench/codegen.ts --jobs 500 --runs 5
 *   npx tsx bench/codegen.ts --watch              times --watch after one-job edits of the 200-job schema
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Sample } from './workloads.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(ROOT, 'bin', 'jobcraft.js');

const SHAPES: readonly ((i: number) => string)[] = [
  () => `z.object({ userId: z.string().min(1).describe('Id of the user'), email: z.email(), locale: z.enum(['en', 'de', 'fr']).optional() })`,
  (i) => `z.object({ orderId: z.uuid(), amountCents: z.number().int().positive(), currency: z.enum(['EUR', 'USD']).default('EUR'), note${i}: z.string().max(200).optional() })`,
  () => `z.object({ url: z.url(), event: z.string().min(1), body: z.record(z.string(), z.unknown()), headers: z.record(z.string(), z.string()).optional() })`,
  () => `z.object({ imageId: z.string(), widths: z.array(z.number().int().positive()).min(1), quality: z.union([z.number(), z.string()]).transform((q) => Number(q)).default(80) })`,
  () => `z.object({ day: z.iso.date(), tenant: z.object({ id: z.string(), plan: z.enum(['free', 'pro']) }), tags: z.array(z.string()).default([]) })`,
  () => `z.object({ items: z.array(z.object({ sku: z.string(), qty: z.number().int() })), dryRun: z.boolean().default(false), mode: z.literal(['full', 'delta']) })`,
];

/** The source of a schema file declaring `count` jobs of varied payload shapes and options. */
export function benchSchemaSource(count: number, runtimeSpecifier: string): string {
  const lines = [`// ${count} jobs for the codegen benchmark (bench/codegen.ts).`, `import * as z from 'zod';`, `import { defineJobs } from '${runtimeSpecifier}';`, '', 'export const jobs = defineJobs({'];
  for (let i = 0; i < count; i++) {
    const shape = SHAPES[i % SHAPES.length] as (i: number) => string;
    lines.push(`  job${String(i).padStart(3, '0')}: {`, `    description: 'Benchmark job ${i}.',`, `    payload: ${shape(i)},`, `    queue: 'q${i % 8}',`);
    if (i % 3 === 0) lines.push(`    attempts: ${2 + (i % 5)},`);
    if (i % 4 === 0) lines.push(`    timeout: '${10 + (i % 50)}s',`);
    if (i % 5 === 0) lines.push(`    backoff: { type: 'fixed', delay: '${i % 7}s' },`);
    lines.push('  },');
  }
  lines.push('});', '');
  return lines.join('\n');
}

/** What one codegen process cost. */
export interface CodegenTiming {
  /** From spawning the process to its exit. */
  readonly wallMs: number;
  /** CPU time of the process (all its threads) until the files were ready: less sensitive to a busy machine. */
  readonly cpuMs: number | undefined;
}

/** Runs `jobcraft codegen` in a new process and measures it. */
export function timeCodegen(schema: string, out: string): Promise<CodegenTiming> {
  return new Promise((resolveTime, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, 'codegen', '--schema', schema, '--out', out], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, JOBCRAFT_CODEGEN_TIMINGS: '1' },
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const wallMs = performance.now() - started;
      const cpu = /process cpu (\d+) ms/.exec(stderr);
      if (code === 0) resolveTime({ wallMs, cpuMs: cpu === null ? undefined : Number(cpu[1]) });
      else reject(new Error(`codegen exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/** A throwaway folder at the top of the repository (no tsconfig includes it), so its files resolve like ours. */
function scratchDir(): string {
  return join(ROOT, `.codegen-bench-${process.pid}-${Date.now()}`);
}

/** The codegen-10 and codegen-200 workloads: codegen on a fresh schema file of `count` jobs, in a new process (wall ms, CPU ms). */
export async function runCodegen(count: number): Promise<Sample> {
  try {
    const t = await timeCodegenOn(count);
    return { value: t.wallMs, extra: t.cpuMs === undefined ? {} : { cpuMs: t.cpuMs } };
  } catch (err) {
    return { value: null, note: `n/a (codegen failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]})` };
  }
}

/** Codegen on a fresh schema file of `jobs` jobs, in a new process. */
export async function timeCodegenOn(jobs: number): Promise<CodegenTiming> {
  const dir = scratchDir();
  mkdirSync(dir, { recursive: true });
  try {
    const schema = join(dir, 'jobs.schema.ts');
    writeFileSync(schema, benchSchemaSource(jobs, relative(dir, join(ROOT, 'src', 'schema.js')).split('\\').join('/')));
    return await timeCodegen(schema, join(dir, 'generated'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Codegen on the example schema, jobs.schema.ts, writing to a throwaway folder. */
export async function timeExampleCodegen(): Promise<CodegenTiming> {
  const dir = scratchDir();
  try {
    return await timeCodegen(join(ROOT, 'jobs.schema.ts'), join(dir, 'generated'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What --watch took after each edit: from the save to the line saying the files were written. */
export interface WatchTiming {
  readonly regenerateMs: readonly number[];
}

/**
 * `jobcraft codegen --watch` on a fresh schema file of `jobs` jobs: after the first generation, `edits` saves that
 * each change one job (a field of its payload and its description), one at a time; each is timed from the write
 * to the command's `wrote …` line (the debounce and the file watcher included).
 */
export async function timeWatchOn(jobs: number, edits = 3): Promise<WatchTiming> {
  const dir = scratchDir();
  mkdirSync(dir, { recursive: true });
  const schema = join(dir, 'jobs.schema.ts');
  const source = benchSchemaSource(jobs, relative(dir, join(ROOT, 'src', 'schema.js')).split('\\').join('/'));
  writeFileSync(schema, source);
  const child = spawn(process.execPath, [CLI, 'codegen', '--watch', '--schema', schema, '--out', join(dir, 'generated')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { text: RegExp; from: number; resolve: () => void }[] = [];
  const check = (): void => {
    for (const w of [...waiters]) {
      if (w.text.test(stdout.slice(w.from))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
  const waitFor = (text: RegExp, from: number, what: string): Promise<void> =>
    Promise.race([
      new Promise<void>((resolveWait) => {
        waiters.push({ text, from, resolve: resolveWait });
        check();
      }),
      exited.then(() => {
        throw new Error(`codegen --watch exited before ${what}: ${stderr.trim()}`);
      }),
      new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}: ${stderr.trim()}`)), 120_000).unref()),
    ]);
  try {
    await waitFor(/watching \d+ file/, 0, 'the first generation');
    const regenerateMs: number[] = [];
    for (let i = 1; i <= edits; i++) {
      // Let the spare worker thread start, as it would between two saves of a person editing.
      await new Promise((r) => setTimeout(r, 1_000));
      const from = stdout.length;
      const edited = readFileSync(schema, 'utf8').replace(/note7\d*: z\.string\(\)/, `note7${i}: z.string()`).replace(/Benchmark job 7\.[^']*/, `Benchmark job 7. Edit ${i}.`);
      const started = performance.now();
      writeFileSync(schema, edited);
      await waitFor(/wrote .*\n/, from, `the regeneration after edit ${i}`);
      regenerateMs.push(performance.now() - started);
      if (!stdout.slice(from).includes(`note7${i}`) && !readFileSync(join(dir, 'generated', 'payloads.ts'), 'utf8').includes(`note7${i}`)) {
        throw new Error(`edit ${i} was not regenerated`);
      }
    }
    return { regenerateMs };
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The codegen-watch workload: median of three one-job edits of the 200-job schema under --watch (ms). */
export async function runCodegenWatch(jobs = 200): Promise<Sample> {
  try {
    const { regenerateMs } = await timeWatchOn(jobs, 3);
    return { value: median(regenerateMs), extra: Object.fromEntries(regenerateMs.map((ms, i) => [`edit${i + 1}Ms`, ms])) };
  } catch (err) {
    return { value: null, note: `n/a (codegen --watch failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]})` };
  }
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { jobs: { type: 'string', default: '200' }, runs: { type: 'string', default: '3' }, watch: { type: 'boolean' } } });
  const jobs = Number(values.jobs);
  const runs = Number(values.runs);
  if (values.watch === true) {
    const { regenerateMs } = await timeWatchOn(jobs, runs);
    console.log(`--watch, ${jobs}-job schema, one-job edits: median ${Math.round(median(regenerateMs))} ms (${regenerateMs.map(Math.round).join(', ')})`);
    return;
  }
  for (const [label, once] of [
    ['jobs.schema.ts (4 jobs)', timeExampleCodegen],
    [`${jobs}-job schema`, () => timeCodegenOn(jobs)],
  ] as const) {
    const times: CodegenTiming[] = [];
    for (let i = 0; i < runs; i++) times.push(await once());
    const wall = times.map((t) => t.wallMs);
    const cpu = times.map((t) => t.cpuMs ?? Number.NaN);
    console.log(
      `${label.padEnd(24)} wall median ${Math.round(median(wall))} ms (${wall.map(Math.round).join(', ')}), ` +
        `cpu median ${Math.round(median(cpu))} ms (${cpu.map(Math.round).join(', ')})`,
    );
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main();
