import { CronExpressionParser } from 'cron-parser';
import type { ResolvedJob } from './define.js';
import type { QueueKeys } from './keys.js';
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
 * Firing times of `job` in (after, until], oldest first, at most `limit` (the most recent ones).
 */
export function firingsBetween(job: ResolvedJob, after: number, until: number, limit: number): number[] {
  const cron = job.cron;
  if (cron === undefined || until <= after) return [];
  const expr = CronExpressionParser.parse(cron.pattern, { tz: cron.tz, currentDate: new Date(after), endDate: new Date(until) });
  const out: number[] = [];
  while (expr.hasNext()) {
    out.push(expr.next().getTime());
    if (out.length > limit) out.shift();
  }
  return out;
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
    private readonly allJobs: ReadonlyMap<string, ResolvedJob>,
  ) {}

  start(): void {
    this.running = this.removeOrphans().then(() => this.tick());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.running;
  }

  private async removeOrphans(): Promise<void> {
    for (const k of this.keys.values()) {
      try {
        const names = await this.worker.scripts.redis.hkeys(k.cron);
        const orphans = names.filter((n) => {
          const job = this.allJobs.get(n);
          return job === undefined || (job.queue === k.queue && job.cron === undefined);
        });
        if (orphans.length > 0) {
          await this.worker.scripts.redis.hdel(k.cron, ...orphans);
          this.worker.logger.info(`removed the cron records of jobs that no longer have a schedule: ${orphans.join(', ')}`);
        }
      } catch (err) {
        this.worker.reportError(err, `cleaning cron records of queue "${k.queue}"`);
      }
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
          const firings = firingsBetween(job, last, now, MAX_CATCH_UP);
          if (firings.length === 0) return;
          newLast = firings[firings.length - 1] as number;
          if (cron.catchUp === 'all') due = firings;
          else if (cron.catchUp === 'last' || now - newLast <= ON_TIME_MS) due = [newLast];
          else due = [];
          if (due.length < firings.length) {
            this.worker.logger.info(`cron job "${job.name}": skipped ${firings.length - due.length} missed firing(s) (catchUp: ${cron.catchUp})`);
          }
        }
        const items: string[] = [];
        for (const at of due) items.push(cronJobId(job.name, at), encodeEnvelope(job.name, at, cron.payloadJson, undefined, job.priority));
        const written = await this.worker.scripts.enqueue(k, 0, job.priority, '', items, {
          name: job.name,
          expected: lastText ?? '',
          next: String(newLast),
        });
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
