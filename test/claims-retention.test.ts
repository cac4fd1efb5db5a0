/**
 * Documented defaults and limits of what a queue keeps (docs/configuration.md): completed records (1,000 per queue,
 * for 1 h, trimmed in steps of a sixteenth), dead letters (10,000 per queue), the unique lock's 1 h TTL; and the
 * unique-key edge cases: a throwing `unique.by`, a dead-letter retry while a live job holds the key.
 *
 * The defaults are proven by their effect with default options (records planted straight into Redis, so reaching
 * 10,000 costs one pipeline, not 10,000 jobs): a changed default fails these tests.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type JobSet } from '../src/index.js';
import { cleanupRegistry, deferred, keysUnder, redisUrl, testClient, waitFor } from './helpers.js';

/** A `unique.by` that throws for one payload. */
function uniqueOrThrow(p: { k: string }): string {
  if (p.k === 'bad') throw new Error('no key for "bad"');
  return p.k;
}

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }) },
  doomed: { payload: z.object({ k: z.string() }), attempts: 1 },
  once: { payload: z.object({ k: z.string() }), unique: true, attempts: 1 },
  brief: { payload: z.object({ k: z.string() }), unique: { ttl: '300ms' } },
  picky: { payload: z.object({ k: z.string() }), unique: { by: (p) => uniqueOrThrow(p as { k: string }) } },
});

const defer = cleanupRegistry();

function start<J extends JobSet>(set: J, prefix: string, fail = new Set<string>()) {
  const handlers = Object.fromEntries(
    [...set.jobs.keys()].map((n) => [
      n,
      (p: { k?: string }) => {
        if (fail.has(n) || (p.k !== undefined && fail.has(p.k))) throw new Error(`${n} fails`);
      },
    ]),
  );
  // Default retention options: the point of these tests.
  const worker = createWorker(set, handlers as never, { redis: redisUrl(), prefix, logger: false });
  defer(() => worker.close());
  return worker;
}

async function redisNow(raw: ReturnType<typeof testClient>['raw']): Promise<number> {
  const [s, us] = await raw.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('completed records (defaults)', () => {
  it('keeps 1,000 per queue: a history past 1,000 + 1,000/16 is trimmed to the newest 1,000', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-keep-count', defer);
    const k = queueKeys(prefix, 'default');
    const now = await redisNow(raw);
    // 1,062 recent records (oldest at the tail of the order list): one more completion crosses the step.
    const pipe = raw.pipeline();
    for (let i = 0; i < 1062; i++) {
      pipe.hset(k.done, `old-${i}`, `1|${now - 60_000 + i}`);
      pipe.lpush(k.doneOrder, `old-${i}`);
    }
    await pipe.exec();
    start(jobs, prefix);
    const { id } = await client.enqueue('task', { n: 1 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect(await raw.llen(k.doneOrder)).toBe(1000);
    expect(await raw.hlen(k.done)).toBe(1000);
    expect(await raw.lindex(k.doneOrder, 0)).toBe(id);
    expect(await raw.hexists(k.done, 'old-62')).toBe(0); // the oldest went first
    expect(await raw.hexists(k.done, 'old-63')).toBe(1);
  });

  it('keeps each for 1 h: a record 61 min old is dropped at the next completion, one 59 min old is kept', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-keep-age', defer);
    const k = queueKeys(prefix, 'default');
    const now = await redisNow(raw);
    await raw.hset(k.done, 'older', `1|${now - 61 * 60_000}`, 'younger', `1|${now - 59 * 60_000}`);
    await raw.lpush(k.doneOrder, 'older', 'younger');
    start(jobs, prefix);
    const { id } = await client.enqueue('task', { n: 1 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect(await raw.hexists(k.done, 'older')).toBe(0);
    expect(await raw.hexists(k.done, 'younger')).toBe(1);
    expect(await raw.lrange(k.doneOrder, 0, -1)).toEqual([id, 'younger']);
  });
});

describe('dead letters (default cap)', () => {
  it('keeps 10,000 per queue: the 10,001st death drops the oldest', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-dead-cap', defer);
    const k = queueKeys(prefix, 'default');
    const now = await redisNow(raw);
    for (let from = 0; from < 10_000; from += 2_000) {
      const pipe = raw.pipeline();
      for (let i = from; i < from + 2_000; i++) {
        pipe.hset(k.dead, `old-${i}`, '{"n":"doomed","t":1,"p":{"k":"x"}}');
        pipe.hset(k.deadInfo, `old-${i}`, '{}');
        pipe.zadd(k.deadOrder, now - 3_600_000 + i, `old-${i}`);
      }
      await pipe.exec();
    }
    start(jobs, prefix, new Set(['doomed']));
    const { id } = await client.enqueue('doomed', { k: 'x' });
    await waitFor(async () => (await client.getJob(id)).state === 'dead', 'the job to die');
    expect(await client.deadLetters.count('default')).toBe(10_000);
    expect(await raw.hlen(k.dead)).toBe(10_000);
    expect(await raw.hlen(k.deadInfo)).toBe(10_000);
    expect(await raw.hexists(k.dead, 'old-0')).toBe(0);
    expect(await raw.hexists(k.dead, 'old-1')).toBe(1);
    expect(await raw.hexists(k.dead, id)).toBe(1);
  });
});

describe('unique jobs', () => {
  it('the lock lives 1 h by default (unique: true, and an object without ttl)', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-unique-ttl', defer);
    await client.enqueue('once', { k: 'x' }, { delay: '2h' });
    await client.enqueue('picky', { k: 'x' }, { delay: '2h' });
    const locks = await keysUnder(raw, `${prefix}:{default}:unique`);
    expect(locks).toHaveLength(2);
    for (const lock of locks) {
      const ttl = await raw.pttl(lock);
      expect(ttl).toBeGreaterThan(3_600_000 - 60_000);
      expect(ttl).toBeLessThanOrEqual(3_600_000);
    }
  });

  it('a unique.by function that throws: enqueue fails naming the job and the cause, and writes nothing', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-unique-throw', defer);
    const err = await client.enqueue('picky', { k: 'bad' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/unique\.by function of job "picky" threw: no key for "bad"/);
    expect(await keysUnder(raw, prefix)).toEqual([]);
    // The same batch call refuses the whole batch.
    await expect(client.enqueueMany('picky', [{ k: 'fine' }, { k: 'bad' }])).rejects.toThrow(/unique\.by function of job "picky" threw/);
    expect(await keysUnder(raw, prefix)).toEqual([]);
    expect((await client.enqueue('picky', { k: 'fine' })).duplicate).toBe(false);
  });

  it("a job ending after its lock expired and was taken by another job leaves the other's lock alone", async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-unique-owner', defer);
    const gate = deferred();
    const started: string[] = [];
    const worker = createWorker(
      jobs,
      {
        task: () => {},
        doomed: () => {},
        once: () => {},
        picky: () => {},
        brief: async (_p, ctx) => {
          started.push(ctx.id);
          if (started.length === 1) await gate.promise;
        },
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    const first = await client.enqueue('brief', { k: 'x' });
    await waitFor(() => started.length === 1, 'the first job to start');
    const [lock] = await keysUnder(raw, `${prefix}:{default}:unique`);
    await waitFor(async () => (await raw.exists(lock as string)) === 0, 'the first lock to expire (300 ms ttl)');
    await client.pause('default'); // the second job stays waiting, holding the lock
    const second = await client.enqueue('brief', { k: 'x' });
    expect(second.duplicate).toBe(false);
    expect(await raw.get(lock as string)).toBe(second.id);
    gate.resolve();
    await waitFor(async () => (await client.getJob(first.id)).state === 'completed', 'the first job to complete');
    expect(await raw.get(lock as string)).toBe(second.id);
    expect(await client.enqueue('brief', { k: 'x' })).toEqual({ id: second.id, duplicate: true });
  });

  it('a dead letter is not retried while a live job holds its unique key; it is once the key is free', async () => {
    const { prefix, client } = testClient(jobs, 'claims-unique-dead-retry', defer);
    start(jobs, prefix, new Set(['first']));
    const dead = await client.enqueue('once', { k: 'first' });
    await waitFor(async () => (await client.getJob(dead.id)).state === 'dead', 'the first job to die');
    await client.pause('default'); // the live holder stays waiting
    // A live job with the same unique key (the dead job released it): the dead letter must stay dead.
    const live = await client.enqueue('once', { k: 'first' });
    expect(live.duplicate).toBe(false);
    expect(await client.deadLetters.retry(dead.id)).toBe(false);
    expect((await client.getJob(dead.id)).state).toBe('dead');
    expect(await client.enqueue('once', { k: 'first' })).toEqual({ id: live.id, duplicate: true });
    expect(await client.cancel(live.id)).toBe('cancelled'); // frees the key
    expect(await client.deadLetters.retry(dead.id)).toBe(true);
    expect((await client.getJob(dead.id)).state).toBe('waiting');
  });
});
