/**
 * Worker events (completed, failed, retrying, dead), middleware around handlers, the retention of completed
 * records, and what a queue leaves behind in Redis once its jobs are done.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, PermanentError, queueKeys, type Logger, type Middleware, type WorkerOptions } from '../src/index.js';
import { cleanupRegistry, keysUnder, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  greet: { payload: z.object({ name: z.string(), greeting: z.string().default('hello') }) },
  flaky: { payload: z.object({ failures: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: 10, jitter: false } },
  doomed: { payload: z.object({}), attempts: 2, backoff: { type: 'fixed', delay: 10 } },
  nap: { payload: z.object({}), attempts: 1 },
});

const defer = cleanupRegistry();

function setup(name: string, options: Omit<WorkerOptions, 'queues'> = {}) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const calls: string[] = [];
  const snoozed = new Set<string>();
  const worker = createWorker(
    jobs,
    {
      greet: async ({ name, greeting }) => void calls.push(`${greeting} ${name}`),
      flaky: async ({ failures }, ctx) => {
        calls.push(`flaky#${ctx.attempt}`);
        if (ctx.attempt <= failures) throw new Error(`flaky failure ${ctx.attempt}`);
      },
      doomed: async () => {
        throw new Error('doomed');
      },
      nap: async (_p, ctx) => {
        if (!snoozed.has(ctx.id)) {
          snoozed.add(ctx.id);
          ctx.snooze(10);
        }
      },
    },
    { redis: redisUrl(), prefix, logger: false, leaseMs: 1000, ...options },
  );
  defer(() => worker.close());
  return { prefix, client, raw, worker, calls, k: queueKeys(prefix, 'default') };
}

describe('events', () => {
  it('emits completed, failed, retrying and dead with the job and attempt', async () => {
    const { client, worker } = setup('events');
    const log = new Map<string, string[]>();
    const durations: number[] = [];
    const add = (id: string, entry: string) => log.set(id, [...(log.get(id) ?? []), entry]);
    worker.on('completed', (e) => {
      // Recorded here, asserted below: the worker swallows a listener's throw, so an expect in here could never fail.
      durations.push(e.durationMs);
      add(e.job.id, `completed ${e.job.name}#${e.job.attempt}/${e.job.maxAttempts}`);
    });
    worker.on('failed', (e) => add(e.job.id, `failed #${e.job.attempt} ${(e.error as Error).message} retry=${e.willRetry}`));
    worker.on('retrying', (e) => add(e.job.id, `retrying #${e.job.attempt} in ${e.delayMs}`));
    worker.on('dead', (e) => add(e.job.id, `dead #${e.job.attempt} ${e.reason} ${e.error.message}`));

    const ok = await client.enqueue('greet', { name: 'ada' });
    const flaky = await client.enqueue('flaky', { failures: 1 });
    const doomed = await client.enqueue('doomed', {});
    await waitFor(() => log.get(ok.id)?.length === 1 && log.get(flaky.id)?.length === 3 && log.get(doomed.id)?.length === 4, 'all events');

    expect(log.get(ok.id)).toEqual(['completed greet#1/5']);
    expect(log.get(flaky.id)).toEqual(['failed #1 flaky failure 1 retry=true', 'retrying #1 in 10', 'completed flaky#2/3']);
    expect(log.get(doomed.id)).toEqual(['failed #1 doomed retry=true', 'retrying #1 in 10', 'failed #2 doomed retry=false', 'dead #2 attempts_exhausted doomed']);
    expect(durations).toHaveLength(2);
    for (const d of durations) expect(Number.isFinite(d) && d >= 0).toBe(true);
  });

  it('emits no failure for a snooze', async () => {
    const { client, worker } = setup('events-snooze');
    const events: string[] = [];
    for (const e of ['failed', 'retrying', 'dead', 'completed'] as const) worker.on(e, () => events.push(e));
    const { id } = await client.enqueue('nap', {});
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the snoozed job');
    await waitFor(() => events.length === 1, 'the completed event');
    expect(events).toEqual(['completed']);
  });

  it('keeps working when a listener throws, and logs the throw', async () => {
    const errors: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: (m) => void errors.push(m) };
    const { client, worker, calls } = setup('events-throw', { logger });
    worker.on('completed', () => {
      throw new Error('listener bug');
    });
    let after = 0;
    worker.on('completed', () => after++);
    await client.enqueue('greet', { name: 'a' });
    await client.enqueue('greet', { name: 'b' });
    await waitFor(() => after === 2, 'both completions');
    expect(calls.sort()).toEqual(['hello a', 'hello b']);
    expect(errors.some((m) => m.includes('completed'))).toBe(true);
  });

  it('once() listens a single time and off() stops listening', async () => {
    const { client, worker } = setup('events-once');
    let once = 0;
    let on = 0;
    const listener = () => on++;
    worker.once('completed', () => once++);
    worker.on('completed', listener);
    await client.enqueue('greet', { name: 'a' });
    await waitFor(() => on === 1, 'the first completion');
    worker.off('completed', listener);
    const second = await client.enqueue('greet', { name: 'b' });
    await waitFor(async () => (await client.getJob(second.id)).state === 'completed', 'the second completion');
    expect(once).toBe(1);
    expect(on).toBe(1);
  });
});

describe('middleware', () => {
  it('runs around the handler, outermost first, and sees the parsed payload and context', async () => {
    const trace: string[] = [];
    const seen: { payload: unknown; name: string; attempt: number }[] = [];
    const outer: Middleware = async (ctx, next) => {
      trace.push('outer before');
      seen.push({ payload: ctx.payload, name: ctx.name, attempt: ctx.attempt });
      await next();
      trace.push('outer after');
    };
    const inner: Middleware = async (_ctx, next) => {
      trace.push('inner before');
      await next();
      trace.push('inner after');
    };
    const { client, calls } = setup('mw-order', { middleware: [outer, inner] });
    const { id } = await client.enqueue('greet', { name: 'ada' });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'completion');
    expect(trace).toEqual(['outer before', 'inner before', 'inner after', 'outer after']);
    expect(calls).toEqual(['hello ada']);
    expect(seen).toEqual([{ payload: { name: 'ada', greeting: 'hello' }, name: 'greet', attempt: 1 }]);
  });

  it('fails the attempt when middleware throws before the handler, and the job is retried', async () => {
    let blocked = 0;
    const gate: Middleware = async (ctx, next) => {
      if (ctx.name === 'flaky' && ctx.attempt === 1) {
        blocked++;
        throw new Error('rate limited by middleware');
      }
      await next();
    };
    const { client, calls } = setup('mw-throw', { middleware: [gate] });
    const { id } = await client.enqueue('flaky', { failures: 0 });
    const done = await waitFor(async () => {
      const j = await client.getJob(id);
      return j.state === 'completed' ? j : undefined;
    }, 'completion');
    expect(blocked).toBe(1);
    expect(calls).toEqual(['flaky#2']);
    expect(done.attempts).toBe(2);
  });

  it('fails the attempt when middleware throws after the handler succeeded', async () => {
    const after: Middleware = async (_ctx, next) => {
      await next();
      throw new PermanentError('audit failed');
    };
    const { client, calls } = setup('mw-after', { middleware: [after] });
    const { id } = await client.enqueue('greet', { name: 'x' });
    const dead = await waitFor(async () => {
      const j = await client.getJob(id);
      return j.state === 'dead' ? j : undefined;
    }, 'the job to die');
    expect(calls).toEqual(['hello x']);
    expect(dead.deadReason).toBe('permanent_error');
    expect(dead.lastError?.message).toBe('audit failed');
  });

  it("sees the handler's error and can record it", async () => {
    const caught: string[] = [];
    const observe: Middleware = async (_ctx, next) => {
      try {
        await next();
      } catch (err) {
        caught.push((err as Error).message);
        throw err;
      }
    };
    const { client } = setup('mw-observe', { middleware: [observe] });
    const { id } = await client.enqueue('doomed', {});
    await waitFor(async () => (await client.getJob(id)).state === 'dead', 'the job to die');
    expect(caught).toEqual(['doomed', 'doomed']);
  });

  it('fails the attempt when middleware calls next() twice', async () => {
    const twice: Middleware = async (_ctx, next) => {
      await next();
      await next();
    };
    const { client, calls } = setup('mw-twice', { middleware: [twice] });
    const { id } = await client.enqueue('greet', { name: 'x' }, { attempts: 1 });
    const dead = await waitFor(async () => {
      const j = await client.getJob(id);
      return j.state === 'dead' ? j : undefined;
    }, 'the job to die');
    expect(calls).toEqual(['hello x']);
    expect(dead.lastError?.message).toMatch(/next\(\) more than once/);
  });
});

describe('retention and leftovers', () => {
  it('keeps at most keepCompleted.count completed records, the newest', async () => {
    const { client, raw, k } = setup('keep-count', { keepCompleted: { count: 5 }, concurrency: 1, prefetch: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push((await client.enqueue('greet', { name: `n${i}` })).id);
    await waitFor(async () => (await client.getJob(ids[11] as string)).state === 'completed', 'the last job');
    await waitFor(async () => (await queueCounts(raw, k)).jobs === 0, 'every job to be acknowledged');
    expect(await raw.hlen(k.done)).toBe(5);
    expect(await raw.llen(k.doneOrder)).toBe(5);
    const states = await Promise.all(ids.map(async (id) => (await client.getJob(id)).state));
    expect(states).toEqual([...Array(7).fill('unknown'), ...Array(5).fill('completed')]);
  });

  it('keeps no completed record with keepCompleted.count 0', async () => {
    const { client, raw, k } = setup('keep-none', { keepCompleted: { count: 0 } });
    const { id } = await client.enqueue('greet', { name: 'x' });
    await waitFor(async () => (await queueCounts(raw, k)).jobs === 0, 'the job to be acknowledged');
    expect((await client.getJob(id)).state).toBe('unknown');
    expect(await raw.exists(k.done, k.doneOrder)).toBe(0);
  });

  it('drops completed records older than keepCompleted.age', async () => {
    const { client, raw, k } = setup('keep-age', { keepCompleted: { age: 100 } });
    const old = await client.enqueue('greet', { name: 'old' });
    await waitFor(async () => (await client.getJob(old.id)).state === 'completed', 'the first job');
    await new Promise((r) => setTimeout(r, 250)); // let its record age past the limit
    const fresh = await client.enqueue('greet', { name: 'fresh' });
    await waitFor(async () => (await client.getJob(fresh.id)).state === 'completed', 'the second job');
    expect((await client.getJob(old.id)).state).toBe('unknown');
    expect(await raw.hlen(k.done)).toBe(1);
  });

  it('leaves only bookkeeping keys once every job is done', async () => {
    const { prefix, client, raw, k, worker } = setup('leftovers');
    await client.enqueueMany('greet', [{ name: 'a' }, { name: 'b' }]);
    await client.enqueue('flaky', { failures: 2 });
    await client.enqueue('doomed', {});
    await client.enqueue('nap', {});
    await client.enqueue('greet', { name: 'later' }, { delay: 50 });
    await client.enqueue('greet', { name: 'prio' }, { priority: 4 });
    await client.enqueue('greet', { name: 'keyed' }, { jobId: 'custom-id' });

    await waitFor(async () => {
      const c = await queueCounts(raw, k);
      return c.done === 7 && c.dead === 1 && c.jobs === 0 ? c : undefined;
    }, 'every job to finish', 30_000);
    expect(await queueCounts(raw, k)).toEqual({ wait: 0, prio: 0, scheduled: 0, active: 0, jobs: 0, attempts: 0, errors: 0, done: 7, dead: 1 });
    await worker.close();
    const suffixes = (await keysUnder(raw, prefix)).map((key) => key.slice(`${prefix}:{default}:`.length));
    expect(suffixes).toEqual(['dead', 'dead:info', 'dead:order', 'done', 'done:order', 'seq']);
  });
});
