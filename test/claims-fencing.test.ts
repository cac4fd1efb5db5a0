/**
 * Documented claims about leases and fencing (docs/reliability.md, "How a crash is survived" 4; docs/configuration.md,
 * Handlers): an acknowledgement is recorded only while the job is still leased under the same attempt number, so a
 * worker whose lease was taken over cannot complete, retry or dead-letter the job; and a handler whose lease was lost
 * sees its signal abort with `LeaseExpiredError`.
 *
 * "Taken over" is staged by hand, exactly as recovery plus a new lease leave it: the lease stays in the active set
 * and the attempt count moves on (the new owner's attempt). No timing: each test waits for the worker's own report.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, LeaseExpiredError, queueKeys, type Handler, type Logger, type WorkerOptions } from '../src/index.js';
import { aborted, cleanupRegistry, deferred, redisUrl, testClient, waitFor } from './helpers.js';

const jobs = defineJobs({
  task: { payload: z.object({ n: z.number() }), attempts: 3, backoff: { type: 'fixed', delay: 10 } },
  last: { payload: z.object({ n: z.number() }), attempts: 1 },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const warnings: string[] = [];
  const events: string[] = [];
  const logger: Logger = { debug: () => {}, info: () => {}, warn: (m) => void warnings.push(m), error: (m) => void warnings.push(m) };
  const start = (handler: Handler<{ n: number }>, options: Omit<WorkerOptions, 'queues'> = {}) => {
    const worker = createWorker(jobs, { task: handler, last: handler }, { redis: redisUrl(), prefix, logger, leaseMs: 60_000, ...options });
    worker.on('completed', (ev) => events.push(`completed ${ev.job.id}`));
    worker.on('failed', (ev) => events.push(`failed ${ev.job.id}`));
    worker.on('retrying', (ev) => events.push(`retrying ${ev.job.id}`));
    worker.on('dead', (ev) => events.push(`dead ${ev.job.id}`));
    defer(() => worker.close());
    return worker;
  };
  const k = queueKeys(prefix, 'default');
  /** What recovery plus another worker's fetch leave behind: the lease held, under the next attempt number. */
  const takeOver = async (id: string) => {
    expect(await raw.zscore(k.active, id)).not.toBeNull();
    await raw.hset(k.attempts, id, '2');
  };
  /** The job is still the new owner's: leased, attempt 2, not completed, retried or dead. */
  const expectUntouched = async (id: string) => {
    expect(await raw.zscore(k.active, id)).not.toBeNull();
    expect(await raw.hget(k.attempts, id)).toBe('2');
    expect(await raw.hexists(k.jobs, id)).toBe(1);
    expect(await raw.hexists(k.done, id)).toBe(0);
    expect(await raw.hexists(k.dead, id)).toBe(0);
    expect(await raw.zscore(k.scheduled, id)).toBeNull();
    expect(await raw.hexists(k.errors, id)).toBe(0);
  };
  /** Runs one job whose handler ends (returns, or throws with `throws`) only after its lease was taken over. */
  const endAfterTakeover = async (name: 'task' | 'last', throws: boolean): Promise<string> => {
    const started = deferred();
    const finish = deferred();
    start(async () => {
      started.resolve();
      await finish.promise;
      if (throws) throw new Error('boom');
    });
    const { id } = await client.enqueue(name, { n: 1 });
    await started.promise;
    await takeOver(id);
    finish.resolve();
    return id;
  };
  return { client, raw, k, warnings, events, start, takeOver, expectUntouched, endAfterTakeover };
}

describe('ack fencing: a worker whose lease was taken over records nothing', () => {
  it('its completion is refused (fetch.lua checks lease and attempt) and no completed event fires', async () => {
    const { warnings, events, expectUntouched, endAfterTakeover } = setup('fence-complete');
    const id = await endAfterTakeover('task', false);
    await waitFor(() => warnings.some((w) => w.includes(`job ${id}`) && w.includes('the completion was not recorded')), 'the refused completion');
    await expectUntouched(id);
    expect(events).toEqual([]);
  });

  it('its failure (a retry) is refused (reschedule.lua checks holds())', async () => {
    const { warnings, expectUntouched, endAfterTakeover } = setup('fence-retry');
    const id = await endAfterTakeover('task', true);
    await waitFor(() => warnings.some((w) => w.includes(`job ${id}`) && w.includes('the failure was not recorded')), 'the refused retry');
    await expectUntouched(id);
  });

  it('its last failure (a dead letter) is refused (dead.lua checks holds())', async () => {
    const { client, warnings, expectUntouched, endAfterTakeover } = setup('fence-dead');
    const id = await endAfterTakeover('last', true);
    await waitFor(() => warnings.some((w) => w.includes(`job ${id}`) && w.includes('not recorded')), 'the refused dead letter');
    await expectUntouched(id);
    expect(await client.deadLetters.count('default')).toBe(0);
  });
});

describe('a lost lease', () => {
  it("aborts the handler's signal with LeaseExpiredError (renew.lua reports it lost), warns, and records nothing", async () => {
    const { client, warnings, events, start, takeOver, expectUntouched } = setup('fence-lost');
    const started = deferred();
    const reasons: unknown[] = [];
    // A short lease so the renewal that finds the lease gone comes soon (every third of it).
    start(
      async (_p, ctx) => {
        started.resolve();
        reasons.push(await aborted(ctx.signal));
        // Returns normally afterwards: the completion must still not be recorded.
      },
      { leaseMs: 1_500 },
    );
    const { id } = await client.enqueue('task', { n: 1 });
    await started.promise;
    await takeOver(id);
    await waitFor(() => reasons.length === 1, 'the handler to be aborted');
    expect(reasons[0]).toBeInstanceOf(LeaseExpiredError);
    expect((reasons[0] as Error).message).toMatch(new RegExp(`lease of job ${id} was lost`));
    expect(warnings.some((w) => w.includes(`lost the lease of job ${id}`))).toBe(true);
    await expectUntouched(id);
    expect(events).toEqual([]);
  });
});
