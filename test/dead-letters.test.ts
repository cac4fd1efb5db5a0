/**
 * The dead-letter API: list (newest first), count, retry one or all (the job runs again with fresh attempts),
 * delete, purge; and the cap that drops the oldest dead letters.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type WorkerOptions } from '../src/index.js';
import { cleanupRegistry, queueCounts, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  /** Fails while the test says so (the `failing` set), with a message naming `n`. */
  job: { payload: z.object({ n: z.number() }), attempts: 1 },
  /** The same in another queue, for ids the client must find by searching. */
  mail: { payload: z.object({ n: z.number() }), attempts: 2, backoff: { type: 'fixed', delay: 10 }, queue: 'mail' },
});

const defer = cleanupRegistry();

function setup(name: string, options: Omit<WorkerOptions, 'queues'> = {}) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const failing = { on: true };
  const runs: { n: number; attempt: number }[] = [];
  const handler = async ({ n }: { n: number }, ctx: { attempt: number }) => {
    runs.push({ n, attempt: ctx.attempt });
    if (failing.on) throw new Error(`failed n=${n}`);
  };
  const worker = createWorker(jobs, { job: handler, mail: handler }, { redis: redisUrl(), prefix, logger: false, leaseMs: 1000, ...options });
  defer(() => worker.close());
  const deadCount = { value: 0 };
  worker.on('dead', () => deadCount.value++);
  /** Enqueues jobs one by one, each dying before the next is enqueued, so their death order is certain. */
  const killInOrder = async (ns: number[], name: 'job' | 'mail' = 'job', jobId?: (n: number) => string) => {
    const ids: string[] = [];
    for (const n of ns) {
      const target = deadCount.value + 1;
      ids.push((await client.enqueue(name, { n }, jobId ? { jobId: jobId(n) } : {})).id);
      await waitFor(() => deadCount.value >= target, `job n=${n} to die`);
    }
    return ids;
  };
  return { prefix, client, raw, k: queueKeys(prefix, 'default'), failing, runs, killInOrder };
}

describe('dead letters', () => {
  it('lists newest first with job, error, stack, attempts and time of death; counts them', async () => {
    const { client, killInOrder } = setup('dlq-list');
    const before = Date.now();
    const ids = await killInOrder([1, 2, 3]);
    const list = await client.deadLetters.list('default');
    expect(list.map((d) => d.id)).toEqual([...ids].reverse());
    expect(list.map((d) => d.payload)).toEqual([{ n: 3 }, { n: 2 }, { n: 1 }]);
    for (const d of list) {
      expect(d).toMatchObject({ queue: 'default', name: 'job', reason: 'attempts_exhausted', attempts: 1 });
      expect(d.error.message).toBe(`failed n=${(d.payload as { n: number }).n}`);
      expect(d.error.stack).toContain(d.error.message);
      expect(d.diedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(JSON.parse(d.raw)).toMatchObject({ n: 'job', p: d.payload });
    }
    expect(list[0]!.diedAt.getTime()).toBeGreaterThanOrEqual(list[2]!.diedAt.getTime());
    expect(await client.deadLetters.count('default')).toBe(3);
    expect(await client.deadLetters.count('mail')).toBe(0);

    expect((await client.deadLetters.list('default', { offset: 1, limit: 1 })).map((d) => d.id)).toEqual([ids[1]]);
    expect(await client.deadLetters.list('default', { offset: 5 })).toEqual([]);
    expect(await client.deadLetters.list('default', { limit: 0 })).toEqual([]);
  });

  it('retries one dead letter: the job runs again with fresh attempts and completes', async () => {
    const { client, raw, k, failing, runs, killInOrder } = setup('dlq-retry');
    const [first, second] = await killInOrder([1, 2]);
    failing.on = false;
    expect(await client.deadLetters.retry(first as string)).toBe(true);
    await waitFor(async () => (await client.getJob(first as string)).state === 'completed', 'the retried job to complete');
    expect(runs.filter((r) => r.n === 1)).toEqual([
      { n: 1, attempt: 1 },
      { n: 1, attempt: 1 },
    ]);
    expect(await client.deadLetters.count('default')).toBe(1);
    expect((await client.deadLetters.list('default')).map((d) => d.id)).toEqual([second]);
    expect(await client.deadLetters.retry(first as string)).toBe(false);
    expect(await client.deadLetters.retry('no-such-job')).toBe(false);
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, active: 0, jobs: 0, attempts: 0, errors: 0, dead: 1 });
  });

  it('finds the queue of a dead letter with a custom id, or takes it from the caller', async () => {
    const { client, failing, runs, killInOrder } = setup('dlq-find');
    await killInOrder([7], 'mail', (n) => `mail-${n}`);
    await killInOrder([8], 'mail', (n) => `mail-${n}`);
    expect(runs.filter((r) => r.n === 7).map((r) => r.attempt)).toEqual([1, 2]);
    failing.on = false;
    expect(await client.deadLetters.retry('mail-7')).toBe(true);
    expect(await client.deadLetters.retry('mail-8', 'mail')).toBe(true);
    await waitFor(async () => (await client.getJob('mail-7')).state === 'completed', 'mail-7');
    await waitFor(async () => (await client.getJob('mail-8')).state === 'completed', 'mail-8');
    expect(runs.filter((r) => r.n === 7).map((r) => r.attempt)).toEqual([1, 2, 1]);
  });

  it('retries all dead letters of a queue', async () => {
    const { client, raw, k, failing, killInOrder } = setup('dlq-retry-all');
    const ids = await killInOrder([1, 2, 3]);
    failing.on = false;
    expect(await client.deadLetters.retryAll('default')).toBe(3);
    await waitFor(async () => {
      const states = await Promise.all(ids.map((id) => client.getJob(id)));
      return states.every((s) => s.state === 'completed');
    }, 'every retried job to complete');
    expect(await client.deadLetters.count('default')).toBe(0);
    expect(await client.deadLetters.retryAll('default')).toBe(0);
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, active: 0, jobs: 0, attempts: 0, errors: 0, dead: 0 });
  });

  it('deletes one dead letter', async () => {
    const { client, raw, k, killInOrder } = setup('dlq-delete');
    const [first, second] = await killInOrder([1, 2]);
    expect(await client.deadLetters.delete(first as string)).toBe(true);
    expect(await client.deadLetters.delete(first as string)).toBe(false);
    expect(await client.deadLetters.delete('no-such-job', 'default')).toBe(false);
    expect((await client.getJob(first as string)).state).toBe('unknown');
    expect((await client.deadLetters.list('default')).map((d) => d.id)).toEqual([second]);
    expect(await client.deadLetters.count('default')).toBe(1);
    expect(await raw.hlen(k.deadInfo)).toBe(1);
  });

  it('purges a queue and says how many there were', async () => {
    const { client, raw, k, killInOrder } = setup('dlq-purge');
    await killInOrder([1, 2, 3]);
    expect(await client.deadLetters.purge('default')).toBe(3);
    expect(await client.deadLetters.count('default')).toBe(0);
    expect(await client.deadLetters.list('default')).toEqual([]);
    expect(await client.deadLetters.purge('default')).toBe(0);
    expect(await raw.exists(k.dead, k.deadInfo, k.deadOrder)).toBe(0);
  });

  it('keeps at most deadLetters.max per queue, dropping the oldest', async () => {
    const { client, raw, k, killInOrder } = setup('dlq-cap', { deadLetters: { max: 3 } });
    const ids = await killInOrder([1, 2, 3, 4, 5]);
    expect(await client.deadLetters.count('default')).toBe(3);
    expect((await client.deadLetters.list('default')).map((d) => d.id)).toEqual([ids[4], ids[3], ids[2]]);
    expect(await raw.hlen(k.dead)).toBe(3);
    expect(await raw.hlen(k.deadInfo)).toBe(3);
    expect((await client.getJob(ids[0] as string)).state).toBe('unknown');
  });

  it('exposes the same operations per queue', async () => {
    const { client, killInOrder } = setup('dlq-queue-api');
    const [id] = await killInOrder([1]);
    const q = client.deadLetters.queue('default');
    expect(await q.count()).toBe(1);
    expect((await q.get(id as string))?.payload).toEqual({ n: 1 });
    expect(await q.get('no-such-job')).toBeUndefined();
    expect(await q.delete([id as string])).toBe(1);
    expect(await q.count()).toBe(0);
  });

  it('retries more dead letters than one batch, and lists 50 by default', async () => {
    const { prefix, client, raw } = testClient(jobs, 'dlq-many', defer);
    const k = queueKeys(prefix, 'default');
    const total = 1_234;
    const m = raw.multi();
    for (let i = 0; i < total; i++) {
      const id = `dead-${i}`;
      m.hset(k.dead, id, JSON.stringify({ n: 'job', t: 1, p: { n: i } }));
      m.hset(k.deadInfo, id, JSON.stringify({ reason: 'attempts_exhausted', error: { name: 'Error', message: 'x', at: 1 }, attempts: 1, diedAt: 1 + i }));
      m.zadd(k.deadOrder, 1 + i, id);
    }
    await m.exec();
    expect(await client.deadLetters.count('default')).toBe(total);
    const page = await client.deadLetters.list('default');
    expect(page).toHaveLength(50);
    expect(page[0]?.id).toBe(`dead-${total - 1}`);
    expect(await client.deadLetters.retryAll('default')).toBe(total);
    expect(await client.deadLetters.count('default')).toBe(0);
    expect(await queueCounts(raw, k)).toMatchObject({ wait: total, jobs: total, dead: 0 });
  });
});
