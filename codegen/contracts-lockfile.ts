/**
 * jobs.lock.json: the job contracts as committed. For every job, its queue and, per live version of its payload,
 * the JSON Schema of what producers write (zod's output side) and of what workers accept (the input side), a hash
 * of both, and what JSON Schema cannot say about them; for a job with a result, the same of its result (`result`).
 * `jobcraft lock` writes it, `jobcraft codegen --check` fails when it is stale, `jobcraft check` compares the schemas of now with it (contracts-compare.ts). Written with sorted keys and
 * two-space indentation, so it is the same bytes for the same schemas and diffs well.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { UsageError } from './problems.js';

/**
 * The format of the file; a reader refuses a version it does not know. Still 1 with results: a job's `result` is
 * an added key that a reader without results ignores (it never compared them), and a job without a result is
 * written as before.
 */
export const LOCKFILE_VERSION = 1;

/** The lockfile's name, beside the schema file. */
export const LOCKFILE_NAME = 'jobs.lock.json';

/** A JSON Schema node as zod writes it (draft 2020-12). */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** A part of a payload its JSON Schema does not describe exactly. */
export interface Unrepresentable {
  /** Which JSON Schema lacks it: the input side (what workers accept) or the output side (what producers write). */
  readonly side: 'input' | 'output';
  /** The field, as `a.b`, `items[]`, `tuple[1]`, `record{}`; `` for the payload itself. */
  readonly path: string;
  /** Why, in zod's words where zod gives them. */
  readonly reason: string;
  /**
   * `sha256:` and the digest of the canonical JSON of that part of both schemas (`{ input, output }` at its place):
   * the same note with the same hash on both sides of a check means the part is unchanged as far as JSON Schema sees.
   */
  readonly hash: string;
}

/** One version of a job's payload. */
export interface LockedVersion {
  /**
   * The version number: 1 for a job without declared versions; for a job with `versions`, 1 for the first earlier
   * one and `versions.length + 1` for the current payload (docs/contracts.md, "Versioned payloads").
   */
  readonly version: number;
  /**
   * `sha256:` and the hex digest of the canonical JSON of `{ input, output, unrepresentable }`. The same hash means
   * the same JSON Schemas and the same notes; it cannot see inside a transform or refinement function.
   */
  readonly hash: string;
  /** What workers accept: `z.toJSONSchema(payload, { io: 'input' })`. */
  readonly input: JsonSchema;
  /** What producers write: `z.toJSONSchema(payload, { io: 'output' })`. */
  readonly output: JsonSchema;
  /** Sorted by side, path and reason; empty when both schemas are exact. */
  readonly unrepresentable: readonly Unrepresentable[];
}

/**
 * A job's result (docs/results.md), for a job that declares one. Beside `versions`, not in them: a result belongs to
 * the job type, not to a payload version (the payload's versions are what stored jobs were written with; a stored
 * result is read by the current `result` schema whatever version its payload was). Workers store what the handler
 * returned (the input side) and waiters parse it with their result schema: `jobcraft check` compares the input sides.
 */
export interface LockedResult {
  /** `sha256:` and the hex digest of the canonical JSON of `{ input, output, unrepresentable }`, like a version's. */
  readonly hash: string;
  /** What handlers return and workers store, and what waiters parse: `z.toJSONSchema(result, { io: 'input' })`. */
  readonly input: JsonSchema;
  /** What a waiter receives after parsing: `z.toJSONSchema(result, { io: 'output' })`. */
  readonly output: JsonSchema;
  /** Sorted by side, path and reason; empty when both schemas are exact. */
  readonly unrepresentable: readonly Unrepresentable[];
}

/** One job's contract. */
export interface LockedJob {
  readonly queue: string;
  /** The live versions, oldest first; the last is the one producers write now. */
  readonly versions: readonly LockedVersion[];
  /** The result's contract; absent for a job without a result (its entry is then as before results existed). */
  readonly result?: LockedResult;
  /**
   * The job's old names (its `aliases`: stored jobs under them run as this job), sorted; absent for a job without
   * any (its entry is then as before aliases existed). `jobcraft check` reads a job gone under one of them as renamed.
   */
  readonly aliases?: readonly string[];
  /**
   * The version producers write, when it is not the last one (a job whose definition pins `emitVersion` to an
   * earlier version); absent otherwise (its entry is then as before versions existed).
   */
  readonly emitVersion?: number;
}

/** The whole file. */
export interface Lockfile {
  readonly lockfileVersion: number;
  /** The schema file, relative to the lockfile's folder. */
  readonly schema: string;
  /** By job name. */
  readonly jobs: Readonly<Record<string, LockedJob>>;
}

/** What the lockfile needs to know of one job (the generator's LoadedJob has it). */
export interface ContractSource {
  readonly name: string;
  readonly queue: string;
  readonly inputJsonSchema: JsonSchema;
  readonly outputJsonSchema: JsonSchema;
  readonly unrepresentable: readonly Unrepresentable[];
  /** The result's JSON Schemas and notes, for a job that declares a result. */
  readonly result?: { readonly input: JsonSchema; readonly output: JsonSchema; readonly unrepresentable: readonly Unrepresentable[] } | null;
  /** The job's old names (its `aliases`). */
  readonly aliases?: readonly string[];
  /** Each earlier payload version's JSON Schemas and notes, oldest first (versions 1, 2, …); the current one is last. */
  readonly versions?: readonly { readonly input: JsonSchema; readonly output: JsonSchema; readonly unrepresentable: readonly Unrepresentable[] }[];
  /** The version producers write (default: the current one). */
  readonly emitVersion?: number;
}

/** Where the lockfile of `schemaFile` is: beside it. */
export function lockfilePath(schemaFile: string): string {
  return join(dirname(schemaFile), LOCKFILE_NAME);
}

/** `value` with every object's keys sorted (arrays keep their order: it means something in JSON Schema). */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
  return out;
}

/** JSON with sorted keys and no spaces: what the hash is taken of. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** The hash of a part of a payload's schemas (an {@link Unrepresentable}'s). */
export function partHash(part: { readonly input: unknown; readonly output: unknown }): string {
  return `sha256:${createHash('sha256').update(canonicalJson(part)).digest('hex')}`;
}

/** The hash of one version: its two schemas and what they cannot say. */
function versionHash(input: JsonSchema, output: JsonSchema, unrepresentable: readonly Unrepresentable[]): string {
  return `sha256:${createHash('sha256').update(canonicalJson({ input, output, unrepresentable })).digest('hex')}`;
}

/** The lockfile for `jobs` of the schema file `schemaFile` (a path; only its name is written). */
export function buildLockfile(schemaFile: string, jobs: readonly ContractSource[]): Lockfile {
  const locked: Record<string, LockedJob> = {};
  for (const job of [...jobs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const earlier = (job.versions ?? []).map((v, i) => ({ version: i + 1, ...hashed(v) }));
    const current = earlier.length + 1;
    locked[job.name] = {
      queue: job.queue,
      versions: [...earlier, { version: current, ...hashed({ input: job.inputJsonSchema, output: job.outputJsonSchema, unrepresentable: job.unrepresentable }) }],
      ...(job.result === undefined || job.result === null ? {} : { result: hashed(job.result) }),
      ...(job.aliases === undefined || job.aliases.length === 0 ? {} : { aliases: [...job.aliases].sort() }),
      ...(job.emitVersion === undefined || job.emitVersion === current ? {} : { emitVersion: job.emitVersion }),
    };
  }
  return { lockfileVersion: LOCKFILE_VERSION, schema: basename(schemaFile), jobs: locked };
}

/** Both JSON Schemas and their notes, with the hash of the three (a version's, less its number, or a result's). */
function hashed(schemas: { readonly input: JsonSchema; readonly output: JsonSchema; readonly unrepresentable: readonly Unrepresentable[] }): LockedResult {
  const { input, output, unrepresentable } = schemas;
  return { hash: versionHash(input, output, unrepresentable), input, output, unrepresentable };
}

/** The file's text: sorted keys, two spaces, a trailing newline. */
export function formatLockfile(lock: Lockfile): string {
  const body = sortKeys(lock) as Record<string, unknown>;
  const header = { $comment: 'Written by `jobcraft lock`: the job contracts `jobcraft check` compares with. Commit it; do not edit it.' };
  return `${JSON.stringify({ ...header, ...body }, null, 2)}\n`;
}

/** Reads a lockfile's text; `source` names it in errors (a path, or `ref:path`). Throws {@link UsageError} when it is not one. */
export function parseLockfile(text: string, source: string): Lockfile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${source} is not JSON: ${(err as Error).message}`);
  }
  const bad = (what: string): UsageError => new UsageError(`${source} is not a jobcraft lockfile: ${what}`);
  if (!isRecord(data)) throw bad('not an object');
  if (data.lockfileVersion !== LOCKFILE_VERSION) {
    throw bad(`lockfileVersion ${JSON.stringify(data.lockfileVersion)} (this jobcraft reads version ${LOCKFILE_VERSION}; upgrade it, or run \`jobcraft lock\`)`);
  }
  if (typeof data.schema !== 'string') throw bad('"schema" is not a string');
  if (!isRecord(data.jobs)) throw bad('"jobs" is not an object');
  const jobs: Record<string, LockedJob> = {};
  for (const [name, job] of Object.entries(data.jobs)) {
    if (!isRecord(job) || typeof job.queue !== 'string' || !Array.isArray(job.versions) || job.versions.length === 0) {
      throw bad(`job ${JSON.stringify(name)} needs a "queue" string and a non-empty "versions" list`);
    }
    const versions = job.versions.map((v: unknown, i: number): LockedVersion => {
      const ok = isRecord(v) && typeof v.version === 'number' && isSchemas(v);
      if (!ok) throw bad(`version ${i + 1} of job ${JSON.stringify(name)} needs "version", "hash", "input", "output" and "unrepresentable"`);
      return v as unknown as LockedVersion;
    });
    if (job.result !== undefined && !isSchemas(job.result)) throw bad(`the result of job ${JSON.stringify(name)} needs "hash", "input", "output" and "unrepresentable"`);
    if (job.aliases !== undefined && !(Array.isArray(job.aliases) && job.aliases.every((a) => typeof a === 'string'))) {
      throw bad(`the aliases of job ${JSON.stringify(name)} are not a list of names`);
    }
    if (versions.some((v, i) => v.version !== i + 1)) throw bad(`the versions of job ${JSON.stringify(name)} are not numbered 1, 2, … in order`);
    if (job.emitVersion !== undefined && !(Number.isInteger(job.emitVersion) && (job.emitVersion as number) >= 1 && (job.emitVersion as number) <= versions.length)) {
      throw bad(`the emitVersion of job ${JSON.stringify(name)} is not one of its versions`);
    }
    jobs[name] = {
      queue: job.queue,
      versions,
      ...(job.result === undefined ? {} : { result: job.result as unknown as LockedResult }),
      ...(job.aliases === undefined ? {} : { aliases: job.aliases as string[] }),
      ...(job.emitVersion === undefined ? {} : { emitVersion: job.emitVersion as number }),
    };
  }
  return { lockfileVersion: LOCKFILE_VERSION, schema: data.schema, jobs };
}

/** Whether `v` has a hash, both JSON Schemas and a well-formed list of notes (a version's or a result's). */
function isSchemas(v: unknown): boolean {
  return (
    isRecord(v) &&
    typeof v.hash === 'string' &&
    isRecord(v.input) &&
    isRecord(v.output) &&
    Array.isArray(v.unrepresentable) &&
    v.unrepresentable.every(
      (u) => isRecord(u) && (u.side === 'input' || u.side === 'output') && typeof u.path === 'string' && typeof u.reason === 'string' && typeof u.hash === 'string',
    )
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
