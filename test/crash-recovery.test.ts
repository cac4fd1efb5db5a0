/**
 * Crash safety: a worker process killed with SIGKILL mid-job loses nothing. Its leases expire, another worker
 * recovers the jobs and runs them again, with the crashed attempt counted.
 */
import { describe, expect, it } from 'vitest';
import { createWorker, queueKeys, type JobInfo } from '../src/index.js';
import { CHILD_LEASE_MS, childJobs } from './fixtures/child-jobs.js';
import { cleanupRegistry, queueCounts, redisUrl, spawnChildWorker, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

function setup(name: string) {
  const { prefix, client, raw } = testClient(childJobs, name, defer);
  return { prefix, client, raw };
}

function spawnWorker(prefix: string, queue: 'default' | 'single', concurrency: number) {
  const child = spawnChildWorker({ JC_PREFIX: prefix, JC_QUEUE: queue, JC_CONCURRENCY: String(concurrency) }, defer);
  const kill = async () => expect(await child.signal('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
  return { started: child.started, waitStarted: child.waitStarted, kill };
}

describe('a worker killed with SIGKILL mid-job', () => {
  it('loses no job: another worker completes each one on attempt 2', async () => {
    const { prefix, client, raw } = setup('crash');
    const ids = (await client.enqueueMany('work', [0, 1, 2, 3, 4].map((n) => ({ n })))).map((r) => r.id);
    const child = spawnWorker(prefix, 'default', 5);
    await child.waitStarted(5);
    expect(child.started.map((s) => s.id).sort()).toEqual([...ids].sort());
    expect(child.started.every((s) => s.attempt === 1)).toBe(true);
    await child.kill();

    // The dead process still holds the leases.
    const mid = await client.getJob(ids[0] as string);
    expect(mid.state).toBe('active');
    expect(mid.attempts).toBe(1);

    const runs: { id: string; n: number; attempt: number; lastError: JobInfo['lastError'] }[] = [];
    const worker = createWorker(
      childJobs,
      {
        work: async ({ n }, ctx) => {
          runs.push({ id: ctx.id, n, attempt: ctx.attempt, lastError: (await client.getJob(ctx.id)).lastError });
        },
        single: async () => {},
      },
      { redis: redisUrl(), prefix, leaseMs: CHILD_LEASE_MS, logger: false },
    );
    defer(() => worker.close());

    await waitFor(async () => {
      const states = await Promise.all(ids.map((id) => client.getJob(id)));
      return states.every((s) => s.state === 'completed');
    }, 'every job to complete after the crash');
    expect(runs.map((r) => r.n).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(runs.every((r) => r.attempt === 2)).toBe(true);
    expect(runs.every((r) => r.lastError?.name === 'LeaseExpiredError' && r.lastError.attempt === 1)).toBe(true);
    for (const id of ids) expect((await client.getJob(id)).attempts).toBe(2);
    expect(await queueCounts(raw, queueKeys(prefix, 'default'))).toMatchObject({
      wait: 0,
      scheduled: 0,
      active: 0,
      jobs: 0,
      attempts: 0,
      errors: 0,
      dead: 0,
      done: 5,
    });
  });

  it('counts the crashed attempt: a job with one attempt goes to the dead letters', async () => {
    const { prefix, client } = setup('crash-single');
    const { id } = await client.enqueue('single', { n: 1 });
    const child = spawnWorker(prefix, 'single', 1);
    await child.waitStarted(1);
    await child.kill();

    let runs = 0;
    const worker = createWorker(
      childJobs,
      { single: async () => void runs++ },
      { redis: redisUrl(), prefix, queues: ['single'], leaseMs: CHILD_LEASE_MS, logger: false },
    );
    defer(() => worker.close());

    const dead = await waitFor(async () => {
      const j = await client.getJob(id);
      return j.state === 'dead' ? j : undefined;
    }, 'the job to die');
    expect(runs).toBe(0);
    expect(dead.attempts).toBe(1);
    expect(dead.deadReason).toBe('attempts_exhausted');
    expect(dead.lastError?.name).toBe('LeaseExpiredError');
    expect(await client.deadLetters.count('single')).toBe(1);
  });
});
