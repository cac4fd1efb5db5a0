/**
 * The read commands on the runtime's Inspector end to end — `jobcraft stats`, `queues`, `jobs <queue>`, `workers` —
 * the real command against the real Redis on its own prefix.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createWorker } from '../src/index.js';
import { jobs } from '../jobs.schema.js';
import { queueKeys, queueRegistryKey, workerRegistryKeys } from '../src/keys.js';
import { runCli, type Run } from './cli.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const prefix = testPrefix('cli-inspect');
const client = createClient(jobs, { redis: redisUrl(), prefix });
const raw = rawRedis();
let worker: ReturnType<typeof createWorker<typeof jobs>> | undefined;

function cli(args: readonly string[]): Promise<Run> {
  return runCli(args, { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '1' });
}

beforeAll(async () => {
  // Five jobs waiting in `email`; a worker serving only `webhooks`, so it registers itself and leaves them alone.
  await client.enqueueMany('sendWelcomeEmail', Array.from({ length: 5 }, (_, i) => ({ userId: `u${i}`, email: `u${i}@example.com` })));
  worker = createWorker(jobs, { deliverWebhook: async () => {} }, { redis: redisUrl(), prefix, logger: false, queues: ['webhooks'] });
});

afterAll(async () => {
  await worker?.close();
  await client.close();
  await deletePrefix(raw, prefix);
  raw.disconnect();
});

describe('stats, queues, jobs <queue>, workers', () => {
  it('stats and queues count the waiting jobs (--json and the table)', async () => {
    const json = await cli(['stats', '--json']);
    expect(json.code).toBe(0);
    const { queues } = JSON.parse(json.stdout) as { queues: { queue: string; waiting: number; paused: boolean }[] };
    expect(queues.find((q) => q.queue === 'email')).toMatchObject({ waiting: 5, paused: false });
    const table = await cli(['queues']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^QUEUE\s+PAUSED\s+WAITING/);
    expect(table.stdout).toMatch(/email\s+no\s+5/);
  });

  it('jobs <queue> pages with a cursor and never repeats a job; an unknown queue exits 3', async () => {
    const first = JSON.parse((await cli(['jobs', 'email', '--limit', '3', '--json'])).stdout) as { cursor: string | null; jobs: { id: string }[] };
    expect(first.jobs).toHaveLength(3);
    expect(first.cursor).not.toBeNull();
    const second = JSON.parse((await cli(['jobs', 'email', '--limit', '3', '--cursor', first.cursor as string, '--json'])).stdout) as { cursor: string | null; jobs: { id: string }[] };
    const ids = [...first.jobs, ...second.jobs].map((j) => j.id);
    expect(new Set(ids).size).toBe(5);
    expect((await cli(['jobs', 'nope'])).code).toBe(3);
  });

  it('a cursor this listing did not print is a usage error (exit 2), as every bad value is', async () => {
    const r = await cli(['jobs', 'email', '--cursor', 'nonsense']);
    expect(r.stderr).toMatch(/not a cursor of this listing/);
    expect(r.code).toBe(2);
  });

  it('workers lists the live worker with its queues', async () => {
    await waitFor(async () => JSON.parse((await cli(['workers', '--json'])).stdout).workers.length > 0, 'the worker registered', 20_000);
    const r = await cli(['workers', '--json']);
    const { workers } = JSON.parse(r.stdout) as { workers: { pid: number; queues: string[] }[] };
    expect(workers).toEqual([expect.objectContaining({ pid: process.pid, queues: ['webhooks'] })]);
  });
});

describe('a queue registry field that is no queue name', () => {
  it('is left out: stats and queues list the real queues (exit 0) instead of failing on it', async () => {
    const own = testPrefix('cli-inspect-badqueue');
    await raw.hset(queueRegistryKey(own), 'real', '{"throttled":[]}', 'bad{q}', '{"throttled":[]}', 'evil\u001b[2J', '{"throttled":[]}');
    try {
      const env = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: own, NO_COLOR: '1' };
      for (const cmd of ['stats', 'queues']) {
        const r = await runCli([cmd, '--json'], env);
        expect({ cmd, code: r.code, stderr: r.stderr }).toEqual({ cmd, code: 0, stderr: '' });
        expect((JSON.parse(r.stdout) as { queues: { queue: string }[] }).queues.map((q) => q.queue)).toEqual(['real']);
      }
    } finally {
      await deletePrefix(raw, own);
    }
  });
});

describe('error messages carry no terminal control characters', () => {
  it('an unknown queue lists the registered ones, never one holding control characters raw', async () => {
    const own = testPrefix('cli-inspect-esc');
    // A queue registry entry written by someone with access to Redis: ESC (C0) and CSI (C1) in its name.
    await raw.hset(queueRegistryKey(own), 'evil\u001b]0;pwned\u0007\u009b31m', '{"throttled":[]}', 'real', '{"throttled":[]}');
    try {
      const r = await runCli(['jobs', 'nope'], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: own, NO_COLOR: '1' });
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('(queues: real)');
      expect(r.stderr).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    } finally {
      await deletePrefix(raw, own);
    }
  });
});

describe('a registry entry jobcraft did not write', () => {
  it('workers lists it with its fields made safe, and neither the table nor --json fails on it', async () => {
    const own = testPrefix('cli-inspect-badworker');
    const keys = workerRegistryKeys(own);
    const entry = { name: 42, host: ['h'], pid: 'x', version: null, queues: 'q', concurrency: 'many', running: [{ id: 1, startedAt: 'soon' }, 'junk'], runningCount: -1, startedAt: 'yesterday', lastBeatAt: 1e300 };
    await raw.multi().hset(keys.info, 'forged', JSON.stringify(entry)).zadd(keys.beats, Date.now() + 600_000, 'forged').exec();
    try {
      const env = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: own, NO_COLOR: '1' };
      const json = await runCli(['workers', '--json'], env);
      expect(json.stderr).toBe('');
      expect(json.code).toBe(0);
      const { workers } = JSON.parse(json.stdout) as { workers: { id: string; name: string; queues: unknown[]; running: unknown[]; startedAt: string }[] };
      expect(workers).toHaveLength(1);
      expect(workers[0]).toMatchObject({ id: 'forged', name: 'forged', queues: [], running: [] });
      const table = await runCli(['workers'], env);
      expect(table.stderr).toBe('');
      expect(table.code).toBe(0);
      expect(table.stdout).not.toContain('NaN');
    } finally {
      await deletePrefix(raw, own);
    }
  });
});

describe('a stored job with an out-of-range time', () => {
  it('jobs <queue> and job <id> show it without a date instead of failing', async () => {
    const own = testPrefix('cli-inspect-badtime');
    const k = queueKeys(own, 'email');
    await raw.multi().hset(queueRegistryKey(own), 'email', '{"throttled":[]}').hset(k.jobs, 'x1', '{"n":"sendWelcomeEmail","t":99999999999999999999,"p":{}}').hset(k.errors, 'x1', '{"name":"E","message":"m","at":1e300}').rpush(k.wait, 'x1').exec();
    try {
      const env = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: own, NO_COLOR: '1' };
      const json = await runCli(['jobs', 'email', '--json'], env);
      expect(json.stderr).toBe('');
      expect(json.code).toBe(0);
      expect(JSON.parse(json.stdout).jobs).toEqual([expect.objectContaining({ id: 'x1', enqueuedAt: null, lastError: { name: 'E', message: 'm', at: null } })]);
      const table = await runCli(['jobs', 'email'], env);
      expect(table.code).toBe(0);
      expect(table.stdout).not.toContain('NaN');
      expect(await runCli(['job', 'x1', '--manifest', 'generated/jobs.manifest.json'], env)).toMatchObject({ code: 0, stderr: '' });
      // A dead letter whose record says it died at an impossible time, with a stack that is not text.
      await raw
        .multi()
        .hset(k.dead, 'x2', '{"n":"sendWelcomeEmail","t":1,"p":{}}')
        .hset(k.deadInfo, 'x2', '{"reason":"permanent_error","attempts":1,"diedAt":1e300,"error":{"name":"E","message":"m","stack":7,"at":-1e300}}')
        .zadd(k.deadOrder, 1, 'x2')
        .exec();
      const manifest = ['--manifest', 'generated/jobs.manifest.json'];
      for (const args of [
        ['job', 'x2', ...manifest],
        ['job', 'x2', '--json', ...manifest],
        ['dead', 'ls', ...manifest],
        ['dead', 'ls', '--json', ...manifest],
        ['dead', 'show', 'x2', ...manifest],
        ['jobs', 'email', '--state', 'dead', '--json'],
      ]) {
        expect({ args, ...(await runCli(args, env)) }).toMatchObject({ args, code: 0, stderr: '' });
      }
    } finally {
      await deletePrefix(raw, own);
    }
  });
});

describe('Redis unreachable', () => {
  it('stats ends with exit 1 and one clear line naming the address and the cause, no ioredis stack traces', async () => {
    const r = await runCli(['stats', '--redis', 'redis://127.0.0.1:1'], { JOBCRAFT_PREFIX: testPrefix('cli-inspect-down'), NO_COLOR: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('Unhandled error event');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: RedisUnavailableError: .*redis:\/\/127\.0\.0\.1:1 is unreachable: .*ECONNREFUSED/);
  });
});
