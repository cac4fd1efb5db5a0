/**
 * Redis going away mid-run: with persistence on (AOF, fsync always), a worker carries on after Redis restarts on
 * the same files and every job completes at least once; none is lost.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import { createClient, createWorker, defineJobs, queueKeys } from '../src/index.js';
import { cleanupRegistry, queueCounts, rawRedis, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  step: { payload: z.object({ n: z.number() }), attempts: 10, backoff: { type: 'fixed', delay: 20 } },
});

const defer = cleanupRegistry();
const N = 40;

describe.each([
  ['SIGTERM', 'SIGTERM'],
  ['SIGKILL', 'SIGKILL'],
] as const)('Redis stopped with %s mid-run and restarted', (_label, signal) => {
  it('loses no job: every job completes at least once', async () => {
    const first: RedisServer = await startRedisServer({ aof: true });
    let current: RedisServer = first;
    defer(async () => {
      await current.stop();
      await first.stop(); // removes the data folder
    });
    const prefix = testPrefix('restart');
    const client = createClient(jobs, { redis: first.url, prefix });
    defer(() => client.close());

    const completions = new Map<number, number>();
    const errors: Error[] = [];
    const worker = createWorker(
      jobs,
      {
        step: async ({ n }) => {
          await new Promise((r) => setTimeout(r, 25));
          completions.set(n, (completions.get(n) ?? 0) + 1);
        },
      },
      { redis: first.url, prefix, concurrency: 2, leaseMs: 2000, logger: false },
    );
    worker.on('error', (e) => errors.push(e));
    defer(() => worker.close());

    await client.enqueueMany('step', Array.from({ length: N }, (_, n) => ({ n })));
    await waitFor(() => completions.size >= 5, 'some jobs to complete before the restart');
    expect(completions.size).toBeLessThan(N);

    await first.kill(signal);
    current = await startRedisServer({ aof: true, dir: first.dir, port: first.port });

    await waitFor(() => completions.size === N, `all ${N} jobs to complete after the restart`, 30_000);
    expect([...completions.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, n) => n));

    // Redis agrees: nothing is left waiting, running or dead.
    const raw = rawRedis(current.url);
    defer(() => raw.disconnect());
    await waitFor(async () => {
      const c = await queueCounts(raw, queueKeys(prefix, 'default'));
      return c.wait + c.prio + c.scheduled + c.active + c.jobs === 0 ? c : undefined;
    }, 'the queue to drain in Redis');
    expect(await queueCounts(raw, queueKeys(prefix, 'default'))).toMatchObject({ attempts: 0, errors: 0, dead: 0 });
  });
});
