/**
 * A fetch carries its acknowledgements in two groups: plain jobs (two arguments each, the usual case) and jobs that
 * hold a unique lock or a capped type's slot. One batch mixing all three kinds completes every job, releases every
 * lock and slot, and records every completion.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type Worker } from '../src/index.js';
import type { Completion, Scripts } from '../src/scripts.js';
import { cleanupRegistry, deferred, keysUnder, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  plain: { payload: z.object({ n: z.number() }) },
  once: { payload: z.object({ n: z.number() }), unique: true },
  capped: { payload: z.object({ n: z.number() }), concurrency: 3 },
});
const defer = cleanupRegistry();
const scriptsOf = (worker: Worker): Scripts => (worker as unknown as { scripts: Scripts }).scripts;

describe('acknowledgements of mixed kinds in one fetch', () => {
  it('completes plain, unique and capped jobs acknowledged together, leaving no lock, slot or live trace', async () => {
    const { prefix, client, raw } = testClient(jobs, 'mixed-acks', defer);
    const gate = deferred();
    const run = () => gate.promise;
    const worker = createWorker(jobs, { plain: run, once: run, capped: run }, { redis: redisUrl(), prefix, logger: false, concurrency: 12, prefetch: 0 });
    defer(() => worker.close());
    const scripts = scriptsOf(worker);
    const batches: { plain: number; held: number }[] = [];
    const fetch = scripts.fetch.bind(scripts);
    scripts.fetch = (...a) => {
      const acks: readonly Completion[] = a[1].acks;
      const held = acks.filter((c) => c.lock !== undefined || c.typeIndex !== 0).length;
      if (acks.length > 0) batches.push({ plain: acks.length - held, held });
      return fetch(...a);
    };
    const ids: string[] = [];
    for (let n = 0; n < 8; n++) {
      for (const name of ['plain', 'once', 'capped'] as const) ids.push((await client.enqueue(name, { n })).id);
    }
    await waitFor(() => worker.running === 12, '12 jobs running (3 capped)');
    gate.resolve();
    await waitFor(async () => (await Promise.all(ids.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'every job completed');
    // At least one call carried both kinds (the first 12 ended together).
    expect(batches.some((b) => b.plain > 0 && b.held > 0)).toBe(true);
    expect(batches.reduce((s, b) => s + b.plain + b.held, 0)).toBe(ids.length);
    const k = queueKeys(prefix, 'default');
    expect(await raw.zcard(k.active)).toBe(0);
    expect(await raw.hlen(k.jobs)).toBe(0);
    expect(await raw.hlen(k.attempts)).toBe(0);
    expect(await raw.hlen(k.done)).toBe(ids.length);
    const left = await keysUnder(raw, prefix);
    expect(left.filter((key) => key.includes(':unique:') || key.endsWith(':running'))).toEqual([]);
  });
});
