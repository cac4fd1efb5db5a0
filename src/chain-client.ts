/**
 * The producer side of chains (docs/results.md, "Chains"): `client.chain(a, payload).next(b).next(c).enqueue()`.
 * Type-checks each step against the one before it, writes the first step (carrying the rest of the chain in its
 * envelope) with one enqueue.lua call, and waits for any step's result through the steps before it.
 */
import { randomUUID } from 'node:crypto';
import type * as z from 'zod';
import type { JobName, JobSet, JobsWithResult, PayloadInput, ResolvedJob, ResultOutput, ResultSchemaOf } from './define.js';
import { toMs, type Duration } from './durations.js';
import {
  ChainBrokenError,
  InvalidArgumentError,
  JobCancelledError,
  JobDeadError,
  JobNotFoundError,
  ResultExpiredError,
  ResultTimeoutError,
  ResultUnreadableError,
  ResultWaitAbortedError,
} from './errors.js';
import { MAX_CHAIN_ID_LENGTH, MAX_CHAIN_STEPS, chainStepId, stepRefOf, withChainLink } from './chain.js';
import { encodeEnvelope, serializePayload } from './payload.js';
import { emitPayloadJob } from './versions.js';
import type { QueueKeys } from './keys.js';
import { refusedForGood, type ResultWaitOptions } from './result-wait.js';
import { pause } from './timeout.js';

/** The options of a chain's first step: client.ts `EnqueueOptions` (kept apart: that module imports this one). */
export interface FirstStepOptions {
  readonly delay?: Duration;
  readonly runAt?: Date | number;
  readonly priority?: number;
  readonly attempts?: number;
  /** Names the chain (its steps' ids are `<jobId>/<index>`) and makes it idempotent. */
  readonly jobId?: string;
}

/** The jobs that may follow step `Last` in a chain: those whose payload input accepts `Last`'s result output. */
export type ChainableAfter<J extends JobSet, Last extends JobName<J>> = {
  [N in JobName<J>]: [ResultOutput<J, Last>] extends [PayloadInput<J, N>] ? N : never;
}[JobName<J>];

/**
 * A chain being built: `next(name)` adds a step that receives the last step's result as its payload. Only a step
 * whose job declares a `result` can have a next step, and only a job whose payload input type accepts that result's
 * output type can be it: anything else does not compile.
 */
export interface ChainBuilder<J extends JobSet, Last extends JobName<J>> {
  /** Adds step `name`; its payload is the previous step's result (its output type). At most 16 steps in all. */
  // [Last] (not distributed): a step named by a union (`'a' | 'b'`) has a next step only if every member declares a result.
  next: [Last] extends [JobsWithResult<J>] ? <N extends ChainableAfter<J, Last>>(name: N) => ChainBuilder<J, N> : never;
  /**
   * Writes the chain: its first step, carrying the rest, in one Redis call (nothing half-written). Throws
   * `InvalidArgumentError` for a chain that cannot run (a unique job as a step, too many steps, a bad `jobId`) and
   * `JobValidationError` for the first payload, before writing anything.
   */
  enqueue(): Promise<EnqueuedChain<J, Last>>;
}

/** One step of an enqueued chain. */
export interface ChainStep {
  /** 0-based position in the chain. */
  readonly index: number;
  /** Its job name. */
  readonly name: string;
  /** Its job id, `<chain id>/<index>` (the step exists once the step before it completed). */
  readonly id: string;
  /**
   * Its result, waited for through the steps before it (like {@link EnqueuedChain.result}); `unknown` here: use the
   * chain's `result()` for the last step's typed one. Only for a step whose job declares a result.
   */
  result(options?: ResultWaitOptions): Promise<unknown>;
}

/** What `enqueue()` of a chain returns; `result()` when its last step declares a result. */
export type EnqueuedChain<J extends JobSet, Last extends JobName<J>> = ChainInfo &
  ([ResultSchemaOf<J['definitions'], Last>] extends [z.core.$ZodType]
    ? {
        /**
         * The last step's result (its output type), waited for step after step. Rejects like a job's `result()`, and
         * with `ChainBrokenError` (naming the step) when an earlier step died or was cancelled. Never hangs on a
         * chain that stopped: see docs/results.md.
         */
        result(options?: ResultWaitOptions): Promise<ResultOutput<J, Last>>;
      }
    : unknown);

/** An enqueued chain's ids. */
export interface ChainInfo {
  /** The chain's id: the `jobId` given, or a generated `chain-<uuid>`. */
  readonly id: string;
  /** True when a chain with this `jobId` was already enqueued (its first step known): nothing was written. */
  readonly duplicate: boolean;
  /** Every step, in order. */
  readonly steps: readonly ChainStep[];
}

/** What chains and fan-ins need from their client alike. */
export interface StepClientDeps {
  jobOf(name: string): ResolvedJob;
  keysOf(queue: string): QueueKeys;
  readonly maxPayloadBytes: number;
  /** Registers the queue in the queue registry (once per process). */
  registerOnce(queue: string): void;
  /** A job's result wait (result-wait.ts). */
  wait(job: ResolvedJob, id: string, options: ResultWaitOptions): Promise<unknown>;
  /** Checks a `jobId` (client.ts `checkJobId`). */
  checkJobId(id: unknown, name: string): string;
}

/** What the chain code needs from its client. */
export interface ChainClientDeps extends StepClientDeps {
  /** Writes the first step: its id and envelope (enqueue.lua), within the client's timeout. */
  write(job: ResolvedJob, id: string, envelope: string, delayMs: number, priority: number): Promise<{ id: string; duplicate: boolean }>;
  /** Whether `outbox` still holds the hand-off creating step `id` (HEXISTS, within the client's timeout). */
  handoffPending(outbox: string, id: string): Promise<boolean>;
  /** The first step's delay: from `delay` or `runAt` (client.ts `resolveDelay`). */
  delayOf(name: string, options: FirstStepOptions): number;
}

/** Polls of a hand-off still in an outbox: 10 ms, doubling up to 1 s. */
const HANDOFF_FIRST_POLL_MS = 10;
const HANDOFF_MAX_POLL_MS = 1_000;

/** Starts a chain builder (untyped at run time: the types live in {@link ChainBuilder}). */
export function chainBuilder(deps: ChainClientDeps, names: readonly string[], payload: unknown, options: FirstStepOptions): { next(name: string): unknown; enqueue(): Promise<unknown> } {
  return {
    next: (name: string) => chainBuilder(deps, [...names, name], payload, options),
    enqueue: () => enqueueChain(deps, names, payload, options),
  };
}

/** A chain enqueued elsewhere, rebuilt from its id and its steps' job names (`client.chainOf`): its ids and waits. */
export interface ChainOf<R> {
  /** The chain's id. */
  readonly id: string;
  /** Every step, in order. */
  readonly steps: readonly ChainStep[];
  /** The last step's result (its output type), waited for step after step like {@link EnqueuedChain.result}. */
  result(options?: ResultWaitOptions): Promise<R>;
}

/**
 * The handle of chain `chainId` whose steps are the jobs `names` (as it was enqueued, maybe by another process): waits
 * through its steps like the handle `enqueue()` returns, so a later step that does not exist yet is waited for (a
 * plain `client.job(name, '<chain id>/<i>')` would find it unknown) and an earlier step's death ends the wait with
 * ChainBrokenError. Nothing is read until a `result()` is called.
 */
export function chainOf(deps: ChainClientDeps, chainId: string, names: readonly string[]): ChainOf<unknown> {
  const where = 'chainOf';
  if (!Array.isArray(names) || names.length === 0 || names.length > MAX_CHAIN_STEPS) {
    throw new InvalidArgumentError(where, 'steps', `steps must list the chain's 1 to ${MAX_CHAIN_STEPS} job names, in order`);
  }
  const id = deps.checkJobId(chainId, String(names[0]));
  if (id.length > MAX_CHAIN_ID_LENGTH) throw new InvalidArgumentError(where, 'id', `a chain id has at most ${MAX_CHAIN_ID_LENGTH} characters, got ${id.length}`);
  const jobs = names.map((n) => deps.jobOf(n));
  jobs.forEach((job, i) => {
    if (i < jobs.length - 1 && job.result === undefined) throw new InvalidArgumentError(where, 'steps', `step ${i} ("${job.name}") declares no result, so no chain has a step after it`);
  });
  if ((jobs[jobs.length - 1] as ResolvedJob).result === undefined) throw new InvalidArgumentError(where, 'steps', `the last step ("${jobs[jobs.length - 1]?.name}") declares no result to wait for`);
  const steps = stepsOf(deps, id, jobs);
  return { id, steps, result: (steps[steps.length - 1] as ChainStep).result };
}

/** The steps of chain `chainId` of jobs `jobs`, each with its wait. */
function stepsOf(deps: ChainClientDeps, chainId: string, jobs: readonly ResolvedJob[]): ChainStep[] {
  return jobs.map((job, index) => ({ index, name: job.name, id: chainStepId(chainId, index), result: (o?: ResultWaitOptions) => waitForStep(deps, chainId, jobs, index, o ?? {}) }));
}

async function enqueueChain(deps: ChainClientDeps, names: readonly string[], payload: unknown, options: FirstStepOptions): Promise<unknown> {
  const jobs = names.map((n) => deps.jobOf(n));
  const first = jobs[0] as ResolvedJob;
  const where = `chain of "${first.name}"`;
  if (jobs.length > MAX_CHAIN_STEPS) throw new InvalidArgumentError(where, 'steps', `a chain has at most ${MAX_CHAIN_STEPS} steps, got ${jobs.length}`);
  jobs.forEach((job, i) => {
    if (i < jobs.length - 1 && job.result === undefined) {
      throw new InvalidArgumentError(where, 'steps', `step ${i} ("${job.name}") declares no result, so it cannot hand a payload to step ${i + 1} ("${jobs[i + 1]?.name}")`);
    }
    if (job.unique !== undefined) throw new InvalidArgumentError(where, 'steps', `step ${i} ("${job.name}") is a unique job: chain steps cannot be unique (give the chain a jobId to make it idempotent)`);
  });
  const chainId = options.jobId === undefined ? `chain-${randomUUID()}` : deps.checkJobId(options.jobId, first.name);
  if (chainId.length > MAX_CHAIN_ID_LENGTH) throw new InvalidArgumentError(where, 'jobId', `a chain's jobId has at most ${MAX_CHAIN_ID_LENGTH} characters (its steps' ids add "/<index>"), got ${chainId.length}`);
  const delayMs = deps.delayOf(first.name, options);
  const priority = options.priority ?? first.priority;
  const { text } = serializePayload(emitPayloadJob(first), payload, deps.maxPayloadBytes);
  const now = Date.now();
  let envelope = encodeEnvelope(first.name, now, text, options.attempts, priority, undefined, delayMs > 0 ? now + delayMs : undefined, undefined, first.emitVersion);
  if (jobs.length > 1) envelope = withChainLink(envelope, { id: chainId, i: 0, s: jobs.slice(1).map(stepRefOf) });
  for (const job of jobs) deps.registerOnce(job.queue);
  const written = await deps.write(first, chainStepId(chainId, 0), envelope, delayMs, priority);
  const steps = stepsOf(deps, chainId, jobs);
  const last = steps[steps.length - 1] as ChainStep;
  return { id: chainId, duplicate: written.duplicate, steps, ...(jobs[jobs.length - 1]?.result === undefined ? {} : { result: last.result }) };
}

/**
 * Waits for the result of step `index` of chain `chainId`: for each step before it, its result (or that it is gone:
 * completed long ago), then until its hand-off left the outbox (the next step exists from then on), then the step's
 * own result. A dead or cancelled earlier step ends the wait with ChainBrokenError; `timeout` and `signal` bound the
 * whole of it.
 */
async function waitForStep(deps: ChainClientDeps, chainId: string, jobs: readonly ResolvedJob[], index: number, options: ResultWaitOptions): Promise<unknown> {
  const target = jobs[index] as ResolvedJob;
  const targetId = chainStepId(chainId, index);
  if (target.result === undefined) throw new InvalidArgumentError('chain step result', 'step', `step ${index} ("${target.name}") declares no result, so there is no result to wait for`);
  const timeoutMs = options.timeout === undefined ? undefined : toMs(options.timeout, `waiting for the result of job "${target.name}" (id ${JSON.stringify(targetId)})`, 'timeout');
  const end = timeoutMs === undefined ? Infinity : performance.now() + timeoutMs;
  const signal = options.signal;
  const remaining = (): ResultWaitOptions => ({ ...(signal === undefined ? {} : { signal }), ...(end === Infinity ? {} : { timeout: Math.max(0, Math.round(end - performance.now())) }) });
  const timedOut = (): ResultTimeoutError => new ResultTimeoutError(target.name, targetId, timeoutMs ?? 0);
  for (let j = 0; j <= index; j++) {
    const job = jobs[j] as ResolvedJob;
    const id = chainStepId(chainId, j);
    if (j > 0) {
      // Step j exists once the hand-off of step j - 1 left that step's outbox (it is created first, then removed).
      const outbox = deps.keysOf((jobs[j - 1] as ResolvedJob).queue).chainOutbox;
      // Redis unreachable or slow for a read: still pending (the next poll reads again), as in a job's wait; an answer
      // the next read would get again (a wrong key type, an ACL denial) ends the wait.
      const pending = (): Promise<boolean> =>
        deps.handoffPending(outbox, id).catch((err: unknown) => {
          if (refusedForGood(err)) throw err;
          return true;
        });
      for (let pollMs = HANDOFF_FIRST_POLL_MS; await pending(); pollMs = Math.min(pollMs * 2, HANDOFF_MAX_POLL_MS)) {
        if (signal?.aborted === true) throw new ResultWaitAbortedError(target.name, targetId, signal.reason);
        const left = end - performance.now();
        if (left <= 0) throw timedOut();
        await pause(Math.min(pollMs, left), signal);
      }
    }
    if (j === index) return deps.wait(job, id, remaining());
    try {
      await deps.wait(job, id, remaining());
    } catch (err) {
      if (err instanceof JobDeadError || err instanceof JobCancelledError) throw new ChainBrokenError(target.name, targetId, j, err);
      if (err instanceof ResultTimeoutError) throw timedOut();
      if (err instanceof ResultWaitAbortedError) throw new ResultWaitAbortedError(target.name, targetId, err.cause);
      // Completed so long ago that its result (or its record) is gone: the steps after it tell the rest.
      if (err instanceof ResultExpiredError || err instanceof JobNotFoundError || err instanceof ResultUnreadableError) continue;
      throw err;
    }
  }
  throw new Error('unreachable');
}
