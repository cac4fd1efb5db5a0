import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, type JobClient, type Worker } from '../src/index.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  add: { payload: z.object({ a: z.number(), b: z.number().default(1) }) },
  shout: { payload: z.object({ text: z.string() }), queue: 'loud', attempts: 2, backoff: { delay: 10 } },
});

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

function setup(name: string): { prefix: string; client: JobClient<typeof jobs> } {
  const prefix = testPrefix(name);
  const client = createClient(jobs, { redis: redisUrl(), prefix });
  const raw = rawRedis();
  cleanup.push(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { prefix, client };
}

function track(worker: Worker): Worker {
  cleanup.push(() => worker.close());
  return worker;
}

describe('enqueue and work', () => {
  it('runs every job once with its parsed payload and records completion', async () => {
    const { prefix, client } = setup('basic');
    const seen: { a: number; b: number; attempt: number }[] = [];
    track(
      createWorker(
        jobs,
        { add: async (p, ctx) => void seen.push({ ...p, attempt: ctx.attempt }), shout: async () => {} },
        { redis: redisUrl(), prefix, logger: false },
      ),
    );
    const ids: string[] = [];
    for (let a = 0; a < 20; a++) ids.push((await client.enqueue('add', { a })).id);
    await waitFor(() => seen.length === 20, '20 jobs');
    expect(seen.map((s) => s.a).sort((x, y) => x - y)).toEqual([...Array(20).keys()]);
    expect(seen.every((s) => s.b === 1 && s.attempt === 1)).toBe(true);
    const info = await waitFor(async () => {
      const j = await client.getJob(ids[0] as string);
      return j.state === 'completed' ? j : undefined;
    }, 'completed state');
    expect(info.attempts).toBe(1);
    expect(info.queue).toBe('default');
  });

  it('enqueueMany writes a batch in order and reports duplicates by jobId', async () => {
    const { client } = setup('many');
    const results = await client.enqueueMany('add', [{ a: 1 }, { a: 2 }, { a: 3 }], { jobIds: ['x', 'y', 'x'] });
    expect(results).toEqual([
      { id: 'x', duplicate: false },
      { id: 'y', duplicate: false },
      { id: 'x', duplicate: true },
    ]);
    expect((await client.getJob('x')).payload).toEqual({ a: 1 });
    expect((await client.getJob('y')).state).toBe('waiting');
    expect((await client.getJob('nope')).state).toBe('unknown');
  });
});
