/**
 * Unique jobs (issue 4): while a job with the same unique key is waiting, scheduled, running or retrying, another
 * enqueue writes nothing and returns the existing id; the lock is released when the job completes or dies (or
 * starts, with `until: 'start'`), and after its TTL in any case — also when the worker running it was SIGKILLed.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys, type JobSet } from '../src/index.js';
import { flowJobs } from './fixtures/flow-jobs.js';
import { FLOW_LEASE_MS, PROCESS_TEST_MS, PROCESS_WAIT_MS, spawnFlowWorker } from './fixtures/flow-process.js';
import { cleanupRegistry, deferred, keysUnder, redisUrl, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  whole: {
    payload: z.object({ a: z.number(), b: z.number().default(2), nested: z.object({ x: z.number(), y: z.number() }).optional() }),
    unique: true,
  },
  byField: { payload: z.object({ userId: z.string(), note: z.string() }), unique: { by: ['userId'] } },
  sameShape: { payload: z.object({ userId: z.string(), note: z.string() }), unique: { by: ['userId'] } },
  byFn: { payload: z.object({ email: z.string() }), unique: { by: (p) => (p as { email: string }).email.toLowerCase() } },
  atStart: { payload: z.object({ k: z.string() }), unique: { until: 'start' } },
  shortLived: { payload: z.object({ k: z.string() }), unique: { ttl: '300ms' } },
  flaky: { payload: z.object({ k: z.string() }), unique: true, attempts: 2, backoff: { type: 'fixed', delay: 300 } },
  doomed: { payload: z.object({ k: z.string() }), unique: true, attempts: 1 },
});

function setup<J extends JobSet>(name: string, set: J) {
  const { prefix, client, raw } = testClient(set, name, defer);
  return { prefix, client, raw };
}

/** A worker for `jobs` whose handlers wait for `gate` (when given) and may throw. */
function startWorker(prefix: string, o: { gate?: Promise<void>; fail?: Set<string> } = {}) {
  const started: { name: string; attempt: number }[] = [];
  const run = async (name: string, attempt: number) => {
    started.push({ name, attempt });
    await o.gate;
    if (o.fail?.has(`${name}:${attempt}`)) throw new Error(`${name} fails on attempt ${attempt}`);
  };
  const handlers = Object.fromEntries([...jobs.jobs.keys()].map((n) => [n, (_p: unknown, ctx: { attempt: number }) => run(n, ctx.attempt)]));
  const worker = createWorker(jobs, handlers as never, { redis: redisUrl(), prefix, logger: false, leaseMs: 1000 });
  defer(() => worker.close());
  return { worker, started };
}

describe('the unique key', () => {
  it('is the whole payload in canonical form: key order does not matter, defaults are applied', async () => {
    const { client, prefix, raw } = setup('unique-canonical', jobs);
    const first = await client.enqueue('whole', { a: 1, b: 2, nested: { x: 1, y: 2 } });
    expect(first.duplicate).toBe(false);
    const dup = { id: first.id, duplicate: true };
    expect(await client.enqueue('whole', { nested: { y: 2, x: 1 }, b: 2, a: 1 })).toEqual(dup);
    expect(await client.enqueue('whole', { a: 1, nested: { x: 1, y: 2 } })).toEqual(dup); // b defaults to 2
    expect((await client.enqueue('whole', { a: 1, b: 3, nested: { x: 1, y: 2 } })).duplicate).toBe(false);
    expect((await client.enqueue('whole', { a: 1, b: 2 })).duplicate).toBe(false);
    // A duplicate writes nothing: three jobs, three locks.
    expect(await raw.hlen(queueKeys(prefix, 'default').jobs)).toBe(3);
    expect(await keysUnder(raw, `${prefix}:{default}:unique`)).toHaveLength(3);
  });

  it('is the named fields with by: [...], the function result with by: fn, and belongs to one job type', async () => {
    const { client } = setup('unique-by', jobs);
    const u1 = await client.enqueue('byField', { userId: 'u1', note: 'first' });
    expect(await client.enqueue('byField', { userId: 'u1', note: 'other note' })).toEqual({ id: u1.id, duplicate: true });
    expect((await client.enqueue('byField', { userId: 'u2', note: 'first' })).duplicate).toBe(false);
    expect((await client.enqueue('sameShape', { userId: 'u1', note: 'first' })).duplicate).toBe(false);
    const mail = await client.enqueue('byFn', { email: 'Ann@Example.com' });
    expect(await client.enqueue('byFn', { email: 'ann@example.com' })).toEqual({ id: mail.id, duplicate: true });
    expect((await client.enqueue('byFn', { email: 'bob@example.com' })).duplicate).toBe(false);
  });

  it('de-duplicates within one enqueueMany batch too', async () => {
    const { client } = setup('unique-batch', jobs);
    const r = await client.enqueueMany('byField', [
      { userId: 'u1', note: 'a' },
      { userId: 'u1', note: 'b' },
      { userId: 'u3', note: 'c' },
    ]);
    expect(r.map((x) => x.duplicate)).toEqual([false, true, false]);
    expect(r[1]?.id).toBe(r[0]?.id);
  });
});

describe('the unique lock', () => {
  it('holds while the job waits or is delayed, and is released when it completes', async () => {
    const { client, prefix } = setup('unique-waiting', jobs);
    const waiting = await client.enqueue('whole', { a: 1 });
    expect(await client.enqueue('whole', { a: 1 })).toEqual({ id: waiting.id, duplicate: true });
    const delayed = await client.enqueue('whole', { a: 2 }, { delay: 500 });
    expect((await client.getJob(delayed.id)).state).toBe('delayed');
    expect(await client.enqueue('whole', { a: 2 })).toEqual({ id: delayed.id, duplicate: true });

    startWorker(prefix);
    for (const id of [waiting.id, delayed.id]) {
      await waitFor(async () => (await client.getJob(id)).state === 'completed', `job ${id} to complete`);
    }
    const again = await client.enqueue('whole', { a: 1 });
    expect(again.duplicate).toBe(false);
    expect(again.id).not.toBe(waiting.id);
    expect((await client.enqueue('whole', { a: 2 })).duplicate).toBe(false);
  });

  it('holds while the job runs and while it waits for a retry, until the retry completes', async () => {
    const { client, prefix } = setup('unique-retrying', jobs);
    const gate = deferred();
    const { started } = startWorker(prefix, { gate: gate.promise, fail: new Set(['flaky:1']) });
    const first = await client.enqueue('flaky', { k: 'x' });
    await waitFor(() => started.length === 1, 'attempt 1 to start');
    expect(await client.enqueue('flaky', { k: 'x' })).toEqual({ id: first.id, duplicate: true }); // running
    gate.resolve(); // attempt 1 fails; the retry is due 300 ms later
    await waitFor(async () => (await client.getJob(first.id)).state === 'retrying', 'the job to wait for its retry');
    expect(await client.enqueue('flaky', { k: 'x' })).toEqual({ id: first.id, duplicate: true }); // retrying
    await waitFor(async () => (await client.getJob(first.id)).state === 'completed', 'attempt 2 to complete');
    expect(started).toEqual([
      { name: 'flaky', attempt: 1 },
      { name: 'flaky', attempt: 2 },
    ]);
    expect((await client.enqueue('flaky', { k: 'x' })).duplicate).toBe(false);
  });

  it('is released when the job dies', async () => {
    const { client, prefix } = setup('unique-dead', jobs);
    startWorker(prefix, { fail: new Set(['doomed:1']) });
    const first = await client.enqueue('doomed', { k: 'x' });
    await waitFor(async () => (await client.getJob(first.id)).state === 'dead', 'the job to die');
    const again = await client.enqueue('doomed', { k: 'x' });
    expect(again.duplicate).toBe(false);
    expect(again.id).not.toBe(first.id);
  });

  it("with until: 'start' is released when the job starts", async () => {
    const { client, prefix } = setup('unique-start', jobs);
    const first = await client.enqueue('atStart', { k: 'x' });
    expect(await client.enqueue('atStart', { k: 'x' })).toEqual({ id: first.id, duplicate: true });
    const gate = deferred();
    const { started } = startWorker(prefix, { gate: gate.promise });
    await waitFor(() => started.length === 1, 'the job to start');
    const second = await waitFor(async () => {
      const r = await client.enqueue('atStart', { k: 'x' });
      return r.duplicate ? undefined : r;
    }, 'the lock to be released at start');
    expect(second.id).not.toBe(first.id);
    expect((await client.getJob(first.id)).state).toBe('active');
    gate.resolve();
  });

  it('expires after its ttl even while the job is still scheduled', async () => {
    const { client, prefix, raw } = setup('unique-ttl', jobs);
    const first = await client.enqueue('shortLived', { k: 'x' }, { delay: '1h' });
    expect(await client.enqueue('shortLived', { k: 'x' })).toEqual({ id: first.id, duplicate: true });
    const [lock] = await keysUnder(raw, `${prefix}:{default}:unique`);
    expect(await raw.pttl(lock as string)).toBeGreaterThan(0);
    expect(await raw.pttl(lock as string)).toBeLessThanOrEqual(300);
    await waitFor(async () => (await raw.exists(lock as string)) === 0, 'the lock to expire');
    const second = await client.enqueue('shortLived', { k: 'x' });
    expect(second.duplicate).toBe(false);
    expect((await client.getJob(first.id)).state).toBe('delayed');
  });

  it('holds while a job retried from the dead letters waits again', async () => {
    const { client, prefix } = setup('unique-dead-retry', jobs);
    startWorker(prefix, { fail: new Set(['doomed:1']) });
    const first = await client.enqueue('doomed', { k: 'x' });
    await waitFor(async () => (await client.getJob(first.id)).state === 'dead', 'the job to die');
    await client.pause('default'); // so the retried job stays waiting
    expect(await client.deadLetters.retry(first.id)).toBe(true);
    expect((await client.getJob(first.id)).state).toBe('waiting');
    expect(await client.enqueue('doomed', { k: 'x' })).toEqual({ id: first.id, duplicate: true });
  });
});

describe('a unique job whose worker process is SIGKILLed while running it', () => {
  it('keeps its lock while the job is recovered and retried, and releases it when the retry completes elsewhere', async () => {
    const { client, prefix } = setup('unique-sigkill', flowJobs);
    const first = await client.enqueue('uniq', { key: 'k' });
    const child = spawnFlowWorker(prefix, { queues: ['unique'], hang: true }, defer);
    await waitFor(() => child.started.length === 1, 'the job to start in the child process', PROCESS_WAIT_MS);
    expect(await client.enqueue('uniq', { key: 'k' })).toEqual({ id: first.id, duplicate: true });
    await child.kill();
    // The dead process's lease has not expired yet: still running as far as Redis knows.
    expect((await client.getJob(first.id)).state).toBe('active');
    expect(await client.enqueue('uniq', { key: 'k' })).toEqual({ id: first.id, duplicate: true });

    const gate = deferred();
    const attempts: number[] = [];
    const worker = createWorker(
      flowJobs,
      {
        uniq: async (_p, ctx) => {
          attempts.push(ctx.attempt);
          await gate.promise;
        },
      },
      { redis: redisUrl(), prefix, queues: ['unique'], leaseMs: FLOW_LEASE_MS, logger: false },
    );
    defer(() => worker.close());
    await waitFor(() => attempts.length === 1, 'the recovered job to run again', PROCESS_WAIT_MS);
    expect(attempts).toEqual([2]);
    const info = await client.getJob(first.id);
    expect(info.state).toBe('active');
    expect(info.lastError?.name).toBe('LeaseExpiredError');
    expect(await client.enqueue('uniq', { key: 'k' })).toEqual({ id: first.id, duplicate: true });

    gate.resolve();
    await waitFor(async () => (await client.getJob(first.id)).state === 'completed', 'the retry to complete', PROCESS_WAIT_MS);
    const again = await client.enqueue('uniq', { key: 'k' });
    expect(again.duplicate).toBe(false);
    expect(again.id).not.toBe(first.id);
  }, PROCESS_TEST_MS);
});
