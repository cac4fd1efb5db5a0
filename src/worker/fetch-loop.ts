import { randomBytes } from 'node:crypto';
import { unblockKey, type QueueKeys } from '../keys.js';
import { release, type OwnedConnection, type RedisConnection } from '../redis.js';
import { RedisOutOfMemoryError, RedisUnavailableError } from '../errors.js';
import { Scripts, type FetchResult, type HandoffWrite, type HistoryWrite, type LeasedJob, type ResultWrite } from '../scripts.js';
import type { ThrottledType } from '../throttle.js';
import type { JobRun } from './job-run.js';
import type { AckCarrier } from './completer.js';
import { DueWakeup } from './due-wakeup.js';

const RETRY_AFTER_ERROR_MS = [100, 250, 500, 1_000, 2_000];
/** The wait after the n-th failure in a row (from 0), growing to 2 s. */
const retryDelayAfter = (n: number): number => RETRY_AFTER_ERROR_MS[Math.min(n, RETRY_AFTER_ERROR_MS.length - 1)] as number;
/** Acknowledgements wait at most this long for a fetch to ride on before they go by themselves. */
const ACK_DELAY_MS = 10;
/** …or until this many are waiting. */
const ACK_BATCH = 64;
/** At shutdown, how long to wait for a parked fetch's answer after ending its read, before disconnecting. */
const UNPARK_WAIT_MS = 1_000;
/** How long an unblock push outlives a read that had already returned (then nothing pops it). */
const UNBLOCK_TTL_MS = 10_000;

/**
 * What a fetch loop needs from its worker: slots to fill, somewhere to hand the leased jobs, and the worker's error
 * reporting. The loop knows nothing else of the worker.
 */
export interface FetchLoopHost {
  /** Reserves up to `max` slots for a fetch from `queue`; 0 when none is free or the worker is stopping. */
  reserveSlots(queue: string, max?: number): number;
  /** Returns `n` reserved slots once the fetch answered; `used` of them were filled. */
  releaseSlots(queue: string, n: number, used: number): void;
  /** Whether a fetch is worth making now: a slot is free and the buffer of leased-ahead jobs is low. */
  wantsJobs(): boolean;
  /** Whether a fetch now could take at least one job. */
  hasFreeSlots(): boolean;
  /** The most one fetch asks for. */
  batchMax(): number;
  /** Jobs leased ahead and not started yet. */
  readonly bufferedCount: number;
  /** The queue looks empty (true), or has jobs again (false). */
  setIdle(queue: string, idle: boolean): void;
  /** The queue was found empty: the worker may shrink its automatic prefetch. */
  queueDrained(): void;
  /** Wakes every fetch loop (this queue's share of the slots is free for the others). */
  kickFetchers(): void;
  /** Takes jobs leased by a call sent at `sentAt` (performance.now() time). */
  accept(queue: string, leased: readonly LeasedJob[], sentAt: number): void;
  /** Tracks a Redis call that close() must wait for. */
  track<T>(promise: Promise<T>): Promise<T>;
  reportError(err: unknown, what: string): void;
}

/** The completions waiting for a fetch call to carry them (kept by the completer: see AckBatch). */
export interface PendingAcks {
  readonly length: number;
  /** When the oldest waiting one was added (performance.now() time). */
  readonly firstAt: number;
  take(): JobRun[];
  putBack(runs: readonly JobRun[]): void;
  /** A call carrying `runs` was answered; `stale` were refused. */
  recorded(runs: readonly JobRun[], stale: readonly string[]): void;
  /** The history counters of `runs`, aggregated per job type, for the call that carries them (none: no history). */
  historyOf?(runs: readonly JobRun[]): HistoryWrite | undefined;
  /**
   * A waiting completion carries a result (docs/results.md): someone may be waiting for it, so it goes now rather
   * than after the coalescing delay (with whatever else is waiting).
   */
  readonly urgent?: boolean;
  /** The results to store with `runs`' acks (docs/results.md); undefined when none of the queue's types has one. */
  resultsOf?(runs: readonly JobRun[]): readonly ResultWrite[] | undefined;
  /** The chain hand-offs to record with `runs`' acks (docs/results.md, "Chains"); undefined when there are none. */
  handoffsOf?(runs: readonly JobRun[]): readonly HandoffWrite[] | undefined;
}

/** How a fetch loop is set up (its params). */
export interface FetchLoopParams {
  readonly keys: QueueKeys;
  /** The scripts on the command connection. */
  readonly scripts: Scripts;
  /** The loop's own connection for the blocking read. */
  readonly blocking: OwnedConnection;
  /** How long one blocking read lasts (ms). */
  readonly idleBlockMs: number;
  /** Whether a fetch for the free slots rides behind the blocking read (else the loop fetches after waking). */
  readonly park: boolean;
  /** The queue's throttled job types. */
  readonly types: readonly ThrottledType[];
  readonly leaseMs: number;
  readonly keepCount: number;
  readonly keepAgeMs: number;
  readonly maxDead: number;
  readonly maxEnvelopeBytes: number;
  /** The queue's completions waiting to be recorded. */
  readonly acks: PendingAcks;
}

/** A fetch on its way: the slots it reserved, the completions it carries, when it was sent (performance.now()). */
interface FetchCall {
  readonly want: number;
  readonly acks: JobRun[];
  /** The leases it grants last in Redis at least until sentAt + leaseMs (Redis sets them when the call runs). */
  readonly sentAt: number;
  readonly answer: Promise<FetchResult>;
}

/**
 * The fetch loop of one queue. While the worker has free slots it leases jobs with one Lua call that also
 * acknowledges finished jobs; when the queue is empty it blocks in BLPOP on the queue's wake-up list (its own
 * connection), so an idle worker sends a command every few seconds. The fetch is *parked* behind that BLPOP on the
 * same connection: Redis runs it the moment the pop returns, so a job that wakes an idle worker reaches it in one
 * round trip, not two. A local timer wakes the loop when the earliest scheduled job is due, because Redis times
 * blocked reads out in steps of about 100 ms.
 */
export class FetchLoop implements AckCarrier {
  private wake: (() => void) | undefined;
  private endPause: (() => void) | undefined;
  private kickQueued = false;
  private mustFetch = false;
  private blocked = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly due: DueWakeup;
  private flushing: Promise<void> = Promise.resolve();
  /** A fetch sent before the previous answer was taken in (see run). */
  private ahead: FetchCall | undefined;
  private errors = 0;
  /** Consecutive times a loop found one of its connections closed for good (status 'end'). */
  private endedErrors = 0;
  /** A leasing fetch was refused at maxmemory and reported: not again until one succeeds. */
  private oomReported = false;
  private ackTimer: NodeJS.Timeout | undefined;
  /** The scripts on the blocking connection, for the fetch parked behind the BLPOP (undefined: no parking). */
  private readonly parkScripts: Scripts | undefined;
  /** This loop's own list beside the wake-up list: close() pushes to it to end the blocking read. */
  private readonly unblockKey: string;

  private readonly keys: QueueKeys;
  private readonly queue: string;
  private readonly blocking: OwnedConnection;
  private readonly scripts: Scripts;
  private readonly pendingAcks: PendingAcks;

  constructor(
    private readonly host: FetchLoopHost,
    private readonly p: FetchLoopParams,
  ) {
    this.keys = p.keys;
    this.queue = p.keys.queue;
    this.blocking = p.blocking;
    this.scripts = p.scripts;
    this.pendingAcks = p.acks;
    this.parkScripts = p.park ? new Scripts(p.blocking.redis) : undefined;
    this.unblockKey = unblockKey(p.keys, randomBytes(8).toString('hex'));
    this.due = new DueWakeup({ redis: p.scripts.redis, notifyKey: p.keys.notify, reportError: (err, what) => host.reportError(err, what) });
  }

  start(): void {
    this.loop = this.run()
      .catch((err: unknown) => this.host.reportError(err, `fetch loop of queue "${this.queue}" stopped`))
      .finally(() => this.dropAhead());
  }

  /** A call sent ahead that the loop will not take in (it ended on an error): take its jobs in, or free its slots. */
  private dropAhead(): void {
    const call = this.ahead;
    this.ahead = undefined;
    if (call === undefined) return;
    call.answer.then(
      (res) => this.took(call.want, call.acks, res, call.sentAt),
      () => {
        this.host.releaseSlots(this.queue, call.want, 0);
        this.pendingAcks.putBack(call.acks);
      },
    );
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

  /**
   * A finished job's acknowledgement is waiting (`count` in all). It rides on the next fetch — while the loop is
   * blocked, that is the fetch a wake-up starts — or goes on its own after at most ACK_DELAY_MS (or once ACK_BATCH
   * are waiting, or at once when one carries a result: someone may be waiting for it).
   */
  acksWaiting(count: number): void {
    if (this.stopped || (this.blocked && (count >= ACK_BATCH || this.pendingAcks.urgent === true))) void this.flushAcks();
    else if (this.blocked) this.armAckTimer();
    else this.kick();
  }

  /** Sends pending acknowledgements now (used while the loop is blocked, and at shutdown). */
  flushAcks(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const acks = this.pendingAcks.take();
      if (acks.length === 0) return;
      try {
        const res = await this.host.track(this.fetch(0, acks));
        this.pendingAcks.recorded(acks, res.staleAcks);
      } catch (err) {
        this.pendingAcks.putBack(acks);
        this.host.reportError(err, `acknowledging ${acks.length} job(s) in queue "${this.queue}"`);
      }
    });
    return this.flushing;
  }

  private fetch(want: number, acks: readonly JobRun[]): Promise<FetchResult> {
    return this.fetchOn(this.scripts, want, acks);
  }

  private fetchOn(scripts: Scripts, want: number, acks: readonly JobRun[]): Promise<FetchResult> {
    const p = this.p;
    return scripts.fetch(this.keys, {
      types: p.types,
      want,
      leaseMs: p.leaseMs,
      keepCount: p.keepCount,
      keepAgeMs: p.keepAgeMs,
      acks,
      maxDead: p.maxDead,
      maxEnvelopeBytes: p.maxEnvelopeBytes,
      // The acknowledged runs' history rides on the same call: a few counters per job type.
      history: acks.length === 0 ? undefined : this.pendingAcks.historyOf?.(acks),
      // Results ride along too (only for queues with a job type that declares one).
      results: acks.length === 0 ? undefined : this.pendingAcks.resultsOf?.(acks),
      handoffs: acks.length === 0 ? undefined : this.pendingAcks.handoffsOf?.(acks),
    });
  }

  private waitForKick(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  /** Wakes the loop when the oldest waiting acknowledgement has waited long enough. */
  private armAckTimer(): void {
    if (this.ackTimer !== undefined) return;
    const wait = Math.max(0, ACK_DELAY_MS - (performance.now() - this.pendingAcks.firstAt));
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      if (this.blocked) void this.flushAcks();
      else this.kick();
    }, wait);
  }

  /**
   * One call leases jobs and acknowledges finished ones. Calls have a fixed cost in Redis, so the loop makes them
   * big: it fetches when the worker's buffer of leased-ahead jobs runs low (not on every finished job), and lets
   * acknowledgements wait for that call — at most ACK_DELAY_MS or ACK_BATCH of them. A call asks for at most half
   * the slots, and when one comes back full to a worker that ran dry meanwhile, the next is sent, for the slots then
   * free, before its jobs are decoded and run: Redis prepares a batch while the worker runs one. One call is
   * outstanding at a time.
   */
  private async run(): Promise<void> {
    for (;;) {
      let call = this.ahead;
      this.ahead = undefined;
      if (call === undefined) {
        if (this.stopped) return;
        if (!isUp(this.scripts.redis)) {
          await this.linkUp(this.scripts.redis, 'command');
          continue;
        }
        const acksDue =
          this.pendingAcks.length >= ACK_BATCH ||
          this.pendingAcks.urgent === true ||
          (this.pendingAcks.length > 0 && performance.now() - this.pendingAcks.firstAt >= ACK_DELAY_MS);
        const want = this.mustFetch || this.host.wantsJobs() ? this.host.reserveSlots(this.queue, this.host.batchMax()) : 0;
        if (want === 0 && !acksDue && !this.mustFetch) {
          if (this.pendingAcks.length > 0) this.armAckTimer();
          await this.waitForKick();
          continue;
        }
        this.mustFetch = false;
        call = this.send(want);
      }
      const { want, acks, sentAt } = call;
      let res;
      try {
        res = await call.answer;
        this.errors = 0;
        if (want > 0) this.oomReported = false;
      } catch (err) {
        this.host.releaseSlots(this.queue, want, 0);
        this.pendingAcks.putBack(acks);
        if (this.stopped) continue; // ends the loop once no call is ahead
        this.report(err, `fetching from queue "${this.queue}"`);
        // Redis refuses leasing at maxmemory but not acknowledging (which frees memory): send the acks alone.
        if (err instanceof RedisOutOfMemoryError && this.pendingAcks.length > 0) await this.flushAcks();
        await this.pause(retryDelayAfter(this.errors++));
        continue;
      }
      const full = want > 0 && res.jobs.length === want;
      if (full && !this.stopped && this.host.bufferedCount === 0) {
        // Likely more waiting, and the worker ran out of leased-ahead jobs while this call was out: it runs jobs
        // faster than Redis answers (short handlers may all finish within one turn of the event loop). Ask for the
        // next batch now, before this one is decoded and run, so Redis prepares it while the worker works. This
        // answer's jobs still hold the slots reserved for them, so the two batches never exceed the capacity.
        // (Timer-paced jobs, which still have a buffer when the answer comes, keep fetching at the low-water mark:
        // fewer calls, and fewer answers waking the event loop between their timers.)
        const next = this.host.reserveSlots(this.queue, this.host.batchMax());
        if (next > 0) this.ahead = this.send(next);
      }
      if (!this.took(want, acks, res, sentAt)) continue; // stopping: take the answer of a call ahead too, then end
      if (full) continue;
      // A fetch that only acknowledged says nothing about the queue being empty: go back to waiting for slots.
      if (want === 0) continue;
      if (this.pendingAcks.length > 0) continue;
      // Block while the queue stays empty: a parked fetch that found fewer jobs than it asked for drained it.
      while (!this.stopped && this.host.hasFreeSlots() && (await this.block()) === 'drained');
    }
  }

  /** Sends a fetch for `want` jobs carrying the completions waiting now. */
  private send(want: number): FetchCall {
    const acks = this.pendingAcks.take();
    return { want, acks, sentAt: performance.now(), answer: this.fetch(want, acks) };
  }

  /** Applies the answer of a fetch sent at `sentAt`. False when the loop is stopping. */
  private took(want: number, acks: readonly JobRun[], res: FetchResult, sentAt: number): boolean {
    this.host.releaseSlots(this.queue, want, res.jobs.length);
    if (res.jobs.length > 0) this.host.setIdle(this.queue, false);
    if (acks.length > 0) this.pendingAcks.recorded(acks, res.staleAcks);
    // Jobs leased during shutdown are taken too, so close() hands them back rather than leaving them to expire.
    this.host.accept(this.queue, res.jobs, sentAt);
    if (this.stopped) return false;
    this.due.schedule(res.nextDueMs);
    return true;
  }

  /**
   * Blocks until a wake-up token arrives or the idle timeout passes, with a fetch parked behind the BLPOP when slots
   * allow. Returns 'drained' when that fetch took fewer jobs than it asked for (block again: the queue is empty),
   * 'fetch' when the loop should fetch now.
   */
  private async block(): Promise<'drained' | 'fetch'> {
    if (!isUp(this.blocking.redis)) {
      await this.linkUp(this.blocking.redis, 'blocking');
      return 'fetch';
    }
    this.blocked = true;
    this.host.setIdle(this.queue, true);
    // This queue's share of the slots is free for the others now.
    this.host.kickFetchers();
    // A completion that carries a result goes now (someone may be waiting for it); others within ACK_DELAY_MS.
    if (this.pendingAcks.urgent === true) void this.flushAcks();
    else if (this.pendingAcks.length > 0) this.armAckTimer();
    // The queue looks empty: a deep automatic prefetch from a burst of short jobs ends here, so a parked fetch does
    // not take a next burst's jobs away from other idle workers.
    this.host.queueDrained();
    const want = this.parkScripts === undefined ? 0 : this.host.reserveSlots(this.queue);
    // Sent back to back on the blocking connection: Redis holds the fetch until the pop returns, then runs it. Its
    // leases count from now (the read is kept short enough for that: see the worker).
    const sentAt = performance.now();
    const popped = this.blocking.redis.blpop(this.keys.notify, this.unblockKey, this.p.idleBlockMs / 1000);
    const parked = want > 0 ? this.fetchOn(this.parkScripts as Scripts, want, []) : undefined;
    parked?.catch(() => {}); // awaited below, also when the pop fails
    let failure: unknown;
    try {
      const woke = await popped;
      if (woke !== null && woke[0] === this.keys.notify) {
        this.mustFetch = true;
        this.host.setIdle(this.queue, false);
      }
    } catch (err) {
      failure = err;
    }
    let outcome: 'drained' | 'fetch' = 'fetch';
    if (parked !== undefined) {
      // Even when the pop failed, Redis may have run the fetch: take whatever it leased.
      try {
        const res = await parked;
        if (failure === undefined) this.errors = 0;
        this.oomReported = false;
        if (this.took(want, [], res, sentAt) && failure === undefined && res.jobs.length < want) {
          this.mustFetch = false;
          outcome = 'drained';
        }
      } catch (err) {
        this.host.releaseSlots(this.queue, want, 0);
        failure ??= err;
      }
    }
    this.blocked = false;
    if (failure !== undefined && !this.stopped) {
      this.report(failure, `waiting on queue "${this.queue}"`);
      await this.pause(retryDelayAfter(this.errors++));
    }
    return outcome;
  }

  /**
   * Waits until a connection that is down is up again (or stop()). Leases count from the moment a fetch is sent, so a
   * fetch is not left in the offline queue of a link that is down: its jobs would arrive with their leases spent.
   */
  private linkUp(redis: RedisConnection, which: 'command' | 'blocking'): Promise<void> {
    if (redis.status === 'end') {
      // Closed for good (a retryStrategy that gave up, a user's connection closed): no 'ready' will come. Say so
      // and retry with the usual backoff rather than wait in silence.
      if (this.stopped) return Promise.resolve();
      this.report(
        new RedisUnavailableError(
          `the ${which} connection to Redis is closed for good (status "end": its retryStrategy gave up, or it was closed); queue "${this.queue}" cannot be served`,
        ),
        `fetching from queue "${this.queue}"`,
      );
      // Its own count: a fetch on the other connection succeeding must not reset this backoff.
      return this.pause(retryDelayAfter(this.endedErrors++));
    }
    return new Promise((resolve) => {
      const done = (): void => {
        redis.off('ready', done);
        redis.off('end', done);
        this.endPause = undefined;
        resolve();
      };
      redis.once('ready', done);
      // Closed for good while waiting: the loop looks again and reports it.
      redis.once('end', done);
      this.endPause = done;
    });
  }

  /** Reports a failed fetch; a leasing fetch refused at maxmemory once, not on every retry. */
  private report(err: unknown, what: string): void {
    if (err instanceof RedisOutOfMemoryError) {
      if (this.oomReported) return;
      this.oomReported = true;
    }
    this.host.reportError(err, what);
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

  /**
   * Stops the loop: sends waiting completions, ends a blocked read (see unblock) and waits for the current call to
   * finish.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    this.due.stop();
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    // Completions already waiting go now, not after the running handlers (close() may wait long for those).
    if (this.pendingAcks.length > 0) void this.flushAcks();
    this.endPause?.();
    if (this.blocked) await this.unblock();
    const w = this.wake;
    this.wake = undefined;
    w?.();
    await this.loop;
  }

  /**
   * Ends a blocked read: a push to this loop's unblock list (from the command connection) makes it return, so a
   * fetch parked behind it answers and whatever it leased is handed back, and no wake-up token is lost with a cut
   * connection. The loop gets up to UNPARK_WAIT_MS for that; then (Redis unreachable) the read is cut off.
   */
  private async unblock(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => (timer = setTimeout(resolve, UNPARK_WAIT_MS)));
    this.scripts.redis
      .multi()
      .rpush(this.unblockKey, '1')
      .pexpire(this.unblockKey, UNBLOCK_TTL_MS)
      .exec()
      .catch(() => {}); // the wait covers a failure
    await Promise.race([this.loop, waited]);
    clearTimeout(timer);
    if (this.blocked) this.blocking.redis.disconnect();
  }

  /** Closes the blocking connection (at once: a blocked read has nothing to say goodbye to, and Redis may be gone). */
  async closeConnection(): Promise<void> {
    await release(this.blocking, 0);
  }
}

/** Whether commands sent on `redis` now go out at once ('wait': a lazy connection, which a command starts). */
function isUp(redis: RedisConnection): boolean {
  return redis.status === 'ready' || redis.status === 'wait';
}
