/**
 * `admin.migrate` (src/admin-migrate.ts, migrate.lua) on a real Redis: jobs stored by an old producer (payload version
 * 1) in every state — waiting, delayed, retrying, dead, active — are rewritten to the target version in place, except
 * the active one (its worker holds it) and the one whose migration fails (left as it was, reported with its path);
 * a dry run counts per version and writes nothing; a rerun skips what is done; an interrupted run finishes when run
 * again; a job stored with a newer version than the target is never migrated down; a migration racing a worker of
 * the new code loses and re-creates nothing; migrate.lua leaves a job that changed or was leased since it was read
 * (scripts/mutate-lua.ts breaks both checks: these tests must then fail).
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createAdmin, createClient, createWorker, defineJobs, InvalidArgumentError, MIGRATE_FAILURES_KEPT, MIGRATE_VERSIONS_KEPT, payloadVersion, queueKeys } from '../src/index.js';
import { Scripts } from '../src/scripts.js';
import { cleanupRegistry, deferred, redisUrl, testClient, waitFor } from './helpers.js';

const v1 = z.object({ to: z.string() });
const v2 = z.object({ to: z.array(z.email()) });
const v3 = z.object({ to: z.array(z.email()), subject: z.string() });

/** The old code: `sendEmail` knows version 1 only; `other` shares its queue and must stay untouched. */
const oldJobs = defineJobs({
  sendEmail: { payload: v1, attempts: 2, backoff: { type: 'fixed', delay: 3_600_000 } },
  other: { payload: z.object({ n: z.number() }) },
});
/** The new code: three versions (1 → 2 wraps the address, 2 → 3 adds a subject); `mailer` is its old name. */
const newJobs = defineJobs({
  sendEmail: {
    payload: v3,
    aliases: ['mailer'],
    versions: [payloadVersion(v1, (p) => ({ to: [p.to] })), payloadVersion(v2, (p) => ({ to: p.to, subject: `to ${p.to.length}` }))],
  },
  other: { payload: z.object({ n: z.number() }) },
});

const defer = cleanupRegistry();

async function storedText(raw: ReturnType<typeof testClient>['raw'], hash: string, id: string): Promise<Record<string, unknown>> {
  const text = await raw.hget(hash, id);
  if (text === null) throw new Error(`no ${id} in ${hash}`);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('admin.migrate', () => {
  it('rewrites waiting, delayed, retrying and dead jobs to the target version; leaves the active one and a failing one as they are; dry run and rerun', async () => {
    const { prefix, client, raw } = testClient(oldJobs, 'migrate-states', defer);
    const k = queueKeys(prefix, 'default');
    const hold = deferred();
    const worker = createWorker(
      oldJobs,
      {
        sendEmail: async (p) => {
          if (p.to === 'hold@x.io') await hold.promise;
          else throw new Error(`fail ${p.to}`);
        },
        other: async () => {},
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());
    const retrying = await client.enqueue('sendEmail', { to: 'retry@x.io' });
    const dead = await client.enqueue('sendEmail', { to: 'dead@x.io' }, { attempts: 1 });
    const active = await client.enqueue('sendEmail', { to: 'hold@x.io' });
    await waitFor(async () => (await raw.hexists(k.dead, dead.id)) === 1 && (await raw.hexists(k.errors, retrying.id)) === 1 && (await raw.zscore(k.active, active.id)) !== null, 'retrying, dead and active');
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs: newJobs });
    defer(() => admin.close());
    await admin.pause('default');
    const waiting = await client.enqueue('sendEmail', { to: 'wait@x.io' }, { priority: 5 });
    const delayed = await client.enqueue('sendEmail', { to: 'later@x.io' }, { delay: 3_600_000 });
    const bad = await client.enqueue('sendEmail', { to: 'not an address' });
    const other = await client.enqueue('other', { n: 1 });
    const before = { bad: await raw.hget(k.jobs, bad.id), active: await raw.hget(k.jobs, active.id), other: await raw.hget(k.jobs, other.id) };

    const dry = await admin.migrate({ job: 'sendEmail', dryRun: true });
    expect(dry).toMatchObject({ job: 'sendEmail', queue: 'default', to: 3, current: 3, dryRun: true, interrupted: false, matched: 6, atTarget: 0, migrated: 4, active: 1, changed: 0, failed: 1 });
    expect(dry.versions).toEqual([{ version: 1, jobs: 6, migrated: 4, failed: 1 }]);
    expect(dry.failures).toEqual([
      { id: bad.id, source: 'jobs', reason: 'invalid', from: 1, issues: [{ path: 'to[]', code: 'invalid_format', message: expect.stringContaining("after the migration from version 1 to 2, version 2's schema") }] },
    ]);
    // Nothing written.
    expect((await storedText(raw, k.jobs, waiting.id)).v).toBeUndefined();

    const progress: number[] = [];
    const run = await admin.migrate({ job: 'sendEmail', onProgress: (p) => progress.push(p.scanned) });
    expect(run).toMatchObject({ dryRun: false, matched: 6, migrated: 4, active: 1, failed: 1, changed: 0 });
    expect(progress.length).toBeGreaterThan(0);
    const w = await storedText(raw, k.jobs, waiting.id);
    expect(w).toMatchObject({ n: 'sendEmail', v: 3, r: 5, p: { to: ['wait@x.io'], subject: 'to 1' } });
    expect(Object.keys(w)).toEqual(['n', 't', 'r', 'v', 'p']);
    expect(await storedText(raw, k.jobs, delayed.id)).toMatchObject({ v: 3, d: expect.any(Number), p: { to: ['later@x.io'], subject: 'to 1' } });
    expect(await storedText(raw, k.jobs, retrying.id)).toMatchObject({ v: 3, p: { to: ['retry@x.io'], subject: 'to 1' } });
    expect(await storedText(raw, k.dead, dead.id)).toMatchObject({ v: 3, a: 1, p: { to: ['dead@x.io'], subject: 'to 1' } });
    // Left exactly as they were: the failing one, the active one, the other job type.
    expect({ bad: await raw.hget(k.jobs, bad.id), active: await raw.hget(k.jobs, active.id), other: await raw.hget(k.jobs, other.id) }).toEqual(before);
    // The jobs stay in their states.
    expect(await raw.zscore(k.scheduled, delayed.id)).not.toBeNull();
    expect(await raw.hexists(k.errors, retrying.id)).toBe(1);

    // A rerun finds them done.
    const again = await admin.migrate({ job: 'sendEmail' });
    expect(again).toMatchObject({ matched: 6, atTarget: 4, migrated: 0, active: 1, failed: 1 });
    expect(again.versions).toEqual([
      { version: 1, jobs: 2, migrated: 0, failed: 1 },
      { version: 3, jobs: 4, migrated: 0, failed: 0 },
    ]);
    hold.resolve();
  });

  it('migrates to an intermediate version, never down, and includes jobs stored under an alias; refuses a version the job lacks', async () => {
    const { prefix, client, raw } = testClient(newJobs, 'migrate-to', defer);
    const k = queueKeys(prefix, 'default');
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs: newJobs });
    defer(() => admin.close());
    const current = await client.enqueue('sendEmail', { to: ['c@x.io'], subject: 's' });
    // An old producer under the old name, on the same prefix.
    const oldClient = createClient(defineJobs({ mailer: { payload: v1 } }), { redis: redisUrl(), prefix });
    defer(() => oldClient.close());
    const old = await oldClient.enqueue('mailer', { to: 'o@x.io' });

    const run = await admin.migrate({ job: 'sendEmail', to: 2 });
    expect(run).toMatchObject({ to: 2, matched: 2, migrated: 1, failed: 1 });
    expect(run.failures).toEqual([{ id: current.id, source: 'jobs', reason: 'newer', from: 3, issues: [{ path: '', code: 'version_newer', message: expect.stringContaining('no down-migrations') }] }]);
    expect(await storedText(raw, k.jobs, old.id)).toMatchObject({ n: 'mailer', v: 2, p: { to: ['o@x.io'] } });
    expect(await storedText(raw, k.jobs, current.id)).toMatchObject({ v: 3, p: { to: ['c@x.io'], subject: 's' } });

    // Without `to`: the version producers write — here pinned to 1, so nothing stored at 1 is touched.
    const pinned = createAdmin({ redis: redisUrl(), prefix, jobs: defineJobs({ sendEmail: { ...newJobs.definitions.sendEmail, emitVersion: 1 } }) });
    defer(() => pinned.close());
    expect(await pinned.migrate({ job: 'sendEmail', dryRun: true })).toMatchObject({ to: 1, current: 3, migrated: 0 });

    await expect(admin.migrate({ job: 'sendEmail', to: 4 })).rejects.toThrow(/to must be a payload version of job "sendEmail": 1 to 3/);
    await expect(admin.migrate({ job: 'mailer' })).rejects.toThrow(/old name of "sendEmail"/);
    await expect(admin.migrate({ job: 'nope' })).rejects.toBeInstanceOf(InvalidArgumentError);
    const noJobs = createAdmin({ redis: redisUrl(), prefix });
    defer(() => noJobs.close());
    await expect(noJobs.migrate({ job: 'sendEmail' })).rejects.toThrow(/needs the job set/);
  });

  it('an interrupted run stops between pages; running it again finishes, and rewrites no job twice', async () => {
    const { prefix, client, raw } = testClient(oldJobs, 'migrate-resume', defer);
    const k = queueKeys(prefix, 'default');
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs: newJobs });
    defer(() => admin.close());
    await admin.pause('default');
    // Values over 64 bytes: the hash is a hashtable, which HSCAN pages (a small listpack comes back whole).
    await client.enqueueMany('sendEmail', Array.from({ length: 300 }, (_, i) => ({ to: `user-${i}-with-an-address-long-enough-for-a-hashtable@example.com` })));
    const stop = new AbortController();
    const first = await admin.migrate({ job: 'sendEmail', pageSize: 10, signal: stop.signal, onProgress: (p) => p.migrated >= 10 && stop.abort() });
    expect(first.interrupted).toBe(true);
    expect(first.migrated).toBeGreaterThanOrEqual(10);
    expect(first.migrated).toBeLessThan(300);
    const second = await admin.migrate({ job: 'sendEmail', pageSize: 10 });
    expect(second).toMatchObject({ interrupted: false, matched: 300, atTarget: first.migrated, migrated: 300 - first.migrated, failed: 0 });
    const all = await raw.hvals(k.jobs);
    expect(all.every((t) => (JSON.parse(t) as { v?: number }).v === 3)).toBe(true);
  });

  it('a migration while a worker of the new code drains the queue: every job runs once, with the new type; none is lost or dead', async () => {
    const { prefix, client, raw } = testClient(oldJobs, 'migrate-race', defer);
    const k = queueKeys(prefix, 'default');
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs: newJobs });
    defer(() => admin.close());
    const made = await client.enqueueMany('sendEmail', Array.from({ length: 300 }, (_, i) => ({ to: `user-${i}-with-an-address-long-enough-for-a-hashtable@example.com` })));
    const seen = new Map<string, unknown[]>();
    const worker = createWorker(newJobs, { sendEmail: async (p, ctx) => void seen.set(ctx.id, [...(seen.get(ctx.id) ?? []), p]), other: async () => {} }, { redis: redisUrl(), prefix, logger: false, concurrency: 5 });
    defer(() => worker.close());
    const dead: string[] = [];
    worker.on('dead', (e) => dead.push(e.job.id));
    const run = await admin.migrate({ job: 'sendEmail', pageSize: 10 });
    await waitFor(() => seen.size === 300, 'every job to run');
    expect(dead).toEqual([]);
    made.forEach(({ id }, i) => expect(seen.get(id)).toEqual([{ to: [`user-${i}-with-an-address-long-enough-for-a-hashtable@example.com`], subject: 'to 1' }]));
    // Each job was migrated, or ran (or was running) first: the counts add up, and nothing is left.
    expect(run.failed).toBe(0);
    expect(run.migrated + run.active + run.changed).toBe(run.matched);
    // Every job acknowledged (acks reach Redis shortly after the handlers end), and none re-created by the migration.
    await waitFor(async () => (await raw.hlen(k.jobs)) === 0, 'the jobs hash to empty');
  });

  it('keeps its outcome bounded: at most 32 stored versions and 20 failures listed, every job counted', async () => {
    const { prefix, raw } = testClient(oldJobs, 'migrate-bounds', defer);
    const k = queueKeys(prefix, 'default');
    // Versions no code wrote: 40 jobs each claiming a different one, all newer than the job's 3.
    for (let v = 100; v < 140; v++) await raw.hset(k.jobs, `j${v}`, JSON.stringify({ n: 'sendEmail', t: 1, v, p: {} }));
    const admin = createAdmin({ redis: redisUrl(), prefix, jobs: newJobs });
    defer(() => admin.close());
    const run = await admin.migrate({ job: 'sendEmail', dryRun: true });
    expect(run).toMatchObject({ matched: 40, failed: 40, migrated: 0 });
    expect(run.versions).toHaveLength(MIGRATE_VERSIONS_KEPT);
    expect(run.failures).toHaveLength(MIGRATE_FAILURES_KEPT);
    expect(run.failures.every((f) => f.reason === 'newer')).toBe(true);
  });

  it('migrate.lua rewrites a job only while its stored text is the one read and no worker leases it', async () => {
    const { prefix, raw } = testClient(oldJobs, 'migrate-lua', defer);
    const k = queueKeys(prefix, 'default');
    await raw.hset(k.jobs, 'a', 'A0', 'b', 'B1', 'c', 'C0');
    await raw.zadd(k.active, Date.now() + 60_000, 'c');
    const scripts = new Scripts(raw);
    const r = await scripts.migrate(
      { hash: k.jobs, active: k.active },
      {
        items: [
          { id: 'a', expected: 'A0', envelope: 'A9' },
          { id: 'b', expected: 'B0', envelope: 'B9' },
          { id: 'c', expected: 'C0', envelope: 'C9' },
          { id: 'gone', expected: 'G0', envelope: 'G9' },
        ],
      },
    );
    expect(r).toEqual(['rewritten', 'changed', 'leased', 'changed']);
    expect(await raw.hgetall(k.jobs)).toEqual({ a: 'A9', b: 'B1', c: 'C0' });
  });
});

