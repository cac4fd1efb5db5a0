import { CronExpressionParser } from 'cron-parser';
import type { JobSet, ResolvedJob } from '../define.js';
import { cronQueuesKey, queueKeys, readySetOf, type QueueKeys } from '../keys.js';
import type { Logger } from '../logger.js';
import { encodeEnvelope } from '../payload.js';
import type { Scripts } from '../scripts.js';

/** Most firings `catchUp: 'all'` enqueues at once after downtime (the most recent ones). */
export const MAX_CATCH_UP = 1_000;
/**
 * A firing at most this late is on time: a running scheduler enqueues every such firing whatever its `catchUp` (it
 * was merely late: a busy event loop, a slow round trip). Under `catchUp: 'none'`, a firing later than this is a
 * missed one and is skipped.
 */
export const ON_TIME_MS = 60_000;
const MAX_TIMER_MS = 60_000;
/**
 * A record at most this old was written by a scheduler that may still be running, only late (busy, in a GC pause):
 * a scheduler that started since leaves the firings due before its start to that one (which enqueues them all, as
 * late) until the record is this old; then they count as missed and follow `catchUp`. A busy worker and a dead one
 * look alike from outside; this is how long a new one gives the other the benefit of the doubt.
 */
export const HANDOVER_MS = 10_000;
/**
 * A record at most this far in the future by the Redis clock is waited for, not reset: a small backward step of the
 * Redis clock (a failover to a server slightly behind); the firings up to it already ran.
 */
export const FUTURE_WAIT_MS = ON_TIME_MS;

/** The id of a cron firing's job: deterministic, so the firing is also de-duplicated like a `jobId`. */
export function cronJobId(name: string, firedAt: number): string {
  return `cron:${name}:${firedAt}`;
}

/**
 * Firing times of `job` in (after, until], oldest first: at most `limit`, the most recent ones. Walks backwards from
 * `until`, so a long outage of an every-second schedule costs `limit` steps, not one per missed second.
 */
function firingsBetween(job: ResolvedJob, after: number, until: number, limit: number): number[] {
  const cron = job.cron;
  if (cron === undefined || until <= after) return [];
  // cron-parser's prev() is strictly before its start: start just after `until` so a firing at `until` counts.
  const expr = CronExpressionParser.parse(cron.pattern, { tz: cron.tz, currentDate: new Date(until + 1) });
  const out: number[] = [];
  while (out.length < limit) {
    const at = expr.prev().getTime();
    if (at <= after) break;
    out.push(at);
  }
  return out.reverse();
}

/** The next firing of `job` after `now`. */
export function nextFiring(job: ResolvedJob, now: number): number | undefined {
  if (job.cron === undefined) return undefined;
  return CronExpressionParser.parse(job.cron.pattern, { tz: job.cron.tz, currentDate: new Date(now) }).next().getTime();
}

/** What the scheduler enqueues for one job on one pass, and where its record moves. */
export interface CronPass {
  /** Firing times to enqueue, oldest first. */
  readonly due: number[];
  /** The new "last firing" record. */
  readonly newLast: number;
  /** Whether firings were skipped under the job's `catchUp`. */
  readonly skipped: boolean;
  /** Set when the record lay more than {@link FUTURE_WAIT_MS} in the future and is reset to now. */
  readonly reset?: boolean;
  /**
   * Set when nothing is done yet: firings due before this scheduler started follow a record at most
   * {@link HANDOVER_MS} old, whose writer may be running late; look again soon.
   */
  readonly handover?: boolean;
}

/**
 * Decides one pass for `job`, all times by the Redis clock: `last` is the recorded last firing, `now` the time of
 * the pass and `since` the time this scheduler started. Firings that came due while it ran (at or after `since`) and
 * are at most {@link ON_TIME_MS} late are all enqueued: the scheduler was merely late. Firings due before `since`
 * after a record at most {@link HANDOVER_MS} old are left to the record's writer (`handover`). The others were
 * missed while no scheduler ran (or long ago) and follow `catchUp`: `all` enqueues them (the most recent 1,000),
 * `last` the latest of them, `none` the latest only if it is on time. A record in the future is waited for when at
 * most {@link FUTURE_WAIT_MS} ahead, else reset to `now`. Undefined when nothing is due.
 */
export function planPass(job: ResolvedJob, last: number, now: number, since: number): CronPass | undefined {
  const cron = job.cron;
  if (cron === undefined) return undefined;
  if (last > now) {
    // Only a clock running ahead writes a future record (a worker of an older version, or a Redis failover to a
    // server whose clock differs). A small step back: the firings up to it ran already, wait. Far ahead: waiting
    // would stop this job until then; reset (the firings up to it may come again; those still remembered are
    // de-duplicated by their id).
    return last - now <= FUTURE_WAIT_MS ? undefined : { due: [], newLast: now, skipped: false, reset: true };
  }
  if (cron.catchUp === 'all') {
    const due = firingsBetween(job, last, now, MAX_CATCH_UP);
    return due.length === 0 ? undefined : { due, newLast: due[due.length - 1] as number, skipped: false };
  }
  // Whoever wrote a recent record may be alive and only late with the firings due before this scheduler started.
  if (now - last <= HANDOVER_MS && since > last + 1 && firingsBetween(job, last, Math.min(now, since - 1), 1).length > 0) {
    return { due: [], newLast: last, skipped: false, handover: true };
  }
  // Firings from `liveFrom` on came due while this scheduler ran, and are on time.
  const liveFrom = Math.max(since, now - ON_TIME_MS);
  const live = firingsBetween(job, Math.max(last, liveFrom - 1), now, MAX_CATCH_UP);
  const [missed] = firingsBetween(job, last, Math.min(now, liveFrom - 1), 1);
  if (missed === undefined && live.length === 0) return undefined;
  const newLast = live.length > 0 ? (live[live.length - 1] as number) : (missed as number);
  const due = [...live];
  const keepMissed = missed !== undefined && (cron.catchUp === 'last' || now - missed <= ON_TIME_MS);
  if (keepMissed) due.unshift(missed);
  const skipped = missed !== undefined && (!keepMissed || firingsBetween(job, last, missed - 1, 1).length > 0);
  return { due, newLast, skipped };
}

/** How the cron scheduler is set up (its params). */
export interface CronParams {
  /** The cron jobs of the queues this worker serves. */
  readonly jobs: readonly ResolvedJob[];
  readonly keys: ReadonlyMap<string, QueueKeys>;
  /** The whole job set (to find records no schedule owns any more). */
  readonly jobSet: JobSet;
  readonly prefix: string;
  readonly scripts: Scripts;
  readonly logger: Logger;
  reportError(err: unknown, what: string): void;
}

/**
 * Enqueues the firings of the cron jobs in this worker's queues. Every worker runs one; each firing is enqueued by
 * exactly one of them: the enqueue script advances the job's "last firing" record with a compare-and-set, so a
 * process that read an older record writes nothing. Every decision uses the clock of the Redis server holding the
 * queue (`TIME`, read with the record), never this process's clock, so a worker whose clock is off neither fires
 * early nor leaves a record in the future; a record found far in the future (left by an older version) is reset to
 * now, one slightly ahead (the Redis clock stepped back) is waited for.
 * After downtime the missed firings follow the job's `catchUp`. On start it also deletes the records of jobs in its
 * queues that no longer have a schedule.
 */
export class CronScheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  /** Whether a job waits for another scheduler to enqueue firings it may be late with: look again within 1 s. */
  private handover = false;
  /** Per queue, Redis time of this scheduler's first pass: firings before it were due while it did not run. */
  private readonly since = new Map<string, number>();
  /**
   * Per queue (Cluster nodes' clocks may differ), the last Redis time read and `performance.now()` when it was read:
   * that node's clock, estimated locally.
   */
  private readonly clock = new Map<string, { readonly redisMs: number; readonly perfMs: number }>();

  private readonly jobs: readonly ResolvedJob[];
  private readonly keys: ReadonlyMap<string, QueueKeys>;
  private readonly jobSet: JobSet;
  private readonly prefix: string;

  constructor(private readonly p: CronParams) {
    this.jobs = p.jobs;
    this.keys = p.keys;
    this.jobSet = p.jobSet;
    this.prefix = p.prefix;
  }

  start(): void {
    this.running = this.removeOrphans().then(() => this.tick());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  /**
   * Deletes cron records no schedule of this job set owns: jobs removed, moved to another queue or no longer
   * periodic, and queues that are gone. Queues with cron records are listed in one set per prefix so a queue that
   * disappeared from the code can still be found. (Every worker sharing a prefix must run the same job set, give or
   * take a deploy in progress.)
   */
  private async removeOrphans(): Promise<void> {
    const redis = this.p.scripts.redis;
    const registry = cronQueuesKey(this.prefix);
    try {
      const cronQueues = [...new Set([...this.jobSet.jobs.values()].filter((j) => j.cron !== undefined).map((j) => j.queue))];
      if (cronQueues.length > 0) await redis.sadd(registry, ...cronQueues);
      const known: readonly string[] = this.jobSet.queues;
      for (const queue of await redis.smembers(registry)) {
        const k = queueKeys(this.prefix, queue);
        const names = known.includes(queue) ? await redis.hkeys(k.cron) : null;
        if (names === null) {
          await redis.del(k.cron);
          await redis.srem(registry, queue);
          this.p.logger.info(`removed the cron records of queue "${queue}", which no job uses any more`);
          continue;
        }
        const orphans = names.filter((n) => {
          const job = this.jobSet.jobs.get(n);
          return job === undefined || job.queue !== queue || job.cron === undefined;
        });
        if (orphans.length > 0) {
          await redis.hdel(k.cron, ...orphans);
          this.p.logger.info(`removed the cron records of jobs that no longer have a schedule in queue "${queue}": ${orphans.join(', ')}`);
        }
        if (!cronQueues.includes(queue)) await redis.srem(registry, queue);
      }
    } catch (err) {
      this.p.reportError(err, 'cleaning up cron records');
    }
  }

  /** The Redis clock now, as estimated from the last reading (this process's clock only until Redis answered). */
  private redisNow(queue: string): number {
    const c = this.clock.get(queue);
    return c === undefined ? Date.now() : c.redisMs + (performance.now() - c.perfMs);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    this.handover = false;
    await Promise.all(this.jobs.map((job) => this.fire(job)));
    if (this.stopped) return;
    // Sleep until the next firing by the Redis clock (of each job's queue); the pass then checks a fresh reading.
    let delay = this.handover ? 1_000 : MAX_TIMER_MS;
    for (const job of this.jobs) {
      const now = this.redisNow(job.queue);
      const next = nextFiring(job, now);
      if (next !== undefined) delay = Math.min(delay, next - now);
    }
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, Math.max(1, delay));
    this.timer.unref();
  }

  /** Reads the job's record and the Redis time, in one round trip to the node that holds the queue. */
  private async readRecord(k: QueueKeys, name: string): Promise<{ lastText: string | null; now: number }> {
    const replies = await this.p.scripts.redis.pipeline().time().hget(k.cron, name).exec();
    const [timeReply, recordReply] = replies ?? [];
    if (timeReply?.[0]) throw timeReply[0];
    if (recordReply?.[0]) throw recordReply[0];
    const [seconds, micros] = timeReply?.[1] as [string, string];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    this.clock.set(k.queue, { redisMs: now, perfMs: performance.now() });
    if (!this.since.has(k.queue)) this.since.set(k.queue, now);
    return { lastText: (recordReply?.[1] as string | null) ?? null, now };
  }

  /** Enqueues what is due for one job, retrying when another process moved its record first. */
  private async fire(job: ResolvedJob): Promise<void> {
    const k = this.keys.get(job.queue) as QueueKeys;
    const cron = job.cron;
    if (cron === undefined) return;
    try {
      for (let round = 0; round < 5 && !this.stopped; round++) {
        const { lastText, now } = await this.readRecord(k, job.name);
        let due: number[];
        let newLast: number;
        let pass: CronPass | undefined;
        const last = lastText === null ? NaN : Number(lastText);
        if (!Number.isFinite(last)) {
          // First time this schedule is seen: nothing before now counts as missed.
          due = [];
          newLast = now;
        } else {
          pass = planPass(job, last, now, this.since.get(k.queue) ?? now);
          if (pass === undefined) return;
          if (pass.handover === true) {
            this.handover = true;
            return;
          }
          ({ due, newLast } = pass);
        }
        const items: string[] = [];
        for (const at of due) items.push(cronJobId(job.name, at), encodeEnvelope(job.name, at, cron.payloadJson, undefined, job.priority, undefined, undefined, undefined, job.emitVersion));
        const readySet = readySetOf(k, job);
        const cas = { name: job.name, expected: lastText ?? '', next: String(newLast) };
        const written = await this.p.scripts.enqueue(k, { delayMs: 0, priority: job.priority, idPrefix: '', items, cron: cas, readySet });
        if (written.length > 0 || items.length === 0) {
          // items.length === 0 with an empty reply can also mean another process won; re-reading settles it.
          if (items.length > 0 || (await this.p.scripts.redis.hget(k.cron, job.name)) === String(newLast)) {
            // Only the process whose compare-and-set won reports what it decided.
            if (pass?.reset === true) {
              this.p.logger.warn(
                `cron job "${job.name}": its last firing is recorded ${Math.round(last - now)} ms in the future by the Redis clock (a clock ran ahead); reset it to now`,
              );
            } else if (pass?.skipped === true) {
              this.p.logger.info(`cron job "${job.name}": skipped missed firing(s) (catchUp: ${cron.catchUp})`);
            }
            return;
          }
          continue;
        }
        // Another process handled these firings first: read its record and look again.
      }
    } catch (err) {
      this.p.reportError(err, `firing cron job "${job.name}"`);
    }
  }
}
