/**
 * `admin.migrate` (admin.ts): rewrites the stored payloads of one job type to a target payload version in place
 * (docs/contracts.md, "Migrating stored jobs"). It walks the job's queue's live jobs (`jobs`) and, unless told not
 * to, its dead letters (`dead`) with HSCAN pages; each stored job of the job (under its name or one of its aliases)
 * written with an older version is read up to the target with the job's own migrations ({@link upcastStoredPayload},
 * exactly as a worker would), checked as an enqueue of that version would be, and written back by migrate.lua,
 * which replaces it only if its stored text is unchanged since it was read and no worker leases it. So a job leased,
 * finished, cancelled or rewritten meanwhile is skipped, never corrupted; a payload whose migration fails stays as it
 * is and is reported with its paths; a rerun skips the jobs already at the target (resumable, idempotent).
 */
import type { JobSet, ResolvedJob } from './define.js';
import { InvalidArgumentError, JobValidationError, type PayloadIssue } from './errors.js';
import { queueKeys } from './keys.js';
import { pathText } from './live-check.js';
import { DEFAULT_WORKER_MAX_PAYLOAD_BYTES, decodeEnvelope, serializePayload, type PayloadJob } from './payload.js';
import type { RedisConnection } from './redis.js';
import type { Scripts } from './scripts.js';
import { upcastStoredPayload } from './stored-payload.js';
import { pause } from './timeout.js';
import { walkHash } from './hash-walk.js';

/** Default number of entries per HSCAN page of a migration. */
export const DEFAULT_MIGRATE_PAGE_SIZE = 200;
/** The largest page size of a migration. */
export const MAX_MIGRATE_PAGE_SIZE = 10_000;
/** How many failing jobs a migration's outcome lists (the others are counted). */
export const MIGRATE_FAILURES_KEPT = 20;
/** Most distinct stored payload versions a migration's outcome lists in `versions`. */
export const MIGRATE_VERSIONS_KEPT = 32;

/** What {@link Admin.migrate} takes. */
export interface MigrateOptions {
  /** The job whose stored payloads to rewrite: its current name (jobs stored under its `aliases` are included). */
  readonly job: string;
  /**
   * The payload version to write (1 to the job's current version). Default: the version producers write
   * (`emitVersion`: the current version unless the job pins an earlier one), which in a safe rollout every running
   * worker reads. Stored jobs of an older version are migrated up to it; jobs stored with a newer one are left as they
   * are and reported (jobcraft has no down-migrations).
   */
  readonly to?: number;
  /** Rewrite the dead letters too (a dead letter retried later is parsed again). Default true. */
  readonly dead?: boolean;
  /** Read and migrate in memory, write nothing: counts per version and the failures. Default false. */
  readonly dryRun?: boolean;
  /** Entries per HSCAN page (1 to {@link MAX_MIGRATE_PAGE_SIZE}); each page is one migrate.lua call. Default 200. */
  readonly pageSize?: number;
  /** At most this many stored jobs read per second (pages are paced). Default no limit. */
  readonly rate?: number;
  /**
   * The largest migrated payload written, in bytes of JSON: a larger one is reported as a failure and left as it was.
   * Default 16 MiB (the worker's default `maxPayloadBytes`: a larger stored job would be dead-lettered unparsed).
   */
  readonly maxPayloadBytes?: number;
  /** Stops the run between pages (and during a pacing wait); the outcome says `interrupted`. Rerun to finish. */
  readonly signal?: AbortSignal;
  /** Called when a hash's scan starts and after each page. */
  readonly onProgress?: (progress: MigrateProgress) => void;
}

/** Where a stored job is: `jobs` (waiting, delayed, retrying; active ones are left alone) or `dead` (dead letters). */
export type MigrateSource = 'jobs' | 'dead';

/** Counts reported while {@link Admin.migrate} runs. */
export interface MigrateProgress {
  readonly queue: string;
  readonly source: MigrateSource;
  /** Entries of the hash when its scan started (a progress bar's total). */
  readonly total: number;
  /** Entries looked at so far in this hash. */
  readonly scanned: number;
  /** Jobs rewritten so far (under `dryRun`: that would be) in this run, both hashes. */
  readonly migrated: number;
  /** Jobs whose migration failed so far, both hashes. */
  readonly failed: number;
}

/**
 * Why a stored job was not migrated:
 * - `invalid`: its schema, a migration, or the target version's schema refused it (or the result is not JSON or too big);
 * - `newer`: it was written with a version above the target (no down-migrations exist);
 * - `malformed`: its stored text is not a readable job (a worker dead-letters it at dequeue).
 */
export type MigrateFailureReason = 'invalid' | 'newer' | 'malformed';

/** One stored job whose payload was left as it was. */
export interface MigrateFailure {
  readonly id: string;
  readonly source: MigrateSource;
  readonly reason: MigrateFailureReason;
  /** The version it is stored with (undefined when unreadable). */
  readonly from: number | undefined;
  /** Its first issues (at most 5): the field (`a.b`, `items[]`), the code and the message naming the version step. */
  readonly issues: readonly { readonly path: string; readonly code: string; readonly message: string }[];
}

/** Stored jobs of one payload version met by a migration. */
export interface MigrateVersionCount {
  /** The version they were stored with. */
  readonly version: number;
  /** Jobs read (active ones included). */
  readonly jobs: number;
  /** Rewritten to the target (under `dryRun`: would be). */
  readonly migrated: number;
  /** Whose migration failed. */
  readonly failed: number;
}

/** What {@link Admin.migrate} did. */
export interface MigrateOutcome {
  readonly job: string;
  readonly queue: string;
  /** The target version. */
  readonly to: number;
  /** The job's current version. */
  readonly current: number;
  readonly dryRun: boolean;
  /** Whether the dead letters were read. */
  readonly dead: boolean;
  /** Stopped by `signal`: rerunning the same call finishes the work (jobs already migrated are skipped). */
  readonly interrupted: boolean;
  /** Entries looked at in the queue's hashes (every job type's). */
  readonly scanned: number;
  /** Stored jobs of this job (its name and aliases). */
  readonly matched: number;
  /** Already at the target version: nothing to do. */
  readonly atTarget: number;
  /** Rewritten (under `dryRun`: that would be). */
  readonly migrated: number;
  /** Leased by a worker when met: left alone (its worker upcasts it; rerun after it retries, if it does). */
  readonly active: number;
  /** Changed or gone between the read and the write (leased, finished, cancelled, rewritten): left as they were. */
  readonly changed: number;
  /** Left as they were because their migration failed (see `failures`). */
  readonly failed: number;
  /** Per stored version, oldest first (at most {@link MIGRATE_VERSIONS_KEPT} versions: the first met). */
  readonly versions: readonly MigrateVersionCount[];
  /** The first failing jobs (at most {@link MIGRATE_FAILURES_KEPT}). */
  readonly failures: readonly MigrateFailure[];
}

/** What a migration needs of the admin it runs in. */
export interface MigrateContext {
  readonly redis: RedisConnection;
  readonly scripts: Scripts;
  readonly prefix: string;
  readonly jobSet: JobSet | undefined;
}

/**
 * The stored text of a job with payload `payloadJson` at version `version`, every other field kept as stored and in
 * its order (`v` before `tc` as the client writes it, the payload last): the unique key, attempts, priority and trace
 * context stay the job's.
 */
export function rewriteEnvelope(raw: string, version: number, payloadJson: string): string {
  const stored = JSON.parse(raw) as Record<string, unknown>;
  const versionField = version === 1 ? '' : `"v":${version},`;
  let text = '{';
  let placed = false;
  for (const [key, value] of Object.entries(stored)) {
    if (key === 'p' || key === 'v') continue;
    if (key === 'tc' && !placed) {
      text += versionField;
      placed = true;
    }
    text += `${JSON.stringify(key)}:${JSON.stringify(value)},`;
  }
  if (!placed) text += versionField;
  return `${text}"p":${payloadJson}}`;
}

/** The job name a stored job's text holds: read from its head as the client writes it, else from the whole JSON. */
function storedName(raw: string): string | undefined {
  const head = /^\{"n":("(?:[^"\\]|\\.)*")/.exec(raw)?.[1];
  try {
    if (head !== undefined) return JSON.parse(head) as string;
  } catch {
    // Not a JSON string after all: the whole text decides.
  }
  const decoded = decodeEnvelope(raw);
  return decoded.ok ? decoded.envelope.n : undefined;
}

const issuesOf = (issues: readonly PayloadIssue[]): MigrateFailure['issues'] =>
  issues.slice(0, 5).map((i) => ({ path: pathText(i.path), code: i.code, message: i.message.length > 500 ? `${i.message.slice(0, 500)}…` : i.message }));

type Step = { kind: 'at_target'; from: number } | { kind: 'rewrite'; from: number; envelope: string } | { kind: 'failed'; failure: Omit<MigrateFailure, 'id' | 'source'> };

/** Reads one stored job of `job` up to version `to` and builds its new text, or says why not. Never throws. */
function migrateOne(job: ResolvedJob, raw: string, to: number, maxPayloadBytes: number): Step {
  const decoded = decodeEnvelope(raw);
  if (!decoded.ok) return { kind: 'failed', failure: { reason: 'malformed', from: undefined, issues: [{ path: '', code: 'malformed_job', message: decoded.reason }] } };
  const from = decoded.envelope.v ?? 1;
  if (from === to) return { kind: 'at_target', from };
  if (from > to) {
    const message = `stored with payload version ${from}, newer than the target version ${to}: jobcraft has no down-migrations (migrations only go up), so it is left as it is`;
    return { kind: 'failed', failure: { reason: 'newer', from, issues: [{ path: '', code: 'version_newer', message }] } };
  }
  const target: PayloadJob = { name: job.name, schema: to === job.version ? job.schema : (job.versions[to - 1] as { schema: PayloadJob['schema'] }).schema };
  try {
    const read = upcastStoredPayload(job, decoded.envelope, to);
    if (!read.success) return { kind: 'failed', failure: { reason: 'invalid', from, issues: issuesOf(read.issues) } };
    // As an enqueue of version `to` would store it: JSON only, within the size limit, passing that version's schema
    // after the JSON round trip (so a worker reading it back parses what was checked).
    const { text } = serializePayload(target, read.input, maxPayloadBytes);
    return { kind: 'rewrite', from, envelope: rewriteEnvelope(raw, to, text) };
  } catch (err) {
    if (err instanceof JobValidationError) return { kind: 'failed', failure: { reason: 'invalid', from, issues: issuesOf(err.issues) } };
    const why = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return { kind: 'failed', failure: { reason: 'invalid', from, issues: [{ path: '', code: 'migration_failed', message: `reading it up to version ${to} threw: ${why}` }] } };
  }
}

/** Checks the options; returns the job and the resolved numbers. Throws `InvalidArgumentError` before any read. */
function checkOptions(ctx: MigrateContext, o: MigrateOptions): { job: ResolvedJob; to: number; pageSize: number; maxPayloadBytes: number } {
  const call = 'admin.migrate';
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(call, 'options', 'options must be an object');
  if (ctx.jobSet === undefined) throw new InvalidArgumentError(call, 'jobs', 'needs the job set (its schemas and migrations): pass createAdmin({ jobs })');
  if (typeof o.job !== 'string' || o.job.length === 0) throw new InvalidArgumentError(call, 'job', `not a job name: ${JSON.stringify(o.job)}`);
  const job = ctx.jobSet.jobs.get(o.job);
  if (job === undefined) {
    const renamed = ctx.jobSet.aliases.get(o.job);
    const hint = renamed === undefined ? `jobs: ${[...ctx.jobSet.jobs.keys()].join(', ')}` : `it is an old name of "${renamed.name}": migrate "${renamed.name}" (its aliases are included)`;
    throw new InvalidArgumentError(call, 'job', `unknown job ${JSON.stringify(o.job)} (${hint})`);
  }
  const to = o.to ?? job.emitVersion;
  if (typeof to !== 'number' || !Number.isInteger(to) || to < 1 || to > job.version) {
    throw new InvalidArgumentError(call, 'to', `to must be a payload version of job "${job.name}": 1 to ${job.version} (its current version), got ${JSON.stringify(o.to)}`);
  }
  for (const flag of ['dead', 'dryRun'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') throw new InvalidArgumentError(call, flag, `${flag} must be true or false, got ${JSON.stringify(o[flag])}`);
  }
  const pageSize = o.pageSize ?? DEFAULT_MIGRATE_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_MIGRATE_PAGE_SIZE) {
    throw new InvalidArgumentError(call, 'pageSize', `pageSize must be an integer from 1 to ${MAX_MIGRATE_PAGE_SIZE}, got ${JSON.stringify(o.pageSize)}`);
  }
  if (o.rate !== undefined && (typeof o.rate !== 'number' || !Number.isFinite(o.rate) || o.rate <= 0)) {
    throw new InvalidArgumentError(call, 'rate', `rate must be a number of jobs per second above 0, got ${JSON.stringify(o.rate)}`);
  }
  const maxPayloadBytes = o.maxPayloadBytes ?? DEFAULT_WORKER_MAX_PAYLOAD_BYTES;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 1) {
    throw new InvalidArgumentError(call, 'maxPayloadBytes', `maxPayloadBytes must be a positive integer, got ${JSON.stringify(o.maxPayloadBytes)}`);
  }
  return { job, to, pageSize, maxPayloadBytes };
}

/**
 * Runs a migration ({@link Admin.migrate}): the job's queue's live jobs, then its dead letters, each in HSCAN pages of
 * one migrate.lua call. Redis work per page: one HSCAN, then one script call carrying each rewritten job's old and new
 * text (under `dryRun`, one ZMSCORE of their ids instead).
 */
export async function migrateStoredJobs(ctx: MigrateContext, o: MigrateOptions): Promise<MigrateOutcome> {
  const { job, to, pageSize, maxPayloadBytes } = checkOptions(ctx, o);
  const dryRun = o.dryRun === true;
  const dead = o.dead ?? true;
  const k = queueKeys(ctx.prefix, job.queue);
  const names = new Set([job.name, ...job.aliases]);
  const versions = new Map<number, { jobs: number; migrated: number; failed: number }>();
  const failures: MigrateFailure[] = [];
  const count = { scanned: 0, matched: 0, atTarget: 0, migrated: 0, active: 0, changed: 0, failed: 0 };
  let interrupted = false;
  const started = performance.now();
  // A stored `v` is written by whoever enqueued: past MIGRATE_VERSIONS_KEPT distinct versions, the others are counted
  // in the totals only (the outcome stays bounded).
  const spare = { jobs: 0, migrated: 0, failed: 0 };
  const tally = (version: number): { jobs: number; migrated: number; failed: number } => {
    let t = versions.get(version);
    if (t === undefined) {
      if (versions.size >= MIGRATE_VERSIONS_KEPT) return spare;
      versions.set(version, (t = { jobs: 0, migrated: 0, failed: 0 }));
    }
    return t;
  };

  for (const source of dead ? (['jobs', 'dead'] as const) : (['jobs'] as const)) {
    if (interrupted) break;
    const hash = source === 'jobs' ? k.jobs : k.dead;
    const total = await ctx.redis.hlen(hash);
    let scanned = 0;
    const report = (): void => o.onProgress?.({ queue: job.queue, source, total, scanned, migrated: count.migrated, failed: count.failed });
    report();
    // Each job counts once per run.
    interrupted = await walkHash(ctx.redis, hash, pageSize, o.signal, async (entries) => {
      const page: { id: string; raw: string; from: number; envelope: string }[] = [];
      for (const { id, raw } of entries) {
        scanned++;
        count.scanned++;
        // The name is read cheaply first: only this job's entries are parsed.
        const stored = storedName(raw);
        if (stored === undefined || !names.has(stored)) continue;
        count.matched++;
        const step = migrateOne(job, raw, to, maxPayloadBytes);
        if (step.kind === 'at_target') {
          count.atTarget++;
          tally(step.from).jobs++;
        } else if (step.kind === 'failed') {
          count.failed++;
          if (step.failure.from !== undefined) {
            const t = tally(step.failure.from);
            t.jobs++;
            t.failed++;
          }
          if (failures.length < MIGRATE_FAILURES_KEPT) failures.push({ id, source, ...step.failure });
        } else {
          tally(step.from).jobs++;
          page.push({ id, raw, from: step.from, envelope: step.envelope });
        }
      }
      if (page.length > 0) {
        let results: ('rewritten' | 'changed' | 'leased')[];
        if (dryRun) {
          // A look only: a leased job is reported as the write would leave it; no other check can be made without writing.
          const leased = await ctx.redis.zmscore(k.active, ...page.map((p) => p.id));
          results = page.map((_, i) => (leased[i] === null ? 'rewritten' : 'leased'));
        } else {
          results = await ctx.scripts.migrate({ hash, active: k.active }, { items: page.map((p) => ({ id: p.id, expected: p.raw, envelope: p.envelope })) });
        }
        results.forEach((r, i) => {
          if (r === 'rewritten') {
            count.migrated++;
            tally((page[i] as { from: number }).from).migrated++;
          } else if (r === 'leased') count.active++;
          else count.changed++;
        });
      }
      report();
      if (o.rate !== undefined) {
        // Paced: the entries read so far may not have taken less than count.scanned / rate seconds.
        const ahead = (count.scanned / o.rate) * 1_000 - (performance.now() - started);
        if (ahead > 0) await pause(ahead, o.signal);
      }
    });
  }
  return {
    job: job.name,
    queue: job.queue,
    to,
    current: job.version,
    dryRun,
    dead,
    interrupted,
    ...count,
    versions: [...versions.entries()].sort(([a], [b]) => a - b).map(([version, t]) => ({ version, ...t })),
    failures,
  };
}
