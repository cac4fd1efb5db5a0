/**
 * Validation at enqueue: a payload that fails its schema, cannot survive JSON or is too large is refused with a
 * JobValidationError before anything reaches Redis; a batch is all or nothing.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, defineJobs, JobValidationError, type JobClient } from '../src/index.js';
import { cleanupRegistry, deletePrefix, keysUnder, rawRedis, redisUrl, testPrefix } from './helpers.js';

const jobs = defineJobs({
  signup: {
    payload: z.object({
      user: z.object({ email: z.email(), age: z.number().int().min(0) }),
      tags: z.array(z.string()),
      plan: z.enum(['free', 'pro']).default('free'),
    }),
  },
  anything: { payload: z.object({ v: z.unknown() }) },
  meeting: { payload: z.object({ at: z.date() }) },
  note: { payload: z.object({ text: z.string() }) },
});

const defer = cleanupRegistry();

function setup(name: string, maxPayloadBytes?: number) {
  const prefix = testPrefix(name);
  const client: JobClient<typeof jobs> = createClient(jobs, { redis: redisUrl(), prefix, maxPayloadBytes });
  const raw = rawRedis();
  defer(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { prefix, client, raw, nothingWritten: async () => expect(await keysUnder(raw, prefix)).toEqual([]) };
}

/** Runs `attempt`, expects a JobValidationError and returns it. */
async function refusal(attempt: Promise<unknown>): Promise<JobValidationError> {
  const err = await attempt.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(JobValidationError);
  return err as JobValidationError;
}

describe('schema failures at enqueue', () => {
  it('reports the job name and every issue with its path, and writes nothing', async () => {
    const { client, nothingWritten } = setup('enq-schema');
    const bad = { user: { email: 'not-an-email', age: 1.5 }, tags: ['ok', 3], plan: 'gold' };
    const err = await refusal(client.enqueue('signup', bad as never));

    expect(err.job).toBe('signup');
    expect(err.stage).toBe('enqueue');
    const paths = err.issues.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining([['user', 'email'], ['user', 'age'], ['tags', 1], ['plan']]));
    expect(err.issues).toHaveLength(4);
    for (const issue of err.issues) {
      expect(issue.code).toEqual(expect.any(String));
      expect(issue.message).toEqual(expect.any(String));
    }
    expect(err.message).toContain('"signup"');
    for (const p of ['user.email', 'user.age', 'tags[1]', 'plan']) expect(err.message).toContain(p);
    await nothingWritten();
  });

  it('refuses a missing payload and a payload of the wrong kind', async () => {
    const { client, nothingWritten } = setup('enq-kind');
    const missing = await refusal(client.enqueue('note', undefined as never));
    expect(missing.job).toBe('note');
    const notObject = await refusal(client.enqueue('note', 'hello' as never));
    expect(notObject.issues[0]?.path).toEqual([]);
    const missingField = await refusal(client.enqueue('note', {} as never));
    expect(missingField.issues.map((i) => i.path)).toEqual([['text']]);
    await nothingWritten();
  });

  it('accepts a valid payload after refusing an invalid one', async () => {
    const { client, raw, prefix } = setup('enq-ok-after');
    await refusal(client.enqueue('note', { text: 1 } as never));
    const { id } = await client.enqueue('note', { text: 'hi' });
    const job = await client.getJob(id);
    expect(job.state).toBe('waiting');
    expect(job.payload).toEqual({ text: 'hi' });
    expect(await keysUnder(raw, prefix)).not.toEqual([]);
  });
});

describe('payloads that would not survive JSON', () => {
  const cycle: Record<string, unknown> = { name: 'loop' };
  cycle.self = cycle;
  const cases: [string, unknown, (string | number)[]][] = [
    ['a Date', new Date(), ['v']],
    ['a BigInt', 10n, ['v']],
    ['a Map', new Map([['a', 1]]), ['v']],
    ['a Set', new Set([1]), ['v']],
    ['a function', () => 1, ['v']],
    ['a cycle', cycle, ['v', 'self']],
    ['NaN', Number.NaN, ['v']],
    ['Infinity', Number.POSITIVE_INFINITY, ['v']],
    ['undefined inside an array', [1, undefined, 3], ['v', 1]],
    ['a class instance', new (class Point { x = 1 })(), ['v']],
    ['a nested Date', { deep: [{ when: new Date() }] }, ['v', 'deep', 0, 'when']],
  ];

  it.each(cases)('refuses %s with its path and writes nothing', async (_what, value, path) => {
    const { client, nothingWritten } = setup('enq-json');
    const err = await refusal(client.enqueue('anything', { v: value }));
    expect(err.job).toBe('anything');
    expect(err.issues).toHaveLength(1);
    expect(err.issues[0]).toMatchObject({ path, code: 'not_json' });
    await nothingWritten();
  });

  it('refuses a Date even when the schema itself accepts a Date (it could never be read back)', async () => {
    const { client, nothingWritten } = setup('enq-date');
    const err = await refusal(client.enqueue('meeting', { at: new Date() }));
    expect(err.issues[0]).toMatchObject({ path: ['at'], code: 'not_json' });
    expect(err.message).toMatch(/Date/);
    await nothingWritten();
  });
});

describe('payload size limit', () => {
  it('refuses a payload over maxPayloadBytes, naming its size and the limit', async () => {
    const { client, nothingWritten } = setup('enq-size', 100);
    const payload = { text: 'x'.repeat(200) };
    const bytes = Buffer.byteLength(JSON.stringify(payload));
    const err = await refusal(client.enqueue('note', payload));
    expect(err.job).toBe('note');
    expect(err.message).toContain(String(bytes));
    expect(err.message).toContain('100');
    await nothingWritten();
  });

  it('counts bytes, not characters', async () => {
    const { client, nothingWritten } = setup('enq-bytes', 100);
    const payload = { text: 'é'.repeat(60) }; // 72 characters of JSON, 132 bytes
    expect(JSON.stringify(payload).length).toBeLessThan(100);
    const err = await refusal(client.enqueue('note', payload));
    expect(err.message).toContain(String(Buffer.byteLength(JSON.stringify(payload))));
    await nothingWritten();
  });

  it('accepts a payload exactly at the limit', async () => {
    const payload = { text: 'y'.repeat(50) };
    const { client } = setup('enq-at-limit', Buffer.byteLength(JSON.stringify(payload)));
    const { id } = await client.enqueue('note', payload);
    expect((await client.getJob(id)).state).toBe('waiting');
  });

  it('has a default limit of 512 KiB', async () => {
    const { client, nothingWritten } = setup('enq-default-size');
    const err = await refusal(client.enqueue('note', { text: 'z'.repeat(600 * 1024) }));
    expect(err.message).toContain(String(512 * 1024));
    await nothingWritten();
  });
});

describe('enqueueMany is all or nothing', () => {
  it('writes nothing when one payload of the batch fails its schema, and names the item', async () => {
    const { client, nothingWritten } = setup('many-schema');
    const err = await refusal(client.enqueueMany('note', [{ text: 'a' }, { text: 'b' }, { text: 3 } as never, { text: 'd' }]));
    expect(err.job).toBe('note');
    expect(err.issues.map((i) => i.path)).toEqual([['text']]);
    expect(err.message).toContain('item 2');
    await nothingWritten();
  });

  it('writes nothing when one payload of the batch cannot be stored as JSON', async () => {
    const { client, nothingWritten } = setup('many-json');
    await refusal(client.enqueueMany('anything', [{ v: 1 }, { v: 2n }]));
    await nothingWritten();
  });

  it('writes nothing when one payload of the batch is too large', async () => {
    const { client, nothingWritten } = setup('many-size', 100);
    await refusal(client.enqueueMany('note', [{ text: 'small' }, { text: 'big'.repeat(100) }]));
    await nothingWritten();
  });

  it('writes nothing when one jobId of the batch is invalid', async () => {
    const { client, nothingWritten } = setup('many-ids');
    await expect(client.enqueueMany('note', [{ text: 'a' }, { text: 'b' }], { jobIds: ['fine', 'not#fine'] })).rejects.toThrow(/#/);
    await nothingWritten();
  });

  it('writes the whole batch when every payload is valid', async () => {
    const { client } = setup('many-ok');
    const results = await client.enqueueMany('note', [{ text: 'a' }, { text: 'b' }, { text: 'c' }]);
    expect(results).toHaveLength(3);
    const states = await Promise.all(results.map((r) => client.getJob(r.id)));
    expect(states.map((s) => [s.state, s.payload])).toEqual([
      ['waiting', { text: 'a' }],
      ['waiting', { text: 'b' }],
      ['waiting', { text: 'c' }],
    ]);
  });
});

describe('invalid enqueue options', () => {
  it('refuses bad options before writing anything', async () => {
    const { client, nothingWritten } = setup('enq-options');
    await expect(client.enqueue('note', { text: 'a' }, { delay: 10, runAt: Date.now() })).rejects.toThrow(TypeError);
    await expect(client.enqueue('note', { text: 'a' }, { priority: 5000 })).rejects.toThrow(/priority/);
    await expect(client.enqueue('note', { text: 'a' }, { attempts: 0 })).rejects.toThrow(/attempts/);
    await expect(client.enqueue('note', { text: 'a' }, { delay: -5 })).rejects.toThrow(/delay/);
    await expect(client.enqueue('nope' as never, { text: 'a' } as never)).rejects.toThrow(/unknown job/);
    await nothingWritten();
  });
});
