/**
 * The types of the read API over a prefix's queues ({@link Inspector}, built by `createInspector` in inspect.ts):
 * queue state, paged job listings, one job's record, the worker registry and the history. Every read is bounded by
 * the number of queues, workers or the page size — never by the number of jobs. The definitions of each number are
 * in docs/operations.md ("Data"); the keys behind them in docs/redis-layout.md.
 */
import type { JobInfo } from './job-info.js';
import type { StoredError } from './errors.js';
import type { RedisConfig } from './redis.js';
import type { JobSet } from './define.js';

/** Where a listed job is, as {@link Inspector.jobs} pages them. */
export type ListState = 'waiting' | 'delayed' | 'retrying' | 'active' | 'dead' | 'completed';

/** The states {@link Inspector.jobs} lists, in the order tools show them. */
export const LIST_STATES: readonly ListState[] = ['waiting', 'delayed', 'retrying', 'active', 'dead', 'completed'];

/** A queue's counts and timings, each read in O(1) or O(log n) (docs/operations.md, "Data"). */
export interface QueueStats {
  readonly queue: string;
  /**
   * Jobs ready to run: the plain list, the prioritized set and every throttled type's ready set
   * (`waitingPlain + waitingPrioritized + waitingThrottled`).
   */
  readonly waiting: number;
  /** Ready at priority 0 (the `wait` list). */
  readonly waitingPlain: number;
  /** Ready at a priority ≠ 0 (the `prio` set). */
  readonly waitingPrioritized: number;
  /** Ready jobs of throttled types (their `ready` sets; types known from the queue registry). */
  readonly waitingThrottled: number;
  /**
   * Jobs waiting for a time (the `scheduled` set): delayed, snoozed, and retrying after a backoff — so `retrying` jobs
   * due later are counted here too.
   */
  readonly delayed: number;
  /**
   * Live jobs that failed at least once and will run again (the `errors` hash: one record per such job, removed when
   * it completes or dies). Mostly jobs waiting out their backoff (also in `delayed`); a retried job that is ready or
   * running again is still counted until it ends.
   */
  readonly retrying: number;
  /** Jobs leased by a worker now (the `active` set). */
  readonly active: number;
  /** Dead letters kept (at most the workers' `deadLetters.max`). */
  readonly dead: number;
  /** Completed records kept (the workers' `keepCompleted`). */
  readonly completed: number;
  readonly paused: boolean;
  /**
   * Queue latency: how long the job that has waited longest among the heads of the ready lists/sets has been
   * waiting, in ms, since it was enqueued (Redis's clock now minus the enqueue time in the job, set by the producer's
   * clock). For a delayed or retried job this includes its delay. 0 when nothing waits.
   */
  readonly latencyMs: number;
  /** When the enqueue time behind `latencyMs` was, or undefined when nothing waits. */
  readonly oldestWaitingAt: Date | undefined;
  /** When the earliest scheduled (delayed, retrying, snoozed) job is due, or undefined when none is. */
  readonly nextDueAt: Date | undefined;
  /** When these numbers were read (Redis's clock). */
  readonly at: Date;
}

/** Options of {@link Inspector.jobs}. */
export interface ListOptions {
  /** Which jobs. Default `'waiting'`. */
  readonly state?: ListState;
  /**
   * Only jobs of this name. Filtered within each window of `limit` entries read from Redis, so a page may hold fewer
   * than `limit` jobs (even none) while `cursor` is still set: keep paging until it is undefined.
   */
  readonly job?: string;
  /** Entries read per page (1–1000). Default 50. */
  readonly limit?: number;
  /** Where to go on: the `cursor` of the previous page. Omit for the first page. */
  readonly cursor?: string;
}

/** One job in a listing. */
export interface ListedJob {
  readonly id: string;
  readonly state: ListState;
  /** Job name (undefined for a completed record, which keeps only attempts and time, or an unreadable entry). */
  readonly name: string | undefined;
  readonly enqueuedAt: Date | undefined;
  /** Attempts started so far (for completed and dead jobs: the attempts it took). */
  readonly attempts: number;
  /**
   * The time the listing is ordered by: due time (delayed, retrying), lease expiry (active), time of death (dead),
   * finish time (completed); undefined for waiting jobs (ordered by their place in the list).
   */
  readonly at: Date | undefined;
  /** The last error (retrying and dead jobs). */
  readonly lastError: StoredError | undefined;
  /** Why a dead job died (`permanent_error`, `attempts_exhausted`, …), read from its dead-letter record; dead jobs only. */
  readonly deadReason?: string;
}

/** One page of {@link Inspector.jobs}. */
export interface JobPage {
  readonly jobs: readonly ListedJob[];
  /** Pass as `cursor` for the next page; undefined when this was the last one. */
  readonly cursor: string | undefined;
}

/** When things happened to a job, as far as Redis still knows. */
export interface JobTimeline {
  readonly enqueuedAt: Date | undefined;
  /** When its current attempt started (an active job, from the registry entry of the worker running it). */
  readonly startedAt: Date | undefined;
  /** When it completed, or died. */
  readonly finishedAt: Date | undefined;
  /** When its last failed attempt failed. */
  readonly lastFailedAt: Date | undefined;
}

/** {@link JobInfo} plus its timeline and, when active, the worker running it. */
export interface JobDetails extends JobInfo {
  readonly timeline: JobTimeline;
  /** The registry id of the worker running it (an active job whose worker lists it). */
  readonly workerId: string | undefined;
  /**
   * The trace id of the producer's span (W3C `traceparent`) stored with the job when tracing was on at enqueue;
   * undefined otherwise, for a completed record, or when the stored value is not a valid trace context.
   */
  readonly traceId: string | undefined;
  /** The priority stored with the job (0 when none was), or undefined for a completed record or an unreadable job. */
  readonly priority: number | undefined;
  /**
   * The unique key stored with a unique job (`<job>:<sha1>`, the suffix of its lock key `P:{q}:unique:<key>`), or
   * undefined for a job that is not unique, a completed record or an unreadable job.
   */
  readonly uniqueKey: string | undefined;
  /**
   * The payload version its payload was stored with (1 when the envelope names none), or undefined for a completed
   * record or an unreadable job.
   */
  readonly payloadVersion: number | undefined;
}

/** A job a worker is running now. */
export interface RunningJob {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  /** When its handler started (the worker's clock). */
  readonly startedAt: Date;
}

/** One live worker process, as its last heartbeat described it. */
export interface WorkerInfo {
  /** Random per process: `<host>:<pid>:<random>`. */
  readonly id: string;
  /** `WorkerOptions.name`, or `<host>:<pid>`. */
  readonly name: string;
  readonly host: string;
  readonly pid: number;
  /** The jobcraft version the process runs. */
  readonly version: string;
  readonly queues: readonly string[];
  readonly concurrency: number;
  /** Jobs running now: the first {@link WORKER_RUNNING_LISTED} (oldest first). */
  readonly running: readonly RunningJob[];
  /** How many jobs run now in all (may exceed `running.length`). */
  readonly runningCount: number;
  readonly startedAt: Date;
  readonly lastBeatAt: Date;
  /** The entry is dropped if no beat comes before this (its process is then taken for dead). */
  readonly expiresAt: Date;
}

/** A heartbeat lists at most this many running jobs (and counts them all). */
export const WORKER_RUNNING_LISTED = 100;

/** Time bucket size of the history. */
export type HistoryResolution = 'minute' | 'hour';

/** Options of {@link Inspector.history}. */
export interface HistoryOptions {
  /** From this time (rounded down to its bucket). Default: 1 hour (minute) or 24 hours (hour) before `to`. */
  readonly from?: Date | number;
  /** Up to this time. Default now. */
  readonly to?: Date | number;
  /** Default `'minute'` (kept 48 h); `'hour'` is kept 90 days. At most 2,880 buckets per call. */
  readonly resolution?: HistoryResolution;
  /** Only this job type (default: every type, summed, with `byJob` split out). */
  readonly job?: string;
}

/** Upper bounds (ms, inclusive) of the run- and wait-time histogram buckets; the last bucket is everything above. */
export const HISTORY_BUCKETS_MS: readonly number[] = [10, 100, 1_000, 10_000, 60_000];

/** A duration summary: count, sum and fixed buckets (see {@link HISTORY_BUCKETS_MS}). */
export interface DurationSummary {
  readonly count: number;
  /** Sum in ms. */
  readonly sumMs: number;
  /**
   * Counts per bucket: `buckets[i]` counts durations ≤ HISTORY_BUCKETS_MS[i] (and above the bound before it); the
   * last entry counts those above every bound. Same length as HISTORY_BUCKETS_MS + 1.
   */
  readonly buckets: readonly number[];
}

/** The counts of one job type (or all of a queue's) in one time bucket. */
export interface HistoryCounts {
  /** Attempts that succeeded (jobs completed). */
  readonly processed: number;
  /** Attempts that failed (each retry's failure, and the last one of a job that died). */
  readonly failed: number;
  /** Failed attempts scheduled to run again. */
  readonly retried: number;
  /** Jobs moved to the dead letters (after failing, or unreadable). */
  readonly dead: number;
  /** Run time of the attempts that succeeded or failed (handler start to end). */
  readonly runTime: DurationSummary;
  /** Wait time of the attempts that succeeded: handler start minus the job's enqueue time. */
  readonly waitTime: DurationSummary;
}

/** One time bucket of a queue's history. */
export interface HistoryPoint extends HistoryCounts {
  /** Start of the bucket. */
  readonly at: Date;
  /** The same numbers per job type (only the types that had any). */
  readonly byJob: Readonly<Record<string, HistoryCounts>>;
}

/** The answer of {@link Inspector.history}: every bucket in the range, oldest first (empty ones as zeros). */
export interface History {
  readonly queue: string;
  readonly resolution: HistoryResolution;
  readonly points: readonly HistoryPoint[];
}

/** What the queue registry knows about a queue. */
export interface QueueEntry {
  readonly queue: string;
  /** Its throttled job types (concurrency caps, rate limits), whose ready sets `stats` counts. */
  readonly throttled: readonly string[];
}

/**
 * Reads the state of every queue under one prefix, without scanning keys or jobs: see `createInspector`. Every
 * method costs O(queues), O(workers), O(buckets) or O(page size) Redis work, independent of the number of jobs.
 */
export interface Inspector {
  /** The key prefix read. */
  readonly prefix: string;
  /** Every queue registered under the prefix (by a worker serving it or a client enqueueing into it), sorted. */
  queues(): Promise<readonly QueueEntry[]>;
  /** One queue's counts, pause flag, latency and next due time, in one round trip. */
  stats(queue: string): Promise<QueueStats>;
  /** {@link stats} of every registered queue (one round trip per queue, sent together), sorted by queue. */
  allStats(): Promise<readonly QueueStats[]>;
  /** One page of a queue's jobs in a state (see {@link ListOptions}). */
  jobs(queue: string, options?: ListOptions): Promise<JobPage>;
  /** One job: `getJob`'s record plus its timeline; searches every registered queue for an id it does not name. */
  job(id: string): Promise<JobDetails>;
  /** Every live worker process (entries of processes that stopped beating are left out and swept). */
  workers(): Promise<readonly WorkerInfo[]>;
  /** A queue's history in time buckets. */
  history(queue: string, options?: HistoryOptions): Promise<History>;
  /** Closes the connection if the inspector opened it. */
  close(): Promise<void>;
}

/** Options of `createInspector`. */
export interface InspectorOptions {
  /** Where Redis is (a URL, options, or a connection of yours, which stays yours). Default `REDIS_URL`, else local. */
  readonly redis?: RedisConfig;
  /** Prefix of every key. Default `"jobcraft"`. */
  readonly prefix?: string;
  /** The job set, if at hand: `job()` then reports each job type's declared `maxAttempts` (else only overrides). */
  readonly jobs?: JobSet;
}
