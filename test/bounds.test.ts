/**
 * Bounded records and hostile payloads (issue 16, items 5 and 6): whatever a handler throws and whatever a producer
 * writes, an error record, a dead letter and a log line stay within documented sizes, and a payload too big or too
 * deep is refused with the library's own error (at enqueue), or dead-lettered unparsed (at dequeue) while the worker
 * keeps serving its other queues.
 */
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, JobValidationError, queueKeys, type Logger } from '../src/index.js';
import { typeKeys } from '../src/keys.js';
import { Scripts } from '../src/scripts.js';
import {
  MAX_DEAD_INFO_BYTES,
  MAX_ISSUES,
  MAX_LOG_MESSAGE_BYTES,
  MAX_PAYLOAD_DEPTH,
  MAX_STORED_ERROR_BYTES,
  truncateBytes,
} from '../src/bounds.js';
import { checkStoredJob, nestedDeeperThan } from '../src/payload.js';
import { resolveLogger } from '../src/logger.js';
import { closeDefaultJobsClient, configure, createWorker as createGeneratedWorker, enqueueDeliverWebhook } from '../generated/index.js';
import { cleanupRegistry, deferred, deletePrefix, rawRedis, redisUrl, testClient, testPrefix, waitFor } from './helpers.js';

const defer = cleanupRegistry();

/** A logger that keeps every call, to measure the lines the worker writes. */
function capturingLogger(): { logger: Logger; lines: { level: string; message: string; fields?: Record<string, unknown> }[] } {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: Record<string, unknown>): void =>
      void lines.push({ level, message, fields });
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

function expectBoundedLines(lines: readonly { message: string; fields?: Record<string, unknown> }[]): void {
  for (const line of lines) {
    expect(Buffer.byteLength(line.message)).toBeLessThanOrEqual(MAX_LOG_MESSAGE_BYTES);
    for (const value of Object.values(line.fields ?? {})) {
      if (typeof value === 'string') expect(Buffer.byteLength(value)).toBeLessThanOrEqual(MAX_LOG_MESSAGE_BYTES);
    }
  }
}

/** `{ a: { a: … } }` nested `levels` deep, built without recursion. */
function nested(levels: number): unknown {
  let v: unknown = {};
  for (let i = 1; i < levels; i++) v = { a: v };
  return v;
}

const MIB = 1024 * 1024;

describe('error records and dead letters are bounded in bytes', () => {
  it('a 20 MB error message: the errors hash entry during the retry and the dead letter stay bounded, marked truncated', async () => {
    const jobs = defineJobs({ explode: { payload: z.object({}), attempts: 2, backoff: { type: 'fixed', delay: 50 } } });
    const { prefix, client, raw } = testClient(jobs, 'bounds-message', defer);
    const k = queueKeys(prefix, 'default');
    const huge = 'x'.repeat(20 * MIB);
    const secondAttempt = deferred();
    const measured = deferred();
    const { logger, lines } = capturingLogger();
    const worker = createWorker(
      jobs,
      {
        explode: async (_p, ctx) => {
          ctx.logger.info(`about to fail: ${huge}`, { detail: huge });
          if (ctx.attempt === 2) {
            secondAttempt.resolve();
            await measured.promise;
          }
          throw new Error(huge);
        },
      },
      { redis: redisUrl(), prefix, logger },
    );
    defer(() => worker.close());
    const { id } = await client.enqueue('explode', {});

    // During the retry the last error sits in the errors hash.
    await secondAttempt.promise;
    const errorBytes = await raw.hstrlen(k.errors, id);
    expect(errorBytes).toBeGreaterThan(0);
    expect(errorBytes).toBeLessThanOrEqual(MAX_STORED_ERROR_BYTES);
    const lastError = JSON.parse((await raw.hget(k.errors, id)) as string) as { message: string; stack: string };
    expect(lastError.message).toMatch(/… \[truncated, 20\.0 MiB in all\]$/);
    // The stack keeps its frames: the message is not repeated in full in its first line.
    expect(lastError.stack).toContain('at ');
    measured.resolve();

    await waitFor(async () => (await client.deadLetters.count('default')) === 1, 'the dead letter');
    const infoBytes = await raw.hstrlen(k.deadInfo, id);
    expect(infoBytes).toBeGreaterThan(0);
    expect(infoBytes).toBeLessThanOrEqual(MAX_DEAD_INFO_BYTES);
    const letter = await client.deadLetters.queue('default').get(id);
    expect(letter?.reason).toBe('attempts_exhausted');
    expect(letter?.error.message).toMatch(/^x+ … \[truncated, 20\.0 MiB in all\]$/);
    // What the handler logged through ctx.logger is cut too.
    expect(lines.some((l) => l.message.startsWith('about to fail: xxx') && l.message.includes('[truncated'))).toBe(true);
    expectBoundedLines(lines);
  }, 60_000);

  it('a big payload failing validation at dequeue: one bounded record, issues stored once, bounded log lines', async () => {
    // The producer stored numbers; the worker's schema now wants strings: every item is an issue.
    const v1 = defineJobs({ importRows: { payload: z.object({ rows: z.array(z.object({ n: z.number() })) }) } });
    const v2 = defineJobs({ importRows: { payload: z.object({ rows: z.array(z.object({ n: z.string() })) }) } });
    const { prefix, client, raw } = testClient(v2, 'bounds-issues', defer);
    const producer = createClient(v1, { redis: redisUrl(), prefix });
    defer(() => producer.close());
    const rows = Array.from({ length: 30_000 }, (_, i) => ({ n: i }));
    const { id } = await producer.enqueue('importRows', { rows });
    expect(Buffer.byteLength(JSON.stringify({ rows }))).toBeGreaterThan(300 * 1024);

    const { logger, lines } = capturingLogger();
    const worker = createWorker(v2, { importRows: () => {} }, { redis: redisUrl(), prefix, logger });
    defer(() => worker.close());
    await waitFor(async () => (await client.deadLetters.count('default')) === 1, 'the dead letter');

    const k = queueKeys(prefix, 'default');
    expect(await raw.hstrlen(k.deadInfo, id)).toBeLessThanOrEqual(MAX_DEAD_INFO_BYTES);
    const letter = await client.deadLetters.queue('default').get(id);
    expect(letter?.reason).toBe('invalid_payload');
    const issues = letter?.issues ?? [];
    expect(issues.length).toBe(MAX_ISSUES);
    expect(issues[0]?.path).toEqual(['rows', 0, 'n']);
    expect(issues.at(-1)).toMatchObject({ code: 'more_issues', message: expect.stringContaining('30000 in all') });
    // Stored once: the message names the first few issues and the total, not the list again.
    const message = letter?.error.message ?? '';
    expect(message.match(/rows\[\d+\]/g)?.length ?? 0).toBeLessThanOrEqual(5);
    expect(message).toContain('30000 issues in all');
    expect(lines.some((l) => l.level === 'warn' && l.message.includes('invalid_payload'))).toBe(true);
    expectBoundedLines(lines);
  }, 60_000);
});

describe('issues at enqueue', () => {
  it('JobValidationError.issues keeps every issue for the caller; only its message is bounded', async () => {
    const jobs = defineJobs({ form: { payload: z.object({ rows: z.array(z.object({ n: z.string() })) }) } });
    const { client } = testClient(jobs, 'bounds-issues-enqueue', defer);
    const rows = Array.from({ length: 300 }, (_, i) => ({ n: i }));
    const err = await client.enqueue('form', { rows } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobValidationError);
    const issues = (err as JobValidationError).issues;
    expect(issues).toHaveLength(300);
    expect(issues[299]?.path).toEqual(['rows', 299, 'n']);
    expect((err as JobValidationError).message).toContain('300 issues in all');
    expect(Buffer.byteLength((err as JobValidationError).message)).toBeLessThanOrEqual(2 * 1024);
  });
});

describe('hostile payload shapes', () => {
  const jobs = defineJobs({
    tree: { payload: z.json() },
    echo: { payload: z.object({ text: z.string() }) },
    other: { payload: z.object({ n: z.number() }), queue: 'other' },
  });

  it(`refuses a payload nested deeper than ${MAX_PAYLOAD_DEPTH} levels at enqueue with JobValidationError`, async () => {
    const { client, raw, prefix } = testClient(jobs, 'bounds-deep-enqueue', defer);
    for (const levels of [10_000, MAX_PAYLOAD_DEPTH + 1]) {
      const err = await client.enqueue('tree', nested(levels) as never).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(JobValidationError);
      expect((err as JobValidationError).issues[0]?.code).toBe('too_deep');
      expect((err as JobValidationError).message).toContain(`nested deeper than ${MAX_PAYLOAD_DEPTH} levels`);
    }
    // At the limit it is fine.
    await client.enqueue('tree', nested(MAX_PAYLOAD_DEPTH) as never);
    expect(await raw.llen(queueKeys(prefix, 'default').wait)).toBe(1);
  });

  it('dead-letters a deep payload written straight into Redis, with the reason, and keeps running', async () => {
    const { client, raw, prefix } = testClient(jobs, 'bounds-deep-raw', defer);
    const k = queueKeys(prefix, 'default');
    const levels = 10_000;
    const envelope = `{"n":"tree","t":${Date.now()},"p":${'{"a":'.repeat(levels - 1)}{}${'}'.repeat(levels - 1)}}`;
    await raw.multi().hset(k.jobs, 'deep-1', envelope).rpush(k.wait, 'deep-1').rpush(k.notify, '1').exec();
    const ran: string[] = [];
    const worker = createWorker(
      jobs,
      { tree: (_p, ctx) => void ran.push(ctx.id), echo: (_p, ctx) => void ran.push(ctx.id), other: (_p, ctx) => void ran.push(ctx.id) },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    await waitFor(async () => (await client.deadLetters.count('default')) === 1, 'the dead letter');
    const letter = await client.deadLetters.queue('default').get('deep-1');
    expect(letter?.reason).toBe('invalid_payload');
    expect(letter?.error.name).toBe('JobValidationError');
    expect(letter?.issues?.[0]?.code).toBe('too_deep');
    expect(letter?.error.message).toContain(`nested deeper than ${MAX_PAYLOAD_DEPTH} levels`);
    expect(letter?.raw).toBe(envelope); // the stored job is kept as it was
    const good = await client.enqueue('echo', { text: 'after' });
    await waitFor(async () => (await client.getJob(good.id)).state === 'completed', 'a later job to complete');
    expect(ran).toEqual([good.id]);
  });

  it('dead-letters a 20 MB stored job unparsed, while the same worker still serves its other queue', async () => {
    const { client, raw, prefix } = testClient(jobs, 'bounds-big-raw', defer);
    const k = queueKeys(prefix, 'default');
    const envelope = `{"n":"echo","t":${Date.now()},"p":{"text":"${'y'.repeat(20 * MIB)}"}}`;
    const ran: string[] = [];
    const { logger, lines } = capturingLogger();
    const worker = createWorker(
      jobs,
      { tree: (_p, ctx) => void ran.push(ctx.id), echo: (_p, ctx) => void ran.push(ctx.id), other: (_p, ctx) => void ran.push(ctx.id) },
      { redis: redisUrl(), prefix, logger },
    );
    defer(() => worker.close());
    await raw.multi().hset(k.jobs, 'big-1', envelope).rpush(k.wait, 'big-1').rpush(k.notify, '1').exec();
    const otherJob = await client.enqueue('other', { n: 1 });

    await waitFor(async () => (await client.getJob(otherJob.id)).state === 'completed', 'the job of the other queue', 60_000);
    await waitFor(async () => (await client.deadLetters.count('default')) === 1, 'the dead letter', 60_000);
    const info = await client.getJob('big-1');
    expect(info.state).toBe('dead');
    expect(info.deadReason).toBe('invalid_payload');
    expect(info.lastError?.name).toBe('JobValidationError');
    expect(info.lastError?.message).toMatch(/the stored job is 20\.0 MiB .* over this worker's limit of 16\.0 MiB/);
    expect(await raw.hstrlen(k.deadInfo, 'big-1')).toBeLessThanOrEqual(MAX_DEAD_INFO_BYTES);
    // The dead letter keeps the stored job byte for byte (moved inside Redis, never through the worker).
    expect(await raw.hstrlen(k.dead, 'big-1')).toBe(Buffer.byteLength(envelope));
    expect((await raw.hget(k.dead, 'big-1')) === envelope).toBe(true);
    expect(ran).toEqual([otherJob.id]); // the big job never ran
    expectBoundedLines(lines);
  }, 120_000);
});

describe("a client's raised maxPayloadBytes and the worker's limit", () => {
  const jobs = defineJobs({ echo: { payload: z.object({ text: z.string() }) } });
  /** A payload of exactly `bytes` bytes of JSON: `{"text":"…"}` is 11 bytes besides the text. */
  const exactly = (bytes: number): { text: string } => ({ text: 'y'.repeat(bytes - 11) });

  it('a job at a raised client limit runs on a worker with the default limit, and on one configured the same way', async () => {
    const { prefix, raw } = testClient(jobs, 'bounds-raised', defer);
    const limit = 4 * MIB;
    const client = createClient(jobs, { redis: redisUrl(), prefix, maxPayloadBytes: limit });
    defer(() => client.close());
    const payload = exactly(limit);
    expect(Buffer.byteLength(JSON.stringify(payload))).toBe(limit);
    const first = await client.enqueue('echo', payload);
    const ran: string[] = [];
    const byDefault = createWorker(jobs, { echo: (_p, ctx) => void ran.push(ctx.id) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => byDefault.close());
    await waitFor(async () => (await client.getJob(first.id)).state === 'completed', 'the job on the default worker', 30_000);
    await byDefault.close();

    const second = await client.enqueue('echo', payload);
    const same = createWorker(jobs, { echo: (_p, ctx) => void ran.push(ctx.id) }, { redis: redisUrl(), prefix, logger: false, maxPayloadBytes: limit });
    defer(() => same.close());
    await waitFor(async () => (await client.getJob(second.id)).state === 'completed', 'the job on the same-limit worker', 30_000);
    expect(ran).toEqual([first.id, second.id]);
    expect(await raw.hlen(queueKeys(prefix, 'default').deadInfo)).toBe(0);
  }, 60_000);

  it('the generated createWorker takes maxPayloadBytes from configure(), as the generated enqueue functions do', async () => {
    const prefix = testPrefix('bounds-generated');
    const limit = 17 * MIB; // above the worker's default, so only the configured limit lets it run
    configure({ redis: redisUrl(), prefix, maxPayloadBytes: limit });
    const raw = rawRedis();
    defer(async () => {
      await closeDefaultJobsClient();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const { id } = await enqueueDeliverWebhook({ url: 'https://example.com/hook', event: 'big', body: { data: 'z'.repeat(limit - 1000) } });
    const ran: string[] = [];
    const worker = createGeneratedWorker({ deliverWebhook: (_p, ctx) => void ran.push(ctx.id) }, { queues: ['webhooks'], logger: false });
    defer(() => worker.close());
    const k = queueKeys(prefix, 'webhooks');
    await waitFor(async () => ran.length === 1 || (await raw.hlen(k.deadInfo)) > 0, 'the job to run or die', 60_000);
    expect(await raw.hget(k.deadInfo, id)).toBeNull();
    expect(ran).toEqual([id]);
  }, 120_000);
});

describe('a hostile job dead-lettered unparsed releases what it held', () => {
  // A long name puts the unique key (`u`, after the name) past the first 128 bytes of the envelope.
  const name = `solo${'X'.repeat(60)}`;
  const jobs = defineJobs({ [name]: { payload: z.object({ text: z.string() }), unique: true, concurrency: 1 } });

  it('a too-big job of a unique, concurrency-1 type: its unique lock and its concurrency slot are released', async () => {
    const { prefix, raw } = testClient(jobs, 'bounds-release', defer);
    const k = queueKeys(prefix, 'default');
    const client = createClient(jobs, { redis: redisUrl(), prefix, maxPayloadBytes: 2 * MIB });
    defer(() => client.close());
    const big = await client.enqueue(name, { text: 'b'.repeat(MIB + 1000) });
    const locks = async (): Promise<string[]> => raw.keys(`${k.uniquePrefix}*`);
    expect(await locks()).toHaveLength(1);
    const headBytes = ((await raw.hget(k.jobs, big.id)) as string).indexOf(',"p":');
    expect(headBytes).toBeGreaterThan(128);

    const ran: string[] = [];
    const worker = createWorker(jobs, { [name]: (_p: unknown, ctx: { id: string }) => void ran.push(ctx.id) } as never, {
      redis: redisUrl(),
      prefix,
      logger: false,
      maxPayloadBytes: MIB,
    });
    defer(() => worker.close());
    await waitFor(async () => (await client.deadLetters.count('default')) === 1, 'the dead letter');
    const letter = await client.deadLetters.queue('default').get(big.id);
    expect(letter?.issues?.[0]?.code).toBe('too_big');
    expect(letter?.name).toBe(name);
    expect(await locks()).toEqual([]);
    expect(await raw.zcard(typeKeys(k, name).running)).toBe(0);
    // The type runs its next job at once (a held slot would block it for a whole lease, 30 s).
    const next = await client.enqueue(name, { text: 'small' });
    await waitFor(async () => (await client.getJob(next.id)).state === 'completed', 'the next job of the type');
    expect(ran).toEqual([next.id]);
  }, 60_000);
});

describe('fetch.lua and recover.lua send only the size and head of an envelope over the limit', () => {
  it('fetch and recover reply {size, first 512 bytes} instead of a 20 MB envelope; at the limit they send it whole', async () => {
    const { prefix, raw } = testClient(defineJobs({ echo: { payload: z.object({ text: z.string() }) } }), 'bounds-lua-head', defer);
    const k = queueKeys(prefix, 'default');
    const scripts = new Scripts(raw);
    const envelope = `{"n":"echo","t":1,"p":{"text":"${'y'.repeat(20 * MIB)}"}}`;
    const limit = 16 * MIB;
    await raw.multi().hset(k.jobs, 'big-2', envelope).rpush(k.wait, 'big-2').exec();
    // A lease of 1 ms: recover can take the job over at once.
    const fetched = await scripts.fetch(k, { types: [], want: 1, leaseMs: 1, keepCount: 0, keepAgeMs: 0, acks: [], maxDead: 10_000, maxEnvelopeBytes: limit });
    expect(fetched.jobs).toHaveLength(1);
    expect(fetched.jobs[0]?.raw).toBeNull();
    expect(fetched.jobs[0]?.tooBig).toEqual({ bytes: Buffer.byteLength(envelope), head: envelope.slice(0, 512) });
    const recovered = await waitFor(async () => {
      const jobs = await scripts.recover(k, { leaseMs: 60_000, max: 10, types: [], maxDead: 10_000, maxEnvelopeBytes: limit });
      return jobs.length > 0 ? jobs : undefined;
    }, 'recover to take the expired lease');
    expect(recovered[0]?.raw).toBeNull();
    expect(recovered[0]?.tooBig?.bytes).toBe(Buffer.byteLength(envelope));
    expect(recovered[0]?.tooBig?.head).toBe(envelope.slice(0, 512));

    // Exactly at the limit: sent whole.
    const fits = `{"n":"echo","t":1,"p":{"text":"${'z'.repeat(1000)}"}}`;
    await raw.multi().hset(k.jobs, 'fits-1', fits).rpush(k.wait, 'fits-1').exec();
    const whole = await scripts.fetch(k, { types: [], want: 1, leaseMs: 60_000, keepCount: 0, keepAgeMs: 0, acks: [], maxDead: 10_000, maxEnvelopeBytes: Buffer.byteLength(fits) });
    expect(whole.jobs[0]).toMatchObject({ id: 'fits-1', raw: fits });
    expect(whole.jobs[0]?.tooBig).toBeUndefined();
  }, 60_000);
});

describe('the size and depth checks themselves', () => {
  it('truncateBytes keeps whole characters within the bound and says how big the text was', () => {
    for (const unit of ['a', 'é', '€', '😀']) {
      const text = unit.repeat(10_000);
      const cut = truncateBytes(text, 1000);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1000);
      expect(cut).toMatch(/ … \[truncated, [\d.]+ KiB in all\]$/);
      const head = cut.slice(0, cut.indexOf(' … ['));
      expect(head.length).toBeGreaterThan(0);
      expect(text.startsWith(head)).toBe(true); // no broken character at the cut
    }
    expect(truncateBytes('short', 1000)).toBe('short');
    // A bound smaller than the marker (about 34 bytes) is still a bound.
    for (const max of [0, 1, 10, 30]) {
      const cut = truncateBytes('€'.repeat(1000), max);
      expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(max);
      expect('€'.repeat(1000).startsWith(cut)).toBe(true);
    }
  });

  it('checkStoredJob refuses text over the limit or nested too deep, before any parse, and names the job', () => {
    const big = `{"n":"echo","t":1,"p":{"text":"${'z'.repeat(2000)}"}}`;
    expect(checkStoredJob(big, 1000)).toMatchObject({ job: 'echo', issue: { code: 'too_big' } });
    expect(checkStoredJob(big, 10_000)).toBeUndefined();
    const deep = `{"n":"tree","t":1,"p":${'['.repeat(MAX_PAYLOAD_DEPTH + 1)}${']'.repeat(MAX_PAYLOAD_DEPTH + 1)}}`;
    expect(checkStoredJob(deep, 1_000_000)).toMatchObject({ job: 'tree', issue: { code: 'too_deep' } });
    // Brackets inside strings (escaped quotes included) do not count.
    const inString = JSON.stringify({ n: 'tree', t: 1, p: { s: `\\"${'['.repeat(1000)}` } });
    expect(nestedDeeperThan(inString, MAX_PAYLOAD_DEPTH + 1)).toBe(false);
  });

  it("the bounded logger calls the user's logger method current at each call (pino swaps methods on a level change; spies)", () => {
    class Levelled {
      readonly seen: string[] = [];
      debug(_message: string, _fields?: Record<string, unknown>): void {}
      info(_message: string, _fields?: Record<string, unknown>): void {}
      warn(message: string, _fields?: Record<string, unknown>): void {
        this.seen.push(`warn ${message}`);
      }
      error(_message: string, _fields?: Record<string, unknown>): void {}
    }
    const user = new Levelled();
    const bounded = resolveLogger(user);
    bounded.warn('first');
    const spy = vi.spyOn(user, 'warn');
    bounded.warn('second', { big: 'q'.repeat(20_000) });
    expect(spy).toHaveBeenCalledTimes(1);
    expect(spy.mock.calls[0]?.[0]).toBe('second');
    expect(Buffer.byteLength(String((spy.mock.calls[0]?.[1] as { big: string }).big))).toBeLessThanOrEqual(MAX_LOG_MESSAGE_BYTES);
    // A level change that replaces the instance's method (as pino does) is followed too.
    const later: string[] = [];
    user.info = (message: string): void => void later.push(message);
    bounded.info('now at info');
    expect(later).toEqual(['now at info']);
    expect(user.seen).toEqual(['warn first', 'warn second']); // called as a method: `this` is the user's logger
  });
});
