/**
 * Types of the live check of stored jobs ({@link checkStoredJobs} in live-check.ts): what it takes and what it
 * reports. docs/contracts.md ("Live check") describes the semantics, the cost and the Redis user it needs.
 */
import type { JobSet } from './define.js';
import type { InspectorOptions } from './inspect-types.js';

/** Default number of entries per HSCAN page. */
export const DEFAULT_LIVE_CHECK_PAGE_SIZE = 200;
/** Largest page size accepted. */
export const MAX_LIVE_CHECK_PAGE_SIZE = 10_000;
/** Sample jobs kept per queue and job type (the first failing ones met). */
export const LIVE_CHECK_SAMPLES = 5;
/** Distinct failing paths (path, code, message) kept per queue and job type; the others are only counted. */
export const LIVE_CHECK_PATHS = 10;
/** Most distinct payload versions counted per job type in a live check report (a stored `v` is written by whoever enqueued). */
export const LIVE_CHECK_VERSIONS = 32;
/**
 * Job names kept apart per queue: the job set's own, then up to this many other names met (unknown jobs). A stored
 * name is written by whoever enqueued the job, so their number is bounded; past it, jobs are counted under `job: null`.
 */
export const LIVE_CHECK_OTHER_NAMES = 100;

/** Why a stored job would fail at dequeue: the reason a worker would dead-letter it with. */
export type LiveCheckReason = 'invalid_payload' | 'unknown_job' | 'malformed_job';

/** Where a stored job is: the states a worker may still parse it in. `active` jobs are parsed again if they retry. */
export type LiveCheckState = 'waiting' | 'delayed' | 'retrying' | 'active' | 'dead';

/** What {@link checkStoredJobs} takes. */
export interface LiveCheckOptions {
  /** Where Redis is (a URL, options, or a connection of yours, which stays yours). Default `REDIS_URL`, else local. */
  readonly redis?: InspectorOptions['redis'];
  /** Prefix of every key. Default `"jobcraft"`. */
  readonly prefix?: string;
  /** The job set of the code about to run: each stored payload is parsed with its job's schema here. */
  readonly jobs: JobSet;
  /**
   * The queues to read. Default: the job set's queues and every queue the queue registry (`P:queues`) lists — a queue
   * the job set no longer uses may still hold jobs no worker of the new code will run.
   */
  readonly queues?: readonly string[];
  /** Read the dead letters too (they can be retried, and are parsed again then). Default true. */
  readonly dead?: boolean;
  /** The workers' `maxPayloadBytes` (a larger stored job is dead-lettered unparsed). Default 16 MiB, the worker's. */
  readonly maxPayloadBytes?: number;
  /** Entries per HSCAN page, 1 to {@link MAX_LIVE_CHECK_PAGE_SIZE}. Default {@link DEFAULT_LIVE_CHECK_PAGE_SIZE}. */
  readonly pageSize?: number;
  /** At most this many jobs read per second (paced between pages). Default: no limit. */
  readonly rate?: number;
  /** Stops the check between two pages (and during a `rate` wait); the report then says `interrupted`. */
  readonly signal?: AbortSignal;
  /** Called when a hash starts and after each page. */
  readonly onProgress?: (progress: LiveCheckProgress) => void;
}

/** Progress of a live check over one hash (a queue's live jobs or its dead letters). */
export interface LiveCheckProgress {
  readonly queue: string;
  /** `jobs`: the live jobs (waiting, delayed, retrying, active); `dead`: the dead letters. */
  readonly source: 'jobs' | 'dead';
  /** Entries of the hash when its scan started. */
  readonly total: number;
  /** Entries read so far. */
  readonly scanned: number;
  /** Of those, jobs that would fail. */
  readonly failing: number;
}

/** One distinct problem met in a job type's stored payloads. */
export interface LiveCheckPath {
  /** The field, `a.b` for nesting and `items[]` for any array element; `''` for the payload or the job itself. */
  readonly path: string;
  /** zod's issue code (or jobcraft's: `too_big`, `too_deep`, `unknown_job`, `malformed_job`). */
  readonly code: string;
  /** The first message met for it (stored text may appear in it: print it escaped). */
  readonly message: string;
  /** Failing jobs that had it. */
  readonly count: number;
}

/** A failing job kept as an example. */
export interface LiveCheckSample {
  readonly id: string;
  readonly state: LiveCheckState;
  readonly reason: LiveCheckReason;
  /** Its first issues (at most 3). */
  readonly issues: readonly { readonly path: string; readonly code: string; readonly message: string }[];
}

/** The stored jobs of one job type in one queue. */
export interface LiveCheckJobType {
  /** The job name stored; null for jobs whose name is unreadable (or past {@link LIVE_CHECK_OTHER_NAMES}). */
  readonly job: string | null;
  /** Whether the job set declares this job in this queue. */
  readonly declared: boolean;
  readonly scanned: number;
  readonly failing: number;
  /** Failing jobs by state. */
  readonly failingBy: Readonly<Record<LiveCheckState, number>>;
  /** Failing jobs by reason. */
  readonly reasons: Readonly<Record<LiveCheckReason, number>>;
  /** The first distinct problems (at most {@link LIVE_CHECK_PATHS}), in the order met. */
  readonly paths: readonly LiveCheckPath[];
  /** Failing jobs whose problems are not among `paths`. */
  readonly otherPaths: number;
  /** The first failing jobs met (at most {@link LIVE_CHECK_SAMPLES}). */
  readonly samples: readonly LiveCheckSample[];
  /** What to do, for a failing type (a removed or renamed job, a moved queue, a breaking schema change). */
  readonly hint: string | undefined;
  /**
   * Jobs read and failing by the payload version they were written with (docs/contracts.md, "Versioned payloads"),
   * oldest first, at most {@link LIVE_CHECK_VERSIONS} versions: only for a job with versions, or whose stored jobs
   * record one (absent otherwise). A version's failures include those of its migrations.
   */
  readonly versions?: readonly LiveCheckVersion[];
}

/** The stored jobs of one job type written with one payload version. */
export interface LiveCheckVersion {
  readonly version: number;
  readonly scanned: number;
  readonly failing: number;
}

/** The stored jobs of one queue. */
export interface LiveCheckQueue {
  readonly queue: string;
  /** Whether the job set uses this queue (else no worker of the new code reads it). */
  readonly declared: boolean;
  /** Live jobs read (waiting, delayed, retrying, active). */
  readonly scannedLive: number;
  /** Dead letters read. */
  readonly scannedDead: number;
  readonly failing: number;
  /** Job types met (those with stored jobs), declared ones first, then by name. */
  readonly jobs: readonly LiveCheckJobType[];
}

/** What {@link checkStoredJobs} returns. */
export interface LiveCheckReport {
  readonly prefix: string;
  /** The workers' payload limit applied. */
  readonly maxPayloadBytes: number;
  /** Whether dead letters were read. */
  readonly dead: boolean;
  /** Stopped by `signal` before every hash was read: the counts are partial, and no verdict can be drawn. */
  readonly interrupted: boolean;
  readonly scanned: number;
  readonly failing: number;
  readonly queues: readonly LiveCheckQueue[];
}
