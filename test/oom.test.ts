/**
 * Redis at `maxmemory` with `noeviction` (issue 16, item 2), on a redis-server of the test's own. Redis refuses a
 * script whose first write may add data; jobcraft's scripts declare what they do there (shebang flags): workers keep
 * renewing, acknowledging and leasing — so no lease is granted that cannot be renewed and no job of a live worker runs
 * twice — while enqueue is refused as a whole, writes nothing, and throws the library's RedisOutOfMemoryError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { Redis } from 'ioredis';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import {
  createClient,
  createWorker,
  defineJobs,
  queueKeys,
  RedisOutOfMemoryError,
  RedisUnavailableError,
  type Worker,
} from '../src/index.js';
import { cleanupRegistry, deletePrefix, deferred, keysUnder, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { delay: 20 } },
  solo: { payload: z.object({ key: z.string() }), unique: true },
  tick: { payload: z.object({}), queue: 'cron', cron: '* * * * * *' },
});

const defer = cleanupRegistry();
let server: RedisServer;
let admin: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { maxRetriesPerRequest: 1 });
  await admin.config('SET', 'maxmemory-policy', 'noeviction');
});

afterAll(async () => {
  admin?.disconnect();
  await server?.stop();
});

/** Puts Redis over its memory limit: every write that may add data is refused from now on. */
async function fillMemory(): Promise<void> {
  await admin.config('SET', 'maxmemory', '1');
  await expect(admin.set('probe', 'x')).rejects.toThrow(/^OOM /);
}

async function freeMemory(): Promise<void> {
  await admin.config('SET', 'maxmemory', '0');
}

/** Redis's clock, in ms (lease expiries are on it). */
async function redisNow(): Promise<number> {
  const [s, us] = await admin.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Lease expiry per leased id (the active set's +inf guard member left out). */
async function leases(key: string): Promise<Map<string, number>> {
  const flat = await admin.zrangebyscore(key, '-inf', '(+inf', 'WITHSCORES');
  const out = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, Number(flat[i + 1]));
  return out;
}

/** Every key under the prefix with its full contents, to show that nothing at all was written. */
async function snapshot(prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await keysUnder(admin, prefix)) {
    const type = await admin.type(key);
    if (type === 'string') out[key] = await admin.get(key);
    else if (type === 'hash') out[key] = await admin.hgetall(key);
    else if (type === 'list') out[key] = await admin.lrange(key, 0, -1);
    else if (type === 'zset') out[key] = await admin.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'set') out[key] = (await admin.smembers(key)).sort();
    else out[key] = type;
  }
  return out;
}

describe('Redis at maxmemory with noeviction', () => {
  it('live workers keep renewing, acknowledging and leasing; after memory is freed no job has run twice', async () => {
    const prefix = testPrefix('oom-leases');
    const k = queueKeys(prefix, 'default');
    defer(async () => {
      await freeMemory();
      await deletePrefix(admin, prefix);
    });
    const client = createClient(jobs, { redis: server.url, prefix });
    defer(() => client.close());

    const N = 20;
    const runs = new Map<string, number>();
    const gates = new Map<string, { promise: Promise<void>; resolve: () => void }>();
    let releaseAll = false;
    const warnings: string[] = [];
    const errors: Error[] = [];
    const start = (): Worker => {
      const worker = createWorker(
        jobs,
        {
          work: async (_p, ctx) => {
            runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
            const gate = deferred();
            gates.set(ctx.id, gate);
            if (!releaseAll) await gate.promise;
          },
          solo: () => {},
        },
        {
          redis: server.url,
          prefix,
          queues: ['default'],
          concurrency: 4,
          prefetch: 0,
          leaseMs: 2_000,
          logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
        },
      );
      worker.on('error', (e) => errors.push(e));
      defer(() => worker.close());
      return worker;
    };
    await client.enqueueMany('work', Array.from({ length: N }, (_, n) => ({ n })));
    start();
    start();
    await waitFor(() => runs.size === 8, 'both workers to fill their 4 slots');

    await fillMemory();
    // Leases as they stand at the limit; from here on only a renewal made at the limit can move them.
    const first = await leases(k.active);
    expect(first.size).toBe(8);
    const firstExpiry = Math.max(...first.values());
    // Renewals go through: once every lease would have run out, each one is still ahead of Redis's clock.
    await waitFor(async () => {
      const now = await redisNow();
      const current = await leases(k.active);
      return now > firstExpiry && [...first.keys()].every((id) => (current.get(id) ?? 0) > now);
    }, 'the leases to be renewed while Redis is at maxmemory');

    // Four handlers finish at the limit: their completions are recorded and four more jobs are leased…
    const finished = [...first.keys()].slice(0, 4);
    for (const id of finished) gates.get(id)?.resolve();
    await waitFor(() => runs.size === 12, 'four more jobs to be leased at maxmemory');
    await waitFor(async () => (await admin.hlen(k.done)) === 4, 'the four completions to be recorded at maxmemory');
    // …and those new leases, granted at the limit, are renewed there too.
    const second = new Map([...(await leases(k.active))].filter(([id]) => !first.has(id)));
    expect(second.size).toBe(4);
    const secondExpiry = Math.max(...second.values());
    await waitFor(async () => {
      const now = await redisNow();
      const current = await leases(k.active);
      return now > secondExpiry && [...second.keys()].every((id) => (current.get(id) ?? 0) > now);
    }, 'the leases granted at maxmemory to be renewed there');
    expect(errors).toEqual([]);

    await freeMemory();
    releaseAll = true;
    for (const gate of gates.values()) gate.resolve();
    await waitFor(async () => (await admin.hlen(k.done)) === N, `all ${N} jobs to complete`);

    expect(runs.size).toBe(N);
    expect([...runs.entries()].filter(([, n]) => n !== 1)).toEqual([]); // no job ran twice
    expect(Object.values(await admin.hgetall(k.done)).map((rec) => rec.split('|')[0])).toEqual(Array(N).fill('1'));
    expect(await admin.hlen(k.dead)).toBe(0);
    expect(warnings.filter((w) => /lease|taken over/.test(w))).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('enqueue at maxmemory throws RedisOutOfMemoryError, naming the cause, and writes nothing', async () => {
    const prefix = testPrefix('oom-enqueue');
    defer(async () => {
      await freeMemory();
      await deletePrefix(admin, prefix);
    });
    const client = createClient(jobs, { redis: server.url, prefix });
    defer(() => client.close());
    // Something in the queue already, a unique lock and a dead letter, so every structure exists before.
    await client.enqueue('work', { n: 1 });
    await client.enqueue('solo', { key: 'held' });
    await client.enqueue('work', { n: 2 }, { delay: '1h' });
    const before = await snapshot(prefix);

    await fillMemory();
    const attempts: [string, () => Promise<unknown>][] = [
      ['a plain enqueue', () => client.enqueue('work', { n: 3 })],
      ['an enqueue with a jobId', () => client.enqueue('work', { n: 4 }, { jobId: 'given-id' })],
      ['enqueueMany (generated ids)', () => client.enqueueMany('work', [{ n: 5 }, { n: 6 }, { n: 7 }])],
      ['enqueueMany with jobIds', () => client.enqueueMany('work', [{ n: 8 }, { n: 9 }], { jobIds: ['a', 'b'] })],
      ['a unique job', () => client.enqueue('solo', { key: 'new' })],
      ['a delayed job', () => client.enqueue('work', { n: 10 }, { delay: '5s' })],
      ['a prioritized job', () => client.enqueue('work', { n: 11 }, { priority: 5 })],
    ];
    for (const [what, call] of attempts) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(RedisOutOfMemoryError);
      expect(err, what).toBeInstanceOf(RedisUnavailableError);
      const e = err as RedisOutOfMemoryError;
      expect(e.name).toBe('RedisOutOfMemoryError');
      expect(e.message, what).toMatch(/^Redis is out of memory and refused jobcraft's enqueue script: .*maxmemory.*noeviction.*nothing was written/);
      expect(String((e.cause as Error).message), what).toMatch(/^OOM command not allowed/);
    }
    expect(await snapshot(prefix)).toEqual(before);

    await freeMemory();
    await client.enqueue('work', { n: 12 }); // the same client works again once memory is free
  });

  it("a worker's refused writes at maxmemory are reported as RedisOutOfMemoryError", async () => {
    const prefix = testPrefix('oom-worker');
    defer(async () => {
      await freeMemory();
      await deletePrefix(admin, prefix);
    });
    await fillMemory();
    const reported: Error[] = [];
    // The cron scheduler writes at start (its registry, then the schedule's first record): both are refused.
    const worker = createWorker(jobs, { tick: () => {} }, { redis: server.url, prefix, queues: ['cron'], logger: false });
    worker.on('error', (e) => reported.push(e));
    defer(() => worker.close());
    await waitFor(() => reported.length >= 2, 'the refused cron writes to be reported');
    for (const e of reported) {
      expect(e).toBeInstanceOf(RedisOutOfMemoryError);
      expect(e.message).toMatch(/^Redis is out of memory and refused .*: .*maxmemory/);
    }
  });
});
