/**
 * Waiting for job results (docs/results.md, "How waiting works"). One subscriber connection per client, opened at the
 * first wait and closed by `client.close()`, subscribed to the results channel of each queue waited on (a channel
 * per queue, published only for jobs whose type declares a result). A wait:
 *
 * 1. registers itself and subscribes to its queue's channel (waits for the subscription to be confirmed);
 * 2. then reads the stored state (`result.lua`: the result, or what became of the job, in one step) — so an outcome
 *    recorded before the subscription is found by the read, and one recorded after it by the message;
 * 3. reads again on each announcement for its id, on every reconnection of the subscriber (messages may have been
 *    lost), and on a bounded poll (every 0.5 s at first, doubling up to every 5 s): it can miss nothing for longer
 *    than the poll interval, and it ends with a result or a typed error — or at its `timeout` or `signal`.
 */
import { Cluster, ReplyError, type Redis } from 'ioredis';
import { toMs, type Duration } from './durations.js';
import {
  JobCancelledError,
  JobDeadError,
  JobNotFoundError,
  ResultExpiredError,
  ResultTimeoutError,
  ResultWaitAbortedError,
  type ResultWaitError,
} from './errors.js';
import { parseDeadInfo } from './dead-letters.js';
import { resultChannel, resultKey, type QueueKeys } from './keys.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';
import { readResult, type ResultJob } from './result.js';
import type { RawResult, Scripts } from './scripts.js';

/** Options of one wait for a result. */
export interface ResultWaitOptions {
  /**
   * Longest to wait; then the promise rejects with `ResultTimeoutError` (the job is not cancelled: it may still
   * complete, and a later wait gets its result). Default: no limit.
   */
  readonly timeout?: Duration;
  /** Aborts the wait (rejects with `ResultWaitAbortedError`, the signal's reason as its cause); the job is not cancelled. */
  readonly signal?: AbortSignal;
}

/** The first poll interval of a wait (ms); it doubles up to {@link MAX_POLL_MS}. */
export const FIRST_POLL_MS = 500;
/** The longest interval between two reads of a waited-for job's state (ms), whatever happens to pub/sub. */
export const MAX_POLL_MS = 5_000;

/** The longest delay a Node timer holds (2^31 - 1 ms, about 24.8 days); a longer one would fire after 1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/** Refusals that pass: Redis loading its data, busy with a long script, a cluster failing over or resharding. */
const PASSING_REFUSAL = /^(Too many Cluster redirections\. Last error: ReplyError: )?(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|MOVED|ASK|NOSCRIPT)\b/;

/** Whether a read failed because Redis answered with an error that the next read would get again. */
export function refusedForGood(err: unknown): boolean {
  return err instanceof ReplyError && !PASSING_REFUSAL.test((err as Error).message);
}

/** What the waiters need from the client. */
export interface ResultWaitersParams {
  readonly scripts: Scripts;
  /** The connection the subscriber is duplicated from. */
  readonly redis: RedisConnection;
  /** Reads through the client's time limit and error mapping. */
  limit<T>(call: () => Promise<T>, what: string): Promise<T>;
  readonly logger: Logger;
}

interface Waiter {
  readonly job: ResultJob;
  readonly id: string;
  /** Its queue's results channel. */
  readonly channel: string;
  resolve(value: unknown): void;
  reject(err: ResultWaitError | Error): void;
  /**
   * Checks now (coalesced: one read in flight per waiter, one more if asked meanwhile). `cancelled`: a cancel was
   * announced, so a job found gone ends the wait with JobCancelledError rather than JobNotFoundError.
   */
  check(cancelled?: boolean): void;
}

/** The waits of one client. */
export class ResultWaiters {
  private sub: RedisConnection | undefined;
  /** Channel → its subscription (confirmed when the promise resolves). */
  private readonly channels = new Map<string, Promise<unknown>>();
  /** Channel → job id → its waiters. */
  private readonly waiting = new Map<string, Map<string, Set<Waiter>>>();
  private closed = false;
  /** Reads asked since the current turn began (reset by a microtask after the first): see {@link read}. */
  private readsThisTurn = 0;

  constructor(private readonly p: ResultWaitersParams) {}

  /** Waits for the result of job `id` of type `job` in the queue of `k`. */
  wait(job: ResultJob, k: QueueKeys, id: string, options: ResultWaitOptions = {}): Promise<unknown> {
    const what = `the result of job "${job.name}" (id ${JSON.stringify(id)})`;
    let timeoutMs: number | undefined;
    try {
      timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout, `waiting for ${what}`, 'timeout');
    } catch (err) {
      return Promise.reject(err); // a bad timeout rejects like every other outcome of the wait
    }
    const signal = options.signal;
    const channel = resultChannel(k);
    if (signal?.aborted === true) return Promise.reject(new ResultWaitAbortedError(job.name, id, signal.reason));
    if (this.closed) return Promise.reject(new ResultWaitAbortedError(job.name, id, new Error('the client is closed')));
    return new Promise<unknown>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      let poll: NodeJS.Timeout | undefined;
      let pollMs = FIRST_POLL_MS;
      let reading = false;
      let again = false;
      /** Cancels announced for the id that no read has since found the id live again after. */
      let cancels = 0;
      const finish = (): void => {
        done = true;
        if (timer !== undefined) clearTimeout(timer);
        if (poll !== undefined) clearTimeout(poll);
        signal?.removeEventListener('abort', onAbort);
        this.forget(waiter);
      };
      const onAbort = (): void => waiter.reject(new ResultWaitAbortedError(job.name, id, signal?.reason));
      const schedulePoll = (): void => {
        if (done) return;
        if (poll !== undefined) clearTimeout(poll);
        poll = setTimeout(() => {
          poll = undefined;
          waiter.check();
        }, pollMs);
        pollMs = Math.min(pollMs * 2, MAX_POLL_MS);
      };
      const waiter: Waiter = {
        job,
        id,
        channel,
        resolve: (value) => {
          if (done) return;
          finish();
          resolve(value);
        },
        reject: (err) => {
          if (done) return;
          finish();
          reject(err);
        },
        check: (cancelled) => {
          if (done) return;
          if (cancelled === true) cancels++;
          if (reading) {
            again = true;
            return;
          }
          reading = true;
          // A cancel announced before this read began: unless the id is live again, the run waited for was the one
          // cancelled (a result found now is an earlier run's), so the wait ends with JobCancelledError.
          const cancelsBefore = cancels;
          const afterCancel = cancelsBefore > 0;
          this.read(job, k, id, what).then(
            (outcome) => {
              reading = false;
              if (outcome !== undefined) {
                if (afterCancel) waiter.reject(new JobCancelledError(job.name, id));
                else if ('error' in outcome) waiter.reject(outcome.error);
                else waiter.resolve(outcome.value);
                return;
              }
              // Live: the cancel was announced before the id was enqueued again (or was not one of ours).
              cancels -= cancelsBefore;
              if (again) {
                again = false;
                waiter.check();
              } else schedulePoll();
            },
            (err: unknown) => {
              // Redis answered with an error that a later read would get again (a key of the wrong type, an ACL
              // denial, a script error): the wait ends with it rather than polling for ever without a word.
              if (refusedForGood(err)) {
                waiter.reject(err as Error);
                return;
              }
              // Redis unreachable or slow: the next poll reads again (the wait's own timeout still bounds it).
              reading = false;
              again = false;
              this.p.logger.debug(`reading ${what} failed, trying again: ${(err as Error)?.message ?? String(err)}`);
              schedulePoll();
            },
          );
        },
      };
      if (timeoutMs !== undefined) {
        // A timer holds at most MAX_TIMER_MS (Node fires a longer one after 1 ms): a longer timeout is waited in steps.
        const deadline = performance.now() + timeoutMs;
        const arm = (ms: number): void => {
          timer = setTimeout(() => {
            const left = deadline - performance.now();
            if (left > 0) arm(Math.min(left, MAX_TIMER_MS));
            else waiter.reject(new ResultTimeoutError(job.name, id, timeoutMs));
          }, ms);
        };
        arm(Math.min(timeoutMs, MAX_TIMER_MS));
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.register(waiter);
      // The poll runs from now, not from the first read: a subscription that is never confirmed (the subscriber
      // cannot connect, on a connection whose commands wait for ever) must not keep the wait from reading.
      schedulePoll();
      // Subscribed first, then read: whatever happens after the read is announced to us.
      this.subscribe(channel).then(
        () => waiter.check(),
        (err: unknown) => {
          this.p.logger.debug(`subscribing to ${channel} failed (polling meanwhile): ${(err as Error)?.message ?? String(err)}`);
          waiter.check();
        },
      );
    });
  }

  /** Ends every wait (rejected with `ResultWaitAbortedError`) and closes the subscriber connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const byId of this.waiting.values()) {
      for (const set of byId.values()) {
        for (const w of [...set]) w.reject(new ResultWaitAbortedError(w.job.name, w.id, new Error('the client was closed')));
      }
    }
    const sub = this.sub;
    this.sub = undefined;
    this.channels.clear();
    // Closed at once, not with QUIT: a subscriber has nothing to flush, and a QUIT on a connection that is not up
    // (Redis down, reconnecting) waits in its offline queue for ever when its commands have no retry limit.
    sub?.disconnect();
  }

  /** The job's outcome as stored now, or undefined while it is still live. */
  private async read(job: ResultJob, k: QueueKeys, id: string, what: string): Promise<{ value: unknown } | { error: Error } | undefined> {
    // The first read of a turn is sent at once, outside the connection's auto-pipelining (scripts.ts RESULT_NOW): it
    // is usually the one a waiter is waiting on (after its announcement, or the job ended before the wait began), and
    // auto-pipelining would hold it until setImmediate and build a pipeline object for it alone. Reads asked later in
    // the same turn (a burst of announcements, every wait after a reconnection) still go together, auto-pipelined.
    const now = this.readsThisTurn++ === 0;
    if (now) queueMicrotask(() => (this.readsThisTurn = 0));
    const raw: RawResult = await this.p.limit(() => this.p.scripts.result(k, { result: resultKey(k, id), id }, now), `reading ${what}`);
    switch (raw.state) {
      case 'live':
        return undefined;
      case 'result': {
        const read = readResult(job, id, raw.json);
        return 'value' in read ? read : { error: read };
      }
      case 'dead': {
        const info = parseDeadInfo(raw.info);
        return { error: new JobDeadError(job.name, id, info.reason, info.error) };
      }
      case 'expired':
        return { error: new ResultExpiredError(job.name, id) };
      case 'unknown':
        return { error: new JobNotFoundError(job.name, id) };
    }
  }

  private register(w: Waiter): void {
    let byId = this.waiting.get(w.channel);
    if (byId === undefined) this.waiting.set(w.channel, (byId = new Map()));
    let set = byId.get(w.id);
    if (set === undefined) byId.set(w.id, (set = new Set()));
    set.add(w);
  }

  private forget(w: Waiter): void {
    const byId = this.waiting.get(w.channel);
    const set = byId?.get(w.id);
    if (set === undefined) return;
    set.delete(w);
    if (set.size === 0) byId?.delete(w.id);
  }

  /** The subscriber connection, opened at the first wait. */
  private subscriber(): RedisConnection {
    if (this.sub !== undefined) return this.sub;
    const sub = this.p.redis instanceof Cluster ? this.p.redis.duplicate() : (this.p.redis as Redis).duplicate();
    sub.on('error', (err: Error) => this.p.logger.debug(`the result subscriber connection: ${err.message}`));
    sub.on('message', (channel: string, message: string) => this.announced(channel, message));
    // After a reconnection ioredis subscribes again, but what was published meanwhile is lost: read every wait again.
    let connectedBefore = false;
    sub.on('ready', () => {
      if (connectedBefore) this.checkAll();
      connectedBefore = true;
    });
    this.sub = sub;
    return sub;
  }

  /** Subscribes to `channel` once per client (kept until close: one channel per queue waited on). */
  private subscribe(channel: string): Promise<unknown> {
    let s = this.channels.get(channel);
    if (s === undefined) {
      s = this.subscriber().subscribe(channel);
      s.catch(() => this.channels.delete(channel));
      this.channels.set(channel, s);
    }
    return s;
  }

  /**
   * A message on a results channel: `r` (result stored) / `d` (dead) / `c` (cancelled), then the job id. Each only
   * makes its waiters read the stored state, which decides: a message may arrive after the id was enqueued again
   * (pub/sub and commands travel on different connections), and anyone allowed to PUBLISH can send one.
   */
  private announced(channel: string, message: string): void {
    const set = this.waiting.get(channel)?.get(message.slice(1));
    if (set === undefined) return;
    const cancelled = message[0] === 'c';
    for (const w of [...set]) w.check(cancelled);
  }

  private checkAll(): void {
    for (const byId of this.waiting.values()) for (const set of byId.values()) for (const w of [...set]) w.check();
  }
}
