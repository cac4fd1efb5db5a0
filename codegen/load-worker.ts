/**
 * Runs in a worker thread (started by load-schema.ts, with tsx loaded): imports the schema file and describes every
 * job set it exports as plain data, JSON Schemas included. Running it beside the type checker, which has the main
 * thread busy, takes its time off the wall clock.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { ResolvedJob } from 'jobcraft';
import { describeJob, type ToJsonSchema } from './describe-job.js';
import type { LoadedJob, WorkerReply } from './load-schema.js';

interface JobSetLike {
  readonly definitions: unknown;
  readonly jobs: ReadonlyMap<string, ResolvedJob>;
}

function isJobSet(value: unknown): value is JobSetLike {
  return typeof value === 'object' && value !== null && (value as { jobs?: unknown }).jobs instanceof Map && 'definitions' in value;
}

/**
 * zod core's standalone `toJSONSchema`, from the zod the schema file imports (its ES module entry, so it is the very
 * module instance the file's schemas were built with). Only schemas without a `toJSONSchema` method (zod/mini) need
 * it, so it is loaded on first use.
 */
async function standaloneToJsonSchema(schemaFile: string): Promise<ToJsonSchema | undefined> {
  try {
    const manifest = createRequire(schemaFile).resolve('zod/package.json');
    const exports = (JSON.parse(readFileSync(manifest, 'utf8')) as { exports?: Record<string, { import?: string } | string> }).exports;
    const entry = exports?.['./v4/core'];
    const path = typeof entry === 'object' && entry.import !== undefined ? entry.import : './v4/core/index.js';
    const core = (await import(pathToFileURL(join(dirname(manifest), path)).href)) as { toJSONSchema?: ToJsonSchema };
    return core.toJSONSchema;
  } catch {
    return undefined;
  }
}

/** Whether Node loads `file` as CommonJS: a .cts file, or a .ts file whose nearest package.json is not "type": "module". */
function isCommonJs(file: string): boolean {
  if (/\.cts$/.test(file)) return true;
  if (/\.mts$/.test(file)) return false;
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    try {
      return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: unknown }).type !== 'module';
    } catch {
      if (dirname(dir) === dir) return true;
    }
  }
}

async function run(schemaFile: string, runtime: Promise<typeof import('jobcraft/schema')>): Promise<WorkerReply> {
  try {
    const { describeResolvedJob } = await runtime;
    const namespace = (await import(pathToFileURL(schemaFile).href)) as Record<string, unknown>;
    // A CommonJS schema file (a package without "type": "module"): its exports are the namespace's default.
    const exported = namespace.default;
    const module =
      typeof exported === 'object' && exported !== null && !isJobSet(exported) && isCommonJs(schemaFile)
        ? { ...(exported as Record<string, unknown>), ...namespace }
        : namespace;
    const sets: Record<string, LoadedJob[]> = {};
    const needsStandalone = Object.values(module).some(
      (value) => isJobSet(value) && [...value.jobs.values()].some((job) => typeof (job.schema as { toJSONSchema?: unknown }).toJSONSchema !== 'function'),
    );
    const standalone = needsStandalone ? await standaloneToJsonSchema(schemaFile) : undefined;
    for (const [name, value] of Object.entries(module)) {
      if (isJobSet(value)) sets[name] = [...value.jobs.values()].map((job) => describeJob(job, describeResolvedJob, () => standalone));
    }
    return { ok: true, sets };
  } catch (err) {
    const e = err as { name?: unknown; message?: unknown; stack?: unknown; job?: unknown; option?: unknown };
    return {
      ok: false,
      error: {
        name: typeof e?.name === 'string' ? e.name : 'Error',
        message: typeof e?.message === 'string' ? e.message : String(err),
        stack: typeof e?.stack === 'string' ? e.stack : '',
        job: typeof e?.job === 'string' ? e.job : undefined,
        option: typeof e?.option === 'string' ? e.option : undefined,
      },
    };
  }
}

const { schemaFile, runtimeSchema } = workerData as { schemaFile: string | undefined; runtimeSchema: string };
// The runtime (and zod under it) is loaded first: a spare worker (--watch) loads it while waiting for the next save.
const runtime = import(runtimeSchema) as Promise<typeof import('jobcraft/schema')>;
runtime.catch(() => {}); // reported by run()
if (schemaFile !== undefined) parentPort?.postMessage(await run(schemaFile, runtime));
else parentPort?.once('message', (file: string) => void run(file, runtime).then((reply) => parentPort?.postMessage(reply)));
