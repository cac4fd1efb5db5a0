/**
 * Chains and fan-in at Redis's `maxmemory` with `noeviction` (issue #14: "lost hand-offs … OOM"), on a redis-server of
 * the test's own: a step's acknowledgement still records its hand-off (fetch's allow-oom variant), the next step's
 * creation (enqueue) and a fan-in child's record (fanin-record) are refused, and the entries wait in the outbox; once
 * memory is freed the sweep finishes them. Nothing lost, no step run twice.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { noevictionServer } from './oom-server.js';
import { createClient, createWorker, defineJobs, queueKeys } from '../src/index.js';
import { cleanupRegistry, deferred, deletePrefix, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  first: { payload: z.object({ n: z.number() }), result: z.object({ n: z.number() }), queue: 'a' },
  second: { payload: z.object({ n: z.number() }), result: z.number(), queue: 'b' },
  child: { payload: z.object({ n: z.number() }), result: z.number(), queue: 'a' },
  parent: { payload: z.object({ values: z.array(z.number()) }), result: z.number(), queue: 'b' },
});

const defer = cleanupRegistry();
const oom = noevictionServer();

describe('chains and fan-in at maxmemory', () => {
  it('keep the hand-offs of steps and children that end there, and finish them once memory is freed', async () => {
    const prefix = testPrefix('oom-chains');
    const a = queueKeys(prefix, 'a');
    defer(async () => {
      await oom.free();
      await deletePrefix(oom.admin, prefix);
    });
    const client = createClient(jobs, { redis: oom.url, prefix });
    defer(() => client.close());
    const runs = new Map<string, number>();
    const gate = deferred();
    const count = (id: string): void => void runs.set(id, (runs.get(id) ?? 0) + 1);
    const worker = createWorker(
      jobs,
      {
        first: async ({ n }, ctx) => {
          count(ctx.id);
          await gate.promise;
          return { n: n + 1 };
        },
        second: ({ n }, ctx) => (count(ctx.id), n * 10),
        child: async ({ n }, ctx) => {
          count(ctx.id);
          await gate.promise;
          return n;
        },
        parent: ({ values }, ctx) => (count(ctx.id), values.reduce((s, v) => s + v, 0)),
      },
      { redis: oom.url, prefix, leaseMs: 2_000, concurrency: 8, logger: false },
    );
    worker.on('error', () => {});
    defer(() => worker.close());
    const chain = await client.chain('first', { n: 1 }, { jobId: 'c' }).next('second').enqueue();
    const fan = await client.fanIn('parent', {}, { children: 'child', payloads: [{ n: 1 }, { n: 2 }], into: 'values', jobId: 'f' });
    await waitFor(() => runs.size === 3, 'the first step and both children running');
    // Redis refuses every write that may add data from now on; the handlers return.
    await oom.fill();
    gate.resolve();
    // The acknowledgements are recorded with their hand-offs; the next step and the parent cannot be created.
    await waitFor(async () => (await oom.admin.hlen(a.chainOutbox)) === 3, 'three hand-offs waiting in the outbox', 10_000);
    expect(await oom.admin.hexists(queueKeys(prefix, 'b').jobs, 'c/1')).toBe(0);
    expect(await oom.admin.exists(`${queueKeys(prefix, 'b').faninPrefix}f`)).toBe(1);
    await oom.free();
    expect(await chain.result({ timeout: '20s' })).toBe(20);
    expect(await fan.result({ timeout: '20s' })).toBe(3);
    expect([...runs.entries()].sort()).toEqual([['c/0', 1], ['c/1', 1], ['f', 1], ['f/0', 1], ['f/1', 1]]);
    await waitFor(async () => (await oom.admin.hlen(a.chainOutbox)) === 0, 'the outbox empty');
  });
});
