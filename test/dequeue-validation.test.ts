/**
 * Validation at dequeue: a stored job whose payload no longer matches its schema, whose JSON is malformed or whose
 * name is unknown goes straight to the dead letters with a reason that says so; it is never retried, and the worker
 * keeps running the good jobs around it.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, queueKeys, type DeadReason } from '../src/index.js';
import { cleanupRegistry, deletePrefix, queueCounts, rawRedis, redisUrl, testClient, testPrefix, waitFor } from './helpers.js';

/** Version 1 of the job set: what the producer used when it enqueued. */
const v1 = defineJobs({
  resize: { payload: z.object({ width: z.number() }) },
  mail: { payload: z.object({ to: z.string() }), queue: 'email' },
});

/** Version 2: the schema of `resize` became stricter after jobs were stored. Same names, same queues. */
const v2 = defineJobs({
  resize: { payload: z.object({ width: z.number().max(100), height: z.number() }), attempts: 5 },
  mail: { payload: z.object({ to: z.string() }), queue: 'email' },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const prefix = testPrefix(name);
  const producer = createClient(v1, { redis: redisUrl(), prefix });
  const client = createClient(v2, { redis: redisUrl(), prefix });
  const raw = rawRedis();
  defer(async () => {
    await producer.close();
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  const runs: { name: string; payload: unknown; attempt: number }[] = [];
  const dead: { id: string; reason: DeadReason; message: string }[] = [];
  const startWorker = () => {
    const worker = createWorker(
      v2,
      {
        resize: async (payload, ctx) => void runs.push({ name: ctx.name, payload, attempt: ctx.attempt }),
        mail: async (payload, ctx) => void runs.push({ name: ctx.name, payload, attempt: ctx.attempt }),
      },
      { redis: redisUrl(), prefix, logger: false, leaseMs: 1000 },
    );
    worker.on('dead', (e) => dead.push({ id: e.job.id, reason: e.reason, message: e.error.message }));
    defer(() => worker.close());
    return worker;
  };
  return { prefix, producer, client, raw, runs, dead, startWorker, k: queueKeys(prefix, 'default') };
}

/** Writes a job straight into a queue, the way a foreign producer or a corrupted key would. */
async function writeRaw(raw: ReturnType<typeof rawRedis>, prefix: string, queue: string, id: string, envelope: string | null) {
  const k = queueKeys(prefix, queue);
  const m = raw.multi();
  if (envelope !== null) m.hset(k.jobs, id, envelope);
  await m.rpush(k.wait, id).rpush(k.notify, '1').exec();
}

describe('a payload that no longer matches its schema', () => {
  it('goes to the dead letters with reason invalid_payload and the zod issues, and is never run or retried', async () => {
    const { producer, client, raw, k, runs, dead, startWorker } = setup('deq-schema');
    const { id } = await producer.enqueue('resize', { width: 500 });
    startWorker();

    const [letter] = await waitFor(async () => {
      const list = await client.deadLetters.list('default');
      return list.length > 0 ? list : undefined;
    }, 'the dead letter');
    expect(letter).toMatchObject({ id, name: 'resize', payload: { width: 500 }, reason: 'invalid_payload' });
    expect(letter?.issues?.map((i) => i.path)).toEqual(expect.arrayContaining([['width'], ['height']]));
    expect(letter?.issues).toHaveLength(2);
    expect(letter?.error.name).toBe('JobValidationError');
    expect(letter?.error.message).toContain('"resize"');
    expect(letter?.error.message).toContain('width');
    expect(letter?.error.message).toContain('height');

    const info = await client.getJob(id);
    expect(info.state).toBe('dead');
    expect(info.deadReason).toBe('invalid_payload');
    expect(info.lastError?.name).toBe('JobValidationError');

    // The worker keeps going: later good jobs complete; the bad one stays dead and never ran.
    const good = await client.enqueue('resize', { width: 50, height: 20 });
    await waitFor(async () => (await client.getJob(good.id)).state === 'completed', 'the good job');
    expect(runs).toEqual([{ name: 'resize', payload: { width: 50, height: 20 }, attempt: 1 }]);
    expect(dead).toEqual([{ id, reason: 'invalid_payload', message: expect.stringContaining('width') }]);
    expect(await client.deadLetters.count('default')).toBe(1);
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, scheduled: 0, active: 0, jobs: 0, attempts: 0, errors: 0 });
  });

  it('dead-letters only the invalid jobs of a mixed batch, whatever their attempts setting', async () => {
    const { producer, client, runs, dead, startWorker } = setup('deq-mixed');
    // Jobs enqueued before the schema change: some still valid under v2 (extra fields are fine), some not.
    await producer.enqueueMany('resize', [{ width: 1 }, { width: 2 }], { attempts: 10 });
    const ok = await client.enqueueMany('resize', [
      { width: 3, height: 3 },
      { width: 4, height: 4 },
    ]);
    startWorker();
    await waitFor(() => dead.length === 2 && runs.length === 2, 'two dead, two done');
    expect(runs.map((r) => r.payload)).toEqual([
      { width: 3, height: 3 },
      { width: 4, height: 4 },
    ]);
    expect(dead.every((d) => d.reason === 'invalid_payload')).toBe(true);
    // Completions reach Redis within ACK_DELAY_MS of the handlers returning.
    for (const { id } of ok) await waitFor(async () => (await client.getJob(id)).state === 'completed', `job ${id} completed`);
    expect(await client.deadLetters.count('default')).toBe(2);
  });
});

describe('unreadable jobs found in a queue', () => {
  const cases: [string, string | null, DeadReason, RegExp][] = [
    ['malformed JSON', '{"n":"resize","t":1,"p":{', 'malformed_job', /JSON/i],
    ['JSON that is not an object', '[1,2,3]', 'malformed_job', /not a JSON object/],
    ['an envelope without a name', JSON.stringify({ t: 1, p: {} }), 'malformed_job', /name/],
    ['an id with no stored job', null, 'malformed_job', /./],
    ['an unknown job name', JSON.stringify({ n: 'ghost', t: 1, p: {} }), 'unknown_job', /ghost/],
    ['a job of another queue', JSON.stringify({ n: 'mail', t: 1, p: { to: 'x' } }), 'unknown_job', /mail/],
  ];

  it.each(cases)('sends %s to the dead letters and keeps working', async (_what, envelope, reason, message) => {
    const { prefix, client, raw, k, runs, dead, startWorker } = setup('deq-raw');
    await client.enqueue('resize', { width: 1, height: 1 });
    await writeRaw(raw, prefix, 'default', 'corrupt-1', envelope);
    await client.enqueue('resize', { width: 2, height: 2 });
    startWorker();

    await waitFor(() => dead.length === 1 && runs.length === 2, 'the dead letter and both good jobs');
    expect(dead[0]).toMatchObject({ id: 'corrupt-1', reason });
    const letter = await client.deadLetters.queue('default').get('corrupt-1');
    expect(letter?.reason).toBe(reason);
    expect(letter?.error.message).toMatch(message);
    expect(letter?.raw).toBe(envelope ?? '');
    expect((await client.getJob('corrupt-1')).state).toBe('dead');
    expect(runs.map((r) => r.payload)).toEqual([
      { width: 1, height: 1 },
      { width: 2, height: 2 },
    ]);
    // The good jobs' completions reach Redis within ACK_DELAY_MS of their handlers returning.
    await waitFor(async () => (await queueCounts(raw, k)).active === 0, 'the completions to be recorded');
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, active: 0, jobs: 0, attempts: 0, errors: 0, dead: 1 });
  });
});

describe('a schema that throws at dequeue', () => {
  it('sends the job to the dead letters and keeps every slot: the jobs around it run and nothing stays leased', async () => {
    // A transform that throws (rather than reporting an issue) makes zod's safeParse throw. The enqueue side
    // refuses such a payload, so the job is written as a foreign producer would.
    const jobs = defineJobs({
      picky: {
        payload: z.object({ n: z.number() }).transform((v) => {
          if (v.n === 13) throw new Error('unlucky payload');
          return v;
        }),
      },
    });
    const { prefix, client, raw } = testClient(jobs, 'deq-throw', defer);
    const k = queueKeys(prefix, 'default');
    const ran: number[] = [];
    const dead: { id: string; reason: DeadReason; message: string }[] = [];
    await expect(client.enqueue('picky', { n: 13 })).rejects.toThrow(/unlucky payload/);
    for (let n = 0; n < 30; n++) {
      if (n === 13) await writeRaw(raw, prefix, 'default', 'throws-13', JSON.stringify({ n: 'picky', t: 1, p: { n } }));
      else await client.enqueue('picky', { n });
    }
    const worker = createWorker(jobs, { picky: async ({ n }) => void ran.push(n) }, { redis: redisUrl(), prefix, logger: false, concurrency: 4 });
    worker.on('dead', (e) => dead.push({ id: e.job.id, reason: e.reason, message: e.error.message }));
    defer(() => worker.close());
    await waitFor(() => ran.length === 29 && dead.length === 1, '29 jobs to run and one to die');
    expect(dead).toEqual([{ id: 'throws-13', reason: 'invalid_payload', message: 'unlucky payload' }]);
    expect(ran.sort((a, b) => a - b)).toEqual([...Array(30).keys()].filter((n) => n !== 13));
    await waitFor(async () => (await queueCounts(raw, k)).active === 0, 'the completions to be recorded');
    expect(await queueCounts(raw, k)).toMatchObject({ wait: 0, active: 0, jobs: 0, attempts: 0, dead: 1 });
    // The worker still has all its slots: a later job runs.
    await client.enqueue('picky', { n: 100 });
    await waitFor(() => ran.includes(100), 'a job after the dead one');
  });
});
