/**
 * An enqueue that times out while Redis is frozen (SIGSTOP of a redis-server started here) may still be written
 * once Redis resumes. The error says so and how to retry safely; retrying with the same jobId yields exactly one job.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { EnqueueUnconfirmedError, RedisUnavailableError, createClient, defineJobs, queueKeys } from '../src/index.js';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, rawRedis, waitFor } from './helpers.js';
import { startTcpProxy } from './tcp-proxy.js';

const jobs = defineJobs({
  charge: { payload: z.object({ order: z.number() }) },
  sync: { payload: z.object({ user: z.string() }), unique: true },
});
const defer = cleanupRegistry();
const PREFIX = 'unconfirmed';
const k = queueKeys(PREFIX, 'default');

let server: RedisServer | undefined;
afterEach(() => {
  // Never leave a stopped process behind, whatever the test did.
  if (server?.process.exitCode === null) server.process.kill('SIGCONT');
});

async function setUp() {
  server = await startRedisServer();
  const s = server;
  defer(() => s.stop());
  const raw = rawRedis(s.url);
  defer(() => raw.disconnect());
  const client = createClient(jobs, { redis: s.url, prefix: PREFIX, timeout: 300, logger: false });
  defer(() => client.close());
  await client.enqueue('charge', { order: 0 }); // connected and scripts loaded before the freeze
  return { s, raw, client };
}

describe('an enqueue Redis did not confirm', () => {
  it('says the job may have been written and that the same jobId retries safely; that retry yields one job', async () => {
    const { s, raw, client } = await setUp();
    s.process.kill('SIGSTOP');
    const err = await client.enqueue('charge', { order: 1 }, { jobId: 'order-1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnqueueUnconfirmedError);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as EnqueueUnconfirmedError).jobIds).toEqual(['order-1']);
    expect((err as Error).message).toMatch(/did not answer within 300 ms/);
    expect((err as Error).message).toMatch(/may or may not have been written/);
    expect((err as Error).message).toMatch(/retrying with the same jobId \("order-1"\) is safe/);

    s.process.kill('SIGCONT');
    // The frozen command runs once Redis resumes: the job exists although the caller saw an error.
    await waitFor(async () => (await raw.hexists(k.jobs, 'order-1')) === 1, 'the unconfirmed job to be written');
    const retry = await client.enqueue('charge', { order: 1 }, { jobId: 'order-1' });
    expect(retry).toEqual({ id: 'order-1', duplicate: true });
    const ids = await raw.hkeys(k.jobs);
    expect(ids.filter((id) => id === 'order-1')).toHaveLength(1);
    expect(ids).toHaveLength(2); // order 0 and order 1
  });

  it('without a jobId it warns that a retry may enqueue twice (and the jobs are written on resume)', async () => {
    const { s, raw, client } = await setUp();
    s.process.kill('SIGSTOP');
    const errors = await Promise.all([1, 2, 3, 4].map((order) => client.enqueue('charge', { order }).then(() => undefined, (e: unknown) => e)));
    for (const err of errors) {
      expect(err).toBeInstanceOf(EnqueueUnconfirmedError);
      expect((err as EnqueueUnconfirmedError).jobIds).toBeUndefined();
      expect((err as Error).message).toMatch(/no jobId, so retrying it may enqueue the job twice/);
    }
    s.process.kill('SIGCONT');
    await waitFor(async () => (await raw.hlen(k.jobs)) === 5, 'the four unconfirmed jobs to be written');
  });

  it('a connection dropped after Redis ran the enqueue and before its reply: unconfirmed, and never sent again', async () => {
    server = await startRedisServer();
    const s = server;
    defer(() => s.stop());
    const raw = rawRedis(s.url);
    defer(() => raw.disconnect());
    const proxy = await startTcpProxy(s.port);
    defer(() => proxy.close());
    const client = createClient(jobs, { redis: proxy.url, prefix: PREFIX, logger: false });
    defer(() => client.close());
    await client.enqueue('charge', { order: 0 });

    for (const [order, jobId] of [[1, undefined], [2, 'order-2']] as const) {
      proxy.holdReplies();
      const call = client.enqueue('charge', { order }, jobId === undefined ? {} : { jobId }).then(
        (r) => r,
        (e: unknown) => e,
      );
      await waitFor(async () => (await raw.hlen(k.jobs)) === order + 1, `enqueue ${order} to run in Redis`);
      proxy.cut();
      proxy.resume();
      const err = await call;
      // Before: ioredis sent the enqueue again after reconnecting: a second copy, or the caller's own job as a duplicate.
      expect(err).toBeInstanceOf(EnqueueUnconfirmedError);
      expect((err as Error).message).toMatch(/may or may not have been written/);
      expect((err as EnqueueUnconfirmedError).jobIds).toEqual(jobId === undefined ? undefined : [jobId]);
      // The client reconnects and works; the job exists exactly once.
      await client.enqueue('charge', { order: 100 + order }, { jobId: `probe-${order}` });
      expect(await raw.hlen(k.jobs)).toBe(order + 2);
      await raw.hdel(k.jobs, `probe-${order}`);
    }
    expect(await client.enqueue('charge', { order: 2 }, { jobId: 'order-2' })).toEqual({ id: 'order-2', duplicate: true });
  });

  it('for a unique job type without jobId it says a retry comes back as a duplicate while the lock is held', async () => {
    const { s, raw, client } = await setUp();
    s.process.kill('SIGSTOP');
    const err = await client.enqueue('sync', { user: 'u1' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EnqueueUnconfirmedError);
    expect((err as Error).message).toMatch(/its job type is unique: a retry while the first copy holds the unique lock .* comes back as a duplicate/);
    s.process.kill('SIGCONT');
    await waitFor(async () => (await raw.hlen(k.jobs)) === 2, 'the unconfirmed job to be written');
    const retry = await client.enqueue('sync', { user: 'u1' });
    expect(retry.duplicate).toBe(true);
    expect(await raw.hlen(k.jobs)).toBe(2);
  });

  it('a client that never reached Redis says nothing was written', async () => {
    const s = await startRedisServer();
    await s.stop();
    const client = createClient(jobs, { redis: s.url, prefix: PREFIX, timeout: '20s', logger: false });
    defer(() => client.close());
    const err = await client.enqueue('charge', { order: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect(err).not.toBeInstanceOf(EnqueueUnconfirmedError);
    expect((err as Error).message).toMatch(/nothing was written/);
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});
