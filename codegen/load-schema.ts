/**
 * Runs the schema file to learn what only the running program knows: the job set as `defineJobs` resolved it
 * (defaults filled in, options validated) and the JSON Schema of each payload's input. It runs in a worker thread
 * with tsx loaded (load-worker.ts), started before the type checker so both proceed at once; a fresh worker per
 * run means every run sees the files as they are now.
 */
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { LoadedJob } from './describe-job.js';
import { CodegenError, problemAt, type Problem, type SourceLocation } from './problems.js';
import type { DeclaredSchema } from './read-schema.js';

export type { LoadedJob } from './describe-job.js';

/** The worker's answer. */
export type WorkerReply =
  | { readonly ok: true; readonly sets: Readonly<Record<string, readonly LoadedJob[]>> }
  | {
      readonly ok: false;
      readonly error: { name: string; message: string; stack: string; job: string | undefined; option: string | undefined };
    };

/** Longest the schema file may take to run. */
const LOAD_TIMEOUT_MS = 60_000;

/**
 * Code of the worker: registers tsx (so TypeScript imports work), then runs load-worker.ts.
 *
 * Before tsx is registered, the worker imports what it will need anyway and Node can load without tsx: the runtime
 * when it is JavaScript (the installed package), or else (the runtime's TypeScript sources, in this repository) the
 * packages it imports, zod and cron-parser. Every module imported once tsx is registered goes through tsx's loader
 * hooks, which on Node 20 run in a thread of their own: a message there and back per module, and zod has some 150
 * modules. Imported first, they are in Node's module map when the runtime and the schema file import them (by the
 * same URL), so those imports find them loaded. A preload that fails is ignored: the import after it reports it.
 */
function workerSource(runtimeSchema: string): string {
  const require = createRequire(import.meta.url);
  const tsx = dirname(require.resolve('tsx/package.json'));
  const esmApi = pathToFileURL(join(tsx, 'dist', 'esm', 'api', 'index.mjs')).href;
  // tsx's require() hook too: in a CommonJS package (no "type": "module") the schema file is loaded by require().
  const cjsApi = pathToFileURL(join(tsx, 'dist', 'cjs', 'api', 'index.mjs')).href;
  const script = new URL(import.meta.url.endsWith('.ts') ? './load-worker.ts' : './load-worker.js', import.meta.url).href;
  const preloads = JSON.stringify(nativePreloads(runtimeSchema));
  return (
    `Promise.all([import(${JSON.stringify(esmApi)}), import(${JSON.stringify(cjsApi)}), ...${preloads}.map((url) => import(url).catch(() => {}))])` +
    `.then(([esm, cjs]) => { cjs.register(); esm.register(); return import(${JSON.stringify(script)}); });`
  );
}

/** What the worker imports before registering tsx (see {@link workerSource}): module URLs. */
export function nativePreloads(runtimeSchema: string): string[] {
  if (!runtimeSchema.startsWith('file:')) return [];
  if (!/\.[cm]?tsx?$/.test(runtimeSchema)) return [runtimeSchema];
  const urls: string[] = [];
  for (const specifier of ['zod', 'cron-parser']) {
    try {
      if (typeof import.meta.resolve === 'function') urls.push(import.meta.resolve(specifier));
    } catch {
      // Not resolvable from here: the runtime's own import resolves it.
    }
  }
  return urls;
}

/**
 * Where `jobcraft/schema` is, resolved here when this thread can: the worker describes jobs with its
 * `describeResolvedJob`, and its own resolution (tsx with the tsconfig of the working directory) may not find the
 * runtime from this package's folder. Otherwise (a loader without `import.meta.resolve`, such as vitest's) the worker
 * resolves the name itself.
 */
function runtimeSchemaUrl(): string {
  try {
    if (typeof import.meta.resolve === 'function') return import.meta.resolve('jobcraft/schema');
  } catch {
    // resolved by the worker
  }
  return 'jobcraft/schema';
}

/** A worker thread running load-worker.ts: on `schemaFile`, or (undefined) on the first file posted to it. */
function spawnWorker(schemaFile: string | undefined): Worker {
  const runtimeSchema = runtimeSchemaUrl();
  return new Worker(workerSource(runtimeSchema), { eval: true, workerData: { schemaFile, runtimeSchema }, stdout: false, stderr: false });
}

/**
 * A worker thread with tsx and the runtime loaded, waiting for a schema file to run: --watch keeps one ready after
 * every run, so the next save does not wait for the thread to start (it has imported nothing of the user's files,
 * so it sees them as saved).
 */
export class SpareWorker {
  readonly worker = spawnWorker(undefined);

  /** Stops it, unused. */
  close(): void {
    void this.worker.terminate();
  }
}

/** A run of the schema file in progress. */
export class SchemaLoad {
  private readonly reply: Promise<WorkerReply>;
  private readonly worker: Worker;

  /** Starts running `schemaFile` in a worker thread (the spare one, when given). */
  constructor(
    readonly schemaFile: string,
    spare?: SpareWorker,
  ) {
    const worker = (this.worker =
      spare?.worker ??
      spawnWorker(schemaFile));
    if (spare !== undefined) worker.postMessage(schemaFile);
    this.reply = new Promise<WorkerReply>((resolve) => {
      const timer = setTimeout(() => {
        resolve(failed('TimeoutError', `it did not finish within ${LOAD_TIMEOUT_MS / 1000} s`));
      }, LOAD_TIMEOUT_MS);
      const done = (reply: WorkerReply): void => {
        clearTimeout(timer);
        resolve(reply);
        // The schema module may hold handles open (a connection made at import); the answer is all we need.
        void worker.terminate();
      };
      worker.once('message', (reply: WorkerReply) => done(reply));
      worker.once('error', (err) => done(failed(err.name, err.message, err.stack)));
      worker.once('exit', (code) => done(failed('Error', `the worker running it exited with code ${code}`)));
    });
  }

  /** Stops the run; used when reading the file already failed. */
  cancel(): void {
    void this.worker.terminate();
  }

  /** The jobs of the set exported as `schema.exportName`. Throws {@link CodegenError} (stage `run`) when running the file failed. */
  async jobs(schema: DeclaredSchema): Promise<ReadonlyMap<string, LoadedJob>> {
    const reply = await this.reply;
    if (!reply.ok) throw new CodegenError([failure(reply.error, schema)], 'run');
    const set = reply.sets[schema.exportName];
    if (set === undefined) {
      throw new CodegenError([problemAt(schema.location, `the export ${JSON.stringify(schema.exportName)} is not the job set defineJobs returned`)], 'run');
    }
    const jobs = new Map(set.map((j) => [j.name, j]));
    for (const declared of schema.jobs) {
      const job = jobs.get(declared.name);
      const where = declared.location;
      const problem = (message: string): CodegenError => new CodegenError([problemAt(where, message, declared.name)], 'run');
      if (job === undefined) throw problem(`job ${JSON.stringify(declared.name)} is missing from the job set at run time`);
      if (job.inputProblem !== undefined) {
        throw problem(`cannot describe the payload of job ${JSON.stringify(declared.name)} as JSON Schema: ${job.inputProblem}`);
      }
    }
    return jobs;
  }
}

function failed(name: string, message: string, stack = ''): WorkerReply {
  return { ok: false, error: { name, message, stack, job: undefined, option: undefined } };
}

/** This package's own folder: its frames (the worker describing jobs) are not the user's. */
const OWN_FOLDER = dirname(fileURLToPath(import.meta.url)) + sep;

/**
 * Where a thrown error points, from its stack (tsx maps stacks to the TypeScript source): the innermost frame in the
 * schema file or in a local file it imports (a module of the project, not of node_modules or Node itself).
 */
function stackLocation(stack: string, file: string): SourceLocation | undefined {
  const url = pathToFileURL(file).href;
  for (const line of stack.split('\n')) {
    const m = /(file:\/\/[^\s)]+|\/[^\s():]+):(\d+):(\d+)/.exec(line);
    if (m === null) continue;
    const path = m[1]?.startsWith('file:') ? fileURLToPath(m[1].replace(/\?.*$/, '')) : m[1];
    if (path === file || m[1] === url) return { file, line: Number(m[2]), column: Number(m[3]) };
    if (path !== undefined && /\.[cm]?tsx?$/.test(path) && !path.split(/[\\/]/).includes('node_modules') && !path.startsWith(OWN_FOLDER)) {
      return { file: path, line: Number(m[2]), column: Number(m[3]) };
    }
  }
  return undefined;
}

/** Turns an error thrown while running the schema file into a problem at the best location known. */
function failure(error: Extract<WorkerReply, { ok: false }>['error'], schema: DeclaredSchema): Problem {
  if (error.name === 'JobDefinitionError' && error.job !== undefined) {
    const job = schema.jobs.find((j) => j.name === error.job);
    const option = error.option;
    const location =
      // `versions[0].migrate` is located at the job's `versions`.
      (option === undefined ? undefined : (job?.optionLocations.get(option) ?? job?.optionLocations.get(option.split(/[.[]/)[0] ?? ''))) ??
      job?.location ??
      schema.location;
    return problemAt(location, `defineJobs rejected the definition: ${error.message}`, error.job);
  }
  return problemAt(
    stackLocation(error.stack, schema.file) ?? schema.location,
    `running ${schema.file.split('/').pop()} failed: ${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`,
  );
}

const prestarted = new Map<string, SchemaLoad>();

/**
 * Starts running `schemaFile` before the generator (and the TypeScript compiler it loads) is even imported; the
 * next {@link takeSchemaLoad} for the file picks it up.
 */
export function startSchemaLoad(schemaFile: string): void {
  if (!prestarted.has(schemaFile)) prestarted.set(schemaFile, new SchemaLoad(schemaFile));
}

let spare: SpareWorker | undefined;

/** Starts a {@link SpareWorker} for the next {@link takeSchemaLoad} (--watch, between saves). */
export function prepareSpareWorker(): void {
  spare ??= new SpareWorker();
}

/** Stops the spare worker, if any (--watch, when it stops). */
export function closeSpareWorker(): void {
  spare?.close();
  spare = undefined;
}

/** The run started by {@link startSchemaLoad}, or a new one (in the spare worker when one is ready). */
export function takeSchemaLoad(schemaFile: string): SchemaLoad {
  const load = prestarted.get(schemaFile);
  prestarted.delete(schemaFile);
  if (load !== undefined) return load;
  const worker = spare;
  spare = undefined;
  return new SchemaLoad(schemaFile, worker);
}
