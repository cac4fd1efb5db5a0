/**
 * What every operations command shares: where Redis is (`--redis`, `JOBCRAFT_REDIS_URL`, `REDIS_URL`), the key
 * prefix (`--prefix`, `JOBCRAFT_PREFIX`), the job declarations (the schema file, run with tsx, or the generated
 * manifest), the client, and turning errors into exit codes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { JobClient, JobDefinition, JobSet } from 'jobcraft';
import { CliError, EXIT, Printer, escapeText } from './ops-output.js';

/** The options every operations command takes. */
export interface CommonOptions {
  readonly redis?: string;
  readonly prefix?: string;
  readonly schema?: string;
  readonly manifest?: string;
  readonly json?: boolean;
}

/** The Redis URL: `--redis`, else `JOBCRAFT_REDIS_URL`, else `REDIS_URL`, else the local default. */
export function redisUrlOf(o: CommonOptions, env: NodeJS.ProcessEnv = process.env): string {
  return o.redis ?? (env.JOBCRAFT_REDIS_URL || undefined) ?? (env.REDIS_URL || undefined) ?? 'redis://127.0.0.1:6379';
}

/** The key prefix: `--prefix`, else `JOBCRAFT_PREFIX`, else `jobcraft`. */
export function prefixOf(o: CommonOptions, env: NodeJS.ProcessEnv = process.env): string {
  return o.prefix ?? (env.JOBCRAFT_PREFIX || undefined) ?? 'jobcraft';
}

/** The job set and where it came from. */
export interface LoadedJobs {
  readonly jobs: JobSet;
  /** `schema`: the user's zod schemas (validation exactly as `enqueue`); `manifest`: schemas rebuilt from JSON Schema. */
  readonly kind: 'schema' | 'manifest';
  readonly file: string;
  /** Jobs whose unique key is a function the manifest cannot carry: `enqueue` of them needs the schema file. */
  readonly needsSchema: ReadonlySet<string>;
}

interface JobSetLike {
  readonly definitions: unknown;
  readonly jobs: ReadonlyMap<string, unknown>;
  readonly queues: readonly string[];
}

function isJobSet(value: unknown): value is JobSetLike {
  return typeof value === 'object' && value !== null && (value as { jobs?: unknown }).jobs instanceof Map && 'definitions' in value && 'queues' in value;
}

/** Runs the schema file with tsx (as codegen does) and takes the job set it exports (`jobs`, or its only one). */
async function fromSchema(file: string): Promise<LoadedJobs> {
  const { tsImport } = await import('tsx/esm/api');
  let module: Record<string, unknown>;
  try {
    module = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(EXIT.failure, `running ${file} failed: ${(err as Error).message}`);
  }
  const sets = Object.entries(module).filter(([, v]) => isJobSet(v));
  const chosen = sets.find(([name]) => name === 'jobs') ?? (sets.length === 1 ? sets[0] : undefined);
  if (chosen === undefined) {
    throw new CliError(EXIT.usage, sets.length === 0 ? `${file} exports no job set (the result of defineJobs)` : `${file} exports several job sets (${sets.map(([n]) => n).join(', ')}): export the one to use as "jobs"`);
  }
  return { jobs: chosen[1] as JobSet, kind: 'schema', file, needsSchema: new Set() };
}

interface ManifestJob {
  readonly name: string;
  readonly options: Record<string, unknown>;
  readonly input: unknown;
  /** A versioned job's current version, the one its producers write, and each earlier version's input JSON Schema. */
  readonly version?: number;
  readonly emitVersion?: number;
  readonly versions?: readonly { readonly version: number; readonly input: unknown }[];
}

/**
 * Rebuilds the job set from generated/jobs.manifest.json: each job's options as written go through `defineJobs`
 * again (so the same defaults resolve), with its payload schema rebuilt from the manifest's JSON Schema by zod's
 * `fromJSONSchema`, and a versioned job's earlier versions and `emitVersion` (their migrations are not in the
 * manifest: running one throws). A `unique.by` function is not in the manifest: such a job is marked as needing the
 * schema file to be enqueued (its unique key would differ), as is a unique job whose producers are pinned to an
 * earlier version (its key is made of the migrated payload).
 */
async function fromManifest(file: string): Promise<LoadedJobs> {
  let manifest: { jobs?: ManifestJob[] };
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as { jobs?: ManifestJob[] };
  } catch (err) {
    throw new CliError(EXIT.usage, `cannot read the manifest ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(manifest.jobs)) throw new CliError(EXIT.usage, `${file} is not a jobcraft manifest (no "jobs" list)`);
  const z = await import('zod');
  const { defineJobs } = await import('jobcraft');
  const needsSchema = new Set<string>();
  const definitions: Record<string, Record<string, unknown>> = {};
  for (const job of manifest.jobs) {
    const options = { ...job.options };
    const unique = options.unique;
    if (typeof unique === 'object' && unique !== null && (unique as { by?: unknown }).by === '[function]') {
      const { by: _by, ...rest } = unique as Record<string, unknown>;
      options.unique = rest;
      needsSchema.add(job.name);
    }
    const schemaOf = (input: unknown): unknown => {
      try {
        return z.fromJSONSchema(input as Parameters<typeof z.fromJSONSchema>[0]);
      } catch {
        needsSchema.add(job.name);
        return z.unknown();
      }
    };
    const payload = schemaOf(job.input);
    definitions[job.name] = { ...options, payload };
    // A versioned job (docs/contracts.md, "Versioned payloads"): its earlier versions, so an enqueue validates with
    // the version its producers write and records it (`v`); without them a stored job reads as version 1. The
    // migrations are code, not in the manifest: one that would run says so.
    if (Array.isArray(job.versions) && job.versions.length > 0) {
      const migrate = (): never => {
        throw new Error(`the migrations of job "${job.name}" are code, not in the manifest: pass --schema <jobs.schema.ts>`);
      };
      definitions[job.name] = {
        ...options,
        payload,
        versions: job.versions.map((v) => ({ payload: schemaOf(v.input), migrate })),
        ...(job.emitVersion === undefined ? {} : { emitVersion: job.emitVersion }),
      };
      // A unique key of a pinned producer is made of the payload migrated to the current version.
      const pinned = job.emitVersion !== undefined && job.emitVersion !== job.versions.length + 1;
      if (pinned && options.unique !== undefined && options.unique !== false) needsSchema.add(job.name);
    }
  }
  try {
    return { jobs: defineJobs(definitions as never) as JobSet, kind: 'manifest', file, needsSchema };
  } catch (err) {
    throw new CliError(EXIT.failure, `the manifest ${file} does not resolve: ${(err as Error).message} (run jobcraft codegen, or pass --schema)`);
  }
}

const DEFAULT_SCHEMA = 'jobs.schema.ts';
const DEFAULT_MANIFEST = 'generated/jobs.manifest.json';

/**
 * The job declarations: `--schema` or `--manifest` when given; otherwise the default file of the preferred kind
 * (`enqueue` prefers the schema file, whose zod schemas validate exactly as the application's `enqueue`; the other
 * commands the manifest, which loads without running TypeScript), else the other one.
 */
export async function loadJobs(o: CommonOptions, prefer: 'schema' | 'manifest'): Promise<LoadedJobs> {
  if (o.schema !== undefined && o.manifest !== undefined) throw new CliError(EXIT.usage, 'give either --schema or --manifest, not both');
  if (o.schema !== undefined) {
    const file = resolve(o.schema);
    if (!existsSync(file)) throw new CliError(EXIT.usage, `the schema file ${o.schema} does not exist`);
    return fromSchema(file);
  }
  if (o.manifest !== undefined) {
    const file = resolve(o.manifest);
    if (!existsSync(file)) throw new CliError(EXIT.usage, `the manifest ${o.manifest} does not exist`);
    return fromManifest(file);
  }
  const order = prefer === 'schema' ? ['schema', 'manifest'] : ['manifest', 'schema'];
  for (const kind of order) {
    const file = resolve(kind === 'schema' ? DEFAULT_SCHEMA : DEFAULT_MANIFEST);
    if (existsSync(file)) return kind === 'schema' ? fromSchema(file) : fromManifest(file);
  }
  throw new CliError(EXIT.usage, `no job declarations here (neither ${DEFAULT_SCHEMA} nor ${DEFAULT_MANIFEST}): pass --schema <file> or --manifest <file>`);
}

/** A job set whose queue and job names are plain strings (the CLI learns them at run time). */
export type LooseJobSet = JobSet<{ readonly [name: string]: JobDefinition & { readonly queue: string } }>;

/** A command's connection: the job set, a client on it, the printer. */
export interface Context {
  readonly loaded: LoadedJobs;
  readonly jobs: LooseJobSet;
  readonly client: JobClient<LooseJobSet>;
  readonly prefix: string;
  readonly out: Printer;
}

/** Checks a queue name against the job set (exit 3 when it declares no such queue). */
export function checkQueue(ctx: Context, queue: string): string {
  if (!ctx.jobs.queues.includes(queue)) throw new CliError(EXIT.notFound, `no queue ${JSON.stringify(queue)} in the job set (queues: ${ctx.jobs.queues.join(', ')})`);
  return queue;
}

/** Checks a job name against the job set (exit 3 when it declares no such job). */
export function checkJobName(ctx: Context, name: string): string {
  if (!ctx.jobs.jobs.has(name)) throw new CliError(EXIT.notFound, `no job ${JSON.stringify(name)} in the job set (jobs: ${[...ctx.jobs.jobs.keys()].join(', ')})`);
  return name;
}

/**
 * Checks the name a `--job` filter selects stored jobs by (exit 3 when the job set has no such name): a declared job
 * or the old name of a renamed one (its `aliases`), under which jobs stored before the rename stay — the runtime
 * matches the name a job is stored under, so an old name selects those jobs and the new name does not.
 */
export function checkJobFilter(ctx: Context, name: string): string {
  if (ctx.jobs.jobs.has(name) || ctx.jobs.aliases.has(name)) return name;
  const old = [...ctx.jobs.aliases.keys()];
  throw new CliError(EXIT.notFound, `no job ${JSON.stringify(name)} in the job set (jobs: ${[...ctx.jobs.jobs.keys()].join(', ')}${old.length > 0 ? `; old names: ${old.join(', ')}` : ''})`);
}

/**
 * Runs a command body with a context, then closes the client; a {@link CliError} sets its exit code, any other error
 * (Redis unreachable, a refused call) exits 1. Sets `process.exitCode`, never exits, so output is flushed.
 */
export async function withContext(o: CommonOptions, prefer: 'schema' | 'manifest', body: (ctx: Context) => Promise<number | void>): Promise<void> {
  const out = new Printer(o.json === true);
  let client: JobClient<LooseJobSet> | undefined;
  let connectionError: string | undefined;
  try {
    const loaded = await loadJobs(o, prefer);
    const { createClient, consoleLogger } = await import('jobcraft');
    const prefix = prefixOf(o);
    try {
      client = createClient(loaded.jobs as LooseJobSet, { redis: redisUrlOf(o), prefix, logger: consoleLogger });
    } catch (err) {
      throw new CliError(EXIT.usage, (err as Error).message);
    }
    // The cause of the latest failed connection attempt, for the errors of calls that name none (below).
    client.redis.on('error', (err: unknown) => (connectionError = (err as Error)?.message ?? String(err)));
    const code = await body({ loaded, jobs: loaded.jobs as LooseJobSet, client, prefix, out });
    process.exitCode = code ?? EXIT.ok;
  } catch (err) {
    process.exitCode = report(out, unreachable(err, redisUrlOf(o), connectionError));
  } finally {
    await client?.close().catch(() => {});
  }
}

/** ioredis's error for a command that waited through its reconnection attempts: it names no address and no cause. */
const RETRY_LIMIT = /Reached the max retries per request limit[^]*$/;

/** A Redis URL without its user name and password: what an error message may show. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/**
 * The write commands act through `createAdmin` on the client's connection, whose calls fail with ioredis's own
 * errors: when Redis cannot be reached, "Reached the max retries per request limit". That names neither the address
 * nor the cause, so it is said here as the runtime's own calls say it: where Redis is and why the connection failed.
 */
export function unreachable(err: unknown, url: string, cause: string | undefined): unknown {
  if (!(err instanceof Error) || !RETRY_LIMIT.test(err.message)) return err;
  const why = cause ?? 'no connection could be made';
  if (err.name === 'RedisUnavailableError') {
    const named = new Error(err.message.replace(RETRY_LIMIT, why));
    named.name = err.name;
    return named;
  }
  return new CliError(EXIT.failure, `Redis at ${displayUrl(url)} is unreachable: ${why}`);
}

/** Prints an error on stderr and returns its exit code. */
export function report(out: Printer, err: unknown): number {
  // Messages quote stored text (queue names from the registry, Redis's own errors naming keys): escaped like any.
  if (err instanceof CliError) {
    out.note(`${out.c.red('error:')} ${escapeText(err.message, true)}`);
    return err.exitCode;
  }
  const e = err as Error;
  out.note(`${out.c.red('error:')} ${escapeText(`${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(err)}`, true)}`);
  return EXIT.failure;
}

/** Parses a JSON text given on the command line (exit 2 when it is not JSON). */
export function parseJsonArgument(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CliError(EXIT.usage, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}
