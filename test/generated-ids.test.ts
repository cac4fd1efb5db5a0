/**
 * Generated job ids: enqueue.lua answers a call whose ids it generates (none given, none unique) with the number
 * before the first id only, and the client works the ids out (prefix + number in base 36). Every id a caller gets
 * back must be the id Redis stored the job under — in bulk, one at a time (calls of the same tick share one script
 * call), delayed, prioritized, and after the id counter was deleted while jobs exist (ids then continue from the
 * clock).
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, defineJobs, queueKeys, type JobClient } from '../src/index.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix } from './helpers.js';

const jobs = defineJobs({
  item: { payload: z.object({ n: z.number() }) },
  keyed: { payload: z.object({ n: z.number() }), unique: { by: ['n'] } },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const prefix = testPrefix(name);
  const client: JobClient<typeof jobs> = createClient(jobs, { redis: redisUrl(), prefix });
  const raw = rawRedis();
  defer(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { client, raw, k: queueKeys(prefix, 'default') };
}

/** Each returned id names the stored job with payload n = its position (plus `from`). */
async function expectStored(client: JobClient<typeof jobs>, ids: readonly string[], from = 0): Promise<void> {
  expect(new Set(ids).size).toBe(ids.length);
  for (const [i, id] of ids.entries()) {
    const job = await client.getJob(id);
    expect(job.payload, id).toEqual({ n: from + i });
  }
}

describe('generated ids', () => {
  it('enqueueMany returns the ids the jobs are stored under, in order, none a duplicate', async () => {
    const { client, raw, k } = setup('genid-bulk');
    const out = await client.enqueueMany('item', Array.from({ length: 2_500 }, (_, n) => ({ n })));
    expect(out).toHaveLength(2_500);
    expect(out.every((r) => r.duplicate === false)).toBe(true);
    await expectStored(client, out.map((r) => r.id));
    // Exactly these jobs are stored, nothing else.
    expect((await raw.hkeys(k.jobs)).sort()).toEqual(out.map((r) => r.id).sort());
  });

  it('single enqueues of one tick (one script call) each get their own job id', async () => {
    const { client } = setup('genid-tick');
    const out = await Promise.all(Array.from({ length: 50 }, (_, n) => client.enqueue('item', { n })));
    await expectStored(client, out.map((r) => r.id));
    expect(out.every((r) => r.duplicate === false)).toBe(true);
  });

  it('delayed and prioritized enqueues return the stored ids', async () => {
    const { client, raw, k } = setup('genid-delay-prio');
    const delayed = await client.enqueueMany('item', [{ n: 0 }, { n: 1 }], { delay: '1h' });
    const prioritized = await client.enqueueMany('item', [{ n: 0 }, { n: 1 }], { priority: 5 });
    await expectStored(client, delayed.map((r) => r.id));
    await expectStored(client, prioritized.map((r) => r.id));
    expect(await raw.zrange(k.scheduled, 0, -1)).toEqual(expect.arrayContaining(delayed.map((r) => r.id)));
    expect(await raw.zrange(k.prio, 0, -1)).toEqual(prioritized.map((r) => r.id));
  });

  it('after the id counter was deleted while jobs exist, the new ids continue from the clock and name the new jobs', async () => {
    const { client, raw, k } = setup('genid-seq-reset');
    const before = await client.enqueueMany('item', [{ n: 0 }, { n: 1 }, { n: 2 }]);
    await raw.del(k.seq);
    const after = await client.enqueueMany('item', [{ n: 3 }, { n: 4 }]);
    await expectStored(client, [...before, ...after].map((r) => r.id));
    expect(await raw.hlen(k.jobs)).toBe(5);
  });

  it('unique jobs still say which enqueue was a duplicate, and of which job', async () => {
    const { client } = setup('genid-unique');
    const [a, b, c] = await client.enqueueMany('keyed', [{ n: 1 }, { n: 2 }, { n: 1 }]);
    expect(a?.duplicate).toBe(false);
    expect(b?.duplicate).toBe(false);
    expect(c).toEqual({ id: a?.id, duplicate: true });
  });
});
