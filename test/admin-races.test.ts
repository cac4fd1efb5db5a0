/**
 * The write API (`createAdmin`) under races and hostile input, on the real Redis, each test on its own prefix: a bulk
 * cancel while a worker drains the queue, two admins retrying the same dead letters at once, throttled job types
 * with and without a job set, and option values that are not what the types say.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createAdmin, createWorker, defineJobs, InvalidArgumentError, queueKeys } from '../src/index.js';
import { typeKeys } from '../src/keys.js';
import { cleanupRegistry, redisUrl, testAdmin, waitFor } from './helpers.js';

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }), attempts: 1 },
  capped: { payload: z.object({ n: z.number() }), attempts: 1, concurrency: 1 },
});

const defer = cleanupRegistry();

const setup = (name: string) => testAdmin(jobs, name, defer);

/** A newer deploy's job set, as a dashboard may hold it: `capped` is no longer capped. */
const newer = defineJobs({ work: { payload: z.object({ n: z.number() }) }, capped: { payload: z.object({ n: z.number() }) } });

/** Dead letters made by hand as the dead path leaves them (the envelope of a live job, then that job removed). */
async function makeDead(client: ReturnType<typeof setup>['client'], raw: ReturnType<typeof setup>['raw'], k: ReturnType<typeof setup>['k'], n: number): Promise<string[]> {
  const made = await client.enqueueMany('work', Array.from({ length: n }, (_, i) => ({ n: i })), { delay: '1h' });
  const ids = made.map((m) => m.id);
  const envelopes = (await raw.hmget(k.jobs, ...ids)) as string[];
  const now = Date.now();
  const m = raw.multi();
  ids.forEach((id, i) => {
    m.hset(k.dead, id, envelopes[i] as string);
    m.zadd(k.deadOrder, now, id);
    m.hset(k.deadInfo, id, JSON.stringify({ reason: 'permanent_error', attempts: 1, diedAt: now, error: { name: 'Error', message: 'x', at: now } }));
  });
  m.del(k.jobs, k.scheduled);
  await m.exec();
  return ids;
}

describe('admin under races', () => {
  it('a bulk cancel while a worker drains the queue: every job either ran once or was cancelled, never both', async () => {
    const { prefix, client, raw, admin, k } = setup('admin-race-cancel');
    const N = 400;
    const ran: number[] = [];
    await client.enqueueMany('work', Array.from({ length: N }, (_, n) => ({ n })));
    const worker = createWorker(
      jobs,
      {
        work: async ({ n }) => {
          ran.push(n);
        },
        capped: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false, queues: ['default'], concurrency: 4 },
    );
    defer(() => worker.close());
    const r = await admin.bulk({ action: 'cancel', queue: 'default', all: true, pageSize: 25 });
    await waitFor(async () => (await raw.hlen(k.jobs)) === 0, 'the queue to be empty');
    await worker.close();
    expect(new Set(ran).size).toBe(ran.length); // none ran twice
    expect(r.done + ran.length).toBe(N); // each one cancelled or run
    expect(r.matched).toBe(r.done + r.skipped);
  });

  it('two admins retrying the same dead letters at once put each back once, and their done counts add up', async () => {
    const { prefix, client, raw, admin, k } = setup('admin-race-dead');
    const other = createAdmin({ redis: redisUrl(), prefix, jobs });
    defer(() => other.close());
    const ids = await makeDead(client, raw, k, 300);
    const [a, b] = await Promise.all([
      admin.bulk({ action: 'dead-retry', queue: 'default', all: true, pageSize: 10 }),
      other.bulk({ action: 'dead-retry', queue: 'default', all: true, pageSize: 10 }),
    ]);
    expect(a.done + b.done).toBe(ids.length);
    const waiting = await raw.lrange(k.wait, 0, -1);
    expect(waiting.length).toBe(ids.length);
    expect(new Set(waiting)).toEqual(new Set(ids));
    expect(await raw.hlen(k.dead)).toBe(0);
  });
});

describe('admin and throttled job types', () => {
  it('cancels a throttled job waiting in its type’s ready set, with the job set and without it', async () => {
    const { prefix, client, raw, admin } = setup('admin-throttled');
    const k = queueKeys(prefix, 'default');
    const ready = typeKeys(k, 'capped').ready;
    const first = await client.enqueueMany('capped', [{ n: 1 }, { n: 2 }]);
    expect(await raw.zcard(ready)).toBe(2);
    const r = await admin.bulk({ action: 'cancel', queue: 'default', job: 'capped' });
    expect(r).toMatchObject({ matched: 2, done: 2 });
    expect(await raw.exists(ready, k.jobs)).toBe(0);
    await waitFor(async () => (await raw.hexists(`${prefix}:queues`, 'default')) === 1, 'the queue registry entry');
    const bare = createAdmin({ redis: raw, prefix });
    defer(() => bare.close());
    const again = await client.enqueue('capped', { n: 3 });
    expect(await bare.act('cancel', [again.id])).toMatchObject({ done: 1 });
    expect(await raw.exists(ready, k.jobs)).toBe(0);
    void first;
  });
});

describe('admin options that are not what the types say', () => {
  it('refuses a dryRun or all that is not a boolean (a "true" from a form must not run the action for real)', async () => {
    const { client, raw, admin, k } = setup('admin-dryrun-type');
    const { id } = await client.enqueue('work', { n: 1 });
    const refused = async (p: Promise<unknown>, argument: string): Promise<void> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument).toBe(argument);
    };
    await refused(admin.bulk({ action: 'cancel', all: true, dryRun: 'true' as unknown as boolean }), 'dryRun');
    await refused(admin.bulk({ action: 'cancel', all: true, dryRun: 1 as unknown as boolean }), 'dryRun');
    await refused(admin.act('cancel', [id], { dryRun: 'yes' as unknown as boolean }), 'dryRun');
    await refused(admin.purgeDead('default', { dryRun: 'true' as unknown as boolean }), 'dryRun');
    await refused(admin.bulk({ action: 'cancel', all: 'true' as unknown as boolean }), 'all');
    expect(await raw.hexists(k.jobs, id)).toBe(1);
  });
});

describe('admin dry runs say what the real run would do', () => {
  it('a dry-run dead-retry of a letter whose id is live again reports it held, as the real run does', async () => {
    const { client, raw, admin, k } = setup('admin-dry-held');
    const [id] = await makeDead(client, raw, k, 1);
    // The same id live again (a producer enqueued it anew): the letter cannot go back.
    await raw.hset(k.jobs, id!, (await raw.hget(k.dead, id!)) as string);
    await raw.rpush(k.wait, id!);
    const real = await admin.act('dead-retry', [id!]);
    expect(real.results[0]).toMatchObject({ result: 'skipped', reason: 'held' });
    const dry = await admin.act('dead-retry', [id!], { dryRun: true });
    expect(dry.results[0]).toEqual(real.results[0]);
    expect(dry).toMatchObject({ matched: 1, done: 0, skipped: 1 });
  });
});

describe('admin without a job set', () => {
  it('refuses a queue the queue registry does not list, naming the argument and the known queues', async () => {
    const { prefix, client, raw } = setup('admin-bare-unknown');
    await client.enqueue('work', { n: 1 });
    await waitFor(async () => (await raw.hexists(`${prefix}:queues`, 'default')) === 1, 'the queue registry entry');
    const bare = createAdmin({ redis: raw, prefix });
    defer(() => bare.close());
    const refused = async (p: Promise<unknown>): Promise<void> => {
      const err = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).argument).toBe('queue');
      expect((err as Error).message).toMatch(/unknown queue "defualt".*default/);
    };
    await refused(bare.pause('defualt'));
    await refused(bare.resume('defualt'));
    await refused(bare.isPaused('defualt'));
    await refused(bare.purgeDead('defualt'));
    await refused(bare.bulk({ action: 'cancel', queue: 'defualt', all: true }));
    await refused(bare.act('cancel', ['x'], { queue: 'defualt' }));
    expect(await raw.exists(queueKeys(prefix, 'defualt').paused)).toBe(0);
    // A registered queue is fine.
    expect(await bare.pause('default')).toMatchObject({ changed: true });
  });
});

describe('admin across deploys', () => {
  it('cancels a job waiting in its type’s ready set although the admin’s job set no longer caps that type', async () => {
    // The workers' deploy caps `capped`; the dashboard's job set (a newer deploy) does not.
    const { client, raw, admin, k } = testAdmin(jobs, 'admin-uncapped', defer, newer);
    const ready = typeKeys(k, 'capped').ready;
    const { id } = await client.enqueue('capped', { n: 1 });
    expect(await raw.zscore(ready, id)).not.toBeNull();
    expect(await admin.act('cancel', [id])).toMatchObject({ done: 1 });
    // No id left behind for a worker to lease as a job without an envelope (a dead letter out of nothing).
    expect(await raw.zscore(ready, id)).toBeNull();
    expect(await raw.hexists(k.jobs, id)).toBe(0);
  });
});

describe('admin across deploys: dead-retry routing', () => {
  it('a dead letter of a type the workers cap goes back to its type’s ready set, although the admin’s job set does not cap it', async () => {
    const { prefix, client, raw, admin, k } = testAdmin(jobs, 'admin-uncapped-dead', defer, newer);
    const ready = typeKeys(k, 'capped').ready;
    // A dead letter of `capped`, made as the dead path leaves it; the registry says the workers' deploy caps it.
    const { id } = await client.enqueue('capped', { n: 1 });
    await waitFor(async () => (await raw.hget(`${prefix}:queues`, 'default'))?.includes('capped'), 'the queue registry entry');
    const now = Date.now();
    await raw
      .multi()
      .hset(k.dead, id, (await raw.hget(k.jobs, id)) as string)
      .zadd(k.deadOrder, now, id)
      .hdel(k.jobs, id)
      .zrem(ready, id)
      .exec();
    expect(await admin.act('dead-retry', [id])).toMatchObject({ done: 1 });
    // Through the cap, not around it: the plain wait list is taken with no cap or rate limit.
    expect(await raw.zscore(ready, id)).not.toBeNull();
    expect(await raw.lrange(k.wait, 0, -1)).toEqual([]);
  });
});

describe('admin.triggerCron and unique jobs', () => {
  it('a trigger of a unique cron job takes its lock: a second trigger while the first waits is a duplicate', async () => {
    const cronJobs = defineJobs({
      report: { payload: z.object({ day: z.string().default('today') }), queue: 'reports', cron: '0 3 * * *', unique: { ttl: '1h' } },
    });
    const { prefix, client, raw, admin } = testAdmin(cronJobs, 'admin-cron-unique', defer);
    const first = await admin.triggerCron('report');
    expect(first.duplicate).toBe(false);
    const second = await admin.triggerCron('report');
    expect(second).toMatchObject({ duplicate: true, id: first.id });
    // Cancelling the first releases the lock: the next trigger enqueues.
    expect(await admin.act('cancel', [first.id])).toMatchObject({ done: 1 });
    const third = await admin.triggerCron('report');
    expect(third.duplicate).toBe(false);
    expect(await raw.hlen(queueKeys(prefix, 'reports').jobs)).toBe(1);
    void client;
  });
});

describe('admin argument errors stay short', () => {
  it('names the first bad id and its index instead of echoing the whole list', async () => {
    const { admin } = setup('admin-ids-error');
    const ids = Array.from({ length: 5_000 }, (_, i) => `job-${i}`);
    ids[4_321] = '';
    const err = await admin.act('cancel', ids).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as InvalidArgumentError).argument).toBe('ids');
    expect((err as Error).message).toMatch(/ids\[4321\]/);
    expect((err as Error).message.length).toBeLessThan(300);
  });
});

describe('admin.cron with an unreadable record', () => {
  it('reports a cron record that is not a number as no last firing (as the scheduler reads it), not an Invalid Date', async () => {
    const cronJobs = defineJobs({ report: { payload: z.object({}), queue: 'reports', cron: '0 3 * * *' } });
    const { prefix, raw, admin } = testAdmin(cronJobs, 'admin-cron-garbage', defer);
    await raw.hset(queueKeys(prefix, 'reports').cron, 'report', 'not-a-time');
    const [entry] = await admin.cron();
    expect(entry!.lastFiring).toBeUndefined();
  });
});
