/**
 * Results, from the adversarial review of the merged feature: a wait must never resolve with an earlier run's
 * result, and a long wait timeout must not fire at once.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, JobCancelledError, JobDeadError, PermanentError, queueKeys, ResultTimeoutError, ResultWaitAbortedError } from '../src/index.js';
import { resultChannel } from '../src/keys.js';
import { Redis } from 'ioredis';
import { createClient } from '../src/index.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, rejection, testClient, testPrefix, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  echo: { payload: z.object({ n: z.number() }), result: z.number() },
  /** Returns an object whose property getter throws when the result is checked. */
  trap: { payload: z.object({}), result: z.object({ n: z.number() }), queue: 'trap' },
});

describe('results (review)', () => {
  it('a jobId reused after its completed record is gone: the new run is waited for, not the old result handed back', async () => {
    const { client, raw, prefix } = testClient(jobs, 'resrev-reuse', defer);
    const worker = createWorker(jobs, { echo: ({ n }) => n, trap: () => ({ n: 0 }) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    const first = await client.enqueue('echo', { n: 1 }, { jobId: 'same' });
    expect(await first.result()).toBe(1);
    // The completed record trimmed (keepCompleted) while the result is still within its retention.
    const k = queueKeys(prefix, 'default');
    await raw.hdel(k.done, 'same');
    const second = await client.enqueue('echo', { n: 2 }, { jobId: 'same', delay: '1h' });
    expect(second.duplicate).toBe(false);
    const waiting = rejection(second.result());
    await waitFor(async () => ((await raw.pubsub('NUMSUB', resultChannel(k))) as [string, number])[1] === 1, 'the wait to subscribe');
    // Give the wait's first read time to happen (an old result would resolve it), then end the run.
    await new Promise((r) => setTimeout(r, 50));
    expect(await client.cancel('same')).toBe('cancelled');
    expect(await waiting).toBeInstanceOf(JobCancelledError);
  });

  it('a wait timeout longer than a timer can hold (30 days) does not fire at once', async () => {
    const { client, raw, prefix } = testClient(jobs, 'resrev-longtimeout', defer);
    const handle = await client.enqueue('echo', { n: 1 }, { delay: '1h' });
    const waiting = rejection(handle.result({ timeout: '30d' }));
    const k = queueKeys(prefix, 'default');
    await waitFor(async () => ((await raw.pubsub('NUMSUB', resultChannel(k))) as [string, number])[1] === 1, 'the wait to subscribe');
    await new Promise((r) => setTimeout(r, 20));
    expect(await client.cancel(handle.id)).toBe('cancelled');
    const err = await waiting;
    expect(err).not.toBeInstanceOf(ResultTimeoutError);
    expect(err).toBeInstanceOf(JobCancelledError);
  });

  it('a returned value that throws while it is checked (a getter) dead-letters the job instead of leaving it running', async () => {
    const { client, prefix } = testClient(jobs, 'resrev-getter', defer);
    const worker = createWorker(
      jobs,
      {
        echo: ({ n }) => n,
        trap: () =>
          ({
            get n(): number {
              throw new Error('getter exploded');
            },
          }) as { n: number },
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    const handle = await client.enqueue('trap', {});
    const err = (await rejection(handle.result({ timeout: '20s' }))) as JobDeadError;
    expect(err).toBeInstanceOf(JobDeadError);
    expect(err.reason).toBe('invalid_result');
    expect(err.lastError?.message).toMatch(/getter exploded/);
  });

  it('a read Redis refuses for good (a key of the wrong type, an ACL denial) ends the wait with that error, not a silent poll for ever', async () => {
    const { client, raw, prefix } = testClient(jobs, 'resrev-refused', defer);
    await raw.set(queueKeys(prefix, 'default').jobs, 'not a hash');
    const err = await rejection(client.job('echo', 'x').result({ timeout: '5s' }));
    expect(err).not.toBeInstanceOf(ResultTimeoutError);
    expect(err.message).toMatch(/WRONGTYPE/);
  });

  it('a resultRetention Redis cannot take as a TTL (SET PX would fail the whole ack call) is refused by defineJobs', () => {
    const define = (resultRetention: number): unknown =>
      defineJobs({ j: { payload: z.object({}), result: z.string(), resultRetention } });
    expect(() => define(1e19)).toThrow(/resultRetention.*at most 9007199254740991/);
    expect(() => define(Number.MAX_SAFE_INTEGER)).not.toThrow();
  });

  it('a cancel announcement for an id that is live again (or any stray "c" message) does not end the wait: the stored state decides', async () => {
    const { client, raw, prefix } = testClient(jobs, 'resrev-stray-cancel', defer);
    const handle = await client.enqueue('echo', { n: 3 });
    const waiting = handle.result();
    const channel = resultChannel(queueKeys(prefix, 'default'));
    await waitFor(async () => ((await raw.pubsub('NUMSUB', channel)) as [string, number])[1] === 1, 'the wait to subscribe');
    // An announcement that arrives after the id was enqueued again (pub/sub and commands travel on two connections).
    await raw.publish(channel, `c${handle.id}`);
    const worker = createWorker(jobs, { echo: ({ n }) => n, trap: () => ({ n: 0 }) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    expect(await waiting).toBe(3);
  });

  it('a subscriber connection that never comes up (a connection given with maxRetriesPerRequest: null) does not stop the wait from reading', async () => {
    const prefix = testPrefix('resrev-nosub');
    const raw = rawRedis(redisUrl());
    const conn = new Redis(redisUrl(), { maxRetriesPerRequest: null });
    // Its duplicates (the result subscriber) cannot reach Redis: new connections refused, this one fine.
    const unreachable: Redis[] = [];
    conn.duplicate = () => {
      const dead = new Redis({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: null, retryStrategy: () => 100 });
      dead.on('error', () => {});
      unreachable.push(dead);
      return dead;
    };
    const client = createClient(jobs, { redis: conn, prefix });
    const worker = createWorker(jobs, { echo: ({ n }) => n, trap: () => ({ n: 0 }) }, { redis: redisUrl(), prefix, logger: false });
    defer(async () => {
      await worker.close();
      await client.close();
      for (const d of unreachable) d.disconnect();
      conn.disconnect();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const { id } = await client.enqueue('echo', { n: 4 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect(await client.job('echo', id).result({ timeout: '20s' })).toBe(4);
    // Closing the client settles too, with its subscriber still trying to connect (a QUIT there would wait for ever).
    const pending = client.job('echo', 'other').result();
    pending.catch(() => {});
    await client.close();
    await expect(pending).rejects.toBeInstanceOf(ResultWaitAbortedError);
  });

  it('a jobId reused after its completed record is gone, whose new run dies: JobDeadError, not the earlier result', async () => {
    const { client, raw, prefix } = testClient(jobs, 'resrev-reuse-dead', defer);
    const worker = createWorker(
      jobs,
      {
        echo: ({ n }) => {
          if (n === 2) throw new PermanentError('second run fails');
          return n;
        },
        trap: () => ({ n: 0 }),
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    expect(await (await client.enqueue('echo', { n: 1 }, { jobId: 'again' })).result()).toBe(1);
    await raw.hdel(queueKeys(prefix, 'default').done, 'again');
    const second = await client.enqueue('echo', { n: 2 }, { jobId: 'again' });
    expect(second.duplicate).toBe(false);
    await waitFor(async () => (await client.getJob('again')).state === 'dead', 'the second run to die');
    const err = (await rejection(second.result())) as JobDeadError;
    expect(err).toBeInstanceOf(JobDeadError);
    expect(err.lastError?.message).toBe('second run fails');
  });
});
