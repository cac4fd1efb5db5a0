/**
 * A Redis that may evict keys may evict jobs: a worker checks `maxmemory-policy` before it fetches and refuses to
 * start unless it is `noeviction` or the user opted in with `allowEvictingRedis`; a client warns once. Runs its own
 * redis-server so the shared one's configuration is never touched.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RedisConfigurationError, createClient, createWorker, defineJobs, type Logger } from '../src/index.js';
import { startRedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, rawRedis, waitFor } from './helpers.js';

const jobs = defineJobs({ noop: { payload: z.object({}) } });
const defer = cleanupRegistry();

function recorder(): { logger: Logger; warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void errors.push(m) } };
}

async function redisWith(policy: string): Promise<string> {
  const server = await startRedisServer();
  defer(() => server.stop());
  const raw = rawRedis(server.url);
  defer(() => raw.disconnect());
  await raw.config('SET', 'maxmemory-policy', policy);
  return server.url;
}

function workerOn(url: string, options: { allowEvictingRedis?: boolean } = {}) {
  const log = recorder();
  const ran: string[] = [];
  const errorEvents: Error[] = [];
  const worker = createWorker(jobs, { noop: (_p, ctx) => void ran.push(ctx.id) }, { redis: url, logger: log.logger, ...options });
  worker.on('error', (e) => void errorEvents.push(e));
  defer(() => worker.close());
  return { worker, ran, errorEvents, ...log };
}

describe('maxmemory-policy check at worker start', () => {
  it('refuses to start on allkeys-lru: ready rejects, an error is logged and emitted, and no job runs', async () => {
    const url = await redisWith('allkeys-lru');
    const client = createClient(jobs, { redis: url, logger: false });
    defer(() => client.close());
    const { id } = await client.enqueue('noop', {});
    const w = workerOn(url);
    const err = await w.worker.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisConfigurationError);
    expect((err as RedisConfigurationError).reason).toBe('eviction_policy');
    expect((err as Error).message).toMatch(/allkeys-lru/);
    expect((err as Error).message).toMatch(/noeviction/);
    expect((err as Error).message).toMatch(/allowEvictingRedis/);
    expect(w.errorEvents).toEqual([err]);
    expect(w.errors.some((m) => m.includes('will not start') && m.includes('allkeys-lru'))).toBe(true);
    // The job the worker could have taken at once is still waiting, and close() ends the idle worker normally.
    expect(w.ran).toEqual([]);
    expect((await client.getJob(id)).state).toBe('waiting');
    await w.worker.close();
    expect(w.ran).toEqual([]);
  });

  it('refuses volatile-lru too (it evicts keys with a TTL, such as unique-job locks)', async () => {
    const url = await redisWith('volatile-lru');
    const w = workerOn(url);
    await expect(w.worker.ready).rejects.toThrow(/volatile-lru/);
  });

  it('runs with allowEvictingRedis: true, warning once that jobs may be lost', async () => {
    const url = await redisWith('allkeys-lru');
    const w = workerOn(url, { allowEvictingRedis: true });
    await w.worker.ready;
    const client = createClient(jobs, { redis: url, logger: false });
    defer(() => client.close());
    const { id } = await client.enqueue('noop', {});
    await waitFor(() => w.ran.includes(id), 'the job to run');
    expect(w.warnings.filter((m) => m.includes('maxmemory-policy'))).toHaveLength(1);
    expect(w.warnings[0]).toMatch(/allkeys-lru.*running anyway/s);
    expect(w.errors).toEqual([]);
  });

  it('a producer warns once on an evicting Redis', async () => {
    const url = await redisWith('allkeys-lfu');
    const log = recorder();
    const client = createClient(jobs, { redis: url, logger: log.logger });
    defer(() => client.close());
    await waitFor(() => log.warnings.length > 0, 'the eviction warning');
    await client.enqueue('noop', {});
    await client.enqueue('noop', {});
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/allkeys-lfu/);
    expect(log.warnings[0]).toMatch(/noeviction/);
  });

  it('stays quiet with noeviction and runs jobs', async () => {
    const url = await redisWith('noeviction');
    const w = workerOn(url);
    await w.worker.ready;
    const client = createClient(jobs, { redis: url, logger: w.logger });
    defer(() => client.close());
    const { id } = await client.enqueue('noop', {});
    await waitFor(() => w.ran.includes(id), 'the job to run');
    expect(w.warnings).toEqual([]);
    expect(w.errors).toEqual([]);
  });
});
