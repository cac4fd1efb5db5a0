/**
 * The job run without Redis or a worker (src/worker/job-run.ts): how `JobRunner` calls a handler — async, plain,
 * throwing, returning a thenable — through the middleware, with its timeout and lazily built abort signal, and what
 * it reports to its outcomes (the worker). These paths moved out of the old worker.ts in the split; the assertions
 * pin what it did there. No timings are asserted: each step is awaited by condition.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, SnoozeSignal, TimeoutError } from '../../src/errors.js';
import type { ResolvedJob } from '../../src/define.js';
import { silentLogger } from '../../src/logger.js';
import { JobRunner, type Handler, type JobContext, type JobRun, type Middleware, type MiddlewareContext, type RunOutcomes } from '../../src/worker/job-run.js';

async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function runOf(name: string, timeoutMs?: number): JobRun {
  return {
    id: 'job-1',
    queue: 'q',
    attempt: 2,
    maxAttempts: 5,
    job: { name, timeoutMs } as unknown as ResolvedJob,
    envelope: { n: name, t: 1_700_000_000_000, p: { x: 1 } } as JobRun['envelope'],
    payload: { x: 1 },
    controller: undefined,
    lock: undefined,
    typeIndex: 0,
    slot: undefined,
    state: 'buffered',
    startedAt: 0,
    deadline: Infinity,
    timer: undefined,
  };
}

/** Records what the runner reports, as the worker would receive it (ended clears the timer, as the worker does). */
function outcomes(): RunOutcomes & { readonly log: string[] } {
  const log: string[] = [];
  return {
    log,
    succeeded: () => void log.push('succeeded'),
    failed: (_run, err) => void log.push(`failed ${(err as Error).name}: ${(err as Error).message}`),
    ended: (run) => {
      if (run.timer !== undefined) clearTimeout(run.timer);
      log.push('ended');
    },
  };
}

function runner(handler: Handler<unknown>, middleware: readonly Middleware[] = []) {
  const out = outcomes();
  return { out, runner: new JobRunner({ j: handler }, middleware, silentLogger, out) };
}

describe('JobRunner', () => {
  it('runs an async handler with its payload and context, then reports success and the end', async () => {
    let seen: { payload: unknown; ctx: Omit<JobContext, 'signal' | 'logger' | 'snooze'> } | undefined;
    const { out, runner: r } = runner(async (payload, ctx) => {
      seen = { payload, ctx: { id: ctx.id, name: ctx.name, queue: ctx.queue, attempt: ctx.attempt, maxAttempts: ctx.maxAttempts, enqueuedAt: ctx.enqueuedAt } };
    });
    const run = runOf('j');
    r.start(run, 123);
    expect(run.state).toBe('running');
    expect(run.startedAt).toBe(123);
    await waitFor(() => out.log.length === 2, 'the outcome');
    expect(out.log).toEqual(['succeeded', 'ended']);
    expect(seen).toEqual({
      payload: { x: 1 },
      ctx: { id: 'job-1', name: 'j', queue: 'q', attempt: 2, maxAttempts: 5, enqueuedAt: new Date(1_700_000_000_000) },
    });
    // Nobody read ctx.signal: no AbortController was built.
    expect(run.controller).toBeUndefined();
  });

  it('reports a rejection as a failure, then the end', async () => {
    const { out, runner: r } = runner(async () => {
      throw new Error('boom');
    });
    r.start(runOf('j'), 0);
    await waitFor(() => out.log.length === 2, 'the outcome');
    expect(out.log).toEqual(['failed Error: boom', 'ended']);
  });

  it('reports a plain handler (returns, or throws) only after start() has returned, never inside it', async () => {
    const plain = runner(() => undefined);
    plain.runner.start(runOf('j'), 0);
    // The worker counts the slot and goes on dispatching: an outcome inside start() would re-enter its dispatch loop.
    expect(plain.out.log).toEqual([]);
    await waitFor(() => plain.out.log.length === 2, 'the outcome');
    expect(plain.out.log).toEqual(['succeeded', 'ended']);

    const throwing = runner(() => {
      throw new Error('sync');
    });
    throwing.runner.start(runOf('j'), 0);
    expect(throwing.out.log).toEqual([]);
    await waitFor(() => throwing.out.log.length === 2, 'the outcome');
    expect(throwing.out.log).toEqual(['failed Error: sync', 'ended']);
  });

  it('follows a thenable that is not a Promise, either way', async () => {
    const ok = runner(() => ({ then: (resolve: () => void) => setTimeout(resolve, 1) }) as unknown as Promise<void>);
    ok.runner.start(runOf('j'), 0);
    await waitFor(() => ok.out.log.length === 2, 'the outcome');
    expect(ok.out.log).toEqual(['succeeded', 'ended']);

    const bad = runner(() => ({ then: (_: unknown, reject: (e: Error) => void) => setTimeout(() => reject(new Error('nope')), 1) }) as unknown as Promise<void>);
    bad.runner.start(runOf('j'), 0);
    await waitFor(() => bad.out.log.length === 2, 'the outcome');
    expect(bad.out.log).toEqual(['failed Error: nope', 'ended']);
  });

  it('on timeout aborts the signal with a TimeoutError and reports the failure at once; the end comes when the handler settles', async () => {
    let release!: () => void;
    let signal: AbortSignal | undefined;
    const { out, runner: r } = runner(
      (_p, ctx) =>
        new Promise<void>((resolve) => {
          signal = ctx.signal;
          release = resolve;
        }),
    );
    const run = runOf('j', 20);
    r.start(run, 0);
    await waitFor(() => out.log.length === 1, 'the timeout');
    expect(out.log).toEqual(['failed TimeoutError: Job "j" timed out after 20 ms']);
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(TimeoutError);
    release();
    await waitFor(() => out.log.length === 3, 'the end');
    // What the handler returns after its timeout is reported too: the worker ignores it (the run is failing already).
    expect(out.log.slice(1)).toEqual(['succeeded', 'ended']);
  });

  it('runs the middleware around the handler, first element outermost, with the payload in its context', async () => {
    const trail: string[] = [];
    const mw =
      (tag: string): Middleware =>
      async (ctx: MiddlewareContext, next) => {
        trail.push(`${tag}> ${ctx.name} ${JSON.stringify(ctx.payload)}`);
        await next();
        trail.push(`${tag}<`);
      };
    const { out, runner: r } = runner(async () => void trail.push('handler'), [mw('a'), mw('b')]);
    r.start(runOf('j'), 0);
    await waitFor(() => out.log.length === 2, 'the outcome');
    expect(trail).toEqual(['a> j {"x":1}', 'b> j {"x":1}', 'handler', 'b<', 'a<']);
    expect(out.log).toEqual(['succeeded', 'ended']);
  });

  it('fails an attempt whose middleware calls next() twice, or throws; a middleware that skips next() skips the handler', async () => {
    const twice = runner(async () => {}, [
      async (_ctx, next) => {
        await next();
        await next();
      },
    ]);
    twice.runner.start(runOf('j'), 0);
    await waitFor(() => twice.out.log.length === 2, 'the outcome');
    expect(twice.out.log).toEqual(['failed Error: middleware called next() more than once', 'ended']);

    const throwing = runner(async () => {}, [
      async () => {
        throw new Error('rate limited');
      },
    ]);
    throwing.runner.start(runOf('j'), 0);
    await waitFor(() => throwing.out.log.length === 2, 'the outcome');
    expect(throwing.out.log).toEqual(['failed Error: rate limited', 'ended']);

    let ran = false;
    const skipping = runner(async () => void (ran = true), [async () => {}]);
    skipping.runner.start(runOf('j'), 0);
    await waitFor(() => skipping.out.log.length === 2, 'the outcome');
    expect(skipping.out.log).toEqual(['succeeded', 'ended']);
    expect(ran).toBe(false);
  });

  it('ctx.snooze throws a SnoozeSignal (also destructured), and refuses a delay that is not a duration', async () => {
    const thrown: unknown[] = [];
    const { out, runner: r } = runner((_p, ctx) => {
      const { snooze } = ctx;
      try {
        snooze('250ms');
      } catch (err) {
        thrown.push(err);
      }
      try {
        ctx.snooze('soon' as never);
      } catch (err) {
        thrown.push(err);
      }
      ctx.snooze(5);
    });
    r.start(runOf('j'), 0);
    await waitFor(() => out.log.length === 2, 'the outcome');
    expect(thrown[0]).toBeInstanceOf(SnoozeSignal);
    expect((thrown[0] as SnoozeSignal).delayMs).toBe(250);
    expect(thrown[1]).toBeInstanceOf(InvalidArgumentError);
    expect(out.log).toEqual(['failed SnoozeSignal: snoozed for 5 ms', 'ended']);
  });
});
