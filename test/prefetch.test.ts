/**
 * Prefetch: how many jobs a worker leases ahead of its free slots. Automatic (the default) keeps `concurrency`
 * leased ahead for long jobs and goes deeper for short ones, never past 4 × `concurrency`; a number fixes it; `0`
 * leases only what runs; and `concurrency + prefetch` may not exceed 5,000. Leases are counted in Redis (the queue's
 * active set), so these tests see what the worker holds, not what it says it holds.
 */
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, queueKeys, type Handler, type Worker, type WorkerOptions } from '../src/index.js';
import { startRedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, deletePrefix, queueCounts, rawRedis, redisUrl, testClient, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }) },
});

type TaskHandler = Handler<{ n: number }, 'task'>;

const defer = cleanupRegistry();

const payloads = (n: number) => Array.from({ length: n }, (_, i) => ({ n: i }));

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const k = queueKeys(prefix, 'default');
  /** Leases held in the queue right now (the active set also holds a guard member scored +inf). */
  const leases = () => raw.zcount(k.active, '-inf', '(+inf');
  const errors: unknown[] = [];
  const startWorker = (task: TaskHandler, options: Omit<WorkerOptions, 'queues'> = {}): Worker => {
    const worker = createWorker(jobs, { task }, { redis: redisUrl(), prefix, logger: false, ...options });
    worker.on('error', (err) => errors.push(err));
    defer(() => worker.close());
    return worker;
  };

  /**
   * Handlers that block until the test lets them finish: `started` lists the jobs that started, in order;
   * `releaseOne` lets the oldest unreleased one finish; `releaseAll` lets every current and later one through.
   */
  const started: number[] = [];
  const waiting: (() => void)[] = [];
  let open = false;
  const blocked: TaskHandler = async ({ n }) => {
    started.push(n);
    if (open) return;
    await new Promise<void>((resolve) => waiting.push(resolve));
  };
  const releaseOne = () => {
    const next = waiting.shift();
    if (next === undefined) throw new Error('no blocked handler to release');
    next();
  };
  const releaseAll = () => {
    open = true;
    for (const r of waiting.splice(0)) r();
  };
  // Runs before the worker closes (clean-ups run last added first), so close() never waits on a blocked handler.
  const startBlockedWorker = (options: Omit<WorkerOptions, 'queues'>): Worker => {
    const worker = startWorker(blocked, options);
    defer(releaseAll);
    return worker;
  };

  return { prefix, client, raw, k, leases, errors, startWorker, started, startBlockedWorker, releaseOne, releaseAll };
}

/** Samples `leases` a few times over about 200 ms (letting the worker act in between) and returns the samples. */
async function sampleLeases(leases: () => Promise<number>, times = 10): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    await new Promise((r) => setTimeout(r, 20));
    out.push(await leases());
  }
  return out;
}

/**
 * Runs `total` short jobs (each awaits a 1 ms timer) on a fresh worker with `options`, sampling the lease count
 * back to back until every job has run. Returns the samples; fails if a job ran twice or the run stalls.
 */
async function runShortJobs(name: string, total: number, options: Omit<WorkerOptions, 'queues'>, onStart: () => void = () => {}) {
  const { client, raw, k, leases, errors, startWorker } = setup(name);
  await client.enqueueMany('task', payloads(total));
  const ran = new Set<number>();
  let duplicates = 0;
  startWorker(async ({ n }) => {
    if (ran.has(n)) duplicates++;
    ran.add(n);
    onStart();
    await new Promise((r) => setTimeout(r, 1));
  }, options);

  const samples: number[] = [];
  const deadline = Date.now() + 15_000; // a stall guard only; nothing below depends on how fast this runs
  while (ran.size < total) {
    if (Date.now() > deadline) throw new Error(`stalled: ${ran.size} of ${total} jobs ran; lease samples ${samples.slice(-20).join(',')}`);
    samples.push(await leases());
  }
  // Acknowledgements go out lazily (at most 10 ms or 64 later): wait for the last ones, then nothing may be left.
  await waitFor(async () => (await leases()) === 0, 'the last acknowledgements');
  expect(duplicates).toBe(0);
  expect(errors).toEqual([]);
  expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, prio: 0, scheduled: 0, active: 0, jobs: 0, dead: 0 });
  return samples;
}

describe('automatic prefetch (the default)', () => {
  it('keeps `concurrency` jobs leased ahead of long-running jobs, and no more', async () => {
    const { client, leases, errors, started, startBlockedWorker, releaseOne } = setup('prefetch-auto-long');
    await client.enqueueMany('task', payloads(50));
    const worker = startBlockedWorker({ concurrency: 2 });

    await waitFor(async () => started.length === 2 && (await leases()) === 4, 'two running and two leased ahead');
    expect(worker.running).toBe(2);
    // Nothing finishes, so nothing may change: exactly concurrency + concurrency leased, for as long as we look.
    expect(await sampleLeases(leases)).toEqual(Array(10).fill(4));
    expect(started).toHaveLength(2);

    // Jobs that end slowly (one at a time, each next start waited for through Redis, so at most one start per 20 ms)
    // keep the automatic prefetch at `concurrency`. A freed slot takes the next job from the buffer; the buffer is
    // refilled only once it falls below half the prefetch (here: empty), and then back up to two ahead. So the leases
    // go 3 (two running, one ahead), 4, 3, 4, … and never above concurrency + concurrency.
    for (let i = 1; i <= 6; i++) {
      releaseOne();
      const expected = i % 2 === 1 ? 3 : 4;
      await waitFor(async () => started.length === 2 + i && (await leases()) === expected, `job ${i} to end, the next to start and ${expected} leases`);
      expect(await sampleLeases(leases, 3)).toEqual(Array(3).fill(expected));
    }
    expect(await sampleLeases(leases)).toEqual(Array(10).fill(4));
    expect(worker.running).toBe(2);
    expect(errors).toEqual([]);
  });

  it('leases deeper for many short jobs, never more than concurrency + 4 × concurrency, and runs them all', async () => {
    const concurrency = 5;
    // The worker sizes the prefetch from the jobs it starts per 25 ms of its clock (performance.now). That clock is
    // driven here by the starts themselves: 25 ms pass per 100 starts, a rate of 4 starts/ms, so the prefetch must
    // grow to its cap (4 × concurrency) however fast or slow this machine really is.
    vi.useFakeTimers({ toFake: ['performance'] });
    let starts = 0;
    let samples: number[];
    try {
      samples = await runShortJobs('prefetch-auto-short', 3_000, { concurrency }, () => {
        if (++starts % 100 === 0) vi.advanceTimersByTime(25);
      });
    } finally {
      vi.useRealTimers();
    }
    const max = Math.max(...samples);
    expect(samples.length).toBeGreaterThan(0);
    expect(max).toBeLessThanOrEqual(concurrency + 4 * concurrency);
    // Deeper than the long-job buffer (concurrency + concurrency = 10).
    expect(max).toBeGreaterThan(2 * concurrency);
  });
});

describe('automatic prefetch of jobs that end faster than Redis answers (issue 17: a fleet of small workers)', () => {
  it('leases more than `concurrency` per fetch call although the start rate says no deeper buffer, and runs every job once', async () => {
    // A Redis of its own, so INFO commandstats counts only this worker's calls.
    const server = await startRedisServer();
    defer(() => server.stop());
    const raw = rawRedis(server.url);
    defer(() => raw.disconnect());
    const prefix = testPrefix('prefetch-ran-dry');
    const client = createClient(jobs, { redis: server.url, prefix });
    defer(() => client.close());
    const total = 2_000;
    const concurrency = 5;
    await client.enqueueMany('task', payloads(total));
    const fetchCalls = async () => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0);
    const before = await fetchCalls();

    // The worker's clock (performance.now) advances 5 ms per start: 1 start per 5 ms, so the start rate alone sizes the
    // prefetch at `concurrency` (1 job in 5 ms), as it does for a worker whose round trips to Redis are long (many
    // workers on one Redis, a busy machine). Its no-op jobs still end long before each fetch returns (microtasks
    // against a socket round trip): it runs dry while a fetch is out, so the prefetch grows anyway.
    vi.useFakeTimers({ toFake: ['performance'] });
    const ran = new Set<number>();
    let duplicates = 0;
    try {
      const worker = createWorker(
        jobs,
        {
          task: ({ n }) => {
            if (ran.has(n)) duplicates++;
            ran.add(n);
            vi.advanceTimersByTime(5);
          },
        },
        { redis: server.url, prefix, logger: false, concurrency },
      );
      defer(() => worker.close());
      await waitFor(() => ran.size === total, 'every job to run');
      await worker.close();
    } finally {
      vi.useRealTimers();
    }
    const calls = (await fetchCalls()) - before;
    expect(duplicates).toBe(0);
    // At the rate's size (prefetch = concurrency) a call asks for at most half of concurrency + prefetch: 5 jobs, so
    // at least 400 calls. Growing with the runs dry, calls ask for up to half of 5 + 20.
    expect(total / calls).toBeGreaterThan(concurrency);
    expect(await queueCounts(raw, queueKeys(prefix, 'default'))).toMatchObject({ wait: 0, active: 0, jobs: 0, dead: 0 });
  });
});

describe('a fixed prefetch', () => {
  it('prefetch: 1 leases exactly concurrency + 1 for long jobs', async () => {
    const { client, leases, errors, started, startBlockedWorker } = setup('prefetch-fixed-long');
    await client.enqueueMany('task', payloads(20));
    const worker = startBlockedWorker({ concurrency: 2, prefetch: 1 });

    await waitFor(async () => started.length === 2 && (await leases()) === 3, 'two running and one leased ahead');
    expect(await sampleLeases(leases)).toEqual(Array(10).fill(3));
    expect(worker.running).toBe(2);
    expect(started).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('prefetch: 1 is not raised for short jobs, however fast they start', async () => {
    const samples = await runShortJobs('prefetch-fixed-short', 600, { concurrency: 2, prefetch: 1 });
    expect(Math.max(...samples)).toBeLessThanOrEqual(3);
  });

  it('prefetch: 0 leases only the jobs that run', async () => {
    const { client, leases, errors, started, startBlockedWorker, releaseOne } = setup('prefetch-zero-long');
    await client.enqueueMany('task', payloads(20));
    const worker = startBlockedWorker({ concurrency: 2, prefetch: 0 });

    await waitFor(async () => started.length === 2 && (await leases()) === 2, 'two running');
    expect(await sampleLeases(leases)).toEqual(Array(10).fill(2));
    expect(worker.running).toBe(2);
    // A freed slot is filled from Redis (there is no buffer), and still only what runs is leased.
    releaseOne();
    await waitFor(async () => started.length === 3 && (await leases()) === 2, 'the next job to start in the freed slot');
    expect(await sampleLeases(leases, 5)).toEqual(Array(5).fill(2));
    expect(errors).toEqual([]);
  });

  it('prefetch: 0 never leases more than runs, for short jobs either', async () => {
    const samples = await runShortJobs('prefetch-zero-short', 600, { concurrency: 2, prefetch: 0 });
    expect(Math.max(...samples)).toBeLessThanOrEqual(2);
  });
});

describe('limits', () => {
  const noop: TaskHandler = () => {};
  /** Creates a worker with `options` and closes it at once: the error createWorker threw, or undefined. */
  const tryCreate = async (prefix: string, options: Omit<WorkerOptions, 'queues'>): Promise<unknown> => {
    let worker: Worker;
    try {
      worker = createWorker(jobs, { task: noop }, { redis: redisUrl(), prefix, logger: false, ...options });
    } catch (err) {
      return err;
    }
    await worker.close();
    return undefined;
  };

  it('refuses concurrency + prefetch over 5,000, counting the automatic prefetch as `concurrency`', async () => {
    const prefix = testPrefix('prefetch-limits');
    const raw = rawRedis();
    defer(async () => {
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    for (const options of [
      { concurrency: 4_000 }, // 4,000 + 4,000: the automatic prefetch starts at `concurrency`
      { concurrency: 2_501 }, // 2,501 + 2,501
      { concurrency: 4_000, prefetch: 1_001 },
      { concurrency: 1, prefetch: 5_000 },
      { concurrency: 5_001, prefetch: 0 },
    ]) {
      const err = await tryCreate(prefix, options);
      expect(err, JSON.stringify(options)).toBeInstanceOf(TypeError);
      expect((err as Error).message, JSON.stringify(options)).toContain('concurrency + prefetch must not exceed 5,000');
    }
  });

  it('refuses a prefetch that is not a non-negative integer', async () => {
    const prefix = testPrefix('prefetch-invalid');
    const raw = rawRedis();
    defer(async () => {
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    for (const prefetch of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const err = await tryCreate(prefix, { prefetch });
      expect(err, String(prefetch)).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/prefetch must be an integer of at least 0/);
    }
  });

  it('accepts concurrency + prefetch up to 5,000 (automatic: concurrency up to 2,500), and such a worker runs jobs', async () => {
    const { client, prefix, startWorker } = setup('prefetch-limits-ok');
    for (const options of [{ concurrency: 1_000 }, { concurrency: 2_500 }, { concurrency: 4_000, prefetch: 1_000 }, { concurrency: 5_000, prefetch: 0 }]) {
      expect(await tryCreate(prefix, options), JSON.stringify(options)).toBeUndefined();
    }
    // Accepted means working: the largest automatic configuration leases and runs a job.
    const ran: number[] = [];
    startWorker(({ n }) => void ran.push(n), { concurrency: 2_500 });
    await client.enqueue('task', { n: 7 });
    await waitFor(() => ran.length === 1, 'the job to run on a worker with concurrency 2,500 and automatic prefetch');
    expect(ran).toEqual([7]);
  });
});
