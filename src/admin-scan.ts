/**
 * The paged scan behind `admin.bulk` (admin.ts): it walks one queue's `jobs` (live jobs) or `dead` hash with HSCAN —
 * a cursor, never the whole queue's jobs in memory (only the ids looked at, to take each once) — filters each page by the selection, narrows it (by state, by time of
 * death) and acts on the page's ids with one idempotent call: a dead letter retried is no longer dead, a job
 * cancelled is gone, a job promoted is due now. So a run stopped anywhere and started again acts on what is left,
 * and every job is acted on once.
 */
import { BULK_SAMPLE_SIZE, type BulkProgress, type BulkQueueOutcome } from './admin-types.js';
import type { RedisConnection } from './redis.js';
import { pause } from './timeout.js';
import { walkHash } from './hash-walk.js';

/** A stored job as the scan sees it: its id and what its envelope says. */
export interface Scanned {
  readonly id: string;
  /** Job name, when the envelope is readable. */
  readonly name: string | undefined;
  /** Enqueue time (ms), when readable. */
  readonly enqueuedAt: number | undefined;
}

/** Reads the job name and enqueue time of an envelope (`{"n":…,"t":…}`), without trusting it. */
export function readEnvelope(id: string, raw: string): Scanned {
  try {
    const env = JSON.parse(raw) as { n?: unknown; t?: unknown };
    return { id, name: typeof env.n === 'string' ? env.n : undefined, enqueuedAt: typeof env.t === 'number' ? env.t : undefined };
  } catch {
    return { id, name: undefined, enqueuedAt: undefined };
  }
}

/** What one page's action did. */
export interface PageResult {
  /** Ids acted on. */
  readonly done: number;
  /** Ids left as they were (already done, running, changed meanwhile). */
  readonly skipped: number;
}

/** A scan's action over one queue. */
export interface ScanAction {
  readonly queue: string;
  /** The hash scanned: the queue's `jobs` (live) or `dead`. */
  readonly hash: string;
  /** Only jobs of this name (read from the envelope). */
  readonly job: string | undefined;
  /** Only jobs enqueued at or after this time (ms), read from the envelope; undefined when `narrow` applies a time. */
  readonly enqueuedSince: number | undefined;
  /** Narrows a page's ids (by state, by time of death …) before the action; returns the ids to act on. */
  narrow?(ids: readonly string[]): Promise<readonly string[]>;
  /** Acts on a page of ids. Must be idempotent: acting again on an id already done changes nothing. */
  act(ids: readonly string[]): Promise<PageResult>;
}

/** How a scan runs. */
export interface ScanOptions {
  readonly dryRun: boolean;
  readonly pageSize: number;
  readonly rate: number | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((progress: BulkProgress) => void) | undefined;
}

/**
 * Runs an action over one queue: HSCAN pages of `action.hash`, filtered by name and enqueue time, narrowed, acted
 * on (unless `dryRun`). Stops between pages when `signal` aborts.
 */
export async function scanQueue(redis: RedisConnection, action: ScanAction, o: ScanOptions): Promise<BulkQueueOutcome> {
  const total = await redis.hlen(action.hash);
  const sample: string[] = [];
  let scanned = 0;
  let matched = 0;
  let done = 0;
  let skipped = 0;
  const started = performance.now();
  // An envelope is parsed only when a filter reads it: `all` selects by id alone, and a payload may be large.
  const filtered = action.job !== undefined || action.enqueuedSince !== undefined;
  const report = (): void => o.onProgress?.({ queue: action.queue, total, scanned, matched, done, skipped });
  report();
  // Each job counts (and is acted on) once per run.
  const interrupted = await walkHash(redis, action.hash, o.pageSize, o.signal, async (entries) => {
    const page: string[] = [];
    for (const { id, raw } of entries) {
      scanned++;
      if (filtered) {
        const job = readEnvelope(id, raw);
        if (action.job !== undefined && job.name !== action.job) continue;
        if (action.enqueuedSince !== undefined && (job.enqueuedAt === undefined || job.enqueuedAt < action.enqueuedSince)) continue;
      }
      page.push(id);
    }
    const ids = page.length === 0 ? [] : action.narrow === undefined ? page : await action.narrow(page);
    matched += ids.length;
    if (o.dryRun) {
      for (const id of ids) if (sample.length < BULK_SAMPLE_SIZE) sample.push(id);
    } else if (ids.length > 0) {
      const r = await action.act(ids);
      done += r.done;
      skipped += r.skipped;
      if (o.rate !== undefined) {
        // Paced: the jobs acted on so far may not have taken less than (done + skipped) / rate seconds.
        const ahead = ((done + skipped) / o.rate) * 1_000 - (performance.now() - started);
        if (ahead > 0) await pause(ahead, o.signal);
      }
    }
    report();
  });
  return { queue: action.queue, scanned, matched, done, skipped, interrupted, sample };
}
