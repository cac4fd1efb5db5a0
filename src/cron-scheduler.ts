import { CronExpressionParser } from 'cron-parser';
import type { JobSet, ResolvedJob } from './define.js';
import { cronQueuesKey, queueKeys, typeKeys, type QueueKeys } from './keys.js';
import { encodeEnvelope } from './payload.js';
import type { WorkerCore } from './worker.js';

/** Most firings `catchUp: 'all'` enqueues at once after downtime (the most recent ones). */
export const MAX_CATCH_UP = 1_000;
/** Under `catchUp: 'none'`, a firing later than this is a missed one and is skipped. */
export const ON_TIME_MS = 60_000;
const MAX_TIMER_MS = 60_000;

/** The id of a cron firing's job: deterministic, so the firing is also de-duplicated like a `jobId`. */
export function cronJobId(name: string, firedAt: number): string {
  return `cron:${name}:${firedAt}`;
}

/**
 * Firing times of `job` in (after, until], oldest first: at most `limit`, the most recent ones. Walks backwards from
 * `until`, so a long outage of an every-second schedule costs `limit` steps, not one per missed second.
 */
export function firingsBetween(job: ResolvedJob, after: number, until: number, limit: number): number[] {
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

/**
 * Enqueues the firings of the cron jobs in this worker's queues. Every worker runs one; each firing is enqueued by
 * exactly one of them: the enqueue script advances the job's "last firing" record with a compare-and-set, so a
 * process that read an older record writes nothing. After downtime the missed firings follow the job's `catchUp`.
 * On start it also deletes the records of jobs in its queues that no longer have a schedule.
 */
export class CronScheduler {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly worker: WorkerCore,
    private readonly jobs: readonly ResolvedJob[],
    private readonly keys: ReadonlyMap<string, QueueKeys>,
    private readonly jobSet: JobSet,
    private readonly prefix: string,
  ) {}

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
    const redis = this.worker.scripts.redis;
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
          this.worker.logger.info(`removed the cron records of queue "${queue}", which no job uses any more`);
          continue;
        }
        const orphans = names.filter((n) => {
          const job = this.jobSet.jobs.get(n);
          return job === undefined || job.queue !== queue || job.cron === undefined;
        });
        if (orphans.length > 0) {
          await redis.hdel(k.cron, ...orphans);
          this.worker.logger.info(`removed the cron records of jobs that no longer have a schedule in queue "${queue}": ${orphans.join(', ')}`);
        }
        if (!cronQueues.includes(queue)) await redis.srem(registry, queue);
      }
    } catch (err) {
      this.worker.reportError(err, 'cleaning up cron records');
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    await Promise.all(this.jobs.map((job) => this.fire(job)));
    if (this.stopped) return;
    const now = Date.now();
    let next = now + MAX_TIMER_MS;
    for (const job of this.jobs) next = Math.min(next, nextFiring(job, now) ?? next);
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, Math.max(0, next - Date.now()));
    this.timer.unref();
  }

  /** Enqueues what is due for one job, retrying when another process moved its record first. */
  private async fire(job: ResolvedJob): Promise<void> {
    const k = this.keys.get(job.queue) as QueueKeys;
    const cron = job.cron;
    if (cron === undefined) return;
    try {
      for (let round = 0; round < 5 && !this.stopped; round++) {
        const now = Date.now();
        const lastText = await this.worker.scripts.redis.hget(k.cron, job.name);
        let due: number[];
        let newLast: number;
        if (lastText === null) {
          // First time this schedule is seen: nothing before now counts as missed.
          due = [];
          newLast = now;
        } else {
          const last = Number(lastText);
          // For 'last' and 'none' only the latest firing matters (and whether an older one was missed).
          const firings = firingsBetween(job, last, now, cron.catchUp === 'all' ? MAX_CATCH_UP : 2);
          if (firings.length === 0) return;
          newLast = firings[firings.length - 1] as number;
          if (cron.catchUp === 'all') due = firings;
          else if (cron.catchUp === 'last' || now - newLast <= ON_TIME_MS) due = [newLast];
          else due = [];
          if (due.length < firings.length) {
            this.worker.logger.info(`cron job "${job.name}": skipped missed firing(s) (catchUp: ${cron.catchUp})`);
          }
        }
        const items: string[] = [];
        for (const at of due) items.push(cronJobId(job.name, at), encodeEnvelope(job.name, at, cron.payloadJson, undefined, job.priority));
        const readySet = job.throttle === undefined ? undefined : typeKeys(k, job.name).ready;
        const cas = { name: job.name, expected: lastText ?? '', next: String(newLast) };
        const written = await this.worker.scripts.enqueue(k, 0, job.priority, '', items, { cron: cas, readySet });
        if (written.length > 0 || items.length === 0) {
          // items.length === 0 with an empty reply can also mean another process won; re-reading settles it.
          if (items.length > 0 || (await this.worker.scripts.redis.hget(k.cron, job.name)) === String(newLast)) return;
          continue;
        }
        // Another process handled these firings first: read its record and look again.
      }
    } catch (err) {
      this.worker.reportError(err, `firing cron job "${job.name}"`);
    }
  }
}
