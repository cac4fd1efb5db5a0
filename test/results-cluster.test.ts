/**
 * Results on Redis Cluster (docs/results.md): a real 3-master cluster. Results of queues on different shards are
 * stored in their queue's slot with the acknowledgement, announced with PUBLISH (propagated to every node) and
 * received by one subscriber per client, whichever node it is connected to.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, JobDeadError, PermanentError, queueKeys, type JobClient, type Worker } from '../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../scripts/redis-cluster.js';

// Queue names whose hash tags land on different shards of a 3-master cluster (as in cluster.test.ts).
const jobs = defineJobs({
  resize: { payload: z.object({ n: z.number() }), result: z.object({ n: z.number() }), queue: 'images' },
  charge: { payload: z.object({ n: z.number() }), result: z.string(), queue: 'billing', attempts: 1 },
  text: { payload: z.object({ n: z.number() }), result: z.number(), queue: 'sms' },
  // A chain over the three shards (docs/results.md, "Chains"): each hand-off crosses slots.
  plusOne: { payload: z.object({ n: z.number() }), result: z.object({ n: z.number() }), queue: 'images' },
  timesTen: { payload: z.object({ n: z.number() }), result: z.object({ n: z.number() }), queue: 'billing' },
  show: { payload: z.object({ n: z.number() }), result: z.string(), queue: 'sms' },
});
const PREFIX = 'jcresultscluster';

let cluster: RedisClusterHandle;
let client: JobClient<typeof jobs>;
let worker: Worker;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  client = createClient(jobs, { redis: { cluster: cluster.seeds }, prefix: PREFIX, logger: false });
  worker = createWorker(
    jobs,
    {
      resize: ({ n }) => ({ n }),
      charge: ({ n }) => {
        if (n < 0) throw new PermanentError('card declined');
        return `charge-${n}`;
      },
      text: ({ n }) => n * 2,
      plusOne: ({ n }) => ({ n: n + 1 }),
      timesTen: ({ n }) => ({ n: n * 10 }),
      show: ({ n }) => `=${n}`,
    },
    { redis: { cluster: cluster.seeds }, prefix: PREFIX, concurrency: 8, leaseMs: 2_000, logger: false },
  );
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await client?.close();
  await cluster?.stop();
});

describe('results on a 3-master Redis Cluster', () => {
  it('waits on queues of every shard get their results, and a dead job its error', async () => {
    const resized = await client.enqueueMany('resize', Array.from({ length: 30 }, (_, n) => ({ n })));
    const charged = await client.enqueueMany('charge', Array.from({ length: 30 }, (_, n) => ({ n })));
    const texted = await client.enqueueMany('text', Array.from({ length: 30 }, (_, n) => ({ n })));
    const dead = await client.enqueue('charge', { n: -1 });
    const [a, b, c] = await Promise.all([
      Promise.all(resized.map((h) => h.result())),
      Promise.all(charged.map((h) => h.result())),
      Promise.all(texted.map((h) => h.result())),
    ]);
    expect(a.map((r) => r.n)).toEqual(Array.from({ length: 30 }, (_, n) => n));
    expect(b).toEqual(Array.from({ length: 30 }, (_, n) => `charge-${n}`));
    expect(c).toEqual(Array.from({ length: 30 }, (_, n) => n * 2));
    await expect(dead.result()).rejects.toBeInstanceOf(JobDeadError);
    // The result key shares its queue's slot.
    const k = queueKeys(PREFIX, 'images');
    const node = client.redis as unknown as { cluster(cmd: 'KEYSLOT', key: string): Promise<number> };
    expect(await node.cluster('KEYSLOT', `${k.resultPrefix}${resized[0]?.id}`)).toBe(await node.cluster('KEYSLOT', k.jobs));
  }, 60_000);

  it('chains over the three shards: each step is created in its own queue\'s slot, the outboxes end empty', async () => {
    const chains = await Promise.all(Array.from({ length: 20 }, (_, n) => client.chain('plusOne', { n }).next('timesTen').next('show').enqueue()));
    expect(await Promise.all(chains.map((c) => c.result({ timeout: '30s' })))).toEqual(Array.from({ length: 20 }, (_, n) => `=${(n + 1) * 10}`));
    const node = client.redis as unknown as { cluster(cmd: 'KEYSLOT', key: string): Promise<number>; hlen(key: string): Promise<number>; hexists(key: string, field: string): Promise<number> };
    const slots = new Set<number>();
    for (const q of ['images', 'billing', 'sms']) {
      const k = queueKeys(PREFIX, q);
      expect(await node.cluster('KEYSLOT', k.chainOutbox)).toBe(await node.cluster('KEYSLOT', k.jobs));
      slots.add(await node.cluster('KEYSLOT', k.jobs));
      expect(await node.hlen(k.chainOutbox)).toBe(0);
    }
    expect(slots.size).toBe(3);
    expect(await node.hexists(queueKeys(PREFIX, 'billing').done, `${chains[0]?.id}/1`)).toBe(1);
  }, 60_000);
});
