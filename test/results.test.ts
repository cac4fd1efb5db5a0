/**
 * Job results (docs/results.md): a job type with a `result` schema has its handler's returned value checked, stored
 * with the acknowledgement and handed to whoever waits for it — typed, and never hanging: every way a job can end
 * (completed, dead, cancelled, removed, expired, its worker killed) ends the wait.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  createAdmin,
  createClient,
  createWorker,
  defineJobs,
  InvalidArgumentError,
  JobCancelledError,
  JobDeadError,
  JobNotFoundError,
  PermanentError,
  queueKeys,
  ResultExpiredError,
  ResultTimeoutError,
  ResultWaitAbortedError,
  ResultWaitError,
  type JobDefinitionError,
} from '../src/index.js';
import { resultChannel } from '../src/keys.js';
import { RESULT_LEASE_MS, resultJobs } from './fixtures/result-jobs.js';
import { cleanupRegistry, deferred, queueCounts, redisUrl, rejection, spawnChildWorker, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  /** Its handler returns what the payload says (the test decides what comes back). */
  answer: {
    payload: z.object({ give: z.unknown().optional(), kind: z.string().default('value') }),
    result: z.object({ n: z.number(), tag: z.string().default('none') }),
    attempts: 5,
    maxResultBytes: 200,
  },
  /** Kept a very short time. */
  brief: { payload: z.object({ n: z.number() }), result: z.number(), resultRetention: 1, queue: 'brief' },
  /** Dies at once. */
  doomed: { payload: z.object({}), result: z.string(), attempts: 1 },
  /** Waits until the test lets it finish. */
  slow: { payload: z.object({ n: z.number() }), result: z.number(), queue: 'slow' },
  /** No result: nothing about it changes. */
  plain: { payload: z.object({ n: z.number() }) },
});

const gates = new Map<number, Promise<void>>();

function setup(name: string, workerToo = true) {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const deadReasons: string[] = [];
  if (workerToo) {
    const worker = createWorker(
      jobs,
      {
        answer: ({ give, kind }) => {
          if (kind === 'value') return give as { n: number };
          if (kind === 'date') return { n: 1, tag: new Date() as unknown as string };
          if (kind === 'nan') return { n: Number.NaN };
          if (kind === 'bigint') return { n: 1, tag: 10n as unknown as string };
          if (kind === 'undefined-in-array') return { n: 1, tag: [undefined] as unknown as string };
          if (kind === 'nothing') return undefined as unknown as { n: number };
          return Promise.resolve({ n: 7, tag: 'async' });
        },
        brief: ({ n }) => n * 2,
        doomed: () => {
          throw new PermanentError('no way');
        },
        slow: async ({ n }) => {
          await gates.get(n);
          return n;
        },
        plain: () => {},
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: 2000 },
    );
    defer(() => worker.close());
    worker.on('dead', (e) => deadReasons.push(e.reason));
  }
  return { prefix, client, raw, deadReasons };
}

describe('a job with a result', () => {
  it('gives its result in the schema output type (defaults applied) to enqueue(...).result()', async () => {
    const { client, raw, prefix } = setup('results-basic');
    const handle = await client.enqueue('answer', { give: { n: 41 } });
    const value = await handle.result();
    expect(value).toEqual({ n: 41, tag: 'none' });
    // Stored apart from the job's record, in the input form, under the queue's hash tag, with a TTL.
    const k = queueKeys(prefix, 'default');
    expect(await raw.get(`${k.resultPrefix}${handle.id}`)).toBe('{"n":41}');
    const ttl = await raw.pttl(`${k.resultPrefix}${handle.id}`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(86_400_000);
    expect(await raw.hexists(k.jobs, handle.id)).toBe(0);
    const async = await client.enqueue('answer', { kind: 'async' });
    expect(await async.result()).toEqual({ n: 7, tag: 'async' });
  });

  it('enqueueMany gives a handle per job; jobs without a result keep their plain answer', async () => {
    const { client } = setup('results-many');
    const handles = await client.enqueueMany('answer', [1, 2, 3].map((n) => ({ give: { n } })));
    expect(await Promise.all(handles.map((h) => h.result()))).toEqual([1, 2, 3].map((n) => ({ n, tag: 'none' })));
    const plain = await client.enqueue('plain', { n: 1 });
    expect(Object.keys(plain).sort()).toEqual(['duplicate', 'id']);
    expect(() => client.job('plain' as never, plain.id)).toThrow(InvalidArgumentError);
  });

  it('a result that fails its schema dead-letters the job at once (not retried), naming job, id and path', async () => {
    const { client, deadReasons } = setup('results-invalid');
    const handle = await client.enqueue('answer', { give: { n: 'seven' } });
    const err = await rejection(handle.result());
    expect(err).toBeInstanceOf(JobDeadError);
    expect(err).toBeInstanceOf(ResultWaitError);
    const dead = err as JobDeadError;
    expect(dead.reason).toBe('invalid_result');
    expect(dead.lastError?.name).toBe('InvalidResultError');
    expect(dead.lastError?.message).toContain(`Invalid result of job "answer" (id ${JSON.stringify(handle.id)}): n:`);
    expect(dead.lastError?.attempt).toBe(1);
    const info = await client.getJob(handle.id);
    expect(info.state).toBe('dead');
    expect(info.attempts).toBe(1);
    expect(deadReasons).toEqual(['invalid_result']);
    const [letter] = await client.deadLetters.list('default');
    expect(letter?.reason).toBe('invalid_result');
    expect(letter?.issues?.[0]?.path).toEqual(['n']);
  });

  it('a result that does not survive JSON, or is missing, dead-letters the job with the path', async () => {
    const { client } = setup('results-not-json');
    const cases: [string, RegExp][] = [
      ['date', /tag: a Date .*does not survive JSON/],
      ['nan', /n: NaN cannot be stored as JSON/],
      ['bigint', /tag: a BigInt cannot be stored as JSON/],
      ['undefined-in-array', /tag\[0\]: undefined inside an array/],
      ['nothing', /\(result\): the handler returned undefined/],
    ];
    for (const [kind, message] of cases) {
      const handle = await client.enqueue('answer', { kind });
      const err = (await rejection(handle.result())) as JobDeadError;
      expect(err, kind).toBeInstanceOf(JobDeadError);
      expect(err.reason, kind).toBe('invalid_result');
      expect(err.lastError?.message, kind).toMatch(message);
    }
  });

  it('a result over maxResultBytes dead-letters the job, saying the size and the limit', async () => {
    const { client, raw, prefix } = setup('results-too-big');
    const handle = await client.enqueue('answer', { give: { n: 1, tag: 'x'.repeat(300) } });
    const err = (await rejection(handle.result())) as JobDeadError;
    expect(err.reason).toBe('invalid_result');
    expect(err.lastError?.message).toMatch(/the result is 3\d\d bytes of JSON, over the job's maxResultBytes of 200/);
    expect(await raw.exists(`${queueKeys(prefix, 'default').resultPrefix}${handle.id}`)).toBe(0);
  });

  it('a result past its retention: ResultExpiredError (the job completed, its result is gone)', async () => {
    const { client, raw, prefix } = setup('results-expired');
    const { id } = await client.enqueue('brief', { n: 2 });
    const key = `${queueKeys(prefix, 'brief').resultPrefix}${id}`;
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    await waitFor(async () => (await raw.exists(key)) === 0, 'the result to expire');
    expect(await rejection(client.job('brief', id).result())).toBeInstanceOf(ResultExpiredError);
  });

  it('a dead job: JobDeadError with its last error', async () => {
    const { client } = setup('results-dead');
    const handle = await client.enqueue('doomed', {});
    const err = (await rejection(handle.result())) as JobDeadError;
    expect(err).toBeInstanceOf(JobDeadError);
    expect(err.reason).toBe('permanent_error');
    expect(err.lastError?.message).toBe('no way');
    // A wait that begins after the death ends the same way.
    expect(await rejection(client.job('doomed', handle.id).result())).toBeInstanceOf(JobDeadError);
  });

  it('a cancelled job ends the wait (JobCancelledError); a wait begun after: JobNotFoundError', async () => {
    const { client, raw, prefix } = setup('results-cancelled', false);
    const handle = await client.enqueue('answer', { give: { n: 1 } }, { delay: '1h' });
    const waiting = rejection(handle.result());
    // The wait subscribes first; the cancel is announced on the queue's channel.
    const channel = resultChannel(queueKeys(prefix, 'default'));
    await waitFor(async () => ((await raw.pubsub('NUMSUB', channel)) as [string, number])[1] === 1, 'the wait to subscribe');
    expect(await client.cancel(handle.id)).toBe('cancelled');
    expect(await waiting).toBeInstanceOf(JobCancelledError);
    expect(await rejection(handle.result())).toBeInstanceOf(JobNotFoundError);
  });

  it('a cancel through the admin API (the CLI, the dashboard) ends the wait as a cancel when the admin has the job set', async () => {
    const { client, raw, prefix } = setup('results-admin-cancelled', false);
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs });
    defer(() => admin.close());
    const handle = await client.enqueue('answer', { give: { n: 1 } }, { delay: '1h' });
    const waiting = rejection(handle.result());
    const channel = resultChannel(queueKeys(prefix, 'default'));
    await waitFor(async () => ((await raw.pubsub('NUMSUB', channel)) as [string, number])[1] === 1, 'the wait to subscribe');
    expect((await admin.act('cancel', [handle.id])).done).toBe(1);
    expect(await waiting).toBeInstanceOf(JobCancelledError);
  });

  it('a removed or never enqueued job: JobNotFoundError, at once', async () => {
    const { client, raw, prefix } = setup('results-removed', false);
    expect(await rejection(client.job('answer', 'never-enqueued').result())).toBeInstanceOf(JobNotFoundError);
    const handle = await client.enqueue('answer', { give: { n: 1 } }, { delay: '1h' });
    const waiting = rejection(handle.result());
    // Removed behind the library's back (an operator deleting keys): the poll finds it gone.
    const k = queueKeys(prefix, 'default');
    await raw.multi().hdel(k.jobs, handle.id).zrem(k.scheduled, handle.id).exec();
    expect(await waiting).toBeInstanceOf(JobNotFoundError);
  });

  it('a job completed before the wait began gives its result', async () => {
    const { client } = setup('results-before');
    const { id } = await client.enqueue('answer', { give: { n: 5 } });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect(await client.job('answer', id).result()).toEqual({ n: 5, tag: 'none' });
  });

  it('a timeout ends the wait, not the job: it still completes, and a new wait gets the result', async () => {
    const { client } = setup('results-timeout');
    const gate = deferred();
    gates.set(1, gate.promise);
    const handle = await client.enqueue('slow', { n: 1 });
    const err = await rejection(handle.result({ timeout: 100 }));
    expect(err).toBeInstanceOf(ResultTimeoutError);
    expect((err as ResultTimeoutError).timeoutMs).toBe(100);
    expect(['waiting', 'active']).toContain((await client.getJob(handle.id)).state);
    const later = handle.result();
    gate.resolve();
    expect(await later).toBe(1);
  });

  it('a bad timeout rejects the wait with InvalidArgumentError naming it', async () => {
    const { client } = setup('results-bad-timeout', false);
    const err = await rejection(client.job('slow', 'x').result({ timeout: 'soon' as never }));
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err.message).toMatch(/timeout/);
  });

  it('an aborted signal ends the wait; closing the client ends every wait', async () => {
    const { client } = setup('results-abort', false);
    const handle = await client.enqueue('slow', { n: 2 });
    const controller = new AbortController();
    const waiting = handle.result({ signal: controller.signal });
    controller.abort(new Error('user left'));
    const err = await rejection(waiting);
    expect(err).toBeInstanceOf(ResultWaitAbortedError);
    expect((err.cause as Error).message).toBe('user left');
    const pending = rejection(handle.result());
    await client.close();
    expect(await pending).toBeInstanceOf(ResultWaitAbortedError);
  });

  it('500 concurrent waiters share one subscription and all get their result', async () => {
    const { client, raw, prefix } = setup('results-500');
    const handles = await client.enqueueMany('answer', Array.from({ length: 500 }, (_, n) => ({ give: { n } })));
    const results = await Promise.all(handles.map((h) => h.result()));
    expect(results.map((r) => r.n)).toEqual(Array.from({ length: 500 }, (_, n) => n));
    const [, subscribers] = (await raw.pubsub('NUMSUB', resultChannel(queueKeys(prefix, 'default')))) as [string, number];
    expect(subscribers).toBe(1);
  });

  it('another client (another service) rebuilds the handle from the id', async () => {
    const { client, prefix } = setup('results-other-client');
    const other = createClient(jobs, { redis: redisUrl(), prefix, logger: false });
    defer(() => other.close());
    const gate = deferred();
    gates.set(3, gate.promise);
    const { id } = await client.enqueue('slow', { n: 3 });
    const waiting = other.job('slow', id).result();
    gate.resolve();
    expect(await waiting).toBe(3);
  });

  it('its worker SIGKILLed mid-job: the result arrives after another worker recovers the lease', async () => {
    const { client, prefix } = (() => {
      const t = testClient(resultJobs, 'results-sigkill', defer);
      return { client: t.client, prefix: t.prefix };
    })();
    const child = spawnChildWorker({ JC_PREFIX: prefix }, defer, 'test/fixtures/result-worker.ts');
    const handle = await client.enqueue('render', { doc: 'a' });
    const waiting = handle.result();
    await child.waitStarted(1);
    expect(await child.signal('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    const worker = createWorker(resultJobs, { render: ({ doc }, ctx) => ({ url: `https://x/${doc}/${ctx.attempt}` }) }, {
      redis: redisUrl(),
      prefix,
      leaseMs: RESULT_LEASE_MS,
      logger: false,
    });
    defer(() => worker.close());
    expect(await waiting).toEqual({ url: 'https://x/a/2', pages: 1 });
  });

  it('leaves no result key or channel message for jobs without a result', async () => {
    const { client, raw, prefix } = setup('results-plain');
    const { id } = await client.enqueue('plain', { n: 1 });
    await waitFor(async () => (await client.getJob(id)).state === 'completed', 'the job to complete');
    expect(await raw.keys(`${queueKeys(prefix, 'default').resultPrefix}*`)).toEqual([]);
    expect(await queueCounts(raw, queueKeys(prefix, 'default'))).toMatchObject({ jobs: 0, active: 0 });
  });
});

describe('the result options', () => {
  it('are checked by defineJobs, and the size and retention need a result', () => {
    const bad = (def: Record<string, unknown>): string => {
      try {
        defineJobs({ j: { payload: z.object({}), ...def } } as never);
      } catch (err) {
        return (err as JobDefinitionError).message;
      }
      return 'no error';
    };
    expect(bad({ result: 'string' })).toMatch(/result.*must be a zod schema/);
    expect(bad({ resultRetention: '1h' })).toMatch(/resultRetention.*only applies to jobs with a "result" schema/);
    expect(bad({ result: z.string(), maxResultBytes: 0 })).toMatch(/maxResultBytes.*must be an integer from 2 to 33,554,432/);
    expect(bad({ result: z.string(), resultRetention: 'soon' })).toMatch(/resultRetention/);
    const ok = defineJobs({ j: { payload: z.object({}), result: z.string() } });
    expect(ok.jobs.get('j')?.result).toMatchObject({ retentionMs: 86_400_000, maxBytes: 524_288 });
  });
});
