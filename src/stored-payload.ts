/**
 * The steps that turn a stored job into what its handler receives, shared by the worker at dequeue
 * (worker/decode.ts) and by the live check of stored jobs (live-check.ts), so that the check's verdict is the
 * worker's: the job its name runs as in the queue ({@link storedJobOf}), then its payload ({@link parseStoredPayload}).
 * Versioned payloads extend parseStoredPayload (and only it): read the version the envelope records, parse with that
 * version's schema, migrate up to the current version, then validate with the current schema.
 */
import { jobNamed, type JobSet, type ResolvedJob } from './define.js';
import { parsePayload, type Envelope, type PayloadJob } from './payload.js';

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

/**
 * Parses the payload of a stored job (`envelope`, already decoded) with its job's current schema, exactly as a worker
 * does before the handler runs. Returns zod's result; throws what the schema throws (a transform or refinement that
 * throws, an asynchronous schema: `JobDefinitionError`).
 */
export function parseStoredPayload(job: PayloadJob, envelope: Envelope): ReturnType<typeof parsePayload> {
  return parsePayload(job, envelope.p);
}
