/**
 * Job aliases (renames): a job may list old names; jobs stored under an old name by an old job set run with the new
 * job's handler and schema, count under the new name, are dead-lettered naming the new job when the new schema
 * rejects them, and pass the live check.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { JobDefinitionError, checkStoredJobs, createAdmin, createClient, createInspector, createWorker, defineJobs, jobNamed, type DeadReason } from '../src/index.js';
import { cleanupRegistry, deletePrefix, rawRedis, redisUrl, testPrefix, waitFor } from './helpers.js';

/** The old job set: what the producer used when it enqueued. */
const v1 = defineJobs({
  sendMail: { payload: z.object({ to: z.string(), n: z.number() }) },
});

/** The new one: `sendMail` renamed to `deliverEmail`, its schema now defaulting a new field. */
const v2 = defineJobs({
  deliverEmail: { payload: z.object({ to: z.string(), n: z.number().max(100), html: z.boolean().default(false) }), aliases: ['sendMail'] },
});

const defer = cleanupRegistry();

function setup(name: string) {
  const prefix = testPrefix(name);
  const producer = createClient(v1, { redis: redisUrl(), prefix });
  const raw = rawRedis();
  defer(async () => {
    await producer.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { prefix, producer, raw };
}

describe('aliases in defineJobs', () => {
  it('resolves an old name to the new job, and a current name to its own job', () => {
    expect(jobNamed(v2, 'sendMail')?.name).toBe('deliverEmail');
    expect(jobNamed(v2, 'deliverEmail')?.name).toBe('deliverEmail');
    expect(jobNamed(v2, 'other')).toBeUndefined();
    expect(v2.jobs.get('deliverEmail')?.aliases).toEqual(['sendMail']);
    expect(v1.jobs.get('sendMail')?.aliases).toEqual([]);
  });

  it('refuses an alias that is not a job name, names another job, is another job\'s alias, or is listed twice', () => {
    const p = z.object({});
    const problem = (defs: Record<string, unknown>): JobDefinitionError => {
      try {
        defineJobs(defs as never);
      } catch (err) {
        if (err instanceof JobDefinitionError) return err;
        throw err;
      }
      throw new Error('no error');
    };
    const bad = problem({ a: { payload: p, aliases: ['9lives'] } });
    expect(bad.message).toMatch(/"a".*aliases.*"9lives" is not a valid job name/s);
    expect(problem({ a: { payload: p, aliases: 'b' } }).message).toMatch(/aliases.*must be a list of old job names/s);
    const clash = problem({ a: { payload: p, aliases: ['b'] }, b: { payload: p } });
    expect(clash.message).toMatch(/"a".*aliases.*"b" is the name of a declared job/s);
    const shared = problem({ a: { payload: p, aliases: ['old'] }, b: { payload: p, aliases: ['old'] } });
    expect(shared.message).toMatch(/"b".*aliases.*"old" is already an alias of job "a"/s);
    expect(problem({ a: { payload: p, aliases: ['old', 'old'] } }).message).toMatch(/lists "old" twice/);
  });
});

describe('a worker of the new job set', () => {
  it('runs jobs stored under the old name with the new handler and schema, counted under the new name', async () => {
    const { prefix, producer } = setup('alias-run');
    const ids = [];
    for (let n = 0; n < 3; n++) ids.push((await producer.enqueue('sendMail', { to: `u${n}@x`, n })).id);
    const runs: { id: string; name: string; payload: unknown }[] = [];
    const worker = createWorker(
      v2,
      { deliverEmail: async (payload, ctx) => void runs.push({ id: ctx.id, name: ctx.name, payload }) },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    await waitFor(async () => (runs.length === 3 ? true : undefined), 'three runs');
    await worker.close();
    expect(runs.map((r) => r.id).sort()).toEqual([...ids].sort());
    for (const r of runs) {
      expect(r.name).toBe('deliverEmail');
      // Parsed with the new schema: its default is applied.
      expect(r.payload).toMatchObject({ html: false });
    }
    const inspector = createInspector({ redis: redisUrl(), prefix });
    defer(() => inspector.close());
    const history = await inspector.history('default');
    const byJob = history.points.map((pt) => pt.byJob);
    expect(byJob.reduce((sum, b) => sum + (b['deliverEmail']?.processed ?? 0), 0)).toBe(3);
    expect(byJob.some((b) => b['sendMail'] !== undefined)).toBe(false);
  });

  it('dead-letters a payload the new schema rejects as invalid_payload naming the new job', async () => {
    const { prefix, producer } = setup('alias-invalid');
    const { id } = await producer.enqueue('sendMail', { to: 'a@x', n: 500 });
    const dead: { id: string; name: string | undefined; reason: DeadReason; message: string }[] = [];
    const worker = createWorker(v2, { deliverEmail: async () => {} }, { redis: redisUrl(), prefix, logger: false });
    worker.on('dead', (e) => dead.push({ id: e.job.id, name: e.job.name, reason: e.reason, message: e.error.message }));
    defer(() => worker.close());
    await waitFor(async () => (dead.length > 0 ? true : undefined), 'the dead letter');
    expect(dead).toEqual([{ id, name: 'deliverEmail', reason: 'invalid_payload', message: expect.stringContaining('"deliverEmail"') }]);
    const client = createClient(v2, { redis: redisUrl(), prefix });
    defer(() => client.close());
    const [letter] = await client.deadLetters.list('default');
    expect(letter).toMatchObject({ id, reason: 'invalid_payload' });
    expect(letter?.error.message).toContain('"deliverEmail"');
  });

  it('names the new job when a job stored under the old name is over the worker\'s size limit', async () => {
    const { prefix } = setup('alias-big');
    const big = createClient(v1, { redis: redisUrl(), prefix, maxPayloadBytes: 100_000 });
    defer(() => big.close());
    const { id } = await big.enqueue('sendMail', { to: 'x'.repeat(5_000), n: 1 });
    const dead: { id: string; name: string | undefined; reason: DeadReason; message: string }[] = [];
    const worker = createWorker(v2, { deliverEmail: async () => {} }, { redis: redisUrl(), prefix, logger: false, maxPayloadBytes: 1_000 });
    worker.on('dead', (e) => dead.push({ id: e.job.id, name: e.job.name, reason: e.reason, message: e.error.message }));
    defer(() => worker.close());
    await waitFor(async () => (dead.length > 0 ? true : undefined), 'the dead letter');
    expect(dead).toEqual([{ id, name: 'deliverEmail', reason: 'invalid_payload', message: expect.stringContaining('"deliverEmail"') }]);
  });

  it('still dead-letters a name that is neither a job nor an alias as unknown_job', async () => {
    const { prefix, raw } = setup('alias-unknown');
    const old = defineJobs({ gone: { payload: z.object({}) } });
    const producer = createClient(old, { redis: redisUrl(), prefix });
    defer(() => producer.close());
    const { id } = await producer.enqueue('gone', {});
    const dead: { id: string; reason: DeadReason }[] = [];
    const worker = createWorker(v2, { deliverEmail: async () => {} }, { redis: redisUrl(), prefix, logger: false });
    worker.on('dead', (e) => dead.push({ id: e.job.id, reason: e.reason }));
    defer(() => worker.close());
    await waitFor(async () => (dead.length > 0 ? true : undefined), 'the dead letter');
    expect(dead).toEqual([{ id, reason: 'unknown_job' }]);
    void raw;
  });
});

describe('dead letters under the old name', () => {
  it('a dead letter stored under the old name, retried by a client of the new job set, runs as the new job', async () => {
    const { prefix, producer } = setup('alias-retry');
    const { id } = await producer.enqueue('sendMail', { to: 'a@x', n: 1 }, { attempts: 1 });
    // The old worker fails it for good.
    const old = createWorker(v1, { sendMail: async () => { throw new Error('smtp down'); } }, { redis: redisUrl(), prefix, logger: false });
    const deadIds: string[] = [];
    old.on('dead', (e) => deadIds.push(e.job.id));
    defer(() => old.close());
    await waitFor(async () => (deadIds.length > 0 ? true : undefined), 'the old worker\'s dead letter');
    await old.close();

    const client = createClient(v2, { redis: redisUrl(), prefix });
    defer(() => client.close());
    expect(await client.deadLetters.retry(id, 'default')).toBe(true);
    const runs: { id: string; name: string }[] = [];
    const worker = createWorker(v2, { deliverEmail: async (_p, ctx) => void runs.push({ id: ctx.id, name: ctx.name }) }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    await waitFor(async () => (runs.length > 0 ? true : undefined), 'the retried run');
    expect(runs).toEqual([{ id, name: 'deliverEmail' }]);
  });
});

describe('a unique job renamed', () => {
  it('a dead letter under the old name takes its lock again with the new job\'s unique ttl when retried', async () => {
    const prefix = testPrefix('alias-unique');
    const raw = rawRedis();
    const u1 = defineJobs({ sync: { payload: z.object({ k: z.string() }), unique: { ttl: '1m' }, attempts: 1 } });
    const u2 = defineJobs({ syncAccount: { payload: z.object({ k: z.string() }), unique: { ttl: '1d' }, aliases: ['sync'] } });
    const producer = createClient(u1, { redis: redisUrl(), prefix });
    const client = createClient(u2, { redis: redisUrl(), prefix });
    defer(async () => {
      await producer.close();
      await client.close();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const { id } = await producer.enqueue('sync', { k: 'a' });
    const old = createWorker(u1, { sync: async () => { throw new Error('down'); } }, { redis: redisUrl(), prefix, logger: false });
    const deadIds: string[] = [];
    old.on('dead', (e) => deadIds.push(e.job.id));
    defer(() => old.close());
    await waitFor(async () => (deadIds.length > 0 ? true : undefined), 'the dead letter');
    await old.close();
    expect(await client.deadLetters.retry(id, 'default')).toBe(true);
    const locks = await raw.keys(`${prefix}*unique*`);
    expect(locks).toHaveLength(1);
    // More than the old job's 1 minute (the default without the alias lookup would be 1 h): the new job's 1 day.
    expect(await raw.pttl(locks[0] as string)).toBeGreaterThan(3_600_000);
  });
});

describe('a throttled job renamed', () => {
  it('warns at start about jobs waiting in the old name\'s ready set, which the new workers do not serve', async () => {
    const prefix = testPrefix('alias-throttled');
    const raw = rawRedis();
    const t1 = defineJobs({ crawl: { payload: z.object({}), concurrency: 1 } });
    const t2 = defineJobs({ crawlSite: { payload: z.object({}), concurrency: 1, aliases: ['crawl'] } });
    const producer = createClient(t1, { redis: redisUrl(), prefix });
    defer(async () => {
      await producer.close();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    await producer.enqueue('crawl', {});
    await producer.enqueue('crawl', {});
    const warnings: string[] = [];
    const logger = { debug: () => {}, info: () => {}, warn: (m: string) => void warnings.push(m), error: () => {} };
    const worker = createWorker(t2, { crawlSite: async () => {} }, { redis: redisUrl(), prefix, logger });
    defer(() => worker.close());
    const warning = await waitFor(async () => warnings.find((w) => w.includes('old name')), 'the warning');
    expect(warning).toMatch(/^2 job\(s\) stored under "crawl", an old name of the throttled job "crawlSite"/);
    expect(warning).toContain('Rename a job');
  });
});

describe('admin.bulk', () => {
  it('takes an old name as its job filter, matching the jobs stored under it (and the new name does not match them)', async () => {
    const { prefix, producer } = setup('alias-bulk');
    await producer.enqueue('sendMail', { to: 'a@x', n: 1 }, { delay: '1h' });
    await producer.enqueue('sendMail', { to: 'b@x', n: 2 }, { delay: '1h' });
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs: v2 });
    defer(() => admin.close());
    expect(await admin.bulk({ action: 'promote', queue: 'default', job: 'sendMail', dryRun: true })).toMatchObject({ matched: 2 });
    expect(await admin.bulk({ action: 'promote', queue: 'default', job: 'deliverEmail', dryRun: true })).toMatchObject({ matched: 0 });
    await expect(admin.bulk({ action: 'promote', queue: 'default', job: 'nope', dryRun: true })).rejects.toThrow(/unknown job "nope"/);
  });
});

describe('the live check', () => {
  it('takes a job stored under an alias as the new job, not unknown_job', async () => {
    const { prefix, producer } = setup('alias-live');
    await producer.enqueue('sendMail', { to: 'a@x', n: 1 });
    await producer.enqueue('sendMail', { to: 'b@x', n: 1000 });
    const report = await checkStoredJobs({ redis: redisUrl(), prefix, jobs: v2 });
    expect(report).toMatchObject({ scanned: 2, failing: 1 });
    const q = report.queues.find((x) => x.queue === 'default');
    expect(q?.jobs).toEqual([expect.objectContaining({ job: 'deliverEmail', declared: true, scanned: 2, failing: 1, reasons: expect.objectContaining({ invalid_payload: 1, unknown_job: 0 }) })]);
  });
});
