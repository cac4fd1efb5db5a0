import {
  MAX_ERROR_MESSAGE_BYTES,
  MAX_ERROR_NAME_BYTES,
  MAX_EARLIER_ERRORS,
  MAX_ERROR_STACK_BYTES,
  MAX_ISSUE_MESSAGE_BYTES,
  MAX_ISSUE_PATH_SEGMENT_BYTES,
  MAX_ISSUE_PATH_SEGMENTS,
  MAX_ISSUES,
  MAX_ISSUES_IN_MESSAGE,
  MAX_ISSUE_LINE_BYTES,
  MAX_STORED_ERROR_BYTES,
  fitsBytes,
  truncateBytes,
} from './bounds.js';

/** One problem zod found in a payload, with the path to the offending field. */
export interface PayloadIssue {
  /** Path from the payload root to the field, e.g. `["user", "email"]`. Empty for the payload itself. */
  readonly path: readonly (string | number)[];
  /**
   * zod's issue code, e.g. `invalid_type`; or jobcraft's: `not_json` (a value JSON cannot carry), `too_big` (over the
   * size limit), `too_deep` (nested deeper than 256 levels), `more_issues` (the last entry of a cut list).
   */
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

/** The issue code of the last entry of a list that was cut, which counts the issues left out. */
const MORE_ISSUES_CODE = 'more_issues';

function boundIssue(issue: PayloadIssue): PayloadIssue {
  let path = issue.path;
  if (path.length > MAX_ISSUE_PATH_SEGMENTS) path = [...path.slice(0, MAX_ISSUE_PATH_SEGMENTS - 1), `… ${path.length - MAX_ISSUE_PATH_SEGMENTS + 1} more levels`];
  // truncateBytes returns its input itself when it fits, so `===` tells what was cut.
  const segments = path.map((p) => (typeof p === 'number' ? p : truncateBytes(p, MAX_ISSUE_PATH_SEGMENT_BYTES)));
  const code = truncateBytes(issue.code, MAX_ISSUE_PATH_SEGMENT_BYTES);
  const message = truncateBytes(issue.message, MAX_ISSUE_MESSAGE_BYTES);
  if (path === issue.path && segments.every((p, i) => p === path[i]) && code === issue.code && message === issue.message) return issue;
  return { path: segments, code, message };
}

/**
 * A list of issues bounded in size: at most {@link MAX_ISSUES}, each with its message, path and code cut to a few
 * hundred bytes; when issues were left out, a last entry with code `more_issues` says how many.
 */
export function boundIssues(issues: readonly PayloadIssue[]): readonly PayloadIssue[] {
  const kept = issues.length > MAX_ISSUES ? issues.slice(0, MAX_ISSUES - 1) : issues;
  const out = kept.map(boundIssue);
  if (kept.length < issues.length) {
    out.push({ path: [], code: MORE_ISSUES_CODE, message: `… and ${issues.length - kept.length} more issues (${issues.length} in all)` });
  }
  return out;
}

/** The first few issues, each line cut short; the list is in `issues` (stored bounded), so it is not stored twice. */
function listIssues(issues: readonly PayloadIssue[], total: number): string {
  const kept = issues.filter((i) => i.code !== MORE_ISSUES_CODE);
  const shown = kept.slice(0, MAX_ISSUES_IN_MESSAGE).map((i) => truncateBytes(`${formatPath(i.path)}: ${i.message}`, MAX_ISSUE_LINE_BYTES));
  if (total <= shown.length) return shown.join('; ');
  return `${shown.join('; ')}; … ${total} issues in all`;
}

/**
 * A payload failed its job's schema, could not survive a trip through JSON, or is larger than the size limit.
 * Thrown by `enqueue` before anything is written; recorded as the dead-letter reason when it happens at dequeue.
 */
export class JobValidationError extends Error {
  override readonly name = 'JobValidationError';
  /** The job whose payload was refused. */
  readonly job: string;
  /**
   * Every problem found, each with its path (map them to form fields). Only what is stored or logged is bounded: the
   * message lists the first 5, and a dead letter keeps at most 20 (a last entry with code `more_issues` counts the
   * rest), each message cut to 512 bytes and each path to 16 levels.
   */
  readonly issues: readonly PayloadIssue[];
  /** Where it happened: `enqueue` (nothing was written) or `dequeue` (the job went to the dead letters). */
  readonly stage: 'enqueue' | 'dequeue';

  constructor(job: string, issues: readonly PayloadIssue[], stage: 'enqueue' | 'dequeue', index?: number) {
    const where = index === undefined ? '' : ` (item ${index} of the batch)`;
    const bounded = boundIssues(issues);
    super(`Invalid payload for job "${job}"${where} at ${stage}: ${listIssues(bounded, issues.length)}`);
    this.job = job;
    this.issues = issues;
    this.stage = stage;
  }
}

/**
 * An argument of a jobcraft call is wrong: an option of `createWorker` or `createClient`, an enqueue option, an
 * unknown job or queue name. Thrown synchronously (or as the rejection of the call) before anything is written or
 * connected. A `TypeError`, as Node's own argument errors are, so `instanceof TypeError` keeps working.
 */
export class InvalidArgumentError extends TypeError {
  override readonly name = 'InvalidArgumentError';
  /** The call that refused it, e.g. `createWorker` or `enqueue "email"`. */
  readonly call: string;
  /** The argument or option at fault, e.g. `leaseMs` or `jobId`. */
  readonly argument: string;

  /** `problem` completes the sentence `<call>: <problem>`; it names the argument and what was given. */
  constructor(call: string, argument: string, problem: string) {
    super(`${call}: ${problem}`);
    this.call = call;
    this.argument = argument;
  }
}

/** A job definition passed to `defineJobs` is invalid; the message names the job and the option. */
export class JobDefinitionError extends Error {
  override readonly name = 'JobDefinitionError';
  /** The job whose definition is wrong (empty when the problem is the map itself). */
  readonly job: string;
  /** The option at fault, e.g. `backoff.delay`. */
  readonly option: string | undefined;

  constructor(job: string, option: string | undefined, problem: string, options?: ErrorOptions) {
    const subject = job === '' ? 'defineJobs' : `job "${job}"`;
    super(option === undefined ? `${subject}: ${problem}` : `${subject}, option "${option}": ${problem}`, options);
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

/**
 * A stored job was written with a payload version newer than this worker's job set knows (a new producer met an old
 * worker during a rolling deploy). The job is not run and not lost: the attempt fails with this error, so the job is
 * retried with backoff (by a worker that knows the version, once deployed) and dead-lettered only when its attempts
 * run out; such a dead letter can be retried after the deploy. docs/contracts.md, "Versioned payloads".
 */
export class PayloadVersionError extends Error {
  override readonly name = 'PayloadVersionError';
  /** The job (its current name in this job set). */
  readonly job: string;
  /** The version the stored job was written with. */
  readonly version: number;
  /** The newest version this worker knows (its current one). */
  readonly known: number;
  constructor(job: string, version: number, known: number) {
    super(`job "${job}" was written with payload version ${version}; this worker knows up to ${known}: deploy workers that know version ${version} (the job is retried)`);
    this.job = job;
    this.version = version;
    this.known = known;
  }
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

/**
 * An error as stored in Redis: the last error of a retrying job, the error a job died with, or one of the earlier
 * errors kept beside them (those have the message cut to 2 KiB and the stack to 4 KiB).
 */
export interface StoredError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  /** Attempt number that failed. */
  readonly attempt?: number;
  /** When it failed, ms since the epoch. */
  readonly at: number;
}

/**
 * The stack without the message it repeats in its first line (`Name: message`), so a long message does not crowd
 * out the frames; the message is stored next to it anyway.
 */
function framesOf(stack: string, message: string, storedMessage: string): string {
  if (message === storedMessage || message.length === 0) return stack;
  const colon = stack.indexOf(': ');
  if (colon === -1 || colon > MAX_ERROR_NAME_BYTES || !stack.startsWith(message, colon + 2)) return stack;
  return stack.slice(0, colon + 2) + storedMessage + stack.slice(colon + 2 + message.length);
}

/**
 * Turns anything thrown into a {@link StoredError}, bounded in size: the message is cut to 8 KiB, the stack to
 * 16 KiB and the name to 200 bytes (UTF-8), each cut marked `… [truncated, <size> in all]`.
 */
export function toStoredError(err: unknown, attempt?: number): StoredError {
  if (err instanceof Error) {
    const message = typeof err.message === 'string' ? err.message : String(err.message);
    const stored = truncateBytes(message, MAX_ERROR_MESSAGE_BYTES);
    const stack = typeof err.stack === 'string' ? truncateBytes(framesOf(err.stack, message, stored), MAX_ERROR_STACK_BYTES) : undefined;
    return { name: truncateBytes(String(err.name), MAX_ERROR_NAME_BYTES), message: stored, stack, attempt, at: Date.now() };
  }
  let message: string;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err) ?? String(err);
  } catch {
    message = String(err);
  }
  return { name: 'NonErrorThrown', message: `a non-Error value was thrown: ${truncateBytes(message, 1000)}`, attempt, at: Date.now() };
}

/**
 * The JSON of a stored error, at most {@link MAX_STORED_ERROR_BYTES}: JSON escapes can make a capped text several
 * times longer, so a record still over the limit loses its stack, then more of its message.
 */
export function storedErrorJson(error: StoredError): string {
  const json = JSON.stringify(error);
  if (fitsBytes(json, MAX_STORED_ERROR_BYTES)) return json;
  const lean = { ...error, stack: undefined, message: truncateBytes(error.message, 2048) };
  const leanJson = JSON.stringify(lean);
  if (fitsBytes(leanJson, MAX_STORED_ERROR_BYTES)) return leanJson;
  return JSON.stringify({ ...lean, name: truncateBytes(lean.name, 64), message: truncateBytes(error.message, 512) });
}

/**
 * A time (ms since the epoch) read from a stored record, which anyone with access to Redis may have written: the
 * number when a `Date` can hold it (±8.64e15 ms), else 0 — no time — so no reader's `toISOString()` throws.
 */
export function storedTime(v: unknown): number {
  let n: number;
  try {
    n = typeof v === 'number' ? v : Number(v);
  } catch {
    return 0; // an object whose toString and valueOf are not functions: Number() of it throws
  }
  return Number.isFinite(n) && Math.abs(n) <= 8.64e15 ? n : 0;
}

/** A stored error from a parsed record whose message is a string: each other field kept only if of its type. */
function storedErrorFrom(r: Record<string, unknown>, name: string): StoredError {
  const attempt = r['attempt'];
  return {
    name,
    message: r['message'] as string,
    stack: typeof r['stack'] === 'string' ? r['stack'] : undefined,
    attempt: typeof attempt === 'number' && Number.isSafeInteger(attempt) ? attempt : undefined,
    at: storedTime(r['at'] ?? 0),
  };
}

/** What an error record that cannot be read becomes: a readable error quoting its start. */
function corruptRecord(json: string): StoredError {
  return { name: 'CorruptErrorRecord', message: `unreadable error record: ${json.slice(0, 200)}`, at: 0 };
}

/**
 * An error record (`json`, the JSON in the queue's `errors` hash) parsed once: the parsed value (undefined when it is
 * not JSON) and its last error, a `CorruptErrorRecord` when it holds none it can read.
 */
function readErrorRecord(json: string): { readonly record: unknown; readonly last: StoredError } {
  let record: unknown;
  try {
    record = JSON.parse(json);
  } catch {
    return { record: undefined, last: corruptRecord(json) };
  }
  try {
    const v = record as Record<string, unknown>;
    if (typeof v === 'object' && v !== null && typeof v['message'] === 'string') {
      return { record, last: storedErrorFrom(v, String(v['name'] ?? 'Error')) };
    }
  } catch {
    // A field that cannot be turned into text or a number: as unreadable as the rest.
  }
  return { record, last: corruptRecord(json) };
}

/** Reads a stored error back; tolerates anything (a corrupt entry becomes a readable error, each field of its type). */
export function parseStoredError(json: string | null): StoredError | undefined {
  return json === null ? undefined : readErrorRecord(json).last;
}

/** A stored error read from a value already parsed (an entry of an `earlier` list); undefined when it is not one. */
function storedErrorOf(v: unknown): StoredError | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const r = v as Record<string, unknown>;
  if (typeof r['message'] !== 'string') return undefined;
  return storedErrorFrom(r, typeof r['name'] === 'string' ? r['name'] : 'Error');
}

/**
 * The earlier errors of a parsed error record or dead-letter info record (its `earlier` list, oldest first): at most
 * {@link MAX_EARLIER_ERRORS}, the newest ones; entries that are not error objects are skipped, and a record written
 * before the history existed (no `earlier`) or holding something else there has none. Anyone with access to Redis
 * may have written the record, so nothing in it is trusted.
 */
export function earlierErrorsOf(record: unknown): readonly StoredError[] {
  if (typeof record !== 'object' || record === null) return [];
  const list = (record as Record<string, unknown>)['earlier'];
  if (!Array.isArray(list)) return [];
  const out: StoredError[] = [];
  for (const v of list.slice(-MAX_EARLIER_ERRORS)) {
    const e = storedErrorOf(v);
    if (e !== undefined) out.push(e);
  }
  return out;
}

/**
 * Every error an error record (the JSON in the queue's `errors` hash) keeps, oldest first: its earlier errors, then
 * the last one ({@link parseStoredError}). Empty for no record; a corrupt one reads as one `CorruptErrorRecord`.
 */
export function parseErrorHistory(json: string | null): readonly StoredError[] {
  if (json === null) return [];
  const { record, last } = readErrorRecord(json);
  return [...earlierErrorsOf(record), last];
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

/**
 * Redis is set up so that jobs would fail or be lost, found by the checks a worker runs before it fetches (a client
 * only warns): `eviction_policy` (maxmemory-policy evicts keys and `allowEvictingRedis` is not set) or
 * `missing_permissions` (the ACL user may not run commands jobcraft needs; `missingCommands` names them); or, from the
 * first script call of a client or worker, `redis_version` (Redis older than 7.0).
 */
export class RedisConfigurationError extends Error {
  override readonly name = 'RedisConfigurationError';
  /** `eviction_policy`, `missing_permissions`, or `redis_version` (older than 7.0). */
  readonly reason: 'eviction_policy' | 'missing_permissions' | 'redis_version';
  /** Commands the Redis user may not run, e.g. `["TIME"]` (empty for other reasons). */
  readonly missingCommands: readonly string[];
  constructor(reason: RedisConfigurationError['reason'], message: string, missingCommands: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
    this.missingCommands = missingCommands;
  }
}

/**
 * An enqueue failed without an answer from Redis (a time-out or a dropped connection) after the command may have
 * reached it: the job may or may not have been written. Retrying is safe only with the same `jobId` (then a job that
 * was written is reported as `duplicate` and not written again); without one, a retry may enqueue the job twice.
 */
export class EnqueueUnconfirmedError extends RedisUnavailableError {
  override readonly name: string = 'EnqueueUnconfirmedError';
  /** The `jobId`s the failed call carried (undefined when it had none). */
  readonly jobIds: readonly string[] | undefined;
  constructor(message: string, jobIds: readonly string[] | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.jobIds = jobIds;
  }
}

/**
 * Thrown when a feature needs an optional peer dependency that is not installed: `createMetrics` without
 * `prom-client`. (Tracing never throws it: without `@opentelemetry/api` it is simply off.)
 */
export class MissingPeerDependencyError extends Error {
  override readonly name = 'MissingPeerDependencyError';
  constructor(
    readonly packageName: string,
    feature: string,
    options?: ErrorOptions,
  ) {
    super(`${feature} needs the optional package "${packageName}", which is not installed: run \`npm install ${packageName}\``, options);
  }
}

/**
 * A handler of a job whose type declares a `result` schema returned a value that cannot be its result: it fails the
 * schema, does not survive a trip through JSON unchanged (`undefined` inside an object or array, a function, a
 * `BigInt`, `NaN` or an infinity, a `Date` or another class instance, a symbol, a cycle), or its JSON is larger than
 * the type's `maxResultBytes`. The job goes to the dead letters at once (reason `invalid_result`, no retry: the same
 * code would return the same value); nothing is stored as its result. docs/results.md.
 */
export class InvalidResultError extends Error {
  override readonly name = 'InvalidResultError';
  /** The job (type) whose handler returned the value. */
  readonly job: string;
  /** The job's id. */
  readonly id: string;
  /** What was wrong, each with the path into the returned value (empty: the value itself). */
  readonly issues: readonly PayloadIssue[];
  constructor(job: string, id: string, issues: readonly PayloadIssue[]) {
    const bounded = boundIssues(issues);
    super(`Invalid result of job "${job}" (id ${JSON.stringify(id)}): ${listIssues(bounded, issues.length).replace('(payload)', '(result)')}`);
    this.job = job;
    this.id = id;
    this.issues = bounded;
  }
}

/**
 * Why waiting for a job's result (`handle.result()`) did not give one: the base class of the result-wait errors.
 * Each subclass names one outcome; `id` and `job` say which job. docs/results.md, "Errors".
 */
export class ResultWaitError extends Error {
  override readonly name: string = 'ResultWaitError';
  /** The job's name (type). */
  readonly job: string;
  /** The job's id. */
  readonly id: string;
  constructor(job: string, id: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.job = job;
    this.id = id;
  }
}

/** The job went to the dead letters: it will not produce a result (unless retried from there, then wait again). */
export class JobDeadError extends ResultWaitError {
  override readonly name = 'JobDeadError';
  /** Why it died (`attempts_exhausted`, `permanent_error`, `invalid_result`, `invalid_payload` …). */
  readonly reason: string;
  /** The error it died with (its last attempt's), as stored. */
  readonly lastError: StoredError | undefined;
  constructor(job: string, id: string, reason: string, lastError: StoredError | undefined) {
    super(job, id, `Job "${job}" (id ${JSON.stringify(id)}) is dead (${reason})${lastError === undefined ? '' : `: ${lastError.name}: ${lastError.message}`}`);
    this.reason = reason;
    this.lastError = lastError;
  }
}

/**
 * A step of a chain before the one waited for ended without a result (docs/results.md, "Chains"): it is dead (then
 * `reason` and `lastError` say why, as in {@link JobDeadError}) or was cancelled, so the chain stops there and no later
 * step will run (unless that step is retried from the dead letters: then wait again). `job` and `id` name the step
 * waited for; `step`, `stepJob` and `stepId` the one that ended the chain; `cause` is its own error.
 */
export class ChainBrokenError extends ResultWaitError {
  override readonly name = 'ChainBrokenError';
  /** 0-based index of the step that ended the chain. */
  readonly step: number;
  /** That step's job name. */
  readonly stepJob: string;
  /** That step's job id. */
  readonly stepId: string;
  /** Why it died (as {@link JobDeadError.reason}), or `cancelled`. */
  readonly reason: string;
  /** The error it died with, when it died. */
  readonly lastError: StoredError | undefined;
  constructor(job: string, id: string, step: number, cause: JobDeadError | JobCancelledError) {
    const reason = cause instanceof JobDeadError ? cause.reason : 'cancelled';
    super(job, id, `Job "${job}" (id ${JSON.stringify(id)}) will not run: step ${step} of its chain, "${cause.job}" (id ${JSON.stringify(cause.id)}), ${cause instanceof JobDeadError ? `is dead (${reason})${cause.lastError === undefined ? '' : `: ${cause.lastError.name}: ${cause.lastError.message}`}` : 'was cancelled'}`, { cause });
    this.step = step;
    this.stepJob = cause.job;
    this.stepId = cause.id;
    this.reason = reason;
    this.lastError = cause instanceof JobDeadError ? cause.lastError : undefined;
  }
}

/** The job was cancelled before it ran (seen as it happened, while waiting). */
export class JobCancelledError extends ResultWaitError {
  override readonly name = 'JobCancelledError';
  constructor(job: string, id: string) {
    super(job, id, `Job "${job}" (id ${JSON.stringify(id)}) was cancelled`);
  }
}

/**
 * No job with this id is known to its queue: never enqueued, cancelled or removed before the wait began, or
 * completed so long ago that neither its result nor its completed record is kept.
 */
export class JobNotFoundError extends ResultWaitError {
  override readonly name = 'JobNotFoundError';
  constructor(job: string, id: string) {
    super(job, id, `Job "${job}" (id ${JSON.stringify(id)}) is not known to its queue: never enqueued, removed, cancelled, or completed so long ago that no record of it is kept`);
  }
}

/** The job completed, but its result is no longer stored (older than its type's `resultRetention`). */
export class ResultExpiredError extends ResultWaitError {
  override readonly name = 'ResultExpiredError';
  constructor(job: string, id: string) {
    super(job, id, `Job "${job}" (id ${JSON.stringify(id)}) completed, but its result is no longer stored (past its resultRetention)`);
  }
}

/** The wait's `timeout` passed first. The job is not cancelled: it may still complete, and a new wait can get its result. */
export class ResultTimeoutError extends ResultWaitError {
  override readonly name = 'ResultTimeoutError';
  /** The timeout that passed, in milliseconds. */
  readonly timeoutMs: number;
  constructor(job: string, id: string, timeoutMs: number) {
    super(job, id, `Waited ${timeoutMs} ms for the result of job "${job}" (id ${JSON.stringify(id)}) without an outcome; the job was not cancelled`);
    this.timeoutMs = timeoutMs;
  }
}

/** The wait's `signal` aborted (its reason is the `cause`). The job is not cancelled. */
export class ResultWaitAbortedError extends ResultWaitError {
  override readonly name = 'ResultWaitAbortedError';
  constructor(job: string, id: string, reason: unknown) {
    super(job, id, `The wait for the result of job "${job}" (id ${JSON.stringify(id)}) was aborted; the job was not cancelled`, { cause: reason });
  }
}

/**
 * A stored result could not be read back: not JSON, or it fails the result schema of this process's job declaration
 * (a deploy changed the schema in between). `issues` says where.
 */
export class ResultUnreadableError extends ResultWaitError {
  override readonly name = 'ResultUnreadableError';
  readonly issues: readonly PayloadIssue[];
  constructor(job: string, id: string, issues: readonly PayloadIssue[]) {
    const bounded = boundIssues(issues);
    super(job, id, `The stored result of job "${job}" (id ${JSON.stringify(id)}) cannot be read: ${listIssues(bounded, issues.length).replace('(payload)', '(result)')}`);
    this.issues = bounded;
  }
}
