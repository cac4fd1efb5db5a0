/**
 * Runs in a worker thread (started by load-schema.ts, with tsx loaded): imports the schema file and describes every
 * job set it exports as plain data, JSON Schemas included. Running it beside the type checker, which has the main
 * thread busy, takes its time off the wall clock.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import type { ResolvedJob } from 'jobcraft';
import { describeJob } from './describe-job.js';
import type { LoadedJob, WorkerReply } from './load-schema.js';

interface JobSetLike {
  readonly definitions: unknown;
  readonly jobs: ReadonlyMap<string, ResolvedJob>;
}

function isJobSet(value: unknown): value is JobSetLike {
  return typeof value === 'object' && value !== null && (value as { jobs?: unknown }).jobs instanceof Map && 'definitions' in value;
}

async function run(): Promise<WorkerReply> {
  const { schemaFile, runtimeSchema } = workerData as { schemaFile: string; runtimeSchema: string };
  try {
    const { describeResolvedJob } = (await import(runtimeSchema)) as typeof import('jobcraft/schema');
    const module = (await import(pathToFileURL(schemaFile).href)) as Record<string, unknown>;
    const sets: Record<string, LoadedJob[]> = {};
    for (const [name, value] of Object.entries(module)) {
      if (isJobSet(value)) sets[name] = [...value.jobs.values()].map((job) => describeJob(job, describeResolvedJob));
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

parentPort?.postMessage(await run());
