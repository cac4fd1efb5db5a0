/**
 * The completer: the one place that records how an attempt ended — success (acknowledged in batches that ride on
 * the next fetch call: see fetch-loop.ts), snooze, retry after backoff, or the dead letters — and emits the
 * matching events. What to do with a failure is decided by {@link decideFailure}, a pure function.
 */
import type { ResolvedJob } from '../define.js';
import { retryDelay } from '../backoff.js';
import { InvalidResultError, PermanentError, SnoozeSignal, storedErrorJson, toStoredError, type PayloadIssue, type StoredError } from '../errors.js';
import { deadInfoJson, type DeadInfo, type DeadReason } from '../dead-letters.js';
import type { JobRef, WorkerEvents } from '../events.js';
import { resultChannel, resultKey, type QueueKeys } from '../keys.js';
import type { Logger } from '../logger.js';
import type { Ack, ResultWrite, Scripts, Slot } from '../scripts.js';
import type { JobRun } from './job-run.js';
import { ackHistory, failureHistory, type RunTimes } from './history.js';
import type { ChainHandoffs } from './chain-handoff.js';
import type { Handoff } from '../chain.js';
import { faninFailure } from '../fan-in.js';
import type { HandoffWrite, HistoryWrite } from '../scripts.js';

/** What becomes of a failed attempt. */
export type FailureDecision =
  /** Run again after `delayMs`, the attempt given back (the handler called `ctx.snooze`). */
  | { readonly kind: 'snooze'; readonly delayMs: number }
  /** Run again after `delayMs` (the job's backoff); the attempt counts. */
  | { readonly kind: 'retry'; readonly delayMs: number }
  /** To the dead letters: a `PermanentError`, or the last attempt failed. */
  | { readonly kind: 'dead'; readonly reason: 'permanent_error' | 'attempts_exhausted' | 'invalid_result' };

/**
 * Decides what becomes of attempt `attempt` (1-based) of a job allowed `maxAttempts`, which ended with `err`: a
 * `SnoozeSignal` snoozes; a `PermanentError`, an `InvalidResultError` (the same code would return the same value) or a
 * failed last attempt goes to the dead letters; anything else is
 * retried after the job's backoff (`random` feeds its jitter).
 */
export function decideFailure(
  err: unknown,
  attempt: number,
  maxAttempts: number,
  backoff: ResolvedJob['backoff'],
  random: () => number = Math.random,
): FailureDecision {
  if (err instanceof SnoozeSignal) return { kind: 'snooze', delayMs: err.delayMs };
  if (err instanceof PermanentError) return { kind: 'dead', reason: 'permanent_error' };
  if (err instanceof InvalidResultError) return { kind: 'dead', reason: 'invalid_result' };
  if (attempt >= maxAttempts) return { kind: 'dead', reason: 'attempts_exhausted' };
  return { kind: 'retry', delayMs: retryDelay(backoff, attempt, random) };
}

/** The worker's events, as the completer emits them. */
export interface EventSink {
  emit<K extends keyof WorkerEvents>(event: K, ...args: Parameters<WorkerEvents[K]>): void;
  listenerCount(event: keyof WorkerEvents): number;
}

/** What the completer needs from the worker (its params). */
export interface CompleterParams {
  readonly scripts: Scripts;
  readonly keys: ReadonlyMap<string, QueueKeys>;
  /** Dead letters kept per queue. */
  readonly maxDead: number;
  readonly logger: Logger;
  readonly events: EventSink;
  /** Tracks a Redis call that close() waits for. */
  track<T>(promise: Promise<T>): Promise<T>;
  reportError(err: unknown, what: string): void;
  /** The worker's lease book (leases.ts), to forget the lease of a run whose end is recorded. */
  readonly leases: {
    /**
     * Forgets the lease of `run` if this worker still holds it. False when it did not any more: its lease ran out
     * locally, which was already reported (a refused record is then expected).
     */
    drop(run: JobRun): boolean;
  };
  /** The record of `run` did not reach Redis; during shutdown, close() names it. */
  notRecorded(run: JobRun): void;
  /**
   * Whether this worker declares job `name` in `queue`. The history counts a dead letter under its name only then,
   * else under `?`: a stored name is anyone's text, and each distinct one would add fields to the bucket.
   */
  declared(queue: string, name: string): boolean;
  /** The queues where a job type this worker declares has a `result` schema (the others never look for results). */
  readonly resultQueues?: ReadonlySet<string>;
  /** Creates the next step of a chain once its hand-off is recorded (chain-handoff.ts). */
  readonly handoffs?: Pick<ChainHandoffs, 'handOff'>;
}

/**
 * The channel on which the death of a job of type `job` in the queue of `k` is announced (docs/results.md): the
 * queue's results channel for a type that declares a result (only those have waiters), else none.
 */
export function deathChannel(job: Pick<ResolvedJob, 'result'>, k: QueueKeys): string | undefined {
  return job.result === undefined ? undefined : resultChannel(k);
}

/** Who carries a queue's acknowledgements to Redis (its fetch loop): told when one is waiting. */
export interface AckCarrier {
  acksWaiting(count: number): void;
}

/**
 * The completions of one queue waiting to be recorded. Its fetch loop takes them into its next call (fetch.lua
 * acknowledges, then leases) and hands the answer back with {@link recorded}.
 */
export class AckBatch {
  /** Waiting completions, oldest first. */
  readonly runs: JobRun[] = [];
  /** When the oldest of them was added (performance.now() time). */
  firstAt = 0;
  /** Whether one of them carries a result (sent at once: someone may be waiting for it). */
  urgent = false;
  /** Set by the wiring once the queue's fetch loop exists. */
  carrier: AckCarrier | undefined;
  /**
   * The queue's results channel when a job type of this queue (in this worker) declares a result: only then are
   * runs looked at for one. Undefined otherwise.
   */
  private readonly channel: string | undefined;

  constructor(
    private readonly completer: Completer,
    private readonly keys: QueueKeys,
    withResults = false,
  ) {
    this.channel = withResults ? resultChannel(keys) : undefined;
  }

  get length(): number {
    return this.runs.length;
  }

  add(run: JobRun): void {
    if (this.runs.length === 0) this.firstAt = performance.now();
    if (run.resultJson !== undefined) this.urgent = true;
    this.runs.push(run);
    this.carrier?.acksWaiting(this.runs.length);
  }

  /** Takes every waiting completion (for a call about to be sent). */
  take(): JobRun[] {
    this.urgent = false;
    return this.runs.splice(0);
  }

  /** Puts back completions a call failed to record, ahead of those added since. */
  putBack(runs: readonly JobRun[]): void {
    this.runs.unshift(...runs);
    if (this.channel !== undefined && runs.some((r) => r.resultJson !== undefined)) this.urgent = true;
  }

  /**
   * The history of `runs` for the call that carries them: processed, run and wait time summed per job type (a few
   * counters per call, whatever the number of runs; see history.ts).
   */
  historyOf(runs: readonly JobRun[]): HistoryWrite | undefined {
    return ackHistory(this.keys, runs);
  }

  /**
   * The results of `runs` to store with their acks (docs/results.md): undefined when this queue has no job type with
   * a result, so other queues' calls look at nothing more.
   */
  resultsOf(runs: readonly JobRun[]): ResultWrite[] | undefined {
    const channel = this.channel;
    if (channel === undefined) return undefined;
    let out: ResultWrite[] | undefined;
    const k = this.keys;
    for (const run of runs) {
      const json = run.resultJson;
      if (json === undefined) continue;
      (out ??= []).push({ result: resultKey(k, run.id), id: run.id, json, ttlMs: run.job.result?.retentionMs ?? 0, channel });
    }
    return out;
  }

  /**
   * The chain hand-offs of `runs` to record with their acks (docs/results.md, "Chains"): undefined when none of them
   * is a chain step with a next step.
   */
  handoffsOf(runs: readonly JobRun[]): HandoffWrite[] | undefined {
    if (this.channel === undefined) return undefined;
    let out: HandoffWrite[] | undefined;
    for (const run of runs) {
      const h = run.handoff;
      if (h !== undefined) (out ??= []).push({ outbox: this.keys.chainOutbox, id: run.id, next: h.next, entry: h.entry });
    }
    return out;
  }

  /** A call carrying `runs` was answered; `stale` were refused (the lease had moved on). */
  recorded(runs: readonly JobRun[], stale: readonly string[]): void {
    this.completer.acked(runs, stale);
  }
}

/** Records the end of every attempt. */
export class Completer {
  private readonly batches = new Map<string, AckBatch>();

  constructor(private readonly p: CompleterParams) {
    for (const [queue, k] of p.keys) this.batches.set(queue, new AckBatch(this, k, p.resultQueues?.has(queue) === true));
  }

  /** The completions waiting in `queue`. */
  batchOf(queue: string): AckBatch {
    return this.batches.get(queue) as AckBatch;
  }

  /** A handler succeeded: its acknowledgement waits for the queue's next fetch call. */
  succeed(run: JobRun): void {
    run.state = 'acking';
    run.endedAt = performance.now();
    (this.batches.get(run.queue) as AckBatch).add(run);
  }

  /** Acknowledgements were recorded; `stale` were refused (the lease had moved on). */
  acked(runs: readonly JobRun[], stale: readonly string[]): void {
    const refused = stale.length === 0 ? undefined : new Set(stale);
    const events = this.p.events;
    for (const run of runs) {
      const gaveUp = !this.p.leases.drop(run);
      if (refused?.has(run.id)) {
        this.noteRefused(run, gaveUp, 'finished', 'completion');
        run.state = 'lost';
        continue;
      }
      run.state = 'done';
      // A chain step: its next step is in the outbox now; create it in its own queue (maybe another slot).
      const h = run.handoff;
      if (h !== undefined) void this.p.handoffs?.handOff((this.p.keys.get(run.queue) as QueueKeys).chainOutbox, h.next, h.entry);
      if (events.listenerCount('completed') > 0) events.emit('completed', { job: refOf(run), durationMs: performance.now() - run.startedAt });
    }
  }

  /** Fails an attempt: snooze, retry after backoff, or dead letter (see {@link decideFailure}). */
  fail(run: JobRun, err: unknown): void {
    run.state = 'failing';
    run.endedAt = performance.now();
    const p = this.p;
    const k = p.keys.get(run.queue) as QueueKeys;
    const fence: Ack = { id: run.id, attempt: run.attempt };
    const done = (ok: boolean): void => {
      const gaveUp = !p.leases.drop(run);
      run.state = ok ? 'done' : 'lost';
      if (!ok) this.noteRefused(run, gaveUp, 'failed', 'failure');
    };
    const onError = (e: unknown): void => {
      p.leases.drop(run);
      p.notRecorded(run);
      p.reportError(e, `recording the failure of job ${run.id}`);
    };

    const decision = decideFailure(err, run.attempt, run.maxAttempts, run.job.backoff);
    if (decision.kind === 'snooze') {
      p.track(p.scripts.reschedule(k, { fence, delayMs: decision.delayMs, giveAttemptBack: true, slot: run.slot })).then(done, onError);
      return;
    }
    const ref = refOf(run);
    p.events.emit('failed', { job: ref, error: err, willRetry: decision.kind === 'retry' });
    if (decision.kind === 'dead') {
      const issues = err instanceof InvalidResultError ? err.issues : undefined;
      const handoff = run.fanin === undefined ? undefined : faninFailure(run.id, run.fanin, Date.now());
      this.toDead(k, ref, run.attempt, decision.reason, err, { then: done, lock: run.lock, slot: run.slot, run, issues, publish: deathChannel(run.job, k), handoff });
      return;
    }
    const delayMs = decision.delayMs;
    const stored = storedErrorJson(toStoredError(err, run.attempt));
    const history = failureHistory(k, 'retry', run.job.name, run);
    p.track(p.scripts.reschedule(k, { fence, delayMs, errorJson: stored, giveAttemptBack: false, slot: run.slot, history })).then((ok) => {
      done(ok);
      if (ok) p.events.emit('retrying', { job: ref, error: err, delayMs });
    }, onError);
  }

  /** Moves a job to the dead letters and emits `dead`. */
  toDead(
    k: QueueKeys,
    ref: JobRef,
    attempt: number,
    reason: DeadReason,
    err: unknown,
    more: {
      /** The stored value to keep when the jobs hash has none for the id. */
      readonly raw?: string;
      readonly issues?: readonly PayloadIssue[];
      /** Called with whether the dead letter was recorded (false: the lease had moved on). */
      readonly then?: (ok: boolean) => void;
      readonly lock?: string;
      readonly slot?: Slot;
      /** The attempt that failed (for the history: a failed attempt and its run time); none: it never ran. */
      readonly run?: RunTimes;
      /** The queue's results channel, for a job whose type declares a result: its waiters learn of the death. */
      readonly publish?: string | undefined;
      /** A fan-in child's failure for its parent, recorded in the queue's outbox with the death, then handed on. */
      readonly handoff?: Handoff | undefined;
    } = {},
  ): void {
    const p = this.p;
    const { raw = '', issues, then, lock, slot, run, publish, handoff } = more;
    const history = failureHistory(k, 'dead', ref.name !== undefined && p.declared(ref.queue, ref.name) ? ref.name : undefined, run);
    const error: StoredError = toStoredError(err, attempt);
    const info: DeadInfo = { reason, error, attempts: attempt, diedAt: Date.now(), issues };
    if (reason !== 'attempts_exhausted' && reason !== 'permanent_error') {
      p.logger.warn(`job ${ref.id} sent to the dead letters (${reason}): ${error.message}`, { queue: ref.queue });
    }
    const h = handoff === undefined ? undefined : { outbox: k.chainOutbox, id: ref.id, next: handoff.next, entry: handoff.entry };
    p.track(p.scripts.dead(k, { id: ref.id, attempt, infoJson: deadInfoJson(info), maxDead: p.maxDead, fallbackEnvelope: raw, lock, slot, history, publish, handoff: h })).then(
      (ok) => {
        then?.(ok);
        if (ok && h !== undefined) void p.handoffs?.handOff(h.outbox, h.next, h.entry);
        if (ok) p.events.emit('dead', { job: ref, reason, error });
      },
      (e: unknown) => {
        then?.(false);
        p.reportError(e, `moving job ${ref.id} to the dead letters`);
      },
    );
  }

  /** Says that Redis refused a run's record (its lease had moved on): only `info` when its give-up was already reported. */
  private noteRefused(run: JobRun, gaveUp: boolean, what: 'finished' | 'failed', record: 'completion' | 'failure'): void {
    const message = `job ${run.id} (${run.job.name}) ${what} after its lease was taken over; the ${record} was not recorded`;
    if (gaveUp) this.p.logger.info(message);
    else this.p.logger.warn(message);
  }
}

/** A run's identity in events. */
function refOf(run: JobRun): JobRef {
  return { id: run.id, name: run.job.name, queue: run.queue, attempt: run.attempt, maxAttempts: run.maxAttempts };
}
