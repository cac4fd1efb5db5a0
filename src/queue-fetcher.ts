import type { QueueKeys } from './keys.js';
import { release, type OwnedConnection } from './redis.js';
import type { JobRun, WorkerCore } from './worker.js';

const RETRY_AFTER_ERROR_MS = [100, 250, 500, 1_000, 2_000];
/** Acknowledgements wait at most this long for a fetch to ride on before they go by themselves. */
const ACK_DELAY_MS = 10;
/** …or until this many are waiting. */
const ACK_BATCH = 64;
const MAX_DUE_TIMER_MS = 60_000;

/**
 * The fetch loop of one queue. While the worker has free slots it leases jobs with one Lua call that also
 * acknowledges finished jobs; when the queue is empty it blocks in BLPOP on the queue's wake-up list (its own
 * connection), so an idle worker sends a command every few seconds and a new job starts within a round trip.
 * A local timer wakes it when the earliest scheduled job is due, because Redis times blocked reads out in steps of
 * about 100 ms.
 */
export class QueueFetcher {
  private pendingAcks: JobRun[] = [];
  private wake: (() => void) | undefined;
  private endPause: (() => void) | undefined;
  private kickQueued = false;
  private mustFetch = false;
  private blocked = false;
  /** True while the queue looked empty: the loop is blocked waiting for a wake-up. */
  idle = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private dueTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private errors = 0;
  private firstAckAt = 0;
  private ackTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly worker: WorkerCore,
    private readonly keys: QueueKeys,
    private readonly blocking: OwnedConnection,
    private readonly idleBlockMs: number,
  ) {}

  start(): void {
    this.loop = this.run().catch((err: unknown) => this.worker.reportError(err, `fetch loop of queue "${this.keys.queue}" stopped`));
  }

  /** Wakes the loop soon (slots freed or acks waiting); calls in the same turn of the event loop coalesce. */
  kick(): void {
    if (this.kickQueued) return;
    this.kickQueued = true;
    setImmediate(() => {
      this.kickQueued = false;
      const w = this.wake;
      this.wake = undefined;
      w?.();
    });
  }

  /** Queues a finished job's acknowledgement; it rides on the next fetch, or goes alone if the loop is blocked. */
  ack(run: JobRun): void {
    if (this.pendingAcks.length === 0) this.firstAckAt = performance.now();
    this.pendingAcks.push(run);
    if (this.blocked || this.stopped) void this.flushAcks();
    else this.kick();
  }

  /** Sends pending acknowledgements now (used while the loop is blocked, and at shutdown). */
  flushAcks(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const acks = this.pendingAcks.splice(0);
      if (acks.length === 0) return;
      try {
        const res = await this.worker.track(this.fetch(0, acks));
        this.worker.acked(acks, res.staleAcks);
      } catch (err) {
        this.pendingAcks.unshift(...acks);
        this.worker.reportError(err, `acknowledging ${acks.length} job(s) in queue "${this.keys.queue}"`);
      }
    });
    return this.flushing;
  }

  private fetch(want: number, acks: readonly JobRun[]) {
    const w = this.worker;
    return w.scripts.fetch(this.keys, w.typesOf(this.keys.queue), want, w.leaseMs, w.keepCount, w.keepAgeMs, acks);
  }

  private waitForKick(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Wakes the loop when the oldest waiting acknowledgement has waited long enough. */
  private armAckTimer(): void {
    if (this.ackTimer !== undefined) return;
    const wait = Math.max(0, ACK_DELAY_MS - (performance.now() - this.firstAckAt));
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      this.kick();
    }, wait);
  }

  /**
   * One call leases jobs and acknowledges finished ones. Calls have a fixed cost in Redis, so the loop makes them
   * big: it fetches when the worker's buffer of leased-ahead jobs runs low (not on every finished job), and lets
   * acknowledgements wait for that call — at most ACK_DELAY_MS or ACK_BATCH of them.
   */
  private async run(): Promise<void> {
    while (!this.stopped) {
      const acksDue =
        this.pendingAcks.length >= ACK_BATCH ||
        (this.pendingAcks.length > 0 && performance.now() - this.firstAckAt >= ACK_DELAY_MS);
      const want = this.mustFetch || this.worker.wantsJobs() ? this.worker.reserveCapacity(this.keys.queue) : 0;
      if (want === 0 && !acksDue && !this.mustFetch) {
        if (this.pendingAcks.length > 0) this.armAckTimer();
        await this.waitForKick();
        continue;
      }
      const acks = this.pendingAcks.splice(0);
      this.mustFetch = false;
      let res;
      try {
        res = await this.fetch(want, acks);
        this.errors = 0;
      } catch (err) {
        this.worker.releaseCapacity(this.keys.queue, want, 0);
        this.pendingAcks.unshift(...acks);
        if (this.stopped) return;
        this.worker.reportError(err, `fetching from queue "${this.keys.queue}"`);
        await this.pause(RETRY_AFTER_ERROR_MS[Math.min(this.errors++, RETRY_AFTER_ERROR_MS.length - 1)] as number);
        continue;
      }
      this.worker.releaseCapacity(this.keys.queue, want, res.jobs.length);
      if (res.jobs.length > 0) this.idle = false;
      if (acks.length > 0) this.worker.acked(acks, res.staleAcks);
      if (this.stopped) {
        // Leased during shutdown: take them anyway so close() hands them back rather than leaving them to expire.
        this.worker.accept(this.keys.queue, res.jobs);
        return;
      }
      this.worker.accept(this.keys.queue, res.jobs);
      this.scheduleDue(res.nextDueMs);
      if (want > 0 && res.jobs.length === want) continue; // likely more waiting
      // A fetch that only acknowledged says nothing about the queue being empty: go back to waiting for slots.
      if (want === 0) continue;
      if (this.pendingAcks.length > 0) continue;
      if (!this.worker.hasFreeCapacity()) continue; // wait for a slot, then fetch
      await this.block();
    }
  }

  /** Blocks until a wake-up token arrives or the idle timeout passes. */
  private async block(): Promise<void> {
    this.blocked = true;
    this.idle = true;
    // This queue's share of the slots is free for the others now.
    this.worker.kickFetchers();
    if (this.pendingAcks.length > 0) void this.flushAcks();
    try {
      const token = await this.blocking.redis.blpop(this.keys.notify, this.idleBlockMs / 1000);
      if (token !== null) {
        this.mustFetch = true;
        this.idle = false;
      }
    } catch (err) {
      if (this.stopped) return;
      this.worker.reportError(err, `waiting on queue "${this.keys.queue}"`);
      await this.pause(RETRY_AFTER_ERROR_MS[Math.min(this.errors++, RETRY_AFTER_ERROR_MS.length - 1)] as number);
    } finally {
      this.blocked = false;
    }
  }

  /** At the earliest due time, push a wake-up token so some idle worker promotes the job. */
  private scheduleDue(nextDueMs: number): void {
    if (this.dueTimer !== undefined) clearTimeout(this.dueTimer);
    this.dueTimer = undefined;
    if (nextDueMs < 0 || this.stopped) return;
    this.dueTimer = setTimeout(() => {
      this.dueTimer = undefined;
      if (this.stopped) return;
      this.worker.scripts.redis.rpush(this.keys.notify, '1').catch((err: unknown) => this.worker.reportError(err, 'waking workers for a due job'));
    }, Math.min(nextDueMs, MAX_DUE_TIMER_MS));
    this.dueTimer.unref();
  }

  /** Waits after an error; only stop() cuts it short (kicks must not turn a failing Redis call into a busy loop). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.endPause = undefined;
        resolve();
      }, ms);
      this.endPause = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Stops the loop: cuts off a blocked read and waits for the current call to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.dueTimer !== undefined) clearTimeout(this.dueTimer);
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    if (this.blocked) this.blocking.redis.disconnect();
    const w = this.wake;
    this.wake = undefined;
    w?.();
    this.endPause?.();
    await this.loop;
  }

  /** Closes the blocking connection. */
  async closeConnection(): Promise<void> {
    this.blocking.redis.disconnect();
    await release(this.blocking);
  }
}
