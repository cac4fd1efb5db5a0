/**
 * The types of the write API over a prefix's queues ({@link Admin}, built by `createAdmin` in admin.ts): act on jobs
 * named by id or selected by a paged scan (retry, promote, cancel, delete; dead letters: retry, delete, purge), pause
 * and resume queues, list and trigger cron jobs. The operations CLI and the dashboard both sit on it. Nothing here
 * prints; every call does O(page size) Redis work (docs/operations.md, "Write API: createAdmin").
 */
import type { MigrateOptions, MigrateOutcome } from './admin-migrate.js';
import type { InspectorOptions } from './inspect-types.js';
import type { JobState } from './job-info.js';

/** Options of `createAdmin`: the same fields as the Inspector's {@link InspectorOptions}. */
export interface AdminOptions extends InspectorOptions {
  /** Where Redis is (a URL, options, or a connection of yours, which stays yours). Default `REDIS_URL`, else local. */
  readonly redis?: InspectorOptions['redis'];
  /** Prefix of every key. Default `"jobcraft"`. */
  readonly prefix?: string;
  /**
   * The job set, if at hand: queue and job names are checked against it (unknown ones are refused, naming the known
   * ones), "every queue" means its queues, throttled types and unique-lock TTLs come from it, and `cron()` and
   * `triggerCron()` need it. Without it, queues and throttled types come from the queue registry (`P:queues`), and a
   * queue the registry does not list is refused.
   */
  readonly jobs?: InspectorOptions['jobs'];
}

/** The states of a live job an action may apply to. */
export type LiveState = 'waiting' | 'delayed' | 'retrying' | 'active';

/**
 * Actions on live jobs: `retry` (a retrying job runs now instead of after its backoff), `promote` (a delayed or
 * retrying job is due now), `cancel` and `delete` (a job that has not started is removed; the same action).
 */
export type JobAction = 'retry' | 'promote' | 'cancel' | 'delete';

/** Actions on dead letters: `dead-retry` (back in the queue with fresh attempts), `dead-delete`. */
export type DeadAction = 'dead-retry' | 'dead-delete';

/** Every action {@link Admin.act} and {@link Admin.bulk} take. */
export type AdminAction = JobAction | DeadAction;

/** Every {@link AdminAction}, in the order tools show them. */
export const ADMIN_ACTIONS: readonly AdminAction[] = ['retry', 'promote', 'cancel', 'delete', 'dead-retry', 'dead-delete'];

/**
 * The live states each job action applies to. By default it applies to all of them; `states` narrows it to some.
 * A running (`active`) job is never acted on: cancel it from its handler (`signal`), or wait for it to end.
 */
export const ACTION_STATES: Readonly<Record<JobAction, readonly LiveState[]>> = {
  retry: ['retrying'],
  promote: ['delayed', 'retrying'],
  cancel: ['waiting', 'delayed', 'retrying'],
  delete: ['waiting', 'delayed', 'retrying'],
};

/** Jobs per page of a {@link Admin.bulk} scan, by default. */
export const DEFAULT_BULK_PAGE_SIZE = 200;
/** The largest `pageSize` of a {@link Admin.bulk} scan. */
export const MAX_BULK_PAGE_SIZE = 10_000;
/** How many matching ids a dry run returns as a sample, per queue. */
export const BULK_SAMPLE_SIZE = 20;

/** Options of {@link Admin.act}. */
export interface ActOptions {
  /**
   * The queue the ids are in. Default: the queue a generated id (`<queue>#<n>`) names, else every queue (those of
   * the job set when given, else the queue registry's), looked up in one call each.
   */
  readonly queue?: string;
  /** Job actions only: the live states to act on, a subset of {@link ACTION_STATES}[action]. Default all of them. */
  readonly states?: readonly LiveState[];
  /** Look only: report what would be done, change nothing. Default false. */
  readonly dryRun?: boolean;
}

/**
 * What happened to one id of {@link Admin.act}:
 * - `done`: acted on;
 * - `would`: under `dryRun`, would be acted on;
 * - `skipped`: found but left as it was (see `reason`);
 * - `not_found`: no live job (job actions) or no dead letter (dead actions) has this id.
 */
export type ActResultKind = 'done' | 'would' | 'skipped' | 'not_found';

/** Why an id was skipped. */
export type SkipReason =
  /** It is in a state the action does not apply to (`state` says which: running, completed, dead…). */
  | 'state'
  /** It changed between the look-up and the action (it started, ended or was acted on meanwhile). */
  | 'changed'
  /** `dead-retry` only: a live job holds its id or its unique key, so it stays dead. */
  | 'held';

/** One id's outcome in {@link ActOutcome}. */
export interface ActResult {
  readonly id: string;
  readonly result: ActResultKind;
  /** The queue it was found in. */
  readonly queue: string | undefined;
  /** Its state when looked up (`unknown` when not found). */
  readonly state: JobState;
  /** Why it was skipped, when `result` is `skipped`. */
  readonly reason?: SkipReason;
}

/** Counts of an action: the same three numbers for ids and for selections. */
export interface ActionCounts {
  /**
   * Jobs the action applies to: found in a state it acts on (ids; under `dryRun`: those it would act on) or
   * matching the selection (bulk).
   */
  readonly matched: number;
  /** Jobs acted on (0 under `dryRun`). */
  readonly done: number;
  /** Jobs left as they were: already done, running, or changed meanwhile (and for ids: in a state the action skips). */
  readonly skipped: number;
}

/** What {@link Admin.act} did, with one entry per id in the order given. */
export interface ActOutcome extends ActionCounts {
  readonly action: AdminAction;
  readonly dryRun: boolean;
  /** Ids that no job (or dead letter) has. */
  readonly notFound: number;
  readonly results: readonly ActResult[];
}

/** Counts reported while a {@link Admin.bulk} runs (after each page), for a progress bar. */
export interface BulkProgress extends ActionCounts {
  readonly queue: string;
  /** Entries in the scanned hash when the queue's scan started (a progress bar's total; it may change meanwhile). */
  readonly total: number;
  /** Entries looked at so far in this queue. */
  readonly scanned: number;
}

/** Options of {@link Admin.bulk}: the action, which jobs (a selection), and the pacing. */
export interface BulkOptions {
  readonly action: AdminAction;
  /** Only this queue. Default every queue (the job set's when given, else the queue registry's), one after another. */
  readonly queue?: string;
  /**
   * Every job in the queue(s) — needed when neither `job` nor `since` narrows the selection, so that "act on
   * everything" is always said out loud.
   */
  readonly all?: boolean;
  /** Only jobs of this job type (by the name in the stored job). Checked against the job set when given. */
  readonly job?: string;
  /** Only live jobs enqueued, or dead letters that died, at or after this time (a Date or ms since the epoch). */
  readonly since?: Date | number;
  /** Job actions only: the live states to act on, a subset of {@link ACTION_STATES}[action]. Default all of them. */
  readonly states?: readonly LiveState[];
  /** Count (and sample) the matching jobs, change nothing. Default false. */
  readonly dryRun?: boolean;
  /** Entries per HSCAN page (1 to {@link MAX_BULK_PAGE_SIZE}). Default {@link DEFAULT_BULK_PAGE_SIZE}. */
  readonly pageSize?: number;
  /** At most this many jobs acted on per second (pages are paced), to spare Redis and the workers. Default no limit. */
  readonly rate?: number;
  /** Stops the run between pages (and during a pacing wait); the outcome says `interrupted`. Rerun to finish. */
  readonly signal?: AbortSignal;
  /** Called when a queue's scan starts and after each page. */
  readonly onProgress?: (progress: BulkProgress) => void;
}

/** What a {@link Admin.bulk} run did in one queue. */
export interface BulkQueueOutcome extends ActionCounts {
  readonly queue: string;
  /** Entries looked at (each once per run). */
  readonly scanned: number;
  /** Under `dryRun`, the first matching ids (at most {@link BULK_SAMPLE_SIZE}); else empty. */
  readonly sample: readonly string[];
  /** Stopped by `signal` before the end of this queue. */
  readonly interrupted: boolean;
}

/** What a {@link Admin.bulk} run did: the sums and each queue's outcome (queues after an interruption are left out). */
export interface BulkOutcome extends ActionCounts {
  readonly action: AdminAction;
  readonly dryRun: boolean;
  /** Stopped by `signal`: rerunning the same call finishes the work, and acts on no job twice. */
  readonly interrupted: boolean;
  readonly queues: readonly BulkQueueOutcome[];
}

/** What {@link Admin.purgeDead} did. */
export interface PurgeOutcome {
  readonly queue: string;
  readonly dryRun: boolean;
  /** Dead letters the queue held. */
  readonly matched: number;
  /** Dead letters deleted (0 under `dryRun`). */
  readonly done: number;
}

/** What {@link Admin.pause} or {@link Admin.resume} did. */
export interface PauseOutcome {
  readonly queue: string;
  /** Whether the queue is paused now. */
  readonly paused: boolean;
  /** Whether this call changed it (false: it already was). */
  readonly changed: boolean;
}

/** A cron job of the job set, as {@link Admin.cron} lists it. */
export interface CronEntry {
  readonly name: string;
  readonly queue: string;
  /** The cron pattern. */
  readonly schedule: string;
  /** Its time zone (default `UTC`). */
  readonly tz: string;
  /** What happens to firings missed while no worker ran, as declared: `none`, `last` (one run) or `all`. */
  readonly catchUp: string;
  /** The last firing the schedulers handled, or undefined when it never fired. */
  readonly lastFiring: Date | undefined;
  /** The next firing after now (Redis's clock). */
  readonly nextFiring: Date | undefined;
}

/** What {@link Admin.triggerCron} enqueued. */
export interface TriggerOutcome {
  readonly job: string;
  readonly queue: string;
  /** The new job's id (or the existing one's, when `duplicate`). */
  readonly id: string;
  /** True when a job with its unique key exists and nothing was enqueued. */
  readonly duplicate: boolean;
}

/**
 * The write API over a prefix's queues: what the operations CLI and the dashboard do to jobs and queues. Built by
 * `createAdmin`. Every call's Redis work is bounded by the ids given or the page size (docs/operations.md,
 * "Write API: createAdmin"); bad arguments throw `InvalidArgumentError` naming the argument, before any write.
 */
export interface Admin {
  /** The key prefix. */
  readonly prefix: string;
  /**
   * Acts on jobs named by id. Job actions look each id up (its state), skip those in a state the action does not
   * apply to, and act on the rest one id at a time; dead actions move or delete the dead letters. Idempotent: an id
   * already acted on is skipped or not found the second time.
   */
  act(action: AdminAction, ids: readonly string[], options?: ActOptions): Promise<ActOutcome>;
  /**
   * Acts on every job a selection matches, queue after queue, in HSCAN pages of the `jobs` (live) or `dead` hash —
   * never a whole queue's jobs in memory: what a run keeps is the ids it has looked at (about 85 bytes each, some
   * 85 MB for a million jobs), so that it counts and acts on each once although HSCAN may return one twice. Each page's action is idempotent, so a run stopped anywhere (`signal`, a crash)
   * and run again acts on what is left, and on no job twice.
   */
  bulk(options: BulkOptions): Promise<BulkOutcome>;
  /** Deletes every dead letter of a queue (or, under `dryRun`, counts them). */
  purgeDead(queue: string, options?: { readonly dryRun?: boolean }): Promise<PurgeOutcome>;
  /** Pauses a queue: workers lease none of its jobs until it is resumed (running jobs go on). Persisted in Redis. */
  pause(queue: string): Promise<PauseOutcome>;
  /** Resumes a paused queue and wakes a worker if jobs are ready. */
  resume(queue: string): Promise<PauseOutcome>;
  /** Whether a queue is paused. */
  isPaused(queue: string): Promise<boolean>;
  /** The job set's cron jobs with their last and next firing. Needs the `jobs` option. */
  cron(): Promise<readonly CronEntry[]>;
  /**
   * Enqueues a cron job now with its cron payload, outside its schedule (which is unchanged). Needs the `jobs`
   * option; a job without a cron schedule is refused.
   */
  triggerCron(name: string): Promise<TriggerOutcome>;
  /**
   * Rewrites the stored payloads of one job type to a payload version (default its current one) in place: its queue's
   * waiting, delayed and retrying jobs and its dead letters (not the active ones: a worker holds them, and upcasts
   * them itself). Jobs stored under the job's aliases are included. HSCAN pages, one migrate.lua call per page that
   * rewrites a job only if its stored text is unchanged since it was read and no worker leases it; a payload whose
   * migration fails is left as it is and reported; a job stored with a newer version than the target is left as it is
   * (no down-migrations exist). Resumable: a rerun skips the jobs already at the target. Needs the `jobs` option.
   * docs/contracts.md, "Migrating stored jobs".
   */
  migrate(options: MigrateOptions): Promise<MigrateOutcome>;
  /** Closes the connection if the admin opened it (yours stays open). */
  close(): Promise<void>;
}
