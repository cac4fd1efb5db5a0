/**
 * Crash safety: a worker process killed with SIGKILL mid-job loses nothing. Its leases expire, another worker
 * recovers the jobs and runs them again, with the crashed attempt counted.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createClient, createWorker, queueKeys, type JobInfo } from '../src/index.js';
import { CRASH_LEASE_MS, crashJobs } from './fixtures/crash-jobs.js';
import { cleanupRegistry, deletePrefix, queueCounts, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const defer = cleanupRegistry();

function setup(name: string) {
  const prefix = testPrefix(name);
  const client = createClient(crashJobs, { redis: redisUrl(), prefix });
  const raw = rawRedis();
  defer(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { prefix, client, raw };
}

/** Starts test/fixtures/crash-worker.ts in a child process; `started` collects the `started <id> <attempt>` lines. */
function spawnWorker(prefix: string, queue: 'default' | 'single', concurrency: number) {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/crash-worker.ts'], {
    cwd: root,
    env: { ...process.env, REDIS_URL: redisUrl(), JC_PREFIX: prefix, JC_QUEUE: queue, JC_CONCURRENCY: String(concurrency) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  defer(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const started: { id: string; attempt: number }[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^started (\S+) (\d+)$/.exec(line);
      if (m) started.push({ id: m[1] as string, attempt: Number(m[2]) });
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const waitStarted = (n: number) =>
    waitFor(() => {
      if (child.exitCode !== null) throw new Error(`the child worker exited early (${child.exitCode}): ${stderr}`);
      return started.length >= n;
    }, `${n} job(s) to start in the child worker`);
  const kill = async () => {
    child.kill('SIGKILL');
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
  };
  return { started, waitStarted, kill };
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
      crashJobs,
      {
        work: async ({ n }, ctx) => {
          runs.push({ id: ctx.id, n, attempt: ctx.attempt, lastError: (await client.getJob(ctx.id)).lastError });
        },
        single: async () => {},
      },
      { redis: redisUrl(), prefix, leaseMs: CRASH_LEASE_MS, logger: false },
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
      crashJobs,
      { single: async () => void runs++ },
      { redis: redisUrl(), prefix, queues: ['single'], leaseMs: CRASH_LEASE_MS, logger: false },
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
