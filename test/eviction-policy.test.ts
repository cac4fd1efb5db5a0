/**
 * A Redis that may evict keys may evict jobs: a worker checks `maxmemory-policy` when it starts and warns clearly
 * unless it is `noeviction`. Runs its own redis-server so the shared one's configuration is never touched.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs } from '../src/index.js';
import { startRedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, rawRedis, waitFor } from './helpers.js';

const jobs = defineJobs({ noop: { payload: z.object({}) } });
const defer = cleanupRegistry();

async function workerOn(policy: string): Promise<{ warnings: string[]; ranOne: () => Promise<void> }> {
  const server = await startRedisServer();
  defer(() => server.stop());
  const raw = rawRedis(server.url);
  defer(() => raw.disconnect());
  await raw.config('SET', 'maxmemory-policy', policy);
  const warnings: string[] = [];
  let ran = 0;
  const worker = createWorker(jobs, { noop: () => void ran++ }, {
    redis: server.url,
    logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) },
  });
  defer(() => worker.close());
  const client = createClient(jobs, { redis: server.url });
  defer(() => client.close());
  return {
    warnings,
    ranOne: async () => {
      await client.enqueue('noop', {});
      await waitFor(() => ran === 1, 'a job to run');
    },
  };
}

describe('maxmemory-policy check at worker start', () => {
  it('warns when Redis may evict keys (allkeys-lru), naming the policy and the fix', async () => {
    const { warnings } = await workerOn('allkeys-lru');
    const warning = await waitFor(() => warnings.find((w) => w.includes('maxmemory-policy')), 'the eviction warning');
    expect(warning).toMatch(/allkeys-lru/);
    expect(warning).toMatch(/noeviction/);
    expect(warning).toMatch(/lose jobs|evict/i);
  });

  it('warns for volatile-lru too (it evicts keys with a TTL, such as unique-job locks)', async () => {
    const { warnings } = await workerOn('volatile-lru');
    await waitFor(() => warnings.find((w) => w.includes('volatile-lru')), 'the eviction warning');
  });

  it('stays quiet with noeviction', async () => {
    const { warnings, ranOne } = await workerOn('noeviction');
    await ranOne();
    expect(warnings).toEqual([]);
  });
});
