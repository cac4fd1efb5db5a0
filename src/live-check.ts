/**
 * The live check of stored jobs (`jobcraft check --live`): reads every job a worker may still parse — the live jobs
 * of each queue (waiting, delayed, retrying, active: an active job is parsed again if it retries) and its dead
 * letters (they can be retried) — and parses each one with the job set of the code about to deploy, exactly as a
 * worker does at dequeue ({@link verdictOfStoredJob}, through the same steps as worker/decode.ts and the shared
 * {@link parseStoredPayload}). Read-only (HSCAN, HLEN, HKEYS, ZMSCORE, HMGET: no write command), paged with cursors,
 * and bounded in memory: counts, a few distinct paths and a few sample ids per queue and job type, never the ids
 * read. Types in live-check-types.ts; docs/contracts.md ("Live check").
 */
import { jobNamed, type JobSet } from './define.js';
import { ENVELOPE_OVERHEAD_BYTES } from './bounds.js';
import { ReplyError } from 'ioredis';
import { InvalidArgumentError, JobValidationError, type PayloadIssue } from './errors.js';
import { DEFAULT_PREFIX, PREFIX_PATTERN, queueKeys, queueRegistryKey, type QueueKeys } from './keys.js';
import {
  DEFAULT_LIVE_CHECK_PAGE_SIZE,
  LIVE_CHECK_OTHER_NAMES,
  LIVE_CHECK_PATHS,
  LIVE_CHECK_VERSIONS,
  LIVE_CHECK_SAMPLES,
  MAX_LIVE_CHECK_PAGE_SIZE,
  type LiveCheckJobType,
  type LiveCheckOptions,
  type LiveCheckPath,
  type LiveCheckQueue,
  type LiveCheckReason,
  type LiveCheckReport,
  type LiveCheckSample,
  type LiveCheckState,
} from './live-check-types.js';
import { checkStoredJob, decodeEnvelope, DEFAULT_WORKER_MAX_PAYLOAD_BYTES, headFieldsOf } from './payload.js';
import { openOpsConnection } from './ops-connection.js';
import { release, type RedisConnection } from './redis.js';
import { parseStoredPayload, storedJobOf } from './stored-payload.js';
import { pause } from './timeout.js';

/** What a worker would do with a stored job: run it, or dead-letter it with a reason and the issues. */
export type StoredJobVerdict =
  | { readonly ok: true; readonly job: string; readonly version?: number }
  | {
      readonly ok: false;
      readonly job: string | undefined;
      readonly reason: LiveCheckReason;
      readonly issues: readonly PayloadIssue[];
      /** The payload version the stored job was written with, once its envelope could be read (1 when it records none). */
      readonly version?: number;
    };

/**
 * The verdict a worker running `jobSet` would reach on the stored job `raw` (the text of its `jobs` or `dead` entry)
 * when it leases it from `queue`: the steps of worker/decode.ts, in its order — size and depth on the text
 * (`maxEnvelopeBytes`: the worker's `maxPayloadBytes` + 1 KiB), the envelope, the job name in this queue, then the
 * payload through {@link parseStoredPayload}. A job the worker would dead-letter gets that dead letter's reason.
 */
export function verdictOfStoredJob(raw: string, queue: string, jobSet: JobSet, maxEnvelopeBytes: number): StoredJobVerdict {
  const hostile = checkStoredJob(raw, maxEnvelopeBytes);
  if (hostile !== undefined) {
    if (hostile.job === undefined) {
      return { ok: false, job: undefined, reason: 'malformed_job', issues: [{ path: [], code: 'malformed_job', message: `not a jobcraft job: ${hostile.issue.message}` }] };
    }
    return { ok: false, job: hostile.job, reason: 'invalid_payload', issues: [hostile.issue] };
  }
  const decoded = decodeEnvelope(raw);
  if (!decoded.ok) {
    return { ok: false, job: headFieldsOf(raw).job, reason: 'malformed_job', issues: [{ path: [], code: 'malformed_job', message: decoded.reason }] };
  }
  const env = decoded.envelope;
  // A renamed job's old name (an alias) is the new job, as the worker takes it.
  const job = storedJobOf(jobSet, env.n, queue);
  if (typeof job === 'string') return { ok: false, job: env.n, reason: 'unknown_job', issues: [{ path: [], code: 'unknown_job', message: job }] };
  const version = env.v ?? 1;
  let parsed: ReturnType<typeof parseStoredPayload>;
  try {
    parsed = parseStoredPayload(job, env);
  } catch (thrown) {
    const message = thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : String(thrown);
    return { ok: false, job: job.name, reason: 'invalid_payload', issues: [{ path: [], code: 'threw', message }], version };
  }
  if (!parsed.success) {
    // Bounded as the worker stores them in the dead letter (at most 20 issues, each short). A newer version than the
    // job set knows is counted here too: a worker fails its attempts (retried) and dead-letters it when they run out.
    return { ok: false, job: job.name, reason: 'invalid_payload', issues: new JobValidationError(job.name, parsed.issues, 'dequeue').issues, version };
  }
  return { ok: true, job: job.name, version };
}

/** A path as the report shows it: `a.b`, any array element as `[]` (so one field's issues are counted together). */
export function pathText(path: readonly (string | number)[]): string {
  let text = '';
  for (const segment of path) text += typeof segment === 'number' ? '[]' : text === '' ? segment : `.${segment}`;
  return text;
}

const REASONS: readonly LiveCheckReason[] = ['invalid_payload', 'unknown_job', 'malformed_job'];
const STATES: readonly LiveCheckState[] = ['waiting', 'delayed', 'retrying', 'active', 'dead'];
const MAX_MESSAGE = 500;

const zeros = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
const shorten = (text: string): string => (text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text);

/** A job type's running counts (mutable while the scan runs). */
class TypeTally {
  scanned = 0;
  failing = 0;
  readonly failingBy = zeros(STATES);
  readonly reasons = zeros(REASONS);
  readonly paths = new Map<string, { path: string; code: string; message: string; count: number }>();
  otherPaths = 0;
  readonly samples: LiveCheckSample[] = [];
  firstReason: LiveCheckReason | undefined;
  /** Jobs read and failing by the payload version they were written with (at most LIVE_CHECK_VERSIONS versions). */
  readonly versions = new Map<number, { scanned: number; failing: number }>();

  /** Counts a job read, written with payload `version` (undefined: its envelope could not be read). */
  read(version: number | undefined, failing: boolean): void {
    this.scanned++;
    if (version === undefined) return;
    let v = this.versions.get(version);
    if (v === undefined) {
      if (this.versions.size >= LIVE_CHECK_VERSIONS) return;
      this.versions.set(version, (v = { scanned: 0, failing: 0 }));
    }
    v.scanned++;
    if (failing) v.failing++;
  }

  constructor(
    readonly job: string | null,
    readonly declared: boolean,
  ) {}

  fail(id: string, state: LiveCheckState, reason: LiveCheckReason, issues: readonly PayloadIssue[]): void {
    this.failing++;
    this.failingBy[state]++;
    this.reasons[reason]++;
    this.firstReason ??= reason;
    let counted = false;
    for (const issue of issues) {
      const path = pathText(issue.path);
      const key = `${path}\u0000${issue.code}`;
      const known = this.paths.get(key);
      if (known !== undefined) {
        known.count++;
        counted = true;
      } else if (this.paths.size < LIVE_CHECK_PATHS) {
        this.paths.set(key, { path, code: issue.code, message: shorten(issue.message), count: 1 });
        counted = true;
      }
    }
    if (!counted) this.otherPaths++;
    if (this.samples.length < LIVE_CHECK_SAMPLES) {
      this.samples.push({ id, state, reason, issues: issues.slice(0, 3).map((i) => ({ path: pathText(i.path), code: i.code, message: shorten(i.message) })) });
    }
  }

  report(queue: string, jobSet: JobSet): LiveCheckJobType {
    // Only for a versioned job, or one whose stored jobs record a version: other reports read as before versions.
    const versioned = (this.job !== null && this.declared && (jobNamed(jobSet, this.job)?.version ?? 1) > 1) || [...this.versions.keys()].some((v) => v !== 1);
    return {
      job: this.job,
      declared: this.declared,
      scanned: this.scanned,
      failing: this.failing,
      failingBy: { ...this.failingBy },
      reasons: { ...this.reasons },
      paths: [...this.paths.values()].map((p): LiveCheckPath => ({ ...p })),
      otherPaths: this.otherPaths,
      samples: this.samples,
      hint: this.failing === 0 ? undefined : hintFor(this.firstReason as LiveCheckReason, this.job, queue, jobSet),
      ...(versioned ? { versions: [...this.versions].sort(([a], [b]) => a - b).map(([version, v]) => ({ version, ...v })) } : {}),
    };
  }
}

/** What to do about a failing job type. */
function hintFor(reason: LiveCheckReason, job: string | null, queue: string, jobSet: JobSet): string {
  if (reason === 'malformed_job') return 'not a job jobcraft wrote (or a damaged one): a worker dead-letters it whatever the schema; inspect it with `jobcraft job <id>` and delete it';
  if (reason === 'unknown_job') {
    const moved = job === null ? undefined : jobNamed(jobSet, job);
    if (moved !== undefined) return `job ${job} now runs in queue ${moved.queue}: keep workers for queue ${queue} (the old job set) until it holds none of its jobs`;
    return 'the new code has no such job (removed or renamed): keep the job and a worker for it until none is stored; a rename: list the old name in the new job\'s aliases (docs/contracts.md, "Rename a job"); else drain or delete these jobs before the deploy';
  }
  return 'the new schema rejects payloads stored now: make the change compatible (a default, an optional field: docs/contracts.md, "Safe rollout recipes"), or let these jobs drain (and deal with the dead letters) before deploying';
}

/** One queue's tallies: the job set's types, then at most LIVE_CHECK_OTHER_NAMES others, then `null`. */
class QueueTally {
  readonly types = new Map<string | null, TypeTally>();
  private others = 0;
  scannedLive = 0;
  scannedDead = 0;
  failing = 0;

  constructor(
    readonly queue: string,
    private readonly jobSet: JobSet,
  ) {}

  typeOf(name: string | undefined): TypeTally {
    const declared = name !== undefined && jobNamed(this.jobSet, name)?.queue === this.queue;
    let key: string | null = name ?? null;
    if (key !== null && !declared && !this.types.has(key)) {
      if (this.others >= LIVE_CHECK_OTHER_NAMES) key = null;
      else this.others++;
    }
    let tally = this.types.get(key);
    if (tally === undefined) this.types.set(key, (tally = new TypeTally(key, key !== null && declared)));
    return tally;
  }

  report(): LiveCheckQueue {
    const types = [...this.types.values()].sort(
      (a, b) => Number(b.declared) - Number(a.declared) || (a.job === null ? 1 : b.job === null ? -1 : a.job < b.job ? -1 : a.job > b.job ? 1 : 0),
    );
    return {
      queue: this.queue,
      declared: (this.jobSet.queues as readonly string[]).includes(this.queue),
      scannedLive: this.scannedLive,
      scannedDead: this.scannedDead,
      failing: this.failing,
      jobs: types.map((t) => t.report(this.queue, this.jobSet)),
    };
  }
}

/** The state of each live id (`jobs` hash) of a page: active, scheduled with or without an error record, else waiting. */
async function liveStates(redis: RedisConnection, k: QueueKeys, ids: readonly string[]): Promise<LiveCheckState[]> {
  const replies = await redis.pipeline().zmscore(k.active, ...ids).zmscore(k.scheduled, ...ids).hmget(k.errors, ...ids).exec();
  const [active, scheduled, errors] = (replies ?? []).map(([err, value]) => {
    if (err) throw err;
    return value as (string | null)[];
  }) as [(string | null)[], (string | null)[], (string | null)[]];
  return ids.map((_, i) => (active[i] != null ? 'active' : scheduled[i] == null ? 'waiting' : errors[i] != null ? 'retrying' : 'delayed'));
}

function positive(value: number | undefined, fallback: number | undefined, argument: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new InvalidArgumentError('checkStoredJobs', argument, `${argument} must be an integer from 1 to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * Reads every stored job a worker may still parse — each queue's live jobs and (unless `dead: false`) its dead
 * letters — in HSCAN pages, and parses each with `jobs` (the code about to deploy) as a worker would at dequeue. Returns
 * per queue and job type how many were read, how many would fail (by state and reason), the first distinct failing
 * paths with their zod messages, and a few sample ids. Read-only and bounded in memory. Stops between pages when
 * `signal` aborts (`interrupted: true`: no verdict).
 *
 * Counts are of entries read: HSCAN returns every job stored from the start to the end of the scan at least once,
 * and may return one twice while Redis resizes a hash (so a count can be slightly high, never a failure missed); jobs
 * enqueued or moved during the scan may or may not be read.
 *
 * @example
 * const report = await checkStoredJobs({ redis: process.env.REDIS_URL, jobs });
 * if (report.failing > 0) process.exitCode = 2; // a deploy gate
 */
export async function checkStoredJobs(options: LiveCheckOptions): Promise<LiveCheckReport> {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('checkStoredJobs', 'prefix', `prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
  const jobSet = options.jobs;
  if (jobSet === undefined || !(jobSet.jobs instanceof Map)) throw new InvalidArgumentError('checkStoredJobs', 'jobs', 'the job set (the result of defineJobs) to parse the stored jobs with is required');
  const pageSize = positive(options.pageSize, DEFAULT_LIVE_CHECK_PAGE_SIZE, 'pageSize', MAX_LIVE_CHECK_PAGE_SIZE) as number;
  const rate = positive(options.rate, undefined, 'rate');
  const maxPayloadBytes = positive(options.maxPayloadBytes, DEFAULT_WORKER_MAX_PAYLOAD_BYTES, 'maxPayloadBytes') as number;
  const maxEnvelopeBytes = maxPayloadBytes + ENVELOPE_OVERHEAD_BYTES;
  const withDead = options.dead ?? true;
  const signal = options.signal;
  const stopped = (): boolean => signal?.aborted === true;
  const ops = openOpsConnection(options.redis);
  const { conn } = ops;
  const redis = conn.redis;
  try {
    return await scan();
  } catch (err) {
    // Only a failure while the connection is down is Redis's; anything else (an onProgress callback that threw) as is.
    if (!(err instanceof ReplyError) && ops.health.cause === undefined && redis.status === 'ready') throw err;
    throw ops.failure('checkStoredJobs', err);
  } finally {
    await release(conn);
  }

  async function scan(): Promise<LiveCheckReport> {
    const queues =
      options.queues !== undefined
        ? [...new Set(options.queues)]
        : [...new Set([...(jobSet.queues as readonly string[]), ...(await redis.hkeys(queueRegistryKey(prefix)))])].sort();
    const sources = withDead ? (['jobs', 'dead'] as const) : (['jobs'] as const);
    const tallies: QueueTally[] = [];
    // Interrupted unless every hash was read to the end of its cursor.
    let hashesRead = 0;
    let read = 0;
    const started = performance.now();
    scan: for (const queue of queues) {
      const k = queueKeys(prefix, queue);
      const tally = new QueueTally(queue, jobSet);
      tallies.push(tally);
      for (const source of sources) {
        if (stopped()) break scan;
        const hash = source === 'jobs' ? k.jobs : k.dead;
        const total = await redis.hlen(hash);
        let scanned = 0;
        let failing = 0;
        const progress = (): void => options.onProgress?.({ queue, source, total, scanned, failing });
        progress();
        let cursor = '0';
        do {
          if (stopped()) break scan;
          const [next, flat] = await redis.hscan(hash, cursor, 'COUNT', pageSize);
          cursor = next;
          const failed: { id: string; type: TypeTally; verdict: Extract<StoredJobVerdict, { ok: false }> }[] = [];
          for (let i = 0; i + 1 < flat.length; i += 2) {
            const id = flat[i] as string;
            const verdict = verdictOfStoredJob(flat[i + 1] as string, queue, jobSet, maxEnvelopeBytes);
            const type = tally.typeOf(verdict.job);
            type.read(verdict.version, !verdict.ok);
            scanned++;
            read++;
            if (source === 'jobs') tally.scannedLive++;
            else tally.scannedDead++;
            if (!verdict.ok) failed.push({ id, type, verdict });
          }
          if (failed.length > 0) {
            // Only the failing jobs' states are looked up: nothing more is read while every job passes.
            const states = source === 'dead' ? failed.map((): LiveCheckState => 'dead') : await liveStates(redis, k, failed.map((f) => f.id));
            failed.forEach((f, i) => f.type.fail(f.id, states[i] as LiveCheckState, f.verdict.reason, f.verdict.issues));
            failing += failed.length;
            tally.failing += failed.length;
          }
          progress();
          if (rate !== undefined && cursor !== '0') {
            // Paced: the jobs read so far may not have taken less than read / rate seconds.
            const ahead = (read / rate) * 1_000 - (performance.now() - started);
            if (ahead > 0) await pause(ahead, signal);
          }
        } while (cursor !== '0');
        hashesRead++;
      }
    }
    const interrupted = hashesRead < queues.length * sources.length;
    const reports = tallies.map((t) => t.report());
    return {
      prefix,
      maxPayloadBytes,
      dead: withDead,
      interrupted,
      scanned: reports.reduce((n, q) => n + q.scannedLive + q.scannedDead, 0),
      failing: reports.reduce((n, q) => n + q.failing, 0),
      queues: reports,
    };
  }
}
