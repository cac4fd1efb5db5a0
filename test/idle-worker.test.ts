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
    const stats = async () => raw.info('commandstats');
    const calls = (text: string, cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(text)?.[1] ?? 0);
    const processed = async () => {
      const text = await stats();
      return ['evalsha', 'eval', 'blpop'].reduce((n, cmd) => n + calls(text, cmd), 0);
    };
    // Start-up is over once the worker parked a blocked read on each of its three queues (an event, not a sleep).
    await waitFor(async () => calls(await stats(), 'blpop') >= 3, 'the worker to block on its three queues');
    const before = await processed();
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 3_000));
    const sent = (await processed()) - before;
    // At most 5 commands a second over the window actually measured (a loaded machine only sends fewer).
    expect(sent).toBeLessThanOrEqual(5 * Math.ceil((Date.now() - from) / 1000));

    const client = createClient(jobs, { redis: server.url, prefix });
    defer(() => client.close());
    await client.enqueue('b', {});
    // Far less than the 5 s a blocked read waits before it times out: the enqueue woke the worker.
    await waitFor(() => ran.length === 1, 'the job to start', 2_500);
    expect(ran).toEqual(['b']);
  });
});
