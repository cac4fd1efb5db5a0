/**
 * Compiles the benchmark's worker process — bench/worker-process.ts, its adapters, and jobcraft's runtime (src/) —
 * to plain JavaScript once per run, so that every worker process of every library runs under plain `node` with no
 * loader: neither library pays for tsx (its loader thread, ~35 MB of RSS, and its keep-names helper in jobcraft's
 * code). The compiler is the one `npm run compile` uses (tsc, the repository's tsconfig.json with
 * tsconfig.build.json's target), so the jobcraft code measured is the code the package ships. BullMQ is plain
 * JavaScript in node_modules already and is loaded from there unchanged.
 *
 * Layout of the output folder (inside the repository, under bench/.tmp/, so `ioredis`, `zod` and `bullmq` resolve
 * from the repository's node_modules exactly as they do for the sources):
 *
 *   <out>/package.json             { "type": "module", "version": <jobcraft's> } (src/worker/heartbeat reads it)
 *   <out>/src/**.js, <out>/src/lua  the runtime, and its Lua scripts copied beside it (as `npm run compile` does)
 *   <out>/bench/worker-process.js   the entry point spawned with `node`
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is bench/compile.ts). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** A compiled copy of the worker process. */
export interface CompiledWorker {
  /** The folder holding the output. */
  readonly dir: string;
  /** The compiled bench/worker-process.js, to spawn with plain `node`. */
  readonly entry: string;
  /** How long the compile took, ms. */
  readonly compileMs: number;
  /** Deletes the folder (also done when the process exits before). */
  remove(): void;
}

/** The TypeScript files the worker process loads; tsc follows their imports (src/ included). */
const ENTRY_FILES = ['bench/worker-process.ts', 'bench/libs/jobcraft.ts', 'bench/libs/bullmq.ts', 'bench/memory-probe.ts'];

/**
 * Compiles the worker process into `outDir` (default `bench/.tmp/compiled-<time>`), replacing anything there.
 * Throws with tsc's output when the compile fails.
 */
export function compileWorker(outDir = join(REPO_ROOT, 'bench', '.tmp', `compiled-${Date.now().toString(36)}-${process.pid}`)): CompiledWorker {
  const t0 = performance.now();
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const tsconfig = join(outDir, 'tsconfig.json');
  // The repository's compiler options (strict, NodeNext, ES2022), emitting JavaScript only.
  writeFileSync(
    tsconfig,
    `${JSON.stringify(
      {
        extends: join(REPO_ROOT, 'tsconfig.json'),
        compilerOptions: {
          rootDir: REPO_ROOT,
          outDir,
          noEmit: false,
          declaration: false,
          sourceMap: false,
          incremental: false,
          // Type errors are tsc --noEmit's business (run before every commit); the benchmark only needs the output.
          noEmitOnError: false,
        },
        files: ENTRY_FILES.map((f) => join(REPO_ROOT, f)),
        include: [],
      },
      null,
      2,
    )}\n`,
  );
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', tsconfig], { cwd: REPO_ROOT, encoding: 'utf8' });
  const entry = join(outDir, 'bench', 'worker-process.js');
  if (!existsSync(entry)) {
    throw new Error(`compiling the benchmark worker failed (tsc exit ${r.status}): ${(r.stdout + r.stderr).slice(0, 2_000) || r.error?.message}`);
  }
  cpSync(join(REPO_ROOT, 'src', 'lua'), join(outDir, 'src', 'lua'), { recursive: true });
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify({ name: 'jobcraft-bench-compiled', private: true, type: 'module', version })}\n`);
  // Deleted by remove(), or when the process exits first (Ctrl-C ends the harness with process.exit).
  const removeNow = (): void => rmSync(outDir, { recursive: true, force: true });
  process.once('exit', removeNow);
  return {
    dir: outDir,
    entry,
    compileMs: performance.now() - t0,
    remove: () => {
      process.off('exit', removeNow);
      removeNow();
    },
  };
}
