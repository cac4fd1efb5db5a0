/**
 * Redis Cluster: a real 3-master cluster on loopback ports (redis-server --cluster-enabled yes, joined with
 * redis-cli --cluster create). Jobs of six queues run through it with ioredis's cluster client; no command may fail
 * with CROSSSLOT, nothing may be lost, every key of a queue must share one slot, and the queues must spread over
 * all three shards.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createInspector, createWorker, defineJobs, queueKeys, type JobClient, type Worker } from '../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../scripts/redis-cluster.js';
import { waitFor } from './helpers.js';

// Queue names chosen so their hash tags land on different shards of a 3-master cluster (slots 4418 … 13018).
const payload = z.object({ n: z.number() });
const jobs = defineJobs({
  resize: { payload, queue: 'images' },
  charge: { payload, queue: 'billing', attempts: 3, backoff: { delay: 20 } },
  hook: { payload, queue: 'webhooks', attempts: 2, backoff: { delay: 20 } },
  report: { payload, queue: 'reports' },
  text: { payload, queue: 'sms' },
  misc: { payload },
});
type Name = 'resize' | 'charge' | 'hook' | 'report' | 'text' | 'misc';
const NAMES: Name[] = ['resize', 'charge', 'hook', 'report', 'text', 'misc'];
const PREFIX = 'jccluster';

let cluster: RedisClusterHandle;
let client: JobClient<typeof jobs>;
const workers: Worker[] = [];
const reported: string[] = [];
const runs = new Map<string, number>();

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  client = createClient(jobs, { redis: { cluster: cluster.seeds }, prefix: PREFIX });
  const record = (id: string): void => void runs.set(id, (runs.get(id) ?? 0) + 1);
  for (let i = 0; i < 2; i++) {
    const w = createWorker(
      jobs,
      {
        resize: (_p, ctx) => record(ctx.id),
        charge: ({ n }, ctx) => {
          record(ctx.id);
          if (n % 10 === 0 && ctx.attempt === 1) throw new Error('card declined, try again');
        },
        hook: ({ n }, ctx) => {
          record(ctx.id);
          if (n === 7) throw new Error('endpoint gone');
        },
        report: (_p, ctx) => record(ctx.id),
        text: (_p, ctx) => record(ctx.id),
        misc: (_p, ctx) => record(ctx.id),
      },
      {
        redis: { cluster: cluster.seeds },
        prefix: PREFIX,
        concurrency: 8,
        leaseMs: 2_000,
        logger: { debug: () => {}, info: () => {}, warn: (m) => void reported.push(m), error: (m) => void reported.push(m) },
      },
    );
    w.on('error', (e) => void reported.push(e.message));
    workers.push(w);
  }
}, 60_000);

afterAll(async () => {
  await Promise.all(workers.map((w) => w.close()));
  await client?.close();
  await cluster?.stop();
});

describe('Redis Cluster (3 masters)', () => {
  it('runs jobs of six queues with no CROSSSLOT error and nothing lost', async () => {
    const ids: string[] = [];
    for (const name of NAMES) {
      const many = await client.enqueueMany(name, Array.from({ length: 60 }, (_, n) => ({ n })));
      ids.push(...many.map((r) => r.id));
      ids.push((await client.enqueue(name, { n: 1_000 }, { delay: 100 })).id);
      ids.push((await client.enqueue(name, { n: 1_001 }, { priority: 7, jobId: `${name}-prio` })).id);
    }
    await waitFor(async () => {
      const states = await Promise.all(ids.map((id) => client.getJob(id)));
      return states.every((s) => s.state === 'completed' || s.state === 'dead');
    }, 'every job to finish', 30_000);

    const states = await Promise.all(ids.map((id) => client.getJob(id)));
    const dead = states.filter((s) => s.state === 'dead');
    // Only the webhook with n = 7 dies; every other job completes and ran exactly once (no crash here).
    expect(dead.map((s) => [s.queue, s.name, s.deadReason])).toEqual([['webhooks', 'hook', 'attempts_exhausted']]);
    for (const s of states.filter((x) => x.state === 'completed')) {
      const expected = s.queue === 'billing' && s.attempts === 2 ? 2 : 1;
      expect(runs.get(s.id), `runs of ${s.id}`).toBe(expected);
    }
    // Dead-letter management works per queue on its shard.
    const [letter] = await client.deadLetters.list('webhooks');
    expect(letter?.error.message).toBe('endpoint gone');
    // Its error history (the errors record moved into the dead letter by dead.lua) on the queue's shard.
    expect(letter?.errors.map((e) => [e.attempt, e.message])).toEqual([[1, 'endpoint gone'], [2, 'endpoint gone']]);
    expect(await client.deadLetters.retry(letter?.id as string)).toBe(true);
    await waitFor(async () => (await client.getJob(letter?.id as string)).state === 'dead' && runs.get(letter?.id as string) === 4, 'the retried dead letter to run and die again');
    expect(await client.deadLetters.purge('webhooks')).toBe(1);

    expect(reported.filter((m) => /CROSSSLOT|MOVED|ASK|slot/i.test(m))).toEqual([]);
    expect(reported).toEqual([]);
  });

  it('keeps every key of a queue in one slot and spreads the queues over all three shards', async () => {
    const seed = new Redis(cluster.seeds[0] as { host: string; port: number });
    try {
      const shardOf = new Map<string, number>();
      for (const queue of jobs.queues) {
        const keys = Object.entries(queueKeys(PREFIX, queue))
          .filter(([field]) => field !== 'queue')
          .map(([, key]) => key);
        const slots = new Set(await Promise.all(keys.map((k) => seed.cluster('KEYSLOT', k) as Promise<number>)));
        expect(slots.size, `slots of queue ${queue}`).toBe(1);
        const node = cluster.nodeOfSlot([...slots][0] as number);
        shardOf.set(queue, node.port);
        // The queue's data really is on that node, and on no other.
        const holders: number[] = [];
        for (const n of cluster.nodes) {
          // SCAN is local to a node (no redirection): it shows where the keys physically are.
          const direct = new Redis({ host: n.host, port: n.port });
          const [, found] = await direct.scan('0', 'MATCH', `${PREFIX}:{${queue}}:*`, 'COUNT', 100_000);
          if (found.length > 0) holders.push(n.port);
          direct.disconnect();
        }
        expect(holders, `nodes holding queue ${queue}`).toEqual([node.port]);
      }
      expect(new Set(shardOf.values()).size).toBe(3);
    } finally {
      seed.disconnect();
    }
  });
  it('takes concurrent enqueues of several queues and throttled types, and reads every queue\'s stats at once', async () => {
    // Calls in flight together share ioredis's auto-pipeline; scripts whose number of keys varies must not be grouped
    // with another slot's calls ("All keys in the pipeline should belong to the same slots allocation group").
    const busy = defineJobs({
      resize: { payload, queue: 'images' },
      charge: { payload, queue: 'billing', concurrency: 2 },
      hook: { payload, queue: 'webhooks', rateLimit: { max: 5, per: 1_000 } },
      report: { payload, queue: 'reports', unique: true },
      misc: { payload },
    });
    const prefix = `${PREFIX}-busy`;
    const c = createClient(busy, { redis: { cluster: cluster.seeds }, prefix });
    const inspector = createInspector({ redis: { cluster: cluster.seeds }, prefix, jobs: busy });
    try {
      const names = ['resize', 'charge', 'hook', 'report', 'misc'] as const;
      await Promise.all(names.map((name) => c.enqueueMany(name, Array.from({ length: 10 }, (_, n) => ({ n })))));
      await Promise.all(names.flatMap((name) => [c.enqueue(name, { n: 100 }), c.enqueue(name, { n: 101 }, { delay: 60_000 })]));
      const stats = await inspector.allStats();
      expect(stats.map((s) => [s.queue, s.waiting, s.delayed])).toEqual([
        ['billing', 11, 1],
        ['default', 11, 1],
        ['images', 11, 1],
        ['reports', 11, 1],
        ['webhooks', 11, 1],
      ]);
    } finally {
      await inspector.close();
      await c.close();
    }
  });
});
