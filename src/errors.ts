/** One problem zod found in a payload, with the path to the offending field. */
export interface PayloadIssue {
  /** Path from the payload root to the field, e.g. `["user", "email"]`. Empty for the payload itself. */
  readonly path: readonly (string | number)[];
  /** zod's issue code, e.g. `invalid_type`, or `not_json` for a value JSON cannot carry. */
  readonly code: string;
  /** Human-readable description of the problem. */
  readonly message: string;
}

/** Formats a path like `user.emails[0]`, or `(payload)` for the root. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(payload)';
  return path
    .map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`))
    .join('');
}

function listIssues(issues: readonly PayloadIssue[]): string {
  return issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; ');
}

/**
 * A payload failed its job's schema, could not survive a trip through JSON, or is larger than the size limit.
 * Thrown by `enqueue` before anything is written; recorded as the dead-letter reason when it happens at dequeue.
 */
export class JobValidationError extends Error {
  override readonly name = 'JobValidationError';
  /** The job whose payload was refused. */
  readonly job: string;
  /** Every problem found, each with its path. */
  readonly issues: readonly PayloadIssue[];
  /** Where it happened: `enqueue` (nothing was written) or `dequeue` (the job went to the dead letters). */
  readonly stage: 'enqueue' | 'dequeue';

  constructor(job: string, issues: readonly PayloadIssue[], stage: 'enqueue' | 'dequeue', index?: number) {
    const where = index === undefined ? '' : ` (item ${index} of the batch)`;
    super(`Invalid payload for job "${job}"${where} at ${stage}: ${listIssues(issues)}`);
    this.job = job;
    this.issues = issues;
    this.stage = stage;
  }
}

/** A job definition passed to `defineJobs` is invalid; the message names the job and the option. */
export class JobDefinitionError extends Error {
  override readonly name = 'JobDefinitionError';
  /** The job whose definition is wrong (empty when the problem is the map itself). */
  readonly job: string;
  /** The option at fault, e.g. `backoff.delay`. */
  readonly option: string | undefined;

  constructor(job: string, option: string | undefined, problem: string) {
    const subject = job === '' ? 'defineJobs' : `job "${job}"`;
    super(option === undefined ? `${subject}: ${problem}` : `${subject}, option "${option}": ${problem}`);
    this.job = job;
    this.option = option;
  }
}

/**
 * Throw this from a handler to fail the job for good: remaining attempts are skipped and the job goes straight to
 * the dead letters with this error.
 */
export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';
}

/** The attempt ran longer than the job's `timeout`; its `AbortSignal` fired and the attempt failed. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  /** The timeout that passed, in milliseconds. */
  readonly timeoutMs: number;
  constructor(job: string, timeoutMs: number) {
    super(`Job "${job}" timed out after ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The worker running an attempt stopped renewing its lease (it crashed, hung or lost Redis for longer than the
 * lease), so another worker took the job back. Recorded as the attempt's error.
 */
export class LeaseExpiredError extends Error {
  override readonly name = 'LeaseExpiredError';
}

/** Reason given to a handler's `AbortSignal` when the worker shuts down before the handler finished. */
export class ShutdownError extends Error {
  override readonly name = 'ShutdownError';
}

/**
 * Thrown by `ctx.snooze()`: the job runs again after `delayMs` without spending an attempt. Not a failure.
 */
export class SnoozeSignal extends Error {
  override readonly name = 'SnoozeSignal';
  /** How long to wait before the job runs again. */
  readonly delayMs: number;
  constructor(delayMs: number) {
    super(`snoozed for ${delayMs} ms`);
    this.delayMs = delayMs;
  }
}

/** Redis did not answer in time or refused a command; the message says which operation. */
export class RedisUnavailableError extends Error {
  override readonly name: string = 'RedisUnavailableError';
}

/** An error as stored in Redis: the last error of a retrying job, or the error a job died with. */
export interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Attempt number that failed. */
  readonly attempt?: number;
  /** When it failed, ms since the epoch. */
  readonly at: number;
}

const MAX_STACK = 4_096;

/** Turns anything thrown into a {@link StoredError} (stacks are cut to 4 KiB). */
export function toStoredError(err: unknown, attempt?: number): StoredError {
  if (err instanceof Error) {
    return {
      name: err.name,
      message: err.message,
      stack: err.stack === undefined ? undefined : err.stack.slice(0, MAX_STACK),
      attempt,
      at: Date.now(),
    };
  }
  let message: string;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { name: 'NonErrorThrown', message: `a non-Error value was thrown: ${message.slice(0, 1000)}`, attempt, at: Date.now() };
}

/** Reads a stored error back; tolerates anything (a corrupt entry becomes a readable error). */
export function parseStoredError(json: string | null): StoredError | undefined {
  if (json === null) return undefined;
  try {
    const v = JSON.parse(json) as Partial<StoredError>;
    if (typeof v === 'object' && v !== null && typeof v.message === 'string') {
      return { name: String(v.name ?? 'Error'), message: v.message, stack: v.stack, attempt: v.attempt, at: Number(v.at ?? 0) };
    }
  } catch {
    // fall through
  }
  return { name: 'CorruptErrorRecord', message: `unreadable error record: ${json.slice(0, 200)}`, at: 0 };
}

/**
 * Redis refused a write because it is out of memory: its used memory is above `maxmemory` and its
 * `maxmemory-policy` found nothing to evict (`noeviction`, as jobcraft needs, or a `volatile-*` policy with no key
 * that has a TTL). A refused call wrote nothing. Enqueues, dead-letter
 * retries and workers' leasing of new jobs are refused until memory is freed; workers keep running, renewing and
 * acknowledging the jobs they hold, which frees memory as jobs complete. A {@link RedisUnavailableError}, so code that retries those retries this too.
 */
export class RedisOutOfMemoryError extends RedisUnavailableError {
  override readonly name: string = 'RedisOutOfMemoryError';
  /** What Redis refused, e.g. `jobcraft's enqueue script`. */
  readonly operation: string;

  constructor(operation: string, options?: ErrorOptions) {
    super(
      `Redis is out of memory and refused ${operation}: its used memory is above maxmemory and its maxmemory-policy ` +
        `found nothing to evict (noeviction, or a volatile-* policy with no key that has a TTL), so it refuses writes ` +
        `that may add data; nothing was written. Raise maxmemory or free ` +
        `memory (running workers free it as they complete jobs; dead letters and completed records can be trimmed), ` +
        `then retry.`,
      options,
    );
    this.operation = operation;
  }
}
