/**
 * Versioned payloads (docs/contracts.md, "Versioned payloads"), on a real Redis: a job stored by an old producer (its
 * payload version 1, no `v` in its envelope) runs on a new worker with the handler seeing the current version; a
 * migration that throws or whose output the next schema rejects dead-letters the job naming the step and the path; a
 * version newer than the worker knows fails the attempt (retried, never run, dead-lettered only when attempts run
 * out, and retrying that dead letter after the deploy runs it); `emitVersion` makes producers write (and store
 * `v` for) an earlier version.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  checkStoredJobs,
  createClient,
  createWorker,
  defineJobs,
  JobDefinitionError,
  JobValidationError,
  parseStoredPayload,
  payloadVersion,
  PayloadVersionError,
  upcastStoredPayload,
  type DeadReason,
} from '../src/index.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

const v1 = z.object({ to: z.string() });
const v2 = z.object({ to: z.array(z.email()) });
const v3 = z.object({ to: z.array(z.email()), subject: z.string().default('(none)') });

/** The job set of the old code: `sendEmail` knows only its first payload. */
const oldJobs = defineJobs({ sendEmail: { payload: v1, attempts: 2, backoff: { type: 'fixed', delay: 0 } } });

/** The new code: three versions; 1 → 2 wraps the address in a list, 2 → 3 adds a subject. */
const newJobs = defineJobs({
  sendEmail: {
    payload: v3,
    versions: [payloadVersion(v1, (p) => ({ to: [p.to] })), payloadVersion(v2, (p) => ({ to: p.to, subject: `to ${p.to.length}` }))],
    attempts: 2,
    backoff: { type: 'fixed', delay: 0 },
  },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const prefix = testPrefix(name);
  const raw = rawRedis();
  defer(async () => {
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  const client = <J extends Parameters<typeof createClient>[0]>(jobs: J) => {
    const c = createClient(jobs, { redis: redisUrl(), prefix });
    defer(() => c.close());
    return c;
  };
  return { prefix, raw, client };
}

/** The stored envelope of a job of the default queue. */
async function stored(raw: ReturnType<typeof rawRedis>, prefix: string, id: string): Promise<Record<string, unknown>> {
  const keys = await raw.keys(`${prefix}:*jobs`);
  for (const key of keys) {
    const text = await raw.hget(key, id);
    if (text !== null) return JSON.parse(text) as Record<string, unknown>;
  }
  throw new Error(`no stored job ${id}`);
}

describe('versions in defineJobs', () => {
  it('resolves the current version, the earlier ones and the emitted one', () => {
    const job = newJobs.jobs.get('sendEmail');
    expect(job?.version).toBe(3);
    expect(job?.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(job?.emitVersion).toBe(3);
    expect(oldJobs.jobs.get('sendEmail')).toMatchObject({ version: 1, versions: [], emitVersion: 1 });
  });

  it('refuses a version without a schema or a migration, and an emitVersion the job does not have', () => {
    const problem = (defs: Record<string, unknown>): string => {
      try {
        defineJobs(defs as never);
      } catch (err) {
        if (err instanceof JobDefinitionError) return err.message;
        throw err;
      }
      throw new Error('no error');
    };
    expect(problem({ a: { payload: v2, versions: [{ payload: v1 }] } })).toBe('job "a", option "versions[0].migrate": is missing: every version needs a migration to the next one');
    expect(problem({ a: { payload: v2, versions: [{ migrate: () => ({}) }] } })).toMatch(/"a".*"versions\[0\]\.payload".*is missing/s);
    expect(problem({ a: { payload: v2, versions: [{ payload: 'v1', migrate: () => ({}) }] } })).toMatch(/versions.*must be a zod schema/s);
    expect(problem({ a: { payload: v2, versions: [{ payload: v1, migrate: () => ({}), extra: 1 }] } })).toMatch(/versions.*unknown option/s);
    expect(problem({ a: { payload: v2, versions: [payloadVersion(v1, () => ({}))], emitVersion: 3 } })).toMatch(/"a".*emitVersion.*is 3, but the job's versions go from 1 to 2/s);
    expect(problem({ a: { payload: v2, emitVersion: 2 } })).toMatch(/emitVersion.*is 2, but the job's versions go from 1 to 1/s);
    expect(problem({ a: { payload: v2, emitVersion: 0 } })).toMatch(/emitVersion.*must be a version number/s);
    // An async migration would fail every job of its version at dequeue: refused where it is declared.
    expect(problem({ a: { payload: v2, versions: [{ payload: v1, migrate: async () => ({}) }] } })).toBe(
      'job "a", option "versions[0].migrate": must be a synchronous function (an async one is called at every dequeue and its result is a Promise, not the next version\'s input)',
    );
  });
});

describe('a worker of the new job set', () => {
  it('runs jobs an old producer stored (version 1, no "v") with the handler seeing the current version', async () => {
    const { prefix, raw, client } = setup('versions-upcast');
    const producer = client(oldJobs);
    const ids = [(await producer.enqueue('sendEmail', { to: 'a@x.io' })).id, (await producer.enqueue('sendEmail', { to: 'b@x.io' })).id];
    // An old producer's bytes: no version field.
    expect(await stored(raw, prefix, ids[0] as string)).not.toHaveProperty('v');
    const seen = new Map<string, z.output<typeof v3>>();
    const worker = createWorker(newJobs, { sendEmail: async (payload, ctx) => void seen.set(ctx.id, payload) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    await waitFor(() => seen.size === 2, 'both runs');
    expect(seen.get(ids[0] as string)).toEqual({ to: ['a@x.io'], subject: 'to 1' });
    expect(seen.get(ids[1] as string)).toEqual({ to: ['b@x.io'], subject: 'to 1' });
  });

  it('dead-letters a job whose migration output the next schema rejects, naming the job, the step and the path', async () => {
    const { prefix, client } = setup('versions-invalid');
    const { id } = await client(oldJobs).enqueue('sendEmail', { to: 'not an address' });
    const dead: { id: string; name: string | undefined; reason: DeadReason; message: string }[] = [];
    const worker = createWorker(newJobs, { sendEmail: async () => {} }, { redis: redisUrl(), prefix, logger: false });
    worker.on('dead', (e) => dead.push({ id: e.job.id, name: e.job.name, reason: e.reason, message: e.error.message }));
    defer(() => worker.close());
    await waitFor(() => dead.length > 0, 'the dead letter');
    expect(dead).toEqual([{ id, name: 'sendEmail', reason: 'invalid_payload', message: expect.stringContaining('"sendEmail"') }]);
    expect(dead[0]?.message).toMatch(/to\[0\]: after the migration from version 1 to 2, version 2's schema: /);
    const [letter] = await client(newJobs).deadLetters.list('default');
    expect(letter?.issues?.[0]).toMatchObject({ path: ['to', 0], code: 'invalid_format' });
  });

  it('dead-letters a job whose migration throws, naming the step', async () => {
    const { prefix, client } = setup('versions-throws');
    const throwing = defineJobs({
      sendEmail: {
        payload: v2,
        versions: [
          payloadVersion(v1, (p) => {
            if (p.to === 'boom') throw new Error('cannot split boom');
            return { to: [p.to] };
          }),
        ],
      },
    });
    const { id } = await client(oldJobs).enqueue('sendEmail', { to: 'boom' });
    const dead: { id: string; reason: DeadReason; message: string }[] = [];
    const worker = createWorker(throwing, { sendEmail: async () => {} }, { redis: redisUrl(), prefix, logger: false });
    worker.on('dead', (e) => dead.push({ id: e.job.id, reason: e.reason, message: e.error.message }));
    defer(() => worker.close());
    await waitFor(() => dead.length > 0, 'the dead letter');
    expect(dead).toEqual([{ id, reason: 'invalid_payload', message: expect.stringContaining('the migration from version 1 to 2 threw: Error: cannot split boom') }]);
  });

  it('does not run a job written with a newer version: the attempt fails (retried), dead-lettered when attempts run out; retried after the deploy, it runs', async () => {
    const { prefix, client } = setup('versions-newer');
    const { id } = await client(newJobs).enqueue('sendEmail', { to: ['c@x.io'] });
    const failures: { willRetry: boolean; error: unknown }[] = [];
    const dead: DeadReason[] = [];
    let ran = 0;
    const old = createWorker(oldJobs, { sendEmail: async () => void ran++ }, { redis: redisUrl(), prefix, logger: false });
    old.on('failed', (e) => failures.push({ willRetry: e.willRetry, error: e.error }));
    old.on('dead', (e) => dead.push(e.reason));
    defer(() => old.close());
    await waitFor(() => dead.length > 0, 'the dead letter after both attempts');
    await old.close();
    expect(ran).toBe(0);
    expect(failures.map((f) => f.willRetry)).toEqual([true, false]);
    const error = failures[0]?.error;
    expect(error).toBeInstanceOf(PayloadVersionError);
    expect((error as Error).message).toBe('job "sendEmail" was written with payload version 3; this worker knows up to 1: deploy workers that know version 3 (the job is retried)');
    const producer = client(newJobs);
    const [letter] = await producer.deadLetters.list('default');
    expect(letter).toMatchObject({ id, reason: 'attempts_exhausted', payload: { to: ['c@x.io'] } });
    // After the deploy: retried, a worker that knows version 3 runs it.
    expect(await producer.deadLetters.retry(id)).toBe(true);
    const seen: unknown[] = [];
    const worker = createWorker(newJobs, { sendEmail: async (p) => void seen.push(p) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    await waitFor(() => seen.length === 1, 'the run after the deploy');
    expect(seen).toEqual([{ to: ['c@x.io'], subject: '(none)' }]);
  });
});

describe('producers', () => {
  it('write the current version with "v", and an unversioned job without it', async () => {
    const { prefix, raw, client } = setup('versions-emit-current');
    const { id } = await client(newJobs).enqueue('sendEmail', { to: ['d@x.io'] });
    expect(await stored(raw, prefix, id)).toMatchObject({ n: 'sendEmail', v: 3, p: { to: ['d@x.io'] } });
  });

  it('with emitVersion write that version: its input type and schema at enqueue, "v" stored, upcast by the worker', async () => {
    const { prefix, raw, client } = setup('versions-emit-pinned');
    const pinned = defineJobs({ sendEmail: { ...newJobs.definitions.sendEmail, emitVersion: 2 } });
    const producer = client(pinned);
    const { id } = await producer.enqueue('sendEmail', { to: ['e@x.io'] });
    expect(await stored(raw, prefix, id)).toMatchObject({ v: 2, p: { to: ['e@x.io'] } });
    // Validated with version 2's schema: its shape is the one refused here.
    await expect(producer.enqueue('sendEmail', { to: ['not an address'] })).rejects.toThrow(JobValidationError);
    // @ts-expect-error -- TS2353 the current version's `subject` is not version 2's input
    await expect(producer.enqueue('sendEmail', { to: ['f@x.io'], subject: 's' })).resolves.toMatchObject({ duplicate: false });
    // Version 1 pinned: no "v" written, as an old producer.
    const one = client(defineJobs({ sendEmail: { ...newJobs.definitions.sendEmail, emitVersion: 1 } }));
    const first = await one.enqueue('sendEmail', { to: 'g@x.io' });
    expect(await stored(raw, prefix, first.id)).not.toHaveProperty('v');
    const seen = new Map<string, unknown>();
    const worker = createWorker(newJobs, { sendEmail: async (p, ctx) => void seen.set(ctx.id, p) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    await waitFor(() => seen.size === 3, 'three runs');
    expect(seen.get(id)).toEqual({ to: ['e@x.io'], subject: 'to 1' });
    expect(seen.get(first.id)).toEqual({ to: ['g@x.io'], subject: 'to 1' });
  });

  it('with emitVersion and unique: the key is made of the current version, so pinned and unpinned producers agree', async () => {
    const { client } = setup('versions-emit-unique');
    const unique = { ...newJobs.definitions.sendEmail, unique: { by: (p: unknown) => (p as z.output<typeof v3>).to.join(',') } };
    const current = client(defineJobs({ sendEmail: unique }));
    const pinned = client(defineJobs({ sendEmail: { ...unique, emitVersion: 1 } }));
    const a = await current.enqueue('sendEmail', { to: ['h@x.io'] });
    const b = await pinned.enqueue('sendEmail', { to: 'h@x.io' });
    expect(b).toEqual({ id: a.id, duplicate: true });
  });
});

describe('cron firings', () => {
  it('write the emitted version: a current-version firing of a versioned job runs as the current version', async () => {
    const { prefix } = setup('versions-cron');
    const cronJobs = defineJobs({
      tick: {
        payload: v2,
        versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))],
        cron: '* * * * * *',
        cronPayload: { to: ['cron@x.io'] },
        catchUp: 'none',
      },
      tickPinned: {
        payload: v2,
        versions: [payloadVersion(v1, (p) => ({ to: [p.to] }))],
        emitVersion: 1,
        cron: '* * * * * *',
        cronPayload: { to: 'pinned@x.io' },
        catchUp: 'none',
      },
    });
    const seen: unknown[] = [];
    const dead: string[] = [];
    const worker = createWorker(cronJobs, { tick: async (p) => void seen.push(p), tickPinned: async (p) => void seen.push(p) }, { redis: redisUrl(), prefix, logger: false });
    worker.on('dead', (e) => dead.push(e.error.message));
    defer(() => worker.close());
    // Each firing runs, or (a version misread) is dead-lettered: either ends the wait.
    await waitFor(() => dead.length > 0 || (seen.some((p) => JSON.stringify(p).includes('pinned@')) && seen.some((p) => JSON.stringify(p).includes('cron@'))), 'a firing of each');
    await worker.close();
    expect(dead).toEqual([]);
    expect(seen).toContainEqual({ to: ['cron@x.io'] });
    expect(seen).toContainEqual({ to: ['pinned@x.io'] });
  });
});

describe('upcastStoredPayload', () => {
  const job = newJobs.jobs.get('sendEmail');
  if (job === undefined) throw new Error('no job');
  it('reads a stored payload up to a given version, with its input form', () => {
    expect(upcastStoredPayload(job, { p: { to: 'a@x.io' } }, 2)).toEqual({ success: true, data: { to: ['a@x.io'] }, input: { to: ['a@x.io'] }, from: 1, to: 2 });
    expect(upcastStoredPayload(job, { p: { to: ['a@x.io'] }, v: 2 })).toEqual({
      success: true,
      data: { to: ['a@x.io'], subject: 'to 1' },
      input: { to: ['a@x.io'], subject: 'to 1' },
      from: 2,
      to: 3,
    });
    const newer = upcastStoredPayload(job, { p: {}, v: 4 });
    expect(newer).toMatchObject({ success: false, from: 4, issues: [{ code: 'version_unknown' }] });
    expect(!newer.success && newer.newer).toBeInstanceOf(PayloadVersionError);
    expect(upcastStoredPayload(job, { p: { to: ['a@x.io'] }, v: 3 }, 2)).toMatchObject({ success: false, issues: [{ code: 'version_unknown', message: expect.stringContaining('migrations only go up') }] });
    expect(() => upcastStoredPayload(job, { p: {} }, 4)).toThrow(/toVersion must be a version of job "sendEmail" \(1 to 3\), got 4/);
  });

  it('refuses a recorded version that is not an integer from 1 with a clear issue, never a TypeError (public API: callers may pass any envelope)', () => {
    for (const v of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2' as unknown as number]) {
      for (const read of [upcastStoredPayload, parseStoredPayload]) {
        const result = read(job, { p: { to: 'a@x.io' }, v });
        expect(result, `v = ${String(v)}`).toMatchObject({ success: false, issues: [{ code: 'version_unknown', message: expect.stringContaining('not a payload version') }] });
        expect(!result.success && result.newer, `v = ${String(v)}`).toBeUndefined();
      }
    }
  });
});

describe('an asynchronous schema of an earlier version', () => {
  it('is named as that version\'s payload (versions[k].payload), at enqueue by a pinned producer and when a stored job is read', async () => {
    const asyncV1 = z.object({ to: z.string() }).refine(async () => true);
    const asyncJobs = defineJobs({
      sendEmail: { payload: v2, versions: [payloadVersion(asyncV1, (p) => ({ to: [p.to] }))], emitVersion: 1 },
    });
    const job = asyncJobs.jobs.get('sendEmail');
    if (job === undefined) throw new Error('no job');
    expect(() => upcastStoredPayload(job, { p: { to: 'a@x.io' } })).toThrow('job "sendEmail", option "versions[0].payload": the schema is asynchronous');
    const { client } = setup('versions-async-schema');
    const err = await client(asyncJobs)
      .enqueue('sendEmail', { to: 'a@x.io' })
      .then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(JobDefinitionError);
    expect((err as Error).message).toMatch(/^job "sendEmail", option "versions\[0\]\.payload": the schema is asynchronous/);
  });
});

describe('a migration that is not synchronous', () => {
  it('is a migration_failed issue naming the step and the Promise, not a type error of the next schema', () => {
    const asyncJobs = defineJobs({
      // A JavaScript caller (or a cast) can declare what the types refuse: a migration returning a Promise (an
      // `async` one is refused by defineJobs; this one is a plain function).
      sendEmail: { payload: v2, versions: [{ payload: v1, migrate: ((p: z.output<typeof v1>) => Promise.resolve({ to: [p.to] })) as unknown as (p: z.output<typeof v1>) => { to: string[] } }] },
    });
    const job = asyncJobs.jobs.get('sendEmail');
    if (job === undefined) throw new Error('no job');
    const read = upcastStoredPayload(job, { p: { to: 'a@x.io' } });
    expect(read).toMatchObject({
      success: false,
      from: 1,
      to: 2,
      issues: [{ path: [], code: 'migration_failed', message: expect.stringMatching(/^the migration from version 1 to 2 returned a Promise: migrations must be synchronous/) }],
    });
  });

  it('one whose Promise rejects is a migration_failed issue too, and no unhandled rejection (which ends a Node process)', async () => {
    const rejections: unknown[] = [];
    const onRejection = (reason: unknown): void => void rejections.push(reason);
    process.on('unhandledRejection', onRejection);
    try {
      const rejecting = defineJobs({
        sendEmail: {
          payload: v2,
          versions: [{ payload: v1, migrate: (() => Promise.reject(new Error('async boom'))) as unknown as (p: z.output<typeof v1>) => { to: string[] } }],
        },
      });
      const job = rejecting.jobs.get('sendEmail');
      if (job === undefined) throw new Error('no job');
      expect(upcastStoredPayload(job, { p: { to: 'a@x.io' } })).toMatchObject({ success: false, issues: [{ code: 'migration_failed' }] });
      // Unhandled rejections are reported after the microtask queue drains.
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(rejections).toEqual([]);
    } finally {
      process.off('unhandledRejection', onRejection);
    }
  });
});

describe('the live check', () => {
  it('counts old-version jobs the migrations turn valid as passing, and those they do not as failing, per version', async () => {
    const { prefix, client } = setup('versions-live');
    const old = client(oldJobs);
    await old.enqueue('sendEmail', { to: 'ok@x.io' });
    await old.enqueue('sendEmail', { to: 'bad' });
    await client(newJobs).enqueue('sendEmail', { to: ['new@x.io'] });
    const report = await checkStoredJobs({ redis: redisUrl(), prefix, jobs: newJobs });
    const entry = report.queues[0]?.jobs[0];
    expect(entry).toMatchObject({ job: 'sendEmail', scanned: 3, failing: 1 });
    expect(entry?.versions).toEqual([
      { version: 1, scanned: 2, failing: 1 },
      { version: 3, scanned: 1, failing: 0 },
    ]);
    expect(entry?.paths[0]).toMatchObject({ path: 'to[]', code: 'invalid_format' });
  });
});
