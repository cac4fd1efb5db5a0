/**
 * A Redis that may evict keys may evict jobs: a worker checks `maxmemory-policy` before it fetches and refuses to
 * start unless it is `noeviction` or the user opted in with `allowEvictingRedis`; a client warns once. Runs its own
 * redis-server so the shared one's configuration is never touched.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { RedisConfigurationError, createClient, createWorker, defineJobs, type Logger } from '../src/index.js';
import { freePort, startRedisServer } from '../scripts/redis-server.js';
import { Redis } from 'ioredis';
import { cleanupRegistry, rawRedis, waitFor } from './helpers.js';

const jobs = defineJobs({ noop: { payload: z.object({}) } });
const defer = cleanupRegistry();

function recorder(): { logger: Logger; warnings: string[]; errors: string[] } {
  const warnings: string[] = [];
  const errors: string[] = [];
  return { warnings, errors, logger: { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void errors.push(m) } };
}

async function redisWith(policy: string): Promise<string> {
  const server = await startRedisServer();
  defer(() => server.stop());
  const raw = rawRedis(server.url);
  defer(() => raw.disconnect());
  await raw.config('SET', 'maxmemory-policy', policy);
  await raw.config('SET', 'maxmemory', '1gb'); // with no limit (0) no policy evicts anything
  return server.url;
}

function workerOn(url: string | Redis, options: { allowEvictingRedis?: boolean } = {}) {
  const log = recorder();
  const ran: string[] = [];
  const errorEvents: Error[] = [];
  const worker = createWorker(jobs, { noop: (_p, ctx) => void ran.push(ctx.id) }, { redis: url, logger: log.logger, ...options });
  worker.on('error', (e) => void errorEvents.push(e));
  defer(() => worker.close());
  return { worker, ran, errorEvents, ...log };
}

describe('maxmemory-policy check at worker start', () => {
  it('refuses to start on allkeys-lru: ready rejects, an error is logged and emitted, and no job runs', async () => {
    const url = await redisWith('allkeys-lru');
    const client = createClient(jobs, { redis: url, logger: false });
    defer(() => client.close());
    const { id } = await client.enqueue('noop', {});
    const w = workerOn(url);
    const err = await w.worker.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RedisConfigurationError);
    expect((err as RedisConfigurationError).reason).toBe('eviction_policy');
    expect((err as Error).message).toMatch(/allkeys-lru/);
    expect((err as Error).message).toMatch(/noeviction/);
    expect((err as Error).message).toMatch(/allowEvictingRedis/);
    expect(w.errorEvents).toEqual([err]);
    expect(w.errors.some((m) => m.includes('will not start') && m.includes('allkeys-lru'))).toBe(true);
    // The job the worker could have taken at once is still waiting, and close() ends the idle worker normally.
    expect(w.ran).toEqual([]);
    expect((await client.getJob(id)).state).toBe('waiting');
    await w.worker.close();
    expect(w.ran).toEqual([]);
  });

  it('a refused worker releases its connections', async () => {
    const url = await redisWith('allkeys-lru');
    const raw = rawRedis(url);
    defer(() => raw.disconnect());
    const w = workerOn(url);
    await expect(w.worker.ready).rejects.toThrow(RedisConfigurationError);
    // Only the test's own connections are left (before: the command and blocking connections stayed open).
    const others = async (): Promise<number> => String(await raw.client('LIST')).trim().split('\n').length - 2;
    await waitFor(async () => (await others()) === 0, "the refused worker's connections to close");
  });

  it('a refused worker process exits: with code 1 under handleSignals, on its own without', async () => {
    const url = await redisWith('allkeys-lru');
    const run = (handleSignals: boolean): Promise<{ code: number | null; out: string }> => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/child-worker.ts'], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        env: { ...process.env, REDIS_URL: url, JC_PREFIX: 'evictexit', ...(handleSignals ? { JC_HANDLE_SIGNALS: '1' } : {}) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      defer(async () => void (child.exitCode === null && child.kill('SIGKILL')));
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
    };
    const [signalled, plain] = await Promise.all([run(true), run(false)]);
    expect(signalled).toEqual({ code: 1, out: 'ready\n' });
    // Nothing keeps a refused worker's process alive (before, it idled forever with open sockets).
    expect(plain).toEqual({ code: 0, out: 'ready\n' });
  }, 60_000);

  it('only warns about an evicting policy without a maxmemory limit (such a Redis evicts nothing)', async () => {
    const url = await redisWith('allkeys-lru');
    const raw = rawRedis(url);
    defer(() => raw.disconnect());
    await raw.config('SET', 'maxmemory', '0');
    const w = workerOn(url);
    await w.worker.ready;
    expect(w.warnings.filter((m) => /allkeys-lru.*no maxmemory limit/.test(m))).toHaveLength(1);
    expect(w.errorEvents).toEqual([]);
  });

  it('refuses when CONFIG is renamed away: the policy is read from INFO, the unknown command is not fatal', async () => {
    const server = await startRedisServer({ args: ['--rename-command', 'CONFIG', '""', '--maxmemory', '1gb', '--maxmemory-policy', 'allkeys-lru'] });
    defer(() => server.stop());
    const w = workerOn(server.url);
    const err = await w.worker.ready.then(
      () => undefined,
      (e: unknown) => e,
    );
    // Before: the permission probe raised on the unknown CONFIG, the eviction check never ran, and the worker started.
    expect(err).toBeInstanceOf(RedisConfigurationError);
    expect((err as RedisConfigurationError).reason).toBe('eviction_policy');
    expect((err as Error).message).toMatch(/allkeys-lru/);
  });

  it('waits for an unreachable Redis instead of starting unchecked (a Redis instance passed in that gives up on commands)', async () => {
    const port = await freePort();
    const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    defer(() => redis.disconnect());
    const w = workerOn(redis);
    let settled = false;
    w.worker.ready.then(
      () => (settled = true),
      () => (settled = true),
    );
    // Let the first checks fail on the missing server (each command gives up after one reconnect).
    await waitFor(async () => redis.status === 'reconnecting', 'the connection to fail');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    const server = await startRedisServer({ port, args: ['--maxmemory', '1gb', '--maxmemory-policy', 'allkeys-lru'] });
    defer(() => server.stop());
    await expect(w.worker.ready).rejects.toThrow(/allkeys-lru/);
  });

  it('refuses volatile-lru too (it evicts keys with a TTL, such as unique-job locks)', async () => {
    const url = await redisWith('volatile-lru');
    const w = workerOn(url);
    await expect(w.worker.ready).rejects.toThrow(/volatile-lru/);
  });

  it('runs with allowEvictingRedis: true, warning once that jobs may be lost', async () => {
    const url = await redisWith('allkeys-lru');
    const w = workerOn(url, { allowEvictingRedis: true });
    await w.worker.ready;
    const client = createClient(jobs, { redis: url, logger: false });
    defer(() => client.close());
    const { id } = await client.enqueue('noop', {});
    await waitFor(() => w.ran.includes(id), 'the job to run');
    expect(w.warnings.filter((m) => m.includes('maxmemory-policy'))).toHaveLength(1);
    expect(w.warnings[0]).toMatch(/allkeys-lru.*running anyway/s);
    expect(w.errors).toEqual([]);
  });

  it('a producer warns once on an evicting Redis', async () => {
    const url = await redisWith('allkeys-lfu');
    const log = recorder();
    const client = createClient(jobs, { redis: url, logger: log.logger });
    defer(() => client.close());
    await waitFor(() => log.warnings.length > 0, 'the eviction warning');
    await client.enqueue('noop', {});
    await client.enqueue('noop', {});
    expect(log.warnings).toHaveLength(1);
    expect(log.warnings[0]).toMatch(/allkeys-lfu/);
    expect(log.warnings[0]).toMatch(/noeviction/);
  });

  it('stays quiet with noeviction and runs jobs', async () => {
    const url = await redisWith('noeviction');
    const w = workerOn(url);
    await w.worker.ready;
    const client = createClient(jobs, { redis: url, logger: w.logger });
    defer(() => client.close());
    const { id } = await client.enqueue('noop', {});
    await waitFor(() => w.ran.includes(id), 'the job to run');
    expect(w.warnings).toEqual([]);
    expect(w.errors).toEqual([]);
  });
});
