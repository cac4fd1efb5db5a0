/**
 * Fetching is a blocking pop, not a busy poll: an idle worker sends only a few Redis commands per second, yet a job
 * enqueued to it starts at once (well before its blocked read would time out). Runs on a Redis of its own so the
 * command count is the worker's alone.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { startRedisServer } from '../scripts/redis-server.js';
import { createClient, createWorker, defineJobs } from '../src/index.js';
import { cleanupRegistry, rawRedis, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  a: { payload: z.object({}) },
  b: { payload: z.object({}), queue: 'b' },
  c: { payload: z.object({}), queue: 'c' },
});

const defer = cleanupRegistry();

describe('an idle worker', () => {
  it('sends only a few commands per second over three queues, and still starts a new job at once', async () => {
    const server = await startRedisServer();
    defer(() => server.stop());
    const raw = rawRedis(server.url);
    defer(() => raw.disconnect());
    const prefix = testPrefix('idle');
    const ran: string[] = [];
    const worker = createWorker(
      jobs,
      { a: async () => void ran.push('a'), b: async () => void ran.push('b'), c: async () => void ran.push('c') },
      { redis: server.url, prefix, logger: false },
    );
    defer(() => worker.close());

    // Commands the worker sends (its scripts and blocked reads); what a script runs inside Redis is not sent.
    const processed = async () => {
      const stats = await raw.info('commandstats');
      let calls = 0;
      for (const cmd of ['evalsha', 'eval', 'blpop']) calls += Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
      return calls;
    };
    await new Promise((r) => setTimeout(r, 500)); // start-up: connections, script loads, first fetches
    const before = await processed();
    const windowMs = 3_000;
    await new Promise((r) => setTimeout(r, windowMs));
    const sent = (await processed()) - before;
    expect(sent).toBeLessThanOrEqual(5 * (windowMs / 1000));

    const client = createClient(jobs, { redis: server.url, prefix });
    defer(() => client.close());
    await client.enqueue('b', {});
    // Far less than the 5 s a blocked read waits before it times out: the enqueue woke the worker.
    await waitFor(() => ran.length === 1, 'the job to start', 2_500);
    expect(ran).toEqual(['b']);
  });
});
