/**
 * Promotion of due jobs: scheduled jobs (delayed, retries after backoff, snoozed) are moved to their queue by the
 * fetch script, which every fetch call runs. An idle worker makes no calls, so at the earliest due time a timer
 * pushes a wake-up token: some idle worker wakes, fetches, and the fetch promotes the job. (Redis times blocked reads
 * out in steps of about 100 ms, so the loop's own timeout would be late.)
 */
import type { RedisConnection } from '../redis.js';

const MAX_DUE_TIMER_MS = 60_000;
/** A refused due-job wake-up push is reported at most once per this long (it repeats while Redis refuses writes). */
const DUE_REPORT_EVERY_MS = 60_000;

/** What the due-job wake-up of one queue needs. */
export interface DueWakeupParams {
  /** The command connection (not the blocking one: that one is parked in the read this push ends). */
  readonly redis: RedisConnection;
  /** The queue's wake-up list. */
  readonly notifyKey: string;
  reportError(err: unknown, what: string): void;
}

export class DueWakeup {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private reportedAt = -Infinity;

  constructor(private readonly p: DueWakeupParams) {}

  /** The earliest scheduled job of the queue is due in `nextDueMs` (negative: none is scheduled). */
  schedule(nextDueMs: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (nextDueMs < 0 || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.stopped) return;
      this.p.redis.rpush(this.p.notifyKey, '1').catch((err: unknown) => {
        // Refused on every due time while Redis refuses writes (the next fetch promotes the job anyway): rate-limited.
        if (performance.now() - this.reportedAt < DUE_REPORT_EVERY_MS) return;
        this.reportedAt = performance.now();
        this.p.reportError(err, 'waking workers for a due job');
      });
    }, Math.min(nextDueMs, MAX_DUE_TIMER_MS));
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
