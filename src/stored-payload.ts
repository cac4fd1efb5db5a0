/**
 * The steps that turn a stored job into what its handler receives, shared by the worker at dequeue
 * (worker/decode.ts) and by the live check of stored jobs (live-check.ts), so that the check's verdict is the
 * worker's: the job its name runs as in the queue ({@link storedJobOf}), then its payload ({@link parseStoredPayload}).
 * Versioned payloads extend parseStoredPayload (and only it): read the version the envelope records, parse with that
 * version's schema, migrate up to the current version, then validate with the current schema.
 */
import { jobNamed, type JobSet, type ResolvedJob } from './define.js';
import { InvalidArgumentError, PayloadVersionError, type PayloadIssue } from './errors.js';
import { parsePayload, toIssues, type Envelope, type PayloadJob } from './payload.js';

/**
 * The job a stored job named `name` (an envelope's `n`) runs as when leased from `queue`: the job of that name, or
 * the one that lists it among its aliases, if it belongs to `queue`. Otherwise the message of its `unknown_job` dead
 * letter (a string): no such job, or a job of another queue.
 */
export function storedJobOf(jobSet: Pick<JobSet, 'jobs' | 'aliases'>, name: string, queue: string): ResolvedJob | string {
  const job = jobNamed(jobSet, name);
  if (job === undefined) return `unknown job name "${name}": no job of that name is declared in this worker's job set`;
  if (job.queue !== queue) {
    return `job "${job.name}"${job.name === name ? '' : ` (stored under its old name "${name}")`} belongs to queue "${job.queue}", but was found in queue "${queue}"`;
  }
  return job;
}

/** What reading a stored payload needs of its job: its name and current schema, and its earlier versions if any. */
export interface VersionedPayloadJob extends PayloadJob {
  /** The current version (the one `schema` is). Default 1. */
  readonly version?: number;
  /** The earlier versions, oldest first (`version` 1, 2, …), each with its migration to the next. Default none. */
  readonly versions?: readonly { readonly version: number; readonly schema: PayloadJob['schema']; readonly migrate: (payload: unknown) => unknown }[];
}

/**
 * A stored payload read up to a version: `data` is that version's schema output (what a handler of it receives) and
 * `input` the payload in that version's input form (what an enqueue of that version stores), or why it could not be.
 */
export type StoredPayloadResult =
  | {
      readonly success: true;
      readonly data: unknown;
      readonly input: unknown;
      /** The version the stored job was written with (its envelope's `v`; 1 when absent). */
      readonly from: number;
      /** The version `data` is of. */
      readonly to: number;
    }
  | {
      readonly success: false;
      /** Each problem, with its path in the payload; messages name the version step where the payload failed. */
      readonly issues: readonly PayloadIssue[];
      /** The version the stored job was written with; NaN when its `v` is not a version (not an integer from 1). */
      readonly from: number;
      /** The version whose schema (or the migration to which) refused it. */
      readonly to: number;
      /**
       * Set when the stored job's version is newer than the job set knows: it was not read (not dead-lettered by a
       * worker: the attempt fails with this error and is retried).
       */
      readonly newer?: PayloadVersionError;
    };

/**
 * Reads the payload of a stored job (`envelope`, already decoded) up to version `toVersion` (default: the job's
 * current version): parses it with the schema of the version its envelope records (`v`, absent meaning 1), then
 * runs each migration up to `toVersion`, each migration's output parsed by the next version's schema. For a job
 * without versions this is exactly a parse with its schema. A migration that throws (or returns a Promise) gives an
 * issue with code `migration_failed`; a recorded version that is not an integer from 1, an issue with code
 * `version_unknown`; a version newer than the job knows, a failure with `newer` set. Throws what a schema throws
 * (a transform or refinement that throws; an asynchronous schema: `JobDefinitionError`), and `InvalidArgumentError`
 * for a `toVersion` the job does not have.
 */
export function upcastStoredPayload(job: VersionedPayloadJob, envelope: Pick<Envelope, 'p' | 'v'>, toVersion?: number): StoredPayloadResult {
  const current = job.version ?? 1;
  const to = toVersion ?? current;
  if (!Number.isInteger(to) || to < 1 || to > current) {
    throw new InvalidArgumentError('upcastStoredPayload', 'toVersion', `toVersion must be a version of job "${job.name}" (1 to ${current}), got ${String(toVersion)}`);
  }
  const from = envelope.v ?? 1;
  // decodeEnvelope already refuses such a `v`; this is a public function, so an envelope from elsewhere gets the
  // same clear refusal rather than a TypeError (or a parse with no version's schema).
  if (typeof from !== 'number' || !Number.isInteger(from) || from < 1) {
    const message = `the job was stored with ${typeof from === 'number' ? String(from) : JSON.stringify(from)} as its payload version, which is not a payload version (an integer from 1)`;
    return { success: false, from: Number.NaN, to, issues: [{ path: [], code: 'version_unknown', message }] };
  }
  if (from > current) {
    const newer = new PayloadVersionError(job.name, from, current);
    return { success: false, from, to: from, newer, issues: [{ path: [], code: 'version_unknown', message: newer.message }] };
  }
  if (from > to) {
    const message = `the job was written with payload version ${from}, newer than version ${to}: migrations only go up`;
    return { success: false, from, to, issues: [{ path: [], code: 'version_unknown', message }] };
  }
  const versions = job.versions ?? [];
  const schemaOf = (version: number): PayloadJob =>
    version === current ? job : { name: job.name, schema: (versions[version - 1] as { schema: PayloadJob['schema'] }).schema, option: `versions[${version - 1}].payload` };
  let input = envelope.p;
  let parsed = parsePayload(schemaOf(from), input);
  if (!parsed.success) {
    // An unversioned job's (or a current-version job's) issues read as they always have.
    const note = from === current ? undefined : `stored as version ${from}, its schema`;
    return { success: false, from, to: from, issues: located(toIssues(parsed.error), note) };
  }
  for (let version = from; version < to; version++) {
    const step = `the migration from version ${version} to ${version + 1}`;
    const migrate = (versions[version - 1] as { migrate: (payload: unknown) => unknown }).migrate;
    try {
      input = migrate(parsed.data);
    } catch (thrown) {
      const why = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
      return { success: false, from, to: version + 1, issues: [{ path: [], code: 'migration_failed', message: `${step} threw: ${why}` }] };
    }
    if (isThenable(input)) {
      // An async migration (the types refuse it; JavaScript or a cast does not): its result never comes in time, and
      // a rejection nobody handles would end the worker's process. Handled here, and named.
      Promise.resolve(input).catch(() => {});
      const message = `${step} returned a Promise: migrations must be synchronous (they run at every dequeue, before the handler)`;
      return { success: false, from, to: version + 1, issues: [{ path: [], code: 'migration_failed', message }] };
    }
    parsed = parsePayload(schemaOf(version + 1), input);
    if (!parsed.success) {
      return { success: false, from, to: version + 1, issues: located(toIssues(parsed.error), `after ${step}, version ${version + 1}'s schema`) };
    }
  }
  return { success: true, data: parsed.data, input, from, to };
}

/** Whether a migration returned a Promise (or another thenable) instead of the next version's input. */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Issues with `where` (the version step) in front of each message. */
function located(issues: PayloadIssue[], where: string | undefined): PayloadIssue[] {
  return where === undefined ? issues : issues.map((i) => ({ ...i, message: `${where}: ${i.message}` }));
}

/**
 * Parses the payload of a stored job (`envelope`, already decoded) as a worker does before the handler runs: with
 * the schema of the version it was written with, migrated up to the job's current version and validated with its
 * current schema ({@link upcastStoredPayload}). Throws what the schema throws (a transform or refinement that
 * throws, an asynchronous schema: `JobDefinitionError`).
 */
export function parseStoredPayload(job: VersionedPayloadJob, envelope: Pick<Envelope, 'p' | 'v'>): StoredPayloadResult {
  // The hot path (every dequeue): a job stored with its current version is one parse.
  const current = job.version ?? 1;
  if ((envelope.v ?? 1) === current) {
    const parsed = parsePayload(job, envelope.p);
    return parsed.success
      ? { success: true, data: parsed.data, input: envelope.p, from: current, to: current }
      : { success: false, issues: toIssues(parsed.error), from: current, to: current };
  }
  return upcastStoredPayload(job, envelope);
}
