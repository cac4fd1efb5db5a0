/**
 * The write API (`createAdmin`) on the real Redis, each test on its own prefix: actions on ids (done, would, skipped
 * with the reason, not found), selections in pages (dry-run counts and samples, filters by job and state), a run
 * stopped by its signal and run again acting on every job exactly once, pause and resume, a dead letter retried
 * running again on a real worker, cron listing and triggering, argument errors, and working without a job set.
 */
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { createAdmin, createWorker, defineJobs, InvalidArgumentError, PermanentError, type Admin, type BulkProgress } from '../src/index.js';
import { cleanupRegistry, deferred, redisUrl, testAdmin, waitFor } from './helpers.js';

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }), attempts: 1 },
  other: { payload: z.object({ n: z.number() }), attempts: 1 },
  /** Unique by `key`: a dead letter cannot go back while a live job holds its key. */
  single: { payload: z.object({ key: z.string() }), attempts: 1, unique: { by: ['key'], ttl: '1h' } },
  nightly: { payload: z.object({ day: z.string().optional() }), queue: 'reports', cron: '0 3 * * *' },
});

const defer = cleanupRegistry();

const setup = (name: string) => testAdmin(jobs, name, defer);

/** A worker on `default` whose `work` handler fails permanently while `failing.on`, and otherwise succeeds. */
function failingWorker(prefix: string) {
  const failing = { on: true };
  const runs: number[] = [];
  const handler = async ({ n }: { n: number }) => {
    runs.push(n);
    if (failing.on) throw new PermanentError(`failed n=${n}`);
  };
  const worker = createWorker(jobs, { work: handler, other: handler, single: async () => {} }, { redis: redisUrl(), prefix, logger: false, queues: ['default'] });
  defer(() => worker.close());
  return { worker, failing, runs };
}

describe('admin.act (ids)', () => {
  it('cancels waiting jobs, skips a running one (reason state), reports unknown ids; a dry run changes nothing', async () => {
    const { prefix, client, admin, raw, k } = setup('admin-ids');
    const started = deferred();
    const finish = deferred();
    const worker = createWorker(
      jobs,
      {
        work: async () => {
          started.resolve();
          await finish.promise;
        },
        other: async () => {},
        single: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false, queues: ['default'], concurrency: 1 },
    );
    defer(() => worker.close());
    defer(() => finish.resolve());
    const running = await client.enqueue('work', { n: 0 });
    await started.promise;
    const [a, b] = await client.enqueueMany('other', [{ n: 1 }, { n: 2 }], { delay: '1h' });

    const dry = await admin.act('cancel', [a!.id, running.id, 'nope'], { dryRun: true });
    expect(dry).toMatchObject({ action: 'cancel', dryRun: true, matched: 1, done: 0, skipped: 1, notFound: 1 });
    expect(dry.results).toEqual([
      { id: a!.id, result: 'would', queue: 'default', state: 'delayed' },
      { id: running.id, result: 'skipped', queue: 'default', state: 'active', reason: 'state' },
      { id: 'nope', result: 'not_found', queue: undefined, state: 'unknown' },
    ]);
    expect(await raw.hexists(k.jobs, a!.id)).toBe(1);

    const r = await admin.act('delete', [a!.id, b!.id, running.id]);
    expect(r).toMatchObject({ matched: 2, done: 2, skipped: 1, notFound: 0 });
    expect(r.results.map((x) => x.result)).toEqual(['done', 'done', 'skipped']);
    expect(await raw.hexists(k.jobs, a!.id)).toBe(0);
    expect(await raw.hexists(k.jobs, b!.id)).toBe(0);
    expect(await raw.hexists(k.jobs, running.id)).toBe(1);

    // Idempotent: the same call again finds nothing to do.
    const again = await admin.act('delete', [a!.id, b!.id]);
    expect(again).toMatchObject({ matched: 0, done: 0, notFound: 2 });
  });

  it('promote makes a delayed job due now; retry applies to retrying jobs only', async () => {
    const { client, admin, raw, k } = setup('admin-promote');
    const { id } = await client.enqueue('work', { n: 1 }, { delay: '1h' });
    const later = Date.now() + 30 * 60_000;
    const retry = await admin.act('retry', [id]);
    expect(retry.results[0]).toMatchObject({ result: 'skipped', reason: 'state', state: 'delayed' });
    expect(Number(await raw.zscore(k.scheduled, id))).toBeGreaterThan(later);
    const r = await admin.act('promote', [id], { states: ['delayed'] });
    expect(r).toMatchObject({ matched: 1, done: 1, skipped: 0 });
    expect(Number(await raw.zscore(k.scheduled, id))).toBeLessThan(later);
  });

  it('dead-retry puts a dead letter back and a real worker runs it again', async () => {
    const { prefix, client, admin, raw, k } = setup('admin-dead-ids');
    const { failing, runs } = failingWorker(prefix);
    const { id } = await client.enqueue('work', { n: 7 });
    await waitFor(async () => (await raw.hexists(k.dead, id)) === 1, 'the job to die');
    failing.on = false;

    const dry = await admin.act('dead-retry', [id, 'nope'], { dryRun: true });
    expect(dry).toMatchObject({ matched: 1, done: 0, notFound: 1 });
    expect(await raw.hexists(k.dead, id)).toBe(1);

    const r = await admin.act('dead-retry', [id]);
    expect(r).toMatchObject({ matched: 1, done: 1, skipped: 0 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the retried job to complete');
    expect(runs).toEqual([7, 7]);
    expect(await raw.hexists(k.dead, id)).toBe(0);
  });

  it('dead-retry of a unique job whose key a live job holds is skipped (held); dead-delete removes it', async () => {
    const { admin, client, raw, k } = setup('admin-held');
    // A dead letter of a unique job, made by hand as the dead path leaves it, and a live job holding its key.
    const live = await client.enqueue('single', { key: 'k1' }, { delay: '1h' });
    const envelope = (await raw.hget(k.jobs, live.id)) as string;
    await raw.hset(k.dead, 'gone-1', envelope);
    await raw.zadd(k.deadOrder, Date.now(), 'gone-1');
    await raw.hset(k.deadInfo, 'gone-1', JSON.stringify({ reason: 'permanent_error', attempts: 1, diedAt: Date.now(), error: { name: 'Error', message: 'x', at: Date.now() } }));

    // A dry run says so too (the unique key is held), rather than "would".
    const dry = await admin.act('dead-retry', ['gone-1'], { dryRun: true });
    expect(dry.results[0]).toMatchObject({ result: 'skipped', reason: 'held', state: 'dead' });
    const r = await admin.act('dead-retry', ['gone-1']);
    expect(r).toMatchObject({ matched: 1, done: 0, skipped: 1 });
    expect(r.results[0]).toMatchObject({ result: 'skipped', reason: 'held', state: 'dead' });
    expect(await raw.hexists(k.dead, 'gone-1')).toBe(1);
    // A selection counts it as matched and left as it was.
    const bulk = await admin.bulk({ action: 'dead-retry', queue: 'default', all: true });
    expect(bulk).toMatchObject({ matched: 1, done: 0, skipped: 1 });
    expect(await raw.hexists(k.dead, 'gone-1')).toBe(1);

    const d = await admin.act('dead-delete', ['gone-1']);
    expect(d).toMatchObject({ done: 1 });
    expect(await raw.hexists(k.dead, 'gone-1')).toBe(0);
  });
});

describe('admin.bulk (selections)', () => {
  it('counts and samples under dryRun, filters by job name and state, and skips what is already done', async () => {
    const { client, admin, raw, k } = setup('admin-bulk');
    const delayed = await client.enqueueMany('work', [{ n: 1 }, { n: 2 }, { n: 3 }], { delay: '1h' });
    await client.enqueueMany('work', [{ n: 4 }]); // waiting: not promotable
    await client.enqueueMany('other', [{ n: 5 }], { delay: '1h' }); // another job type

    const dry = await admin.bulk({ action: 'promote', queue: 'default', job: 'work', dryRun: true });
    expect(dry).toMatchObject({ action: 'promote', dryRun: true, interrupted: false, matched: 3, done: 0, skipped: 0 });
    expect(dry.queues).toHaveLength(1);
    expect(dry.queues[0]).toMatchObject({ queue: 'default', scanned: 5, matched: 3 });
    expect(new Set(dry.queues[0]!.sample)).toEqual(new Set(delayed.map((d) => d.id)));
    const later = Date.now() + 30 * 60_000;
    for (const d of delayed) expect(Number(await raw.zscore(k.scheduled, d.id))).toBeGreaterThan(later);

    const r = await admin.bulk({ action: 'promote', queue: 'default', job: 'work' });
    expect(r).toMatchObject({ matched: 3, done: 3, skipped: 0 });
    expect(r.queues[0]!.sample).toEqual([]);
    for (const d of delayed) expect(Number(await raw.zscore(k.scheduled, d.id))).toBeLessThan(later);

    // Promoted already: they still match (delayed until a worker takes them), and are left as they are.
    const again = await admin.bulk({ action: 'promote', queue: 'default', job: 'work' });
    expect(again).toMatchObject({ matched: 3, done: 0, skipped: 3 });

    // Only waiting jobs: the one plain job.
    const waiting = await admin.bulk({ action: 'cancel', all: true, states: ['waiting'], dryRun: true });
    expect(waiting.matched).toBe(1);
    // Every queue of the job set, one outcome each.
    expect(waiting.queues.map((q) => q.queue)).toEqual(jobs.queues);
  });

  it('tells retrying from delayed jobs in a page by their error record, and leaves running jobs alone', async () => {
    const { prefix, client, admin, raw, k } = setup('admin-bulk-states');
    const [delayed, retrying] = await client.enqueueMany('work', [{ n: 1 }, { n: 2 }], { delay: '1h' });
    // A retrying job is a scheduled one with an error record (as the worker's reschedule leaves it).
    await raw.hset(k.errors, retrying!.id, JSON.stringify({ name: 'Error', message: 'x'.repeat(10_000), attempt: 1, at: Date.now() }));
    const started = deferred();
    const finish = deferred();
    const worker = createWorker(
      jobs,
      {
        work: async () => {},
        other: async () => {
          started.resolve();
          await finish.promise;
        },
        single: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false, queues: ['default'], concurrency: 1 },
    );
    defer(() => worker.close());
    defer(() => finish.resolve());
    await client.enqueue('other', { n: 3 });
    await started.promise;

    const retry = await admin.bulk({ action: 'retry', queue: 'default', all: true, dryRun: true });
    expect(retry).toMatchObject({ matched: 1 });
    expect(retry.queues[0]!.sample).toEqual([retrying!.id]);
    const promote = await admin.bulk({ action: 'promote', queue: 'default', all: true, states: ['delayed'], dryRun: true });
    expect(promote.queues[0]!.sample).toEqual([delayed!.id]);
    // The running job is in no state an action applies to.
    const cancel = await admin.bulk({ action: 'cancel', queue: 'default', all: true, dryRun: true });
    expect(new Set(cancel.queues[0]!.sample)).toEqual(new Set([delayed!.id, retrying!.id]));
    expect(cancel.queues[0]).toMatchObject({ scanned: 3, matched: 2 });
  });

  it('a run stopped by its signal and run again acts on every job exactly once', async () => {
    const { client, admin, raw, k } = setup('admin-resume');
    // Above the hash's compact encoding (hash-max-listpack-entries), which HSCAN returns whole: then it pages.
    const compact = Number(((await raw.config('GET', 'hash-max-listpack-entries')) as string[])[1] ?? 128);
    const N = compact + 200;
    await client.enqueueMany('work', Array.from({ length: N }, (_, n) => ({ n })));
    const controller = new AbortController();
    const seen: BulkProgress[] = [];
    const first = await admin.bulk({
      action: 'cancel',
      queue: 'default',
      all: true,
      pageSize: 20,
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p);
        if (p.done >= 100) controller.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    expect(first.queues[0]!.interrupted).toBe(true);
    expect(first.done).toBeGreaterThanOrEqual(100);
    expect(first.done).toBeLessThan(N);
    expect(await raw.hlen(k.jobs)).toBe(N - first.done);
    expect(seen[0]).toMatchObject({ queue: 'default', total: N, scanned: 0, done: 0 });

    const second = await admin.bulk({ action: 'cancel', queue: 'default', all: true, pageSize: 20 });
    expect(second).toMatchObject({ interrupted: false, done: N - first.done, skipped: 0 });
    expect(await raw.hlen(k.jobs)).toBe(0);
    expect(await raw.llen(k.wait)).toBe(0);
  });

  it('dead-retry by selection (since, job) puts the dead letters back', async () => {
    const { prefix, client, admin, raw, k } = setup('admin-bulk-dead');
    const { failing, worker } = failingWorker(prefix);
    const ids = (await client.enqueueMany('work', [{ n: 1 }, { n: 2 }])).map((r) => r.id);
    await waitFor(async () => (await raw.zcard(k.deadOrder)) === 2, 'two dead letters');
    await worker.close();
    failing.on = false;
    const future = await admin.bulk({ action: 'dead-retry', all: true, since: Date.now() + 60_000, dryRun: true });
    expect(future.matched).toBe(0);
    const dry = await admin.bulk({ action: 'dead-retry', job: 'work', since: new Date(Date.now() - 60_000), dryRun: true });
    expect(dry.matched).toBe(2);
    const r = await admin.bulk({ action: 'dead-retry', queue: 'default', all: true });
    expect(r).toMatchObject({ matched: 2, done: 2, skipped: 0 });
    expect(new Set(await raw.lrange(k.wait, 0, -1))).toEqual(new Set(ids));
    expect(await raw.zcard(k.deadOrder)).toBe(0);
  });

  it('purgeDead counts under dryRun, then deletes', async () => {
    const { admin, raw, k } = setup('admin-purge');
    await raw.hset(k.dead, 'x', '{}');
    await raw.zadd(k.deadOrder, 1, 'x');
    expect(await admin.purgeDead('default', { dryRun: true })).toEqual({ queue: 'default', dryRun: true, matched: 1, done: 0 });
    expect(await admin.purgeDead('default')).toEqual({ queue: 'default', dryRun: false, matched: 1, done: 1 });
    expect(await raw.exists(k.dead, k.deadOrder)).toBe(0);
  });
});

describe('admin pause, resume, cron', () => {
  it('pauses and resumes a queue, saying whether it changed', async () => {
    const { admin } = setup('admin-pause');
    expect(await admin.pause('default')).toEqual({ queue: 'default', paused: true, changed: true });
    expect(await admin.pause('default')).toEqual({ queue: 'default', paused: true, changed: false });
    expect(await admin.isPaused('default')).toBe(true);
    expect(await admin.resume('default')).toEqual({ queue: 'default', paused: false, changed: true });
    expect(await admin.resume('default')).toEqual({ queue: 'default', paused: false, changed: false });
    expect(await admin.isPaused('default')).toBe(false);
  });

  it('lists cron jobs with their next firing and triggers one now', async () => {
    const { admin, client } = setup('admin-cron');
    const list = await admin.cron();
    expect(list).toEqual([expect.objectContaining({ name: 'nightly', queue: 'reports', schedule: '0 3 * * *', tz: 'UTC', lastFiring: undefined })]);
    expect(list[0]!.nextFiring?.getUTCHours()).toBe(3);
    const t = await admin.triggerCron('nightly');
    expect(t).toMatchObject({ job: 'nightly', queue: 'reports', duplicate: false });
    expect(await client.getJob(t.id)).toMatchObject({ state: 'waiting', name: 'nightly', payload: {} });
  });
});

describe('admin arguments and connections', () => {
  it('an unreachable Redis fails its calls without ioredis printing unhandled error events', async () => {
    const printed: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void printed.push(args.map(String).join(' ')));
    defer(() => spy.mockRestore());
    const admin = createAdmin({ redis: 'redis://127.0.0.1:1', jobs });
    defer(() => admin.close());
    await expect(admin.pause('default')).rejects.toThrow();
    expect(printed.filter((line) => line.includes('Unhandled error event'))).toEqual([]);
  });

  it('refuses bad arguments with InvalidArgumentError naming the argument (and the known names)', async () => {
    const { admin } = setup('admin-args');
    const refused = async (p: Promise<unknown>, argument: string, text?: RegExp): Promise<void> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument).toBe(argument);
      if (text !== undefined) expect((err as Error).message).toMatch(text);
    };
    await refused(admin.bulk({ action: 'cancel' }), 'all');
    await refused(admin.bulk({ action: 'cancel', job: 'nope' }), 'job', /jobs: work, other, single, nightly/);
    await refused(admin.bulk({ action: 'cancel', all: true, queue: 'nope' }), 'queue', /queues: default, reports/);
    await refused(admin.bulk({ action: 'cancel', all: true, pageSize: 0 }), 'pageSize');
    await refused(admin.bulk({ action: 'retry', all: true, states: ['waiting'] }), 'states');
    await refused(admin.bulk({ action: 'oops' as 'cancel', all: true }), 'action');
    await refused(admin.act('dead-retry', ['x'], { states: ['waiting'] }), 'states');
    await refused(admin.triggerCron('work'), 'name', /no cron schedule/);
    await refused(admin.triggerCron('nope'), 'name', /jobs: work/);
    await refused(admin.pause('nope'), 'queue');
    const bare = createAdmin({ redis: redisUrl(), prefix: 'jctest:admin-bare' });
    defer(() => bare.close());
    await refused(bare.cron(), 'jobs');
    expect(() => createAdmin({ prefix: 'bad prefix!' })).toThrow(InvalidArgumentError);
  });

  it('works without a job set (queues from the registry) on a connection that stays the caller’s', async () => {
    const { prefix, client, raw, k } = setup('admin-bare');
    const { id } = await client.enqueue('work', { n: 1 });
    // The client registers its queue in the background on its first enqueue.
    await waitFor(async () => (await raw.hexists(`${prefix}:queues`, 'default')) === 1, 'the queue registry entry');
    const admin: Admin = createAdmin({ redis: raw, prefix });
    const dry = await admin.bulk({ action: 'cancel', all: true, dryRun: true });
    expect(dry.queues.map((q) => q.queue)).toEqual(['default']);
    expect(dry.matched).toBe(1);
    expect(await admin.act('cancel', [id])).toMatchObject({ done: 1 });
    expect(await raw.hexists(k.jobs, id)).toBe(0);
    await admin.close();
    expect(await raw.ping()).toBe('PONG');
  });
});
