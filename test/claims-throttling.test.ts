/**
 * Documented claims about per-type concurrency caps and rate limits (docs/configuration.md, docs/scheduling.md),
 * each isolated in one worker process: a cap's slot comes back when its lease expires even when nothing else frees
 * it; a cap and a rate limit on one type both bind; a capped type does not hold up the other jobs of its queue.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys } from '../src/index.js';
import { typeKeys } from '../src/keys.js';
import { cleanupRegistry, deferred, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  capped: { payload: z.object({ n: z.number() }), concurrency: 1 },
  both: { payload: z.object({ n: z.number() }), concurrency: 2, rateLimit: { max: 3, per: '1h' } },
  plain: { payload: z.object({ n: z.number() }) },
});

const defer = cleanupRegistry();

async function redisNow(raw: ReturnType<typeof testClient>['raw']): Promise<number> {
  const [s, us] = await raw.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('a concurrency cap', () => {
  it("heals through lease expiry alone: a dead worker's slot (no lease left to recover) frees at its expiry, not before", async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-cap-expiry', defer);
    const k = queueKeys(prefix, 'default');
    const t = typeKeys(k, 'capped');
    // The slot of a worker that died mid-job: in the type's running set until its lease expiry. There is no lease in
    // the active set, so lease recovery cannot free it: only the cap's own expiry can.
    const expiry = (await redisNow(raw)) + 1_500;
    await raw.zadd(t.running, expiry, 'dead-worker-job');
    const startedAt: number[] = [];
    const worker = createWorker(
      jobs,
      { capped: async () => void startedAt.push(await redisNow(raw)), both: () => {}, plain: () => {} },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    const { id } = await client.enqueue('capped', { n: 1 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the capped job to run once the slot expired');
    // Not before the slot expired (a lower bound on Redis's clock: the cap held while the slot was live).
    expect(startedAt).toHaveLength(1);
    expect(startedAt[0]).toBeGreaterThanOrEqual(expiry);
    expect(await raw.zscore(t.running, 'dead-worker-job')).toBeNull();
  });

  it('does not hold up its queue: other jobs run while the capped type is at its cap', async () => {
    const { prefix, client } = testClient(jobs, 'claims-cap-queue', defer);
    const gate = deferred();
    let capped = 0;
    const worker = createWorker(
      jobs,
      {
        capped: async () => {
          capped++;
          await gate.promise;
        },
        both: () => {},
        plain: () => {},
      },
      { redis: redisUrl(), prefix, logger: false, concurrency: 5 },
    );
    defer(() => worker.close());
    const cappedIds = (await client.enqueueMany('capped', [{ n: 1 }, { n: 2 }, { n: 3 }])).map((r) => r.id);
    const plainIds = (await client.enqueueMany('plain', [{ n: 1 }, { n: 2 }, { n: 3 }])).map((r) => r.id);
    await waitFor(async () => (await Promise.all(plainIds.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'the plain jobs behind the capped ones');
    expect(capped).toBe(1); // the cap held meanwhile
    gate.resolve();
    await waitFor(async () => (await Promise.all(cappedIds.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'the capped jobs');
  });
});

describe('concurrency and rateLimit on one type', () => {
  it('both bind: at most 2 at once, and at most 3 starts in the period; the rest wait', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-cap-rate', defer);
    const gates = [deferred(), deferred(), deferred()];
    let running = 0;
    let maxRunning = 0;
    let started = 0;
    const worker = createWorker(
      jobs,
      {
        both: async () => {
          const gate = gates[started++];
          running++;
          maxRunning = Math.max(maxRunning, running);
          await gate?.promise;
          running--;
        },
        capped: () => {},
        plain: () => {},
      },
      { redis: redisUrl(), prefix, logger: false, concurrency: 10 },
    );
    defer(() => worker.close());
    const ids = (await client.enqueueMany('both', Array.from({ length: 6 }, (_, n) => ({ n })))).map((r) => r.id);
    await waitFor(() => started === 2, 'two to start');
    // The cap binds first: the worker has 8 free slots and 4 more jobs, yet only 2 run. A plain job passes them.
    const p1 = await client.enqueue('plain', { n: 1 });
    await waitFor(async () => (await client.getJob(p1.id)).state === 'completed', 'a plain job');
    expect(started).toBe(2);
    gates[0]?.resolve();
    gates[1]?.resolve();
    await waitFor(() => started === 3, 'the third to start');
    gates[2]?.resolve();
    await waitFor(async () => (await Promise.all(ids.map((id) => client.getJob(id)))).filter((j) => j.state === 'completed').length === 3, 'three to complete');
    // Then the rate limit binds: slots are free, but 3 starts used the hour. Another plain job goes through the same
    // queue (a fetch after the slots freed), and still no fourth start.
    const p2 = await client.enqueue('plain', { n: 2 });
    await waitFor(async () => (await client.getJob(p2.id)).state === 'completed', 'another plain job');
    expect(started).toBe(3);
    expect(maxRunning).toBe(2);
    const states = await Promise.all(ids.map(async (id) => (await client.getJob(id)).state));
    expect(states.filter((s) => s === 'waiting')).toHaveLength(3);
    expect(await raw.zcard(typeKeys(queueKeys(prefix, 'default'), 'both').ready)).toBe(3);
  });
});
