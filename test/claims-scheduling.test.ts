/**
 * Documented claims about delayed jobs, cron and paused queues (docs/scheduling.md) that no other test pins down:
 * an enqueue of a delayed job due earlier than every other wakes idle workers (they sleep until the earliest due time
 * they know); the cron compare-and-set itself (not only the firing id's de-duplication); `cron: false`; nothing
 * fires the first time a schedule is seen; a paused queue still promotes due jobs and recovers expired leases.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, LeaseExpiredError, queueKeys } from '../src/index.js';
import { encodeEnvelope } from '../src/payload.js';
import { Scripts } from '../src/scripts.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: 10 } },
  yearly: { payload: z.object({}), cron: '0 0 1 1 *', catchUp: 'all' },
  everySecond: { payload: z.object({}), cron: '* * * * * *', catchUp: 'last' },
});

const defer = cleanupRegistry();

describe('delayed jobs', () => {
  it('an enqueue due earlier than every scheduled job leaves a wake-up token; a later one does not', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-delay-wake', defer);
    const k = queueKeys(prefix, 'default');
    await client.enqueue('task', { n: 1 }, { delay: '2h' });
    expect(await raw.llen(k.notify)).toBe(1); // the first scheduled job: nothing earlier was known
    await raw.del(k.notify); // as an idle worker's blocking read takes it
    await client.enqueue('task', { n: 2 }, { delay: '3h' });
    expect(await raw.llen(k.notify), 'a later job must not wake anyone').toBe(0);
    await client.enqueue('task', { n: 3 }, { delay: '1h' });
    expect(await raw.llen(k.notify), 'an earlier job must wake idle workers to re-read the earliest due time').toBe(1);
  });
});

describe('cron', () => {
  it('the enqueue script writes a firing only while the record still holds the value the caller read (compare-and-set)', async () => {
    const { prefix, raw } = testClient(jobs, 'claims-cron-cas', defer);
    const k = queueKeys(prefix, 'default');
    const scripts = new Scripts(raw);
    await raw.hset(k.cron, 'everySecond', '1000');
    const firing = (at: number) => [`cron:everySecond:${at}`, encodeEnvelope('everySecond', at, '{}', undefined, 0)];
    // A caller that read an older record: nothing written, the record kept. The id is new, so only the CAS stops it.
    expect(await scripts.enqueue(k, { delayMs: 0, priority: 0, idPrefix: '', items: firing(3000), cron: { name: 'everySecond', expected: '999', next: '3000' } })).toEqual([]);
    expect(await raw.hget(k.cron, 'everySecond')).toBe('1000');
    expect(await raw.hexists(k.jobs, 'cron:everySecond:3000')).toBe(0);
    // A caller that read the current record: written, and the record advanced.
    expect(await scripts.enqueue(k, { delayMs: 0, priority: 0, idPrefix: '', items: firing(2000), cron: { name: 'everySecond', expected: '1000', next: '2000' } })).toEqual([
      { id: 'cron:everySecond:2000', duplicate: false },
    ]);
    expect(await raw.hget(k.cron, 'everySecond')).toBe('2000');
    // The loser of that race, with a different firing: refused, although its id was never used.
    expect(await scripts.enqueue(k, { delayMs: 0, priority: 0, idPrefix: '', items: firing(2500), cron: { name: 'everySecond', expected: '1000', next: '2500' } })).toEqual([]);
    expect(await raw.hget(k.cron, 'everySecond')).toBe('2000');
    expect(await raw.hexists(k.jobs, 'cron:everySecond:2500')).toBe(0);
  });

  it('a worker with cron: false enqueues no firing and writes no record', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-cron-off', defer);
    const k = queueKeys(prefix, 'default');
    // A record a minute old: any scheduler that runs enqueues the latest firing at once (catchUp 'last').
    const [s] = await raw.time();
    const old = String(Number(s) * 1000 - 60_000);
    await raw.hset(k.cron, 'everySecond', old);
    const ran: string[] = [];
    const worker = createWorker(jobs, { task: (p) => void ran.push(`task ${p.n}`), yearly: () => {}, everySecond: (_p, ctx) => void ran.push(ctx.id) }, { redis: redisUrl(), prefix, logger: false, cron: false });
    const { id } = await client.enqueue('task', { n: 1 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'a plain job (the worker is running)');
    await worker.close(); // waits for a cron pass in progress, had one started
    expect(await raw.hget(k.cron, 'everySecond')).toBe(old);
    expect((await raw.hkeys(k.jobs)).filter((j) => j.startsWith('cron:'))).toEqual([]);
    expect(ran).toEqual(['task 1']);
  });

  it('nothing fires the first time a schedule is seen (even with catchUp all and past firings): the record starts at now', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-cron-first', defer);
    const k = queueKeys(prefix, 'default');
    await client.pause('default'); // only look at what is enqueued
    const worker = createWorker(jobs, { task: () => {}, yearly: () => {}, everySecond: () => {} }, { redis: redisUrl(), prefix, logger: false, queues: ['default'] });
    defer(() => worker.close());
    const record = Number(await waitFor(() => raw.hget(k.cron, 'yearly'), 'the first sight of the yearly schedule to be recorded'));
    await worker.close();
    const [s] = await raw.time();
    expect(record).toBeGreaterThan(Number(s) * 1000 - 60_000); // now, not the last January 1st
    expect((await raw.hkeys(k.jobs)).filter((j) => j.startsWith('cron:yearly:'))).toEqual([]);
  });
});

describe('a paused queue', () => {
  it('still promotes due delayed jobs (ready the moment it resumes) and runs none of them', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-paused-promote', defer);
    const k = queueKeys(prefix, 'default');
    await client.pause('default');
    const ran: number[] = [];
    const worker = createWorker(jobs, { task: (p) => void ran.push(p.n), yearly: () => {}, everySecond: () => {} }, { redis: redisUrl(), prefix, logger: false, cron: false });
    defer(() => worker.close());
    const { id } = await client.enqueue('task', { n: 1 }, { delay: 200 });
    await waitFor(async () => (await raw.zscore(k.scheduled, id)) === null && (await raw.lpos(k.wait, id)) !== null, 'the due job to be promoted while paused');
    expect((await client.getJob(id)).state).toBe('waiting');
    expect(ran).toEqual([]);
    await client.resume('default');
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job after resume');
    expect(ran).toEqual([1]);
  });

  it("still recovers an expired lease (the crashed attempt recorded as failed), and runs the job only after resume", async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-paused-recover', defer);
    const k = queueKeys(prefix, 'default');
    const { id } = await client.enqueue('task', { n: 1 });
    // What a worker that crashed during attempt 1 leaves behind: the lease, long expired.
    await raw.lrem(k.wait, 0, id);
    await raw.zadd(k.active, 1, id);
    await raw.hset(k.attempts, id, '1');
    await client.pause('default');
    const attempts: number[] = [];
    const worker = createWorker(jobs, { task: (_p, ctx) => void attempts.push(ctx.attempt), yearly: () => {}, everySecond: () => {} }, { redis: redisUrl(), prefix, logger: false, cron: false, leaseMs: 1_000 });
    defer(() => worker.close());
    await waitFor(async () => (await raw.zscore(k.active, id)) === null && (await raw.hexists(k.errors, id)) === 1, 'the expired lease to be recovered while paused');
    const job = await client.getJob(id);
    expect(job.lastError?.name).toBe(new LeaseExpiredError('').name);
    expect(job.attempts).toBe(1);
    // Its retry is promoted but not run while paused.
    await waitFor(async () => (await raw.lpos(k.wait, id)) !== null, 'the retry to be promoted');
    expect(attempts).toEqual([]);
    await client.resume('default');
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job after resume');
    expect(attempts).toEqual([2]);
  });
});
