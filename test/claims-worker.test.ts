/**
 * Documented claims about the worker loop (docs/configuration.md, docs/redis-layout.md, README): backoff jitter is
 * applied; `shutdownTimeoutMs` defaults to 10 s and SIGINT closes like SIGTERM; a single-queue worker gets a new job
 * in one round trip (its fetch parked behind the blocking read), a multi-queue worker in two; recovery runs every half
 * lease; completions are batched; a job keeps its priority through a snooze and a shutdown hand-back.
 * Counts, states and events only: nothing here depends on how fast the machine is.
 */
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { startRedisServer } from '../scripts/redis-server.js';
import { createClient, createWorker, defineJobs, queueKeys, type Worker } from '../src/index.js';
import type { Scripts } from '../src/scripts.js';
import { childJobs } from './fixtures/child-jobs.js';
import { aborted, cleanupRegistry, deferred, rawRedis, redisUrl, spawnChildWorker, testClient, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }) },
  flaky: { payload: z.object({ n: z.number() }), attempts: 2, backoff: { delay: '1s' } },
  fixed: { payload: z.object({ n: z.number() }), attempts: 2, backoff: { type: 'fixed', delay: '1s' } },
  urgent: { payload: z.object({ n: z.number() }), priority: 5 },
  other: { payload: z.object({ n: z.number() }), queue: 'other' },
});
type Handlers = Parameters<typeof createWorker<typeof jobs>>[1];
const noop: Handlers = { task: () => {}, flaky: () => {}, fixed: () => {}, urgent: () => {}, other: () => {} };

const defer = cleanupRegistry();

/** The internals a test reads: the worker's script calls (to count them). */
const scriptsOf = (worker: Worker): Scripts => (worker as unknown as { scripts: Scripts }).scripts;

/** The priority level of a score in a queue's prio set (src/lua/_lib.lua prio_score). */
const levelOf = (score: number): number => -Math.floor((score + 2 ** 42 / 2) / 2 ** 42);

describe('backoff jitter', () => {
  it('exponential backoff takes up to 20 % off each delay at random by default; fixed backoff takes none', async () => {
    const { prefix, client } = testClient(jobs, 'claims-jitter', defer);
    const delays: number[] = [];
    const fixedDelays: number[] = [];
    const worker = createWorker(
      jobs,
      {
        ...noop,
        flaky: () => {
          throw new Error('fails');
        },
        fixed: () => {
          throw new Error('fails');
        },
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    worker.on('retrying', (e) => (e.job.name === 'flaky' ? delays : fixedDelays).push(e.delayMs));
    await client.enqueueMany('flaky', Array.from({ length: 20 }, (_, n) => ({ n })));
    await client.enqueueMany('fixed', [{ n: 1 }, { n: 2 }]);
    await waitFor(() => delays.length === 20 && fixedDelays.length === 2, 'every first retry');
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1000);
    }
    // 20 draws from about 200 values: all equal only if nothing random was applied.
    expect(new Set(delays).size).toBeGreaterThan(1);
    expect(fixedDelays).toEqual([1000, 1000]);
  });
});

describe('shutdown', () => {
  it('waits 10 s for running handlers by default (the timer close() arms), shutdownTimeoutMs when given', async () => {
    const armed = async (options: { shutdownTimeoutMs?: number }): Promise<number[]> => {
      const { prefix, client } = testClient(jobs, 'claims-shutdown-default', defer);
      const gate = deferred();
      const worker = createWorker(jobs, { ...noop, task: () => gate.promise }, { redis: redisUrl(), prefix, logger: false, ...options });
      defer(() => worker.close());
      await client.enqueue('task', { n: 1 });
      await waitFor(() => worker.running === 1, 'the job to start');
      const spy = vi.spyOn(globalThis, 'setTimeout');
      try {
        const closing = worker.close();
        // close() stops fetching, then arms its wait for the running handler: the delay it arms is the bound.
        await waitFor(() => spy.mock.calls.some((c) => c[1] === (options.shutdownTimeoutMs ?? 10_000)), 'the shutdown timer', 5_000).catch(() => undefined);
        const delays = spy.mock.calls.map((c) => Number(c[1]));
        gate.resolve();
        await closing;
        return delays;
      } finally {
        spy.mockRestore();
      }
    };
    const byDefault = await armed({});
    expect(byDefault).toContain(10_000);
    const given = await armed({ shutdownTimeoutMs: 7_777 });
    expect(given).toContain(7_777);
    expect(given).not.toContain(10_000); // so the 10 s above was the shutdown wait, not some other timer
  });

  it('SIGINT with handleSignals closes gracefully like SIGTERM: the running job is handed back, exit code 0', async () => {
    const { prefix, client } = testClient(childJobs, 'claims-sigint', defer);
    const { id } = await client.enqueue('work', { n: 1 });
    const child = spawnChildWorker({ JC_PREFIX: prefix, JC_HANDLE_SIGNALS: '1', JC_SHUTDOWN_MS: '100', JC_LEASE_MS: '60000' }, defer);
    await child.waitStarted(1);
    expect(await child.signal('SIGINT')).toEqual({ code: 0, signal: null });
    const job = await client.getJob(id);
    expect(job.state).toBe('waiting');
    expect(job.attempts).toBe(0);
  });
});

describe('round trips to a new job', () => {
  /** A worker on a Redis of its own, watched with MONITOR, idle (blocked) after a first job. */
  async function idleWorker(queues: readonly ('default' | 'other')[]) {
    const server = await startRedisServer();
    defer(() => server.stop());
    const raw = rawRedis(server.url);
    defer(() => raw.disconnect());
    const prefix = testPrefix('claims-rtt');
    const client = createClient(jobs, { redis: server.url, prefix });
    defer(() => client.close());
    const marker = rawRedis(server.url);
    defer(() => marker.disconnect());
    const started = deferred();
    let runs = 0;
    const worker = createWorker(
      jobs,
      {
        ...noop,
        task: async () => {
          // A command in the MONITOR stream that marks the moment the handler began.
          if (++runs === 2) await marker.echo('handler-started');
          started.resolve();
        },
      },
      { redis: server.url, prefix, logger: false, queues: queues as never, leaseMs: 60_000 },
    );
    defer(() => worker.close());
    const warm = await client.enqueue('task', { n: 0 }); // scripts loaded, connections up
    await waitFor(async () => (await client.getJob(warm.id)).state === 'completed', 'the warm-up job');
    const blocked = async () =>
      String(await raw.client('LIST'))
        .split('\n')
        .filter((l) => / cmd=blpop /.test(l) && / flags=\w*b/.test(l));
    await waitFor(async () => (await blocked()).length === queues.length, 'the worker to block on each queue');
    return { client, raw, blocked, started, server };
  }

  it('one for a worker of one queue: its fetch waits in Redis behind the blocking read and is the only call before the job starts', async () => {
    const { client, raw, blocked, started, server } = await idleWorker(['default']);
    // The parked fetch: a command held in the blocked connection's query buffer.
    await waitFor(async () => (await blocked()).some((l) => Number(/ qbuf=(\d+)/.exec(l)?.[1]) > 0), 'a fetch parked behind the read');
    const blockingAddr = /addr=(\S+)/.exec((await blocked())[0] as string)?.[1];
    const watcher = rawRedis(server.url);
    const monitor = await watcher.monitor();
    defer(() => {
      monitor.disconnect();
      watcher.disconnect();
    });
    const log: { args: string[]; source: string }[] = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => log.push({ args, source }));
    await raw.ping(); // MONITOR is on once a command after it shows
    await waitFor(() => log.length > 0, 'MONITOR to start');
    const clientAddr = /addr=(\S+)/.exec(String(await client.redis.client('INFO')))?.[1];
    await client.enqueue('task', { n: 1 });
    await started.promise;
    await waitFor(() => log.some((l) => l.args[0]?.toLowerCase() === 'echo'), 'the marker in the MONITOR stream');
    const from = log.findIndex((l) => l.source === clientAddr && /^eval/i.test(l.args[0] ?? ''));
    const to = log.findIndex((l) => l.args[0]?.toLowerCase() === 'echo');
    // Commands a script runs inside Redis show with source "lua": only what a connection sent counts.
    const workerCalls = log.slice(from + 1, to).filter((l) => l.source !== 'lua' && l.source !== clientAddr && !/^(ping|client|echo)$/i.test(l.args[0] ?? ''));
    // Exactly one call ran for the worker between the enqueue and the handler: the fetch it had parked (on the
    // blocking connection, sent before the job existed). No second trip after the wake-up.
    expect(from).toBeGreaterThanOrEqual(0);
    // (EVAL instead of EVALSHA when ioredis resends a script Redis did not know: the same single call.)
    expect(workerCalls.map((l) => `${l.args[0]?.toLowerCase().replace(/^evalsha$/, 'eval')} ${l.source === blockingAddr ? 'blocking' : 'other'}`)).toEqual(['eval blocking']);
  });

  it('two for a worker of several queues: no fetch is parked, it fetches after waking', async () => {
    const { client, blocked, started } = await idleWorker(['default', 'other']);
    const lines = await blocked();
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(Number(/ qbuf=(\d+)/.exec(l)?.[1])).toBe(0);
    await client.enqueue('task', { n: 1 });
    await started.promise;
  });
});

describe('lease recovery', () => {
  it('runs every half lease (every second renewal interval: renewals go every quarter lease), with ±20 % jitter', async () => {
    const { prefix, client } = testClient(jobs, 'claims-recovery-rate', defer);
    const gate = deferred();
    const worker = createWorker(jobs, { ...noop, task: () => gate.promise }, { redis: redisUrl(), prefix, logger: false, leaseMs: 900, concurrency: 1, queues: ['default'] });
    defer(async () => {
      gate.resolve();
      await worker.close();
    });
    // The delays the recovery loop arms (read before it starts, which waits for the worker's startup checks).
    const internals = worker as unknown as {
      recovery: { intervalMs: number; schedule: (delay: number) => void };
      renewal: { intervalMs: number };
    };
    const delays: number[] = [];
    const schedule = internals.recovery.schedule.bind(internals.recovery);
    internals.recovery.schedule = (delay) => {
      delays.push(delay);
      schedule(delay);
    };
    const scripts = scriptsOf(worker);
    let recoveries = 0;
    const recover = scripts.recover.bind(scripts);
    scripts.recover = (...a) => (recoveries++, recover(...a));
    await client.enqueue('task', { n: 1 }); // held running, so renewals go on too
    await waitFor(() => worker.running === 1, 'the job to start');
    await waitFor(() => recoveries >= 8, '8 recovery checks', 30_000);

    expect(internals.renewal.intervalMs).toBe(225); // a quarter lease
    expect(internals.recovery.intervalMs).toBe(450); // half a lease: every second renewal interval
    // The first check comes at a random point of the first interval, then each 0.8–1.2 intervals after the last.
    expect(delays[0]).toBeGreaterThanOrEqual(0);
    expect(delays[0]).toBeLessThan(450);
    expect(delays.length).toBeGreaterThanOrEqual(8);
    for (const d of delays.slice(1)) {
      expect(d).toBeGreaterThanOrEqual(360);
      expect(d).toBeLessThanOrEqual(540);
    }
    // Each check armed and run is one recover call (nothing expired: one batch).
    expect(recoveries).toBeGreaterThanOrEqual(delays.length - 1);
    expect(recoveries).toBeLessThanOrEqual(delays.length);
  });

  it('checks at most every 5 s: a 30 s lease is checked every 5 s, not every 15 s (the resolved interval)', () => {
    const intervalOf = (leaseMs: number) => {
      const worker = createWorker(jobs, noop, { redis: redisUrl(), prefix: testPrefix('claims-recovery-cap'), logger: false, leaseMs });
      defer(() => worker.close());
      return (worker as unknown as { recovery: { intervalMs: number } }).recovery.intervalMs;
    };
    expect(intervalOf(30_000)).toBe(5_000);
    expect(intervalOf(4_000)).toBe(2_000);
  });
});

describe('completion batching', () => {
  it('a lone completion of an idle worker is recorded on its own; 100 at once go in a few calls, not 100', async () => {
    const { prefix, client } = testClient(jobs, 'claims-batching', defer);
    const gate = deferred();
    let gated = false;
    const worker = createWorker(jobs, { ...noop, task: () => (gated ? gate.promise : undefined) }, { redis: redisUrl(), prefix, logger: false, concurrency: 100, prefetch: 0 });
    defer(() => worker.close());
    const scripts = scriptsOf(worker);
    const ackCalls: number[] = [];
    /** Calls that carried acknowledgements and leased nothing: sent for the acknowledgements alone. */
    const ackOnly: number[] = [];
    const fetch = scripts.fetch.bind(scripts);
    scripts.fetch = (...a) => {
      const { acks, want } = a[1]; // fetch(keys, { acks, want, … })
      if (acks.length > 0) ackCalls.push(acks.length);
      if (acks.length > 0 && want === 0) ackOnly.push(acks.length);
      return fetch(...a);
    };
    // One job that ends once its queue's loop is blocked (the queue is empty): no fetch will carry its completion
    // (a parked fetch carries none), so only the batching timer can send it.
    gated = true;
    const blocked = () => (worker as unknown as { fetchers: Map<string, { blocked: boolean }> }).fetchers.get('default')?.blocked === true;
    const lone = await client.enqueue('task', { n: 0 });
    await waitFor(() => worker.running === 1 && blocked(), 'the job running and its loop blocked');
    gate.resolve();
    await waitFor(async () => (await client.getJob(lone.id)).state === 'completed', 'the lone completion to be recorded');
    // Sent by itself (a call leasing nothing) while the loop stayed blocked, not by the fetch after the read timed out.
    expect(ackCalls).toEqual([1]);
    expect(ackOnly).toEqual([1]);
    expect(blocked()).toBe(true);
    // 100 handlers end together while the loop is blocked (queue empty): batched.
    const gate2 = deferred();
    gate.promise = gate2.promise;
    ackCalls.length = 0;
    const ids = (await client.enqueueMany('task', Array.from({ length: 100 }, (_, n) => ({ n })))).map((r) => r.id);
    await waitFor(() => worker.running === 100, 'all 100 running');
    gate2.resolve();
    await waitFor(async () => (await Promise.all(ids.map((id) => client.getJob(id)))).every((j) => j.state === 'completed'), 'the 100 completions');
    expect(ackCalls.reduce((a, b) => a + b, 0)).toBe(100);
    expect(ackCalls.length).toBeLessThanOrEqual(4);
  });
});

describe('priority', () => {
  it('is kept through a snooze: the job comes back into its priority level', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-prio-snooze', defer);
    const k = queueKeys(prefix, 'default');
    let snoozed = false;
    const worker = createWorker(
      jobs,
      {
        ...noop,
        urgent: async (_p, ctx) => {
          if (!snoozed) {
            snoozed = true;
            await client.pause('default'); // so the job stays where the snooze puts it once due
            ctx.snooze(50);
          }
        },
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    const { id } = await client.enqueue('urgent', { n: 1 });
    const score = await waitFor(() => raw.zscore(k.prio, id), 'the snoozed job to be ready again, in the prio set');
    expect(levelOf(Number(score))).toBe(5);
  });

  it('is kept through a shutdown hand-back: the job goes back into its priority level', async () => {
    const { prefix, client, raw } = testClient(jobs, 'claims-prio-handback', defer);
    const k = queueKeys(prefix, 'default');
    const worker = createWorker(
      jobs,
      {
        ...noop,
        urgent: async (_p, ctx) => {
          throw await aborted(ctx.signal);
        },
      },
      { redis: redisUrl(), prefix, logger: false, shutdownTimeoutMs: 50 },
    );
    const { id } = await client.enqueue('urgent', { n: 1 }, { priority: 7 });
    await waitFor(() => worker.running === 1, 'the job to start');
    await worker.close();
    const score = await raw.zscore(k.prio, id);
    expect(score).not.toBeNull();
    expect(levelOf(Number(score))).toBe(7);
    expect(await raw.lpos(k.wait, id)).toBeNull();
  });
});
