/**
 * close() aborts handlers still running after shutdownTimeoutMs and hands each job back once its handler stops. A
 * handler that ignores its ShutdownError keeps its job: handing it back at once would let another worker start the
 * job beside it. The job stays leased (it comes back through lease expiry) and close()'s warning names it.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, ShutdownError, type Logger } from '../src/index.js';
import { cleanupRegistry, deferred, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({ task: { payload: z.object({ n: z.number() }) } });
const defer = cleanupRegistry();

describe('shutdown with a handler that ignores its abort', () => {
  it('does not hand its job back while it still runs, and says so', async () => {
    const { prefix, client } = testClient(jobs, 'shutdown-ignored', defer);
    const warnings: string[] = [];
    const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: () => {} };
    const gate = deferred();
    defer(() => gate.resolve());
    let started = '';
    let reason: unknown;
    const worker = createWorker(
      jobs,
      {
        task: async (_p, ctx) => {
          started = ctx.id;
          ctx.signal.addEventListener('abort', () => (reason = ctx.signal.reason));
          await gate.promise; // ignores its signal
        },
      },
      { redis: redisUrl(), prefix, shutdownTimeoutMs: 200, logger },
    );
    const { id } = await client.enqueue('task', { n: 1 });
    await waitFor(() => started === id, 'the job to start');
    await worker.close();

    expect(reason).toBeInstanceOf(ShutdownError);
    // Still leased: no other worker can take it while the handler runs on.
    expect((await client.getJob(id)).state).toBe('active');
    const named = warnings.filter((w) => /could not be handed back or recorded/.test(w));
    expect(named).toHaveLength(1);
    expect(named[0]).toContain('(1 aborted handler(s) had not stopped within 2200 ms)');
    expect(named[0]).toContain(`${id} (task, lost)`);
    gate.resolve();
  });
});
