/**
 * The operations data against a real Redis: queue stats after a scripted scenario (each state counted), the latency
 * of the oldest waiting job, paged listings (no duplicates, no gaps, the job filter within windows), one job's
 * record and timeline, the worker registry (entries appear, list running jobs, disappear at close and after a
 * SIGKILL within the TTL), and the history (counts equal what happened; written without a command of its own).
 */
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { Redis } from 'ioredis';
import { createInspector, createWorker, defineJobs, PermanentError, type Inspector } from '../src/index.js';
import { Scripts } from '../src/scripts.js';
import { childJobs } from './fixtures/child-jobs.js';
import { cleanupRegistry, deferred, redisUrl, spawnChildWorker, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  ok: { payload: z.object({ n: z.number() }) },
  other: { payload: z.object({ n: z.number() }) },
  flaky: { payload: z.object({}), attempts: 3, backoff: { type: 'fixed', delay: 3_600_000 } },
  doomed: { payload: z.object({}), attempts: 1 },
  hang: { payload: z.object({}) },
  capped: { payload: z.object({}), concurrency: 1 },
});

function inspectorFor(prefix: string): Inspector {
  const inspector = createInspector({ redis: redisUrl(), prefix, jobs });
  defer(() => inspector.close());
  return inspector;
}

describe('queue stats and listings', () => {
  it('counts every state, the pause flag, the latency of the oldest waiting job and the next due time', async () => {
    const { client, prefix } = testClient(jobs, 'inspect-stats', defer);
    const inspector = inspectorFor(prefix);
    const release = deferred();
    const worker = createWorker(
      jobs,
      {
        ok: () => {},
        other: () => {},
        flaky: () => {
          throw new Error('flaky fails');
        },
        doomed: () => {
          throw new PermanentError('doomed');
        },
        hang: () => release.promise,
        capped: () => {},
      },
      { redis: redisUrl(), prefix, logger: false, concurrency: 5, name: 'stats-worker' },
    );
    defer(async () => {
      release.resolve();
      await worker.close();
    });
    await worker.ready;
    await client.enqueueMany('ok', [{ n: 1 }, { n: 2 }]);
    const flaky = await client.enqueue('flaky', {});
    const doomed = await client.enqueue('doomed', {});
    const hang = await client.enqueue('hang', {});
    await waitFor(async () => {
      const s = await inspector.stats('default');
      return s.completed === 2 && s.dead === 1 && s.retrying === 1 && s.active === 1;
    }, 'the first jobs to settle');
    await client.pause('default');
    const first = await client.enqueue('ok', { n: 3 });
    await client.enqueueMany('ok', [{ n: 4 }, { n: 5 }]);
    await client.enqueueMany('other', [{ n: 1 }, { n: 2 }], { priority: 5 });
    await client.enqueue('capped', {});
    await client.enqueueMany('ok', [{ n: 6 }, { n: 7 }], { delay: '1h' });

    const s = await inspector.stats('default');
    expect(s).toMatchObject({
      queue: 'default',
      waiting: 6,
      waitingPlain: 3,
      waitingPrioritized: 2,
      waitingThrottled: 1,
      delayed: 3, // two delayed + the retrying job waiting out its backoff
      retrying: 1,
      active: 1,
      dead: 1,
      completed: 2,
      paused: true,
    });
    // The oldest head of the ready lists is the first plain job enqueued while paused.
    const firstInfo = await client.getJob(first.id);
    expect(s.oldestWaitingAt?.getTime()).toBe(firstInfo.enqueuedAt?.getTime());
    expect(s.latencyMs).toBe(s.at.getTime() - (s.oldestWaitingAt as Date).getTime());
    const retry = await client.getJob(flaky.id);
    const delayedDue = Math.min(...(await inspector.jobs('default', { state: 'delayed' })).jobs.map((j) => j.at?.getTime() ?? Infinity));
    expect(s.nextDueAt?.getTime()).toBe(Math.min(retry.runAt?.getTime() ?? Infinity, delayedDue));
    expect(await inspector.queues()).toEqual([{ queue: 'default', throttled: ['capped'] }]);
    expect((await inspector.allStats()).map((x) => x.queue)).toEqual(['default']);

    // Each state's listing.
    const list = async (state: 'waiting' | 'delayed' | 'retrying' | 'active' | 'dead' | 'completed') =>
      (await inspector.jobs('default', { state })).jobs.map((j) => [j.name, j.state]);
    expect(await list('waiting')).toEqual([
      ['ok', 'waiting'], ['ok', 'waiting'], ['ok', 'waiting'], ['other', 'waiting'], ['other', 'waiting'], ['capped', 'waiting'],
    ]);
    expect(await list('delayed')).toEqual([['ok', 'delayed'], ['ok', 'delayed']]);
    expect(await list('retrying')).toEqual([['flaky', 'retrying']]);
    expect(await list('active')).toEqual([['hang', 'active']]);
    expect(await list('dead')).toEqual([['doomed', 'dead']]);
    expect(await list('completed')).toEqual([[undefined, 'completed'], [undefined, 'completed']]);
    const retrying = (await inspector.jobs('default', { state: 'retrying' })).jobs[0];
    expect(retrying?.lastError?.message).toBe('flaky fails');

    // One job: the record and its timeline.
    const active = await inspector.job(hang.id);
    expect(active.state).toBe('active');
    expect(active.timeline.enqueuedAt).toBeInstanceOf(Date);
    const live = await waitFor(async () => (await inspector.workers()).find((w) => w.running.some((r) => r.id === hang.id)), 'the worker to list the running job');
    expect((await inspector.job(hang.id)).workerId).toBe(live.id);
    expect((await inspector.job(hang.id)).timeline.startedAt?.getTime()).toBe(live.running.find((r) => r.id === hang.id)?.startedAt.getTime());
    const dead = await inspector.job(doomed.id);
    expect(dead).toMatchObject({ state: 'dead', queue: 'default', name: 'doomed', maxAttempts: 1, deadReason: 'permanent_error' });
    expect(dead.lastError?.stack).toContain('doomed');
    expect(dead.timeline.finishedAt).toBeInstanceOf(Date);
    expect(dead.timeline.lastFailedAt).toBeInstanceOf(Date);
    expect((await inspector.job('nope')).state).toBe('unknown');
  });

  it('one job reports its stored priority, and no trace id when tracing was off at enqueue', async () => {
    const { client, prefix } = testClient(jobs, 'inspect-priority', defer);
    const inspector = inspectorFor(prefix);
    const urgent = await client.enqueue('ok', { n: 1 }, { priority: 7, delay: '1h' });
    const plain = await client.enqueue('ok', { n: 2 }, { delay: '1h' });
    expect(await inspector.job(urgent.id)).toMatchObject({ state: 'delayed', priority: 7, traceId: undefined });
    expect((await inspector.job(plain.id)).priority).toBe(0);
    expect((await inspector.job('nope')).priority).toBeUndefined();
  });

  it('pages a queue larger than a page with cursors: no duplicates, no gaps, in order; the job filter works within windows', async () => {
    const { client, prefix } = testClient(jobs, 'inspect-paging', defer);
    const inspector = inspectorFor(prefix);
    const made: { id: string; name: string }[] = [];
    for (let i = 0; i < 5; i++) {
      for (const r of await client.enqueueMany('ok', Array.from({ length: 25 }, (_, n) => ({ n })))) made.push({ id: r.id, name: 'ok' });
      for (const r of await client.enqueueMany('other', Array.from({ length: 25 }, (_, n) => ({ n })))) made.push({ id: r.id, name: 'other' });
    }
    const all = async (job?: string): Promise<{ ids: string[]; pages: number }> => {
      const ids: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await inspector.jobs('default', { limit: 40, cursor, ...(job === undefined ? {} : { job }) });
        expect(page.jobs.length).toBeLessThanOrEqual(40);
        ids.push(...page.jobs.map((j) => j.id));
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      return { ids, pages };
    };
    const every = await all();
    expect(every.ids).toEqual(made.map((m) => m.id));
    expect(every.pages).toBeGreaterThan(1);
    const others = await all('other');
    expect(others.ids).toEqual(made.filter((m) => m.name === 'other').map((m) => m.id));
    await expect(inspector.jobs('default', { cursor: 'garbage' })).rejects.toThrow(/cursor/);
    await expect(inspector.jobs('default', { limit: 0 })).rejects.toThrow(/limit/);
  });
});

describe('the worker registry', () => {
  it('lists a worker with its running jobs while it runs, and drops its entry at close', async () => {
    const { client, prefix } = testClient(jobs, 'inspect-workers', defer);
    const inspector = inspectorFor(prefix);
    const release = deferred();
    const started = deferred();
    const worker = createWorker(
      jobs,
      { ok: () => {}, other: () => {}, flaky: () => {}, doomed: () => {}, capped: () => {}, hang: () => (started.resolve(), release.promise) },
      { redis: redisUrl(), prefix, logger: false, concurrency: 3, name: 'reporting-1', heartbeatMs: 200 },
    );
    defer(async () => {
      release.resolve();
      await worker.close();
    });
    const { id } = await client.enqueue('hang', {});
    await started.promise;
    const entry = await waitFor(async () => (await inspector.workers()).find((w) => w.name === 'reporting-1' && w.runningCount === 1), 'the entry listing the running job');
    expect(entry).toMatchObject({ pid: process.pid, queues: ['default'], concurrency: 3, runningCount: 1 });
    expect(entry.running.map((r) => [r.id, r.name, r.queue])).toEqual([[id, 'hang', 'default']]);
    expect(entry.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(entry.expiresAt.getTime()).toBeGreaterThan(entry.lastBeatAt.getTime());
    release.resolve();
    await worker.close();
    expect((await inspector.workers()).map((w) => w.name)).toEqual([]);
  });

  it('drops the entry of a process killed with SIGKILL within its TTL', async () => {
    const { prefix } = testClient(childJobs, 'inspect-kill', defer);
    const inspector = inspectorFor(prefix);
    const child = spawnChildWorker({ JC_PREFIX: prefix, JC_NAME: 'doomed-child', JC_HEARTBEAT_MS: '200' }, defer);
    const entry = await waitFor(async () => (await inspector.workers()).find((w) => w.name === 'doomed-child'), 'the child to register');
    expect(entry.pid).not.toBe(process.pid);
    await child.signal('SIGKILL');
    // The TTL is 3 heartbeats (600 ms): the entry is left out once it passed, with nothing else running.
    await waitFor(async () => (await inspector.workers()).every((w) => w.name !== 'doomed-child'), 'the entry to disappear');
  });
});

describe('the history', () => {
  it('counts N completions, failures, retries and deaths, with run and wait times, written on calls the worker makes anyway', async () => {
    const { client, prefix } = testClient(jobs, 'inspect-history', defer);
    const inspector = inspectorFor(prefix);
    const redis = new Redis(redisUrl());
    defer(() => redis.disconnect());
    // Every command the worker sends on its command connection, and every script call it makes.
    const sent: string[] = [];
    const send = redis.sendCommand.bind(redis);
    redis.sendCommand = ((cmd: { name: string }) => {
      sent.push(cmd.name.toLowerCase());
      return send(cmd as Parameters<typeof send>[0]);
    }) as typeof redis.sendCommand;
    const calls: string[] = [];
    for (const m of ['fetch', 'reschedule', 'dead', 'renew', 'recover', 'release', 'heartbeat'] as const) {
      const orig = Scripts.prototype[m] as (...a: unknown[]) => unknown;
      const spy = vi.spyOn(Scripts.prototype, m).mockImplementation(function (this: Scripts, ...a: unknown[]) {
        if (this.redis === redis) calls.push(m);
        return orig.apply(this, a);
      } as never);
      defer(() => spy.mockRestore());
    }
    const seenFlaky = new Set<string>();
    const worker = createWorker(
      jobs,
      {
        ok: () => {},
        other: () => {},
        flaky: (_p, ctx) => {
          // Fails its first attempt, succeeds on the retry (backoff shortened below).
          if (!seenFlaky.has(ctx.id)) {
            seenFlaky.add(ctx.id);
            throw new Error('first attempt fails');
          }
        },
        doomed: () => {
          throw new Error('always fails');
        },
        hang: () => {},
        capped: () => {},
      },
      { redis, prefix, logger: false, concurrency: 4, cron: false },
    );
    defer(() => worker.close());
    await worker.ready;
    const N = 20;
    await client.enqueueMany('ok', Array.from({ length: N }, (_, n) => ({ n })));
    await client.enqueueMany('doomed', [{}, {}, {}]);
    const flaky = await client.enqueueMany('flaky', [{}, {}]);
    await waitFor(async () => (await inspector.stats('default')).retrying === 2, 'both flaky jobs to wait for their retry');
    // Run the retries now rather than after their hour of backoff.
    const raw = new Redis(redisUrl());
    defer(() => raw.disconnect());
    for (const f of flaky) await raw.zadd(`${prefix}:{default}:scheduled`, 0, f.id);
    await raw.rpush(`${prefix}:{default}:notify`, '1');
    await waitFor(async () => {
      const s = await inspector.stats('default');
      return s.completed === N + 2 && s.dead === 3;
    }, 'every job to end');

    const h = await inspector.history('default');
    const total = (f: (p: (typeof h.points)[number]) => number): number => h.points.reduce((a, p) => a + f(p), 0);
    expect(total((p) => p.processed)).toBe(N + 2);
    expect(total((p) => p.failed)).toBe(3 + 2);
    expect(total((p) => p.retried)).toBe(2);
    expect(total((p) => p.dead)).toBe(3);
    expect(total((p) => p.runTime.count)).toBe(N + 2 + 3 + 2);
    expect(total((p) => p.waitTime.count)).toBe(N + 2);
    expect(total((p) => p.byJob['ok']?.processed ?? 0)).toBe(N);
    expect(total((p) => p.byJob['doomed']?.dead ?? 0)).toBe(3);
    expect(total((p) => p.byJob['flaky']?.retried ?? 0)).toBe(2);
    const hours = await inspector.history('default', { resolution: 'hour' });
    expect(hours.points.reduce((a, p) => a + p.processed, 0)).toBe(N + 2);
    const okOnly = await inspector.history('default', { job: 'ok' });
    expect(okOnly.points.reduce((a, p) => a + p.processed, 0)).toBe(N);

    // No command of its own: every EVALSHA the worker sent is one of its script calls (fetch, reschedule, dead,
    // renew, recover, release, heartbeat), one each; the other commands are the start-up checks (their EVALs, INFO,
    // CONFIG, CLIENT) and the queue registry's one HSET.
    expect(sent.filter((c) => c === 'evalsha')).toHaveLength(calls.length);
    expect(calls.filter((c) => c === 'fetch').length).toBeLessThanOrEqual(N + 2 + 10);
    expect([...new Set(sent.filter((c) => c !== 'evalsha'))].sort()).toEqual(expect.arrayContaining(['hset']));
    expect(sent.filter((c) => !['evalsha', 'eval', 'info', 'config', 'client', 'hset'].includes(c))).toEqual([]);
    expect(sent.filter((c) => c === 'hset')).toHaveLength(1);
  });
  it('counts dead letters of job names the worker does not declare under "?", so stored names cannot add fields', async () => {
    // A producer knows more jobs than the worker; what it stores under other names is anyone's text.
    const wide = defineJobs({ ok: { payload: z.object({ n: z.number() }) }, stranger1: { payload: z.object({}) }, stranger2: { payload: z.object({}) } });
    const narrow = defineJobs({ ok: { payload: z.object({ n: z.number() }) } });
    const { client, prefix } = testClient(wide, 'inspect-history-unknown', defer);
    const inspector = createInspector({ redis: redisUrl(), prefix, jobs: narrow });
    defer(() => inspector.close());
    await client.enqueue('stranger1', {});
    await client.enqueue('stranger2', {});
    await client.enqueue('ok', { n: 1 });
    const worker = createWorker(narrow, { ok: () => {} }, { redis: redisUrl(), prefix, logger: false, cron: false });
    defer(() => worker.close());
    await waitFor(async () => {
      const s = await inspector.stats('default');
      return s.completed === 1 && s.dead === 2;
    }, 'the declared job to complete and both strangers to be dead-lettered');
    const h = await inspector.history('default');
    const byJob = (name: string): number => h.points.reduce((a, p) => a + (p.byJob[name]?.dead ?? 0), 0);
    expect(byJob('?')).toBe(2);
    expect(byJob('stranger1')).toBe(0);
    expect(byJob('stranger2')).toBe(0);
    expect(h.points.reduce((a, p) => a + p.processed, 0)).toBe(1);
  });
});

describe('listing jobs with big payloads', () => {
  const blobs = defineJobs({ blob: { payload: z.object({ data: z.string() }), queue: 'blobs' } });

  it('reads only the head of each stored job (name, enqueue time), never the payloads of a page', async () => {
    const { client, prefix } = testClient(blobs, 'inspect-heads', defer);
    const N = 20;
    const data = 'x'.repeat(100_000);
    await client.enqueueMany('blob', Array.from({ length: N }, () => ({ data })));
    // The inspector's own connection, so the bytes it reads are its own.
    const redis = new Redis(redisUrl());
    defer(() => redis.quit());
    await redis.ping();
    const inspector = createInspector({ redis, prefix });
    defer(() => inspector.close());
    await inspector.queues(); // the registry read, before counting
    const socket = (redis as unknown as { stream: { bytesRead: number } }).stream;
    const before = socket.bytesRead;
    const page = await inspector.jobs('blobs', { limit: N });
    const read = socket.bytesRead - before;
    expect(page.jobs).toHaveLength(N);
    for (const j of page.jobs) {
      expect(j.name).toBe('blob');
      expect(j.enqueuedAt).toBeInstanceOf(Date);
    }
    // 20 payloads of 100 kB would be 2 MB: only the heads (≤ 512 bytes each) and the small records come back.
    expect(read).toBeLessThan(N * 2_000);
  });
});
