/**
 * Redis going away. At enqueue: a clear `RedisUnavailableError` within the client's `timeout`, never a hang.
 * While working: the worker waits, reconnects, and loses none of the jobs it had already fetched.
 * Each test runs its own redis-server (on a free loopback port, in a temporary folder) and stops it.
 *
 * Cases listed in KNOWN_GAPS fail today because of a gap in src/ (see the report of issue 5); they run as
 * `it.fails` until src/ is fixed — then delete the entry.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, RedisUnavailableError, type Worker } from '../src/index.js';
import { freePort, startRedisServer, type RedisServer } from '../scripts/redis-server.js';
import { cleanupRegistry, waitFor } from './helpers.js';

/**
 * - enqueue-connection-error: with nothing listening (or Redis stopped), ioredis gives up after
 *   `maxRetriesPerRequest: 2` (about 150 ms) and the client passes on its `MaxRetriesPerRequestError` instead of a
 *   `RedisUnavailableError` (src/client.ts `limit` only converts its own timeout).
 */
const KNOWN_GAPS = new Set<string>([]);
/** `JOBCRAFT_STRICT=1 npx vitest run …` runs the known gaps as plain tests, to see their failures. */
const itGap = (name: string): typeof it | typeof it.fails => (KNOWN_GAPS.has(name) && !process.env.JOBCRAFT_STRICT ? it.fails : it);

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { delay: 50 } },
});

const defer = cleanupRegistry();

/** A redis-server of our own with AOF, restartable on the same files and port. */
async function ownRedis(): Promise<{ current: () => RedisServer; stop: () => Promise<void>; restart: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'jobcraft-outage-'));
  let server = await startRedisServer({ aof: true, dir });
  const port = server.port;
  defer(async () => {
    await server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    current: () => server,
    stop: () => server.kill('SIGTERM'),
    restart: async () => {
      server = await startRedisServer({ aof: true, dir, port });
    },
  };
}

function capture(): { lines: string[]; logger: { debug(): void; info(): void; warn(m: string): void; error(m: string): void } } {
  const lines: string[] = [];
  return { lines, logger: { debug: () => {}, info: () => {}, warn: (m) => void lines.push(m), error: (m) => void lines.push(m) } };
}

describe('Redis unreachable at enqueue', () => {
  itGap('enqueue-connection-error')('nothing listening: RedisUnavailableError within the timeout', async () => {
    const port = await freePort();
    const client = createClient(jobs, { redis: `redis://127.0.0.1:${port}`, timeout: '1s' });
    client.redis.on('error', () => {});
    defer(() => client.close());
    const err = await client.enqueue('work', { n: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(new RegExp(`enqueue "work".*127\\.0\\.0\\.1:${port}`));
    // Failed because of the refused connection, not because the 1 s timeout ran out ("did not answer within").
    expect((err as Error).message).toMatch(/is unreachable/);
    expect((err as Error).message).not.toMatch(/did not answer/);
  });

  it('Redis accepts connections but never answers: RedisUnavailableError after the default 5 s', async () => {
    const redis = await ownRedis();
    const client = createClient(jobs, { redis: redis.current().url });
    client.redis.on('error', () => {});
    defer(() => client.close());
    await client.enqueue('work', { n: 0 });
    redis.current().process.kill('SIGSTOP');
    defer(() => void redis.current().process.kill('SIGCONT'));
    const started = Date.now();
    const err = await client.enqueue('work', { n: 1 }).catch((e: unknown) => e);
    const elapsed = Date.now() - started;
    redis.current().process.kill('SIGCONT');
    expect(err).toBeInstanceOf(RedisUnavailableError);
    expect((err as Error).message).toMatch(/enqueue "work": Redis at redis:\/\/127\.0\.0\.1:\d+ did not answer within 5000 ms/);
    // It waited the whole default (a lower bound: load can only make it later); how much later is not asserted.
    expect(elapsed).toBeGreaterThanOrEqual(4_900);
  });

  itGap('enqueue-connection-error')('Redis stopped after the client connected: a clear error, and enqueue works again once it is back', async () => {
    const redis = await ownRedis();
    const client = createClient(jobs, { redis: redis.current().url, timeout: '1s' });
    client.redis.on('error', () => {});
    defer(() => client.close());
    await client.enqueue('work', { n: 0 });
    await redis.stop();
    const err = await client.enqueue('work', { n: 1 }).catch((e: unknown) => e);
    await redis.restart();
    expect((await client.enqueue('work', { n: 2 }, { jobId: 'after' })).id).toBe('after');
    expect(err).toBeInstanceOf(RedisUnavailableError);
  });
});

describe('Redis unreachable while working', () => {
  async function scenario(leaseMs: number, outageMs: number, workers: number) {
    const redis = await ownRedis();
    const prefix = 'outage';
    const client = createClient(jobs, { redis: redis.current().url, prefix });
    client.redis.on('error', () => {});
    defer(() => client.close());
    const runs = new Map<number, number>();
    const started = new Set<number>();
    const log = capture();
    const ws: Worker[] = [];
    for (let i = 0; i < workers; i++) {
      const w = createWorker(
        jobs,
        {
          work: async ({ n }) => {
            started.add(n);
            await sleep(400);
            runs.set(n, (runs.get(n) ?? 0) + 1);
          },
        },
        { redis: redis.current().url, prefix, concurrency: 2, leaseMs, logger: log.logger },
      );
      ws.push(w);
      defer(() => w.close());
    }
    const before = await client.enqueueMany('work', Array.from({ length: 12 }, (_, n) => ({ n })));
    await waitFor(() => started.size >= 2 * workers, 'handlers running on every worker');

    // Redis goes away while jobs are running and more are leased ahead (prefetch).
    await redis.stop();
    const inFlight = new Set(started);
    await sleep(outageMs);
    await redis.restart();

    const after = await client.enqueueMany('work', [100, 101, 102].map((n) => ({ n })));
    const ids = [...before, ...after].map((r) => r.id);
    await waitFor(async () => {
      const states = await Promise.all(ids.map((id) => client.getJob(id)));
      return states.every((s) => s.state === 'completed');
    }, 'every job to complete after Redis came back', 20_000);
    expect(await client.deadLetters.count('default')).toBe(0);
    return { runs, inFlight };
  }

  it('an outage shorter than the lease: the worker reconnects, every fetched job completes exactly once', async () => {
    const { runs, inFlight } = await scenario(10_000, 1_500, 1);
    expect(inFlight.size).toBeGreaterThanOrEqual(2);
    for (const n of [...Array(12).keys(), 100, 101, 102]) expect(runs.get(n), `runs of job ${n}`).toBe(1);
  });

  it('an outage longer than the lease, two workers: jobs may run again but none is lost', async () => {
    const { runs } = await scenario(1_000, 2_500, 2);
    for (const n of [...Array(12).keys(), 100, 101, 102]) expect(runs.get(n), `runs of job ${n}`).toBeGreaterThanOrEqual(1);
  });
});
