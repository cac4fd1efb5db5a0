/**
 * One run of a job: what a handler gets (its context), the run's record while this worker holds the job, and the
 * call of the handler through the middleware, with its timeout and abort signal. How the run ended is reported to
 * a {@link RunOutcomes} (the worker, which hands it to the completer).
 */
import type { HandlerReturn, JobName, JobSet, PayloadOutput, ResolvedJob } from '../define.js';
import { resultJsonOf } from '../result.js';
import { chainHandoff, type ChainLink, type Handoff } from '../chain.js';
import { faninSuccess, type FaninLink } from '../fan-in.js';
import { toMs, type Duration } from '../durations.js';
import { InvalidResultError, SnoozeSignal, TimeoutError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Envelope } from '../payload.js';
import type { RunHooks } from '../instrument.js';
import type { Slot } from '../scripts.js';

/** What a handler gets besides its payload. */
export interface JobContext<N extends string = string> {
  /** The job's id. */
  readonly id: string;
  /** The job's name. */
  readonly name: N;
  /** The queue it came from. */
  readonly queue: string;
  /** This attempt's number, from 1. */
  readonly attempt: number;
  /** Total attempts allowed. */
  readonly maxAttempts: number;
  /** When the job was enqueued. */
  readonly enqueuedAt: Date;
  /**
   * Aborts on timeout, on forced shutdown, and when the worker lost the job's lease or could not renew it in time
   * (then min(5 s, leaseMs / 5) before another worker may take the job over). `signal.reason` says which.
   */
  readonly signal: AbortSignal;
  /** The worker's logger. */
  readonly logger: Logger;
  /** Ends this attempt and runs the job again after `delay`, without spending an attempt. */
  snooze(delay: Duration): never;
}

/**
 * A job handler: receives the payload in its schema's output form. For a job that declares a `result` schema, `R` is
 * that schema's input type and the handler must return it (docs/results.md); otherwise what it returns is ignored.
 */
export type Handler<P, N extends string = string, R = void> = (payload: P, ctx: JobContext<N>) => Promise<R> | R;

/** One handler per job in `N` (by default every job of the set); a job with a `result` schema returns its input type. */
export type HandlersFor<J extends JobSet, N extends JobName<J> = JobName<J>> = {
  [K in N]: Handler<PayloadOutput<J, K>, K, HandlerReturn<J, K>>;
};

/** What middleware sees: the handler's context plus the payload. */
export interface MiddlewareContext extends JobContext {
  readonly payload: unknown;
}

/**
 * Runs around every handler call (logging, tracing, metrics). Call `next()` exactly once to run the rest of the
 * chain and the handler; what it throws is the attempt's error.
 */
export type Middleware = (ctx: MiddlewareContext, next: () => Promise<void>) => Promise<void>;

/** A job this worker leased: buffered, running, or on its way to being acknowledged. */
export interface JobRun {
  readonly id: string;
  readonly queue: string;
  /** The fence: Redis's attempt number for the lease (a duplicate lease of the same id moves it on). */
  attempt: number;
  readonly maxAttempts: number;
  readonly job: ResolvedJob;
  readonly envelope: Envelope;
  readonly payload: unknown;
  /** Created when the handler first reads `ctx.signal` (or on abort), since most handlers never do. */
  controller: AbortController | undefined;
  /** The unique lock to release when the job ends (undefined when none, or released at start). */
  lock: string | undefined;
  /** 1-based index of the job's type among its queue's throttled types; 0 when not throttled. */
  readonly typeIndex: number;
  /** The concurrency slot the job holds, for a type with a cap. */
  readonly slot: Slot | undefined;
  /** `expired`: still running, but its local lease deadline passed, so its signal was aborted (see LeaseRenewal). */
  state: 'buffered' | 'running' | 'expired' | 'acking' | 'failing' | 'done' | 'released' | 'lost';
  startedAt: number;
  /** When its handler ended (performance.now() time; 0 until then), set when its end is recorded: for the history. */
  endedAt?: number;
  /** When this worker stops counting on its lease (performance.now() time): the last confirmed grant or renewal. */
  deadline: number;
  /** The checked result's JSON, stored with the ack (only for a job whose type declares a result). */
  resultJson?: string;
  /** The rest of the chain this job is a step of (docs/results.md, "Chains"); undefined for most jobs. */
  readonly chain?: ChainLink | undefined;
  /** The fan-in this job is a child of (docs/results.md, "Fan-in"); undefined for most jobs. */
  readonly fanin?: FaninLink | undefined;
  /** The next chain step, or the fan-in child's result for its parent, recorded with the ack (set once checked). */
  handoff?: Handoff | undefined;
  /** What the handler returned, until it is checked (only kept for a job whose type declares a result). */
  returned?: unknown;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The context a handler (and middleware) gets. Fields are read from the run on demand: most handlers never touch
 * `signal`, and creating an AbortSignal is one of the costliest things a worker does per job in Node 20.
 */
class RunContext implements MiddlewareContext {
  constructor(
    private readonly run: JobRun,
    readonly logger: Logger,
  ) {}

  get id(): string {
    return this.run.id;
  }
  get name(): string {
    return this.run.job.name;
  }
  get queue(): string {
    return this.run.queue;
  }
  get attempt(): number {
    return this.run.attempt;
  }
  get maxAttempts(): number {
    return this.run.maxAttempts;
  }
  get enqueuedAt(): Date {
    return new Date(this.run.envelope.t);
  }
  get signal(): AbortSignal {
    return controllerOf(this.run).signal;
  }
  get payload(): unknown {
    return this.run.payload;
  }
  // A getter returning a function, so `const { snooze } = ctx` works too (built only when read).
  get snooze(): (delay: Duration) => never {
    const id = this.run.id;
    return (delay: Duration): never => {
      throw new SnoozeSignal(toMs(delay, `snooze of job ${id}`, 'delay'));
    };
  }
}

function controllerOf(run: JobRun): AbortController {
  run.controller ??= new AbortController();
  return run.controller;
}

/** Stops a run's pending timer (its timeout, or its give-up margin). */
export function clearRunTimer(run: JobRun): void {
  if (run.timer !== undefined) clearTimeout(run.timer);
  run.timer = undefined;
}

/** Aborts a run's signal with `reason` (creating the controller, so a later read of `ctx.signal` sees it). */
export function abortRun(run: JobRun, reason: Error): void {
  controllerOf(run).abort(reason);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/** Keeps what a handler returned (or its promise resolved to) on the run, as the result to check and store. */
function keepReturned(run: JobRun, value: unknown): Promise<void> | void {
  if (isThenable(value)) {
    return Promise.resolve(value).then((v) => {
      run.returned = v;
    });
  }
  run.returned = value;
}

/** Where a job run reports how its handler call ended. */
export interface RunOutcomes {
  /** The handler returned (or its promise resolved). */
  succeeded(run: JobRun): void;
  /** The handler threw or rejected, or its timeout passed (then it may still be running). */
  failed(run: JobRun, err: unknown): void;
  /** The handler call is over, either way (after `succeeded` or `failed`, even if those threw). */
  ended(run: JobRun): void;
}

/** Calls handlers: builds each run's context, runs the middleware chain and the handler, and arms the timeout. */
export class JobRunner {
  constructor(
    private readonly handlers: Readonly<Record<string, Handler<unknown>>>,
    private readonly middleware: readonly Middleware[],
    private readonly logger: Logger,
    private readonly outcomes: RunOutcomes,
    /** Metrics and tracing (instrument.ts); undefined when both are off. */
    private readonly hooks?: RunHooks,
  ) {}

  /** Starts the handler of `run` at `now` (performance.now() time); its end is reported to the outcomes. */
  start(run: JobRun, now: number): void {
    run.state = 'running';
    run.startedAt = now;
    const outcomes = this.outcomes;
    const hooks = this.hooks;
    hooks?.started?.(run);
    const ctx = new RunContext(run, this.logger);
    const timeoutMs = run.job.timeoutMs;
    if (timeoutMs !== undefined) {
      run.timer = setTimeout(() => {
        const err = new TimeoutError(run.job.name, timeoutMs);
        abortRun(run, err);
        outcomes.failed(run, err);
      }, timeoutMs);
    }
    // One reaction per job (this is the hot path): no Promise.resolve wrapper for promises, no finally.
    const ok = (): void => {
      if (run.job.result !== undefined) {
        // The returned value becomes the result only if it passes its checks; else the attempt fails, not retried.
        const json = resultJsonOf(run.job, run.id, run.returned);
        run.returned = undefined;
        if (typeof json !== 'string') {
          failed(json);
          return;
        }
        run.resultJson = json;
        // A chain step's result (as a reader gets it) is the next step's payload; a fan-in child's goes to its parent.
        // Either hand-off is recorded with the ack.
        const handoff =
          run.chain !== undefined
            ? chainHandoff(run.job, run.id, run.chain, json, Date.now())
            : run.fanin !== undefined
              ? faninSuccess(run.job, run.id, run.fanin, json, Date.now())
              : undefined;
        if (handoff instanceof InvalidResultError) {
          run.resultJson = undefined;
          failed(handoff);
          return;
        }
        if (handoff !== undefined) run.handoff = handoff;
      }
      try {
        outcomes.succeeded(run);
      } finally {
        outcomes.ended(run);
        hooks?.ended?.(run, performance.now());
      }
    };
    const failed = (err: unknown): void => {
      try {
        outcomes.failed(run, err);
      } finally {
        outcomes.ended(run);
        hooks?.ended?.(run, performance.now());
      }
    };
    let result: Promise<void> | void;
    try {
      result = this.invoke(run, ctx);
    } catch (err) {
      queueMicrotask(() => failed(err));
      return;
    }
    if (result instanceof Promise) result.then(ok, failed);
    else if (isThenable(result)) Promise.resolve(result).then(ok, failed);
    else queueMicrotask(ok);
  }

  private invoke(run: JobRun, ctx: RunContext): Promise<void> | void {
    const wrap = this.hooks?.wrap;
    return wrap === undefined ? this.call(run, ctx) : wrap(run, () => this.call(run, ctx));
  }

  /**
   * Calls the handler through the middleware. The chain's value is `void` to everything around it (middleware,
   * tracing): a job whose type declares a result has what its handler returned kept on the run instead.
   */
  private call(run: JobRun, ctx: RunContext): Promise<void> | void {
    if (this.middleware.length === 0) return this.handle(run, ctx);
    const mctx: MiddlewareContext = ctx;
    const step = (i: number): Promise<void> => {
      const mw = this.middleware[i];
      if (mw === undefined) return Promise.resolve(this.handle(run, ctx));
      let called = false;
      return mw(mctx, () => {
        if (called) return Promise.reject(new Error('middleware called next() more than once'));
        called = true;
        return step(i + 1);
      });
    };
    return step(0);
  }

  /** Calls the handler itself; for a job whose type declares a result, what it returned is kept on the run. */
  private handle(run: JobRun, ctx: RunContext): Promise<void> | void {
    const returned = (this.handlers[run.job.name] as Handler<unknown, string, unknown>)(run.payload, ctx);
    return run.job.result === undefined ? (returned as Promise<void> | void) : keepReturned(run, returned);
  }
}
