/**
 * The write API (`createAdmin`) on a real 3-master Redis Cluster: every call, on queues whose hash tags sit on
 * different shards, with no CROSSSLOT (or other) error and the effect in Redis — with the job set, and without it
 * (queues and throttled types from the registry).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createAdmin, createClient, defineJobs, payloadVersion, queueKeys, type JobClient } from '../src/index.js';
import { startRedisCluster, type RedisClusterHandle } from '../scripts/redis-cluster.js';
import { waitFor } from './helpers.js';

// Queue names whose hash tags land on different shards of a 3-master cluster (as in cluster.test.ts).
const payload = z.object({ n: z.number() });
const jobs = defineJobs({
  resize: { payload, queue: 'images', unique: { by: ['n'] } },
  charge: { payload, queue: 'billing', concurrency: 2 },
  hook: { payload, queue: 'webhooks' },
  report: { payload, queue: 'reports', cron: '0 3 * * *', cronPayload: { n: 0 } },
});
const PREFIX = 'jcadmincluster';

let cluster: RedisClusterHandle;
let client: JobClient<typeof jobs>;

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  client = createClient(jobs, { redis: { cluster: cluster.seeds }, prefix: PREFIX, logger: false });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await cluster?.stop();
});

describe('admin on Redis Cluster (3 masters)', () => {
  it('runs every call on queues of three shards without a CROSSSLOT error', async () => {
    const admin = createAdmin({ redis: { cluster: cluster.seeds }, prefix: PREFIX, jobs });
    try {
      const resized = await client.enqueueMany('resize', [{ n: 1 }, { n: 2 }], { delay: '1h' });
      const charged = await client.enqueueMany('charge', [{ n: 1 }, { n: 2 }]);
      const hooked = await client.enqueueMany('hook', [{ n: 1 }, { n: 2 }, { n: 3 }], { delay: '1h' });

      expect(await admin.act('promote', [resized[0]!.id])).toMatchObject({ done: 1 });
      expect(await admin.act('cancel', [resized[1]!.id, charged[0]!.id])).toMatchObject({ done: 2 });
      expect(await admin.bulk({ action: 'promote', all: true, dryRun: true })).toMatchObject({ matched: 4 });
      expect(await admin.bulk({ action: 'delete', queue: 'webhooks', all: true, pageSize: 1 })).toMatchObject({ done: 3 });
      expect(await admin.bulk({ action: 'cancel', job: 'charge' })).toMatchObject({ done: 1 });

      // Dead letters on two shards, made as the dead path leaves them.
      for (const [q, id, env] of [
        ['images', resized[0]!.id, { n: 'resize', t: Date.now(), p: { n: 1 } }],
        ['webhooks', hooked[0]!.id, { n: 'hook', t: Date.now(), p: { n: 1 } }],
      ] as const) {
        const k = queueKeys(PREFIX, q);
        await client.redis.multi().hset(k.dead, id, JSON.stringify(env)).zadd(k.deadOrder, Date.now(), id).hdel(k.jobs, id).zrem(k.scheduled, id).exec();
      }
      expect(await admin.act('dead-retry', [resized[0]!.id], { dryRun: true })).toMatchObject({ matched: 1 });
      expect(await admin.act('dead-retry', [resized[0]!.id])).toMatchObject({ done: 1 });
      expect(await admin.bulk({ action: 'dead-retry', all: true, since: 0 })).toMatchObject({ done: 1 });
      expect(await admin.act('cancel', [resized[0]!.id, hooked[0]!.id])).toMatchObject({ done: 2 });

      const k = queueKeys(PREFIX, 'webhooks');
      await client.redis.multi().hset(k.dead, 'x', '{}').zadd(k.deadOrder, 1, 'x').exec();
      expect(await admin.act('dead-delete', ['x'])).toMatchObject({ done: 1 });
      expect(await admin.purgeDead('webhooks')).toMatchObject({ done: 0 });

      for (const q of jobs.queues) {
        expect(await admin.pause(q)).toMatchObject({ changed: true });
        expect(await admin.isPaused(q)).toBe(true);
        expect(await admin.resume(q)).toMatchObject({ changed: true });
      }
      expect((await admin.cron()).map((c) => c.name)).toEqual(['report']);
      expect(await admin.triggerCron('report')).toMatchObject({ duplicate: false });

      // Without the job set: queues and throttled types from the registry.
      await waitFor(async () => (await client.redis.hlen(`${PREFIX}:queues`)) >= 3, 'the queue registry');
      const bare = createAdmin({ redis: { cluster: cluster.seeds }, prefix: PREFIX });
      try {
        expect(await bare.bulk({ action: 'cancel', all: true })).toMatchObject({ interrupted: false });
        expect(await bare.pause('billing')).toMatchObject({ changed: true });
        expect(await bare.resume('billing')).toMatchObject({ changed: true });
      } finally {
        await bare.close();
      }
      for (const q of jobs.queues) expect(await client.redis.hlen(queueKeys(PREFIX, q).jobs)).toBe(0);
    } finally {
      await admin.close();
    }
  });

  it('migrates stored payloads of jobs on queues of different shards at once (migrate.lua touches one queue\'s keys)', async () => {
    const v1 = z.object({ n: z.number() });
    const old = defineJobs({ oldImage: { payload: v1, queue: 'images' }, oldHook: { payload: v1, queue: 'webhooks' } });
    const versioned = { payload: z.object({ n: z.array(z.number()) }), versions: [payloadVersion(v1, (p) => ({ n: [p.n] }))] } as const;
    const next = defineJobs({ oldImage: { ...versioned, queue: 'images' }, oldHook: { ...versioned, queue: 'webhooks' } });
    const producer = createClient(old, { redis: { cluster: cluster.seeds }, prefix: PREFIX, logger: false });
    const admin = createAdmin({ redis: { cluster: cluster.seeds }, prefix: PREFIX, jobs: next });
    try {
      const images = await producer.enqueueMany('oldImage', [{ n: 1 }, { n: 2 }]);
      const hooks = await producer.enqueueMany('oldHook', [{ n: 3 }]);
      const [a, b] = await Promise.all([admin.migrate({ job: 'oldImage', pageSize: 1 }), admin.migrate({ job: 'oldHook' })]);
      expect(a).toMatchObject({ matched: 2, migrated: 2, failed: 0 });
      expect(b).toMatchObject({ matched: 1, migrated: 1, failed: 0 });
      for (const [q, made] of [['images', images], ['webhooks', hooks]] as const) {
        for (const { id } of made) expect(JSON.parse((await client.redis.hget(queueKeys(PREFIX, q).jobs, id)) ?? '{}')).toMatchObject({ v: 2, p: { n: [expect.any(Number)] } });
      }
      // The queues as the other tests expect them: empty.
      expect(await admin.act('cancel', [...images, ...hooks].map((j) => j.id))).toMatchObject({ done: 3 });
    } finally {
      await admin.close();
      await producer.close();
    }
  });

  it('runs calls on queues of different shards at once (a dashboard serving several operators)', async () => {
    const admin = createAdmin({ redis: { cluster: cluster.seeds }, prefix: PREFIX, jobs });
    try {
      const made = await Promise.all([
        client.enqueue('resize', { n: 10 }, { delay: '1h' }),
        client.enqueue('charge', { n: 10 }),
        client.enqueue('hook', { n: 10 }, { delay: '1h' }),
      ]);
      expect(await Promise.all(jobs.queues.map((q) => admin.pause(q)))).toHaveLength(jobs.queues.length);
      const resumed = await Promise.all(jobs.queues.map((q) => admin.resume(q)));
      expect(resumed.every((r) => r.changed)).toBe(true);
      const cancelled = await Promise.all(made.map((m) => admin.act('cancel', [m.id])));
      expect(cancelled.map((c) => c.done)).toEqual([1, 1, 1]);
      for (const q of jobs.queues) expect(await client.redis.hlen(queueKeys(PREFIX, q).jobs)).toBe(0);
    } finally {
      await admin.close();
    }
  });
});
