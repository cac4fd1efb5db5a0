/**
 * Redis at `maxmemory` with `noeviction` (issue 16, item 2), on a redis-server of the test's own. Redis refuses a
 * script whose first write may add data; jobcraft's scripts declare what they do there (shebang flags): workers keep
 * renewing, acknowledging, retrying and dead-lettering the jobs they hold — so no job of a live worker runs twice —
 * but lease no new ones (which would add error records without bound), while enqueue is refused as a whole, writes
 * nothing, and throws the library's RedisOutOfMemoryError.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { noevictionServer } from './oom-server.js';
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
  flaky: { payload: z.object({ n: z.number() }), queue: 'flaky', attempts: 1_000, backoff: { delay: 10 } },
  solo: { payload: z.object({ key: z.string() }), unique: true },
  tick: { payload: z.object({}), queue: 'cron', cron: '* * * * * *' },
});

const defer = cleanupRegistry();
const oom = noevictionServer();

/** Redis's clock, in ms (lease expiries are on it). */
async function redisNow(): Promise<number> {
  const [s, us] = await oom.admin.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

/** Lease expiry per leased id (the active set's +inf guard member left out). */
async function leases(key: string): Promise<Map<string, number>> {
  const flat = await oom.admin.zrangebyscore(key, '-inf', '(+inf', 'WITHSCORES');
  const out = new Map<string, number>();
  for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, Number(flat[i + 1]));
  return out;
}

/** Every key under the prefix with its full contents, to show that nothing at all was written. */
async function snapshot(prefix: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const key of await keysUnder(oom.admin, prefix)) {
    const type = await oom.admin.type(key);
    if (type === 'string') out[key] = await oom.admin.get(key);
    else if (type === 'hash') out[key] = await oom.admin.hgetall(key);
    else if (type === 'list') out[key] = await oom.admin.lrange(key, 0, -1);
    else if (type === 'zset') out[key] = await oom.admin.zrange(key, 0, -1, 'WITHSCORES');
    else if (type === 'set') out[key] = (await oom.admin.smembers(key)).sort();
    else out[key] = type;
  }
  return out;
}

describe('Redis at maxmemory with noeviction', () => {
  it('live workers keep renewing and acknowledging but lease nothing new; after memory is freed no job has run twice', async () => {
    const prefix = testPrefix('oom-leases');
    const k = queueKeys(prefix, 'default');
    defer(async () => {
      await oom.free();
      await deletePrefix(oom.admin, prefix);
    });
    const client = createClient(jobs, { redis: oom.url, prefix });
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
          redis: oom.url,
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

    await oom.fill();
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

    // Four handlers finish at the limit. The fetch that would lease four more is refused (reported once per
    // worker); its acknowledgements go again on their own, which Redis accepts: the four completions are recorded.
    const finished = [...first.keys()].slice(0, 4);
    for (const id of finished) gates.get(id)?.resolve();
    await waitFor(async () => (await oom.admin.hlen(k.done)) === 4, 'the four completions to be recorded at maxmemory');
    await waitFor(() => errors.length > 0, 'the refused lease to be reported');
    expect(runs.size).toBe(8); // nothing new leased at the limit
    expect((await leases(k.active)).size).toBe(4);
    // The fetch loops retry with a backoff (up to 2 s): let a few retries be refused, then count the reports.
    const [s0] = await oom.admin.time();
    await waitFor(async () => Number((await oom.admin.time())[0]) > Number(s0) + 4, 'a few refused fetches');
    expect(runs.size).toBe(8);
    expect(errors.length).toBeLessThanOrEqual(2); // once per worker, not per call
    for (const e of errors) {
      expect(e).toBeInstanceOf(RedisOutOfMemoryError);
      expect(e.message).toMatch(/^Redis is out of memory and refused jobcraft's fetch script \(leasing jobs\)/);
    }
    errors.length = 0;

    await oom.free();
    releaseAll = true;
    for (const gate of gates.values()) gate.resolve();
    await waitFor(async () => (await oom.admin.hlen(k.done)) === N, `all ${N} jobs to complete`);

    expect(runs.size).toBe(N);
    expect([...runs.entries()].filter(([, n]) => n !== 1)).toEqual([]); // no job ran twice
    expect(Object.values(await oom.admin.hgetall(k.done)).map((rec) => rec.split('|')[0])).toEqual(Array(N).fill('1'));
    expect(await oom.admin.hlen(k.dead)).toBe(0);
    expect(warnings.filter((w) => /lease|taken over/.test(w) && !/out of memory/.test(w))).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('failing jobs at maxmemory add at most their in-flight error records; nothing is lost once memory is raised', async () => {
    const prefix = testPrefix('oom-growth');
    const k = queueKeys(prefix, 'flaky');
    defer(async () => {
      await oom.free();
      await deletePrefix(oom.admin, prefix);
    });
    const client = createClient(jobs, { redis: oom.url, prefix });
    defer(() => client.close());
    const N = 3_000;
    await client.enqueueMany('flaky', Array.from({ length: N }, (_, n) => ({ n })));
    const usedMemory = async (): Promise<number> => Number(/used_memory:(\d+)/.exec(await oom.admin.info('memory'))?.[1]);
    const limit = (await usedMemory()) + 512 * 1024;
    await oom.admin.config('SET', 'maxmemory', String(limit));

    let failing = true;
    const failed = new Set<string>();
    const completed = new Set<string>();
    const errors: Error[] = [];
    const worker = createWorker(
      jobs,
      {
        flaky: () => {
          // A few KB per error record: failures past the limit show up in used_memory.
          if (failing) throw new Error(`refused: ${'x'.repeat(4_000)}`);
        },
      },
      { redis: oom.url, prefix, queues: ['flaky'], concurrency: 8, logger: false },
    );
    defer(() => worker.close());
    worker.on('failed', (e) => void failed.add(e.job.id));
    worker.on('completed', (e) => void completed.add(e.job.id));
    worker.on('error', (e) => void errors.push(e));

    // Either every job failed once (leasing went on at the limit) or leasing was refused and no lease is left.
    await waitFor(
      async () => failed.size === N || (errors.some((e) => e instanceof RedisOutOfMemoryError) && (await oom.admin.zcard(k.active)) === 0),
      'leasing to stop at maxmemory',
      60_000,
    );
    const over = (await usedMemory()) - limit;
    // In flight at the limit: at most concurrency + prefetch (4 × concurrency) leases, one error record (~4 KB) each.
    expect(over).toBeLessThan(1024 * 1024);
    expect(failed.size).toBeLessThan(N);

    failing = false;
    await oom.free();
    await waitFor(() => completed.size === N, `all ${N} jobs to complete once memory is raised`, 120_000);
    expect(await oom.admin.hlen(k.dead)).toBe(0);
    expect(await oom.admin.hlen(k.jobs)).toBe(0);
  }, 180_000);

  it('enqueue at maxmemory throws RedisOutOfMemoryError, naming the cause, and writes nothing', async () => {
    const prefix = testPrefix('oom-enqueue');
    defer(async () => {
      await oom.free();
      await deletePrefix(oom.admin, prefix);
    });
    const client = createClient(jobs, { redis: oom.url, prefix });
    defer(() => client.close());
    // Something in the queue already, a unique lock and a dead letter, so every structure exists before.
    await client.enqueue('work', { n: 1 });
    await client.enqueue('solo', { key: 'held' });
    await client.enqueue('work', { n: 2 }, { delay: '1h' });
    const k = queueKeys(prefix, 'default');
    await oom.admin.hset(k.dead, 'gone', JSON.stringify({ n: 'work', t: Date.now(), p: { n: 0 } }));
    await oom.admin.hset(k.deadInfo, 'gone', JSON.stringify({ reason: 'permanent_error', error: { name: 'Error', message: 'x', at: 0 }, attempts: 1, diedAt: 0 }));
    await oom.admin.zadd(k.deadOrder, 0, 'gone');
    const before = await snapshot(prefix);

    await oom.fill();
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
    // Retrying a dead letter adds work too: refused the same way.
    const retried = await client.deadLetters.retry('gone').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(retried).toBeInstanceOf(RedisOutOfMemoryError);
    expect((retried as Error).message).toMatch(/^Redis is out of memory and refused jobcraft's dead-retry script: /);
    expect(await snapshot(prefix)).toEqual(before);

    await oom.free();
    await client.enqueue('work', { n: 12 }); // the same client works again once memory is free
    expect(await client.deadLetters.retry('gone')).toBe(true);
  });

  it("a worker's refused writes at maxmemory are reported as RedisOutOfMemoryError", async () => {
    const prefix = testPrefix('oom-worker');
    defer(async () => {
      await oom.free();
      await deletePrefix(oom.admin, prefix);
    });
    await oom.fill();
    const reported: Error[] = [];
    // The cron scheduler writes at start (its registry, then the schedule's first record): both are refused.
    const worker = createWorker(jobs, { tick: () => {} }, { redis: oom.url, prefix, queues: ['cron'], logger: false });
    worker.on('error', (e) => reported.push(e));
    defer(() => worker.close());
    await waitFor(() => reported.length >= 2, 'the refused cron writes to be reported');
    for (const e of reported) {
      expect(e).toBeInstanceOf(RedisOutOfMemoryError);
      expect(e.message).toMatch(/^Redis is out of memory and refused .*: .*maxmemory/);
    }
  });
});
