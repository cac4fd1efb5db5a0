/**
 * The hooks through which metrics (metrics.ts) and traces (tracing.ts) see a worker's runs and a client's enqueues.
 * The worker and the client call them only when set, so with neither on they cost one `undefined` check per job.
 */

/** What the instruments read of a run (a worker's `InstrumentedRun` has it; declared here so no import cycle forms). */
export interface InstrumentedRun {
  readonly id: string;
  readonly queue: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly job: { readonly name: string };
  /** The stored job: enqueue time `t`, due time `d` of a delayed enqueue, trace context `tc`. */
  readonly envelope: { readonly t: number; readonly d?: number; readonly tc?: string };
  /** When the handler started (performance.now() time). */
  readonly startedAt: number;
}

/** What a worker tells its instruments about each handler call (InstrumentedRunner calls them). */
export interface RunHooks {
  /** A handler is about to start (its run's `startedAt` is set). */
  readonly started?: (run: InstrumentedRun) => void;
  /** A handler call ended, either way (`now`: performance.now() time). */
  readonly ended?: (run: InstrumentedRun, now: number) => void;
  /** Wraps the handler call (with its middleware): a tracer runs it inside the attempt's span. */
  readonly wrap?: (run: InstrumentedRun, call: () => Promise<void> | void) => Promise<void> | void;
}

/** What the client tells its instruments about each enqueue call. */
export interface EnqueueHooks {
  /**
   * Runs one enqueue call of `count` jobs named `name`: `call` gets the trace context to store in the jobs (or
   * undefined) and returns whether each job was written (false: a duplicate). Rejections pass through unchanged.
   */
  around<T extends readonly { readonly duplicate: boolean }[]>(name: string, count: number, call: (tc: string | undefined) => Promise<T>): Promise<T>;
}

/** Joins the hooks of several instruments (each may leave any out). */
export function joinRunHooks(parts: readonly (RunHooks | undefined)[]): RunHooks | undefined {
  const set = parts.filter((p): p is RunHooks => p !== undefined);
  if (set.length === 0) return undefined;
  if (set.length === 1) return set[0];
  const started = set.flatMap((p) => (p.started ? [p.started] : []));
  const ended = set.flatMap((p) => (p.ended ? [p.ended] : []));
  const wraps = set.flatMap((p) => (p.wrap ? [p.wrap] : []));
  return {
    started: started.length === 0 ? undefined : (run) => started.forEach((f) => f(run)),
    ended: ended.length === 0 ? undefined : (run, now) => ended.forEach((f) => f(run, now)),
    wrap:
      wraps.length === 0
        ? undefined
        : (run, call) => wraps.reduceRight<() => Promise<void> | void>((inner, w) => () => w(run, inner), call)(),
  };
}

/** Joins the enqueue hooks of several instruments, the first outermost. */
export function joinEnqueueHooks(parts: readonly (EnqueueHooks | undefined)[]): EnqueueHooks | undefined {
  const set = parts.filter((p): p is EnqueueHooks => p !== undefined);
  if (set.length <= 1) return set[0];
  return {
    around: (name, count, call) =>
      set.reduceRight<(tc: string | undefined) => Promise<never>>(
        (inner, h) => (tc) => h.around(name, count, (inner2tc) => inner(inner2tc ?? tc)) as Promise<never>,
        call as (tc: string | undefined) => Promise<never>,
      )(undefined),
  };
}
