/**
 * The queue registry (docs/redis-layout.md: `P:queues`): which queues exist under a prefix, so that reads never scan
 * keys. A worker writes an entry for each queue it serves when it starts; a client writes one the first time this
 * process enqueues into a queue (once per process and queue). Each entry names the queue's throttled job types, whose
 * ready sets the queue's stats count.
 */
import { JOB_NAME_PATTERN, type JobSet } from './define.js';
import { queueKeys, queueRegistryKey, typeKeys } from './keys.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';
import { throttledTypes } from './throttle.js';

/** A queue's registry entry: `{"throttled":[names]}`. */
function queueEntryJson(jobs: JobSet, prefix: string, queue: string): string {
  return JSON.stringify({ throttled: throttledTypes(jobs, queueKeys(prefix, queue)).map((t) => t.name) });
}

/** Writes the registry entries of `queues` (one HSET). */
export async function registerQueues(redis: RedisConnection, jobs: JobSet, prefix: string, queues: readonly string[]): Promise<void> {
  if (queues.length === 0) return;
  const fields: string[] = [];
  for (const q of queues) fields.push(q, queueEntryJson(jobs, prefix, q));
  await redis.hset(queueRegistryKey(prefix), ...fields);
}

/** At most this many throttled types of a queue are read from its registry entry. */
export const MAX_THROTTLED_LISTED = 1_000;

/** A registry entry as read back: its throttled types (an unreadable entry has none). */
export function parseQueueEntry(json: string | null | undefined): { throttled: string[] } {
  try {
    const v: unknown = JSON.parse(json ?? '');
    const t = (v as { throttled?: unknown }).throttled;
    // The registry is anyone's text: only job names are taken (they become key names and listing cursors, and are
    // printed), and at most MAX_THROTTLED_LISTED of them (each costs stats.lua a ZCARD).
    if (Array.isArray(t)) return { throttled: t.filter((x): x is string => typeof x === 'string' && JOB_NAME_PATTERN.test(x)).slice(0, MAX_THROTTLED_LISTED) };
  } catch {
    // an entry written by something else: no throttled types
  }
  return { throttled: [] };
}

/**
 * Warns about jobs waiting in the ready set of a throttled job's old name (one of its `aliases`) in `queues`: that set
 * is keyed by the old name, and workers of this job set serve only their own types' sets, so these jobs do not start
 * until a worker of the old job set takes them (docs/contracts.md, "Rename a job"). One `ZCARD` per such alias.
 */
export async function warnStrandedAliases(redis: RedisConnection, jobs: JobSet, prefix: string, queues: readonly string[], logger: Logger): Promise<void> {
  for (const job of jobs.jobs.values()) {
    if (job.throttle === undefined || job.aliases.length === 0 || !queues.includes(job.queue)) continue;
    const k = queueKeys(prefix, job.queue);
    for (const alias of job.aliases) {
      const waiting = await redis.zcard(typeKeys(k, alias).ready);
      if (waiting > 0) {
        logger.warn(
          `${waiting} job(s) stored under "${alias}", an old name of the throttled job "${job.name}", wait in the old name's ready set, which workers of this job set do not serve: run a worker of the old job set until it is empty (docs/contracts.md, "Rename a job")`,
          { queue: job.queue },
        );
      }
    }
  }
}
