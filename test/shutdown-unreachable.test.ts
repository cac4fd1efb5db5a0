/**
 * `close()` while Redis cannot be reached (issue 16, item 4): it must resolve whatever Redis does — within
 * `shutdownTimeoutMs` plus a small margin (docs/reliability.md) — and name the jobs it could not hand back, which come
 * back through lease expiry. Before, it waited forever for calls Redis would never answer, so a worker with
 * `handleSignals` never exited on SIGTERM.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, type Logger } from '../src/index.js';
import { freePort, startRedisServer } from '../scripts/redis-server.js';
import { childJobs } from './fixtures/child-jobs.js';
import { cleanupRegistry, spawnChildWorker, testPrefix, waitFor } from './helpers.js';

const jobs = defineJobs({
  work: { payload: z.object({ n: z.number() }), attempts: 3 },
});

const defer = cleanupRegistry();

function recordingLogger(): { logger: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const none = (): void => {};
  return { logger: { debug: none, info: none, warn: (m) => void warnings.push(m), error: none }, warnings };
}

describe('close() while Redis is unreachable', () => {
  it('resolves for a worker that never reached Redis (nothing listens on its port)', async () => {
    const port = await freePort();
    const { logger } = recordingLogger();
    const worker = createWorker(jobs, { work: async () => {} }, { redis: `redis://127.0.0.1:${port}`, prefix: testPrefix('unreachable'), shutdownTimeoutMs: 3_000, logger });
    // Let it try (and fail) to connect for a moment: its fetch loop is waiting on a call Redis will never answer.
    await new Promise((r) => setTimeout(r, 300));
    await expect(worker.close()).resolves.toBeUndefined();
  }, 60_000);

  it('resolves when Redis is killed while a job runs, and names the job it could not hand back', async () => {
    const server = await startRedisServer();
    defer(() => server.stop());
    const prefix = testPrefix('killed');
    const client = createClient(jobs, { redis: server.url, prefix });
    const { logger, warnings } = recordingLogger();
    let started = '';
    const worker = createWorker(
      jobs,
      {
        work: (_p, ctx) => {
          started = ctx.id;
          // Runs until aborted (the shutdown timeout aborts it).
          return new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)));
        },
      },
      { redis: server.url, prefix, shutdownTimeoutMs: 1_000, logger },
    );
    const { id } = await client.enqueue('work', { n: 1 });
    await client.close();
    await waitFor(() => started === id, 'the job to start');

    await server.kill('SIGKILL');
    await expect(worker.close()).resolves.toBeUndefined();
    const notHandedBack = warnings.filter((w) => /could not be handed back/.test(w));
    expect(notHandedBack).toHaveLength(1);
    expect(notHandedBack[0]).toContain(`${id} (work, released)`);
    // close() stopped waiting at its bound: shutdownTimeoutMs (1 s) + 2 s, and says so.
    expect(notHandedBack[0]).toContain('(Redis did not answer within 3000 ms)');
    expect(notHandedBack[0]).toMatch(/they run again once their lease expires/);
  }, 60_000);

  it('a worker process with handleSignals exits on SIGTERM while Redis is gone', async () => {
    const server = await startRedisServer();
    defer(() => server.stop());
    const prefix = testPrefix('sigterm-gone');
    const client = createClient(childJobs, { redis: server.url, prefix });
    const child = spawnChildWorker({ REDIS_URL: server.url, JC_PREFIX: prefix, JC_HANDLE_SIGNALS: '1', JC_SHUTDOWN_MS: '1000' }, defer);
    await client.enqueue('work', { n: 1 });
    await client.close();
    await child.waitStarted(1);

    await server.kill('SIGKILL');
    const exit = await child.signal('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
  }, 60_000);
});
