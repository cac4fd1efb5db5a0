/**
 * The runtime's checkStoredJobs (src/live-check.ts) directly, on the real Redis: what it keeps is bounded whatever the
 * stored names (past LIVE_CHECK_OTHER_NAMES undeclared names per queue, jobs are counted under `null`), samples and
 * paths are capped, a queue only the registry names is read, an aborted signal gives no verdict, bad options throw.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { InvalidArgumentError, LIVE_CHECK_OTHER_NAMES, LIVE_CHECK_PATHS, LIVE_CHECK_SAMPLES, checkStoredJobs, defineJobs, queueKeys } from '../src/index.js';
import { queueRegistryKey } from '../src/keys.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix } from './helpers.js';

const prefix = testPrefix('live-check');
const raw = rawRedis();
const jobs = defineJobs({
  ping: { payload: z.looseObject({ n: z.number() }), queue: 'q' },
  rec: { payload: z.object({ m: z.record(z.string(), z.number()) }), queue: 'q' },
});

afterAll(async () => {
  await deletePrefix(raw, prefix);
  raw.disconnect();
});

describe('checkStoredJobs', () => {
  it('keeps counts, a few paths and samples per type, and at most LIVE_CHECK_OTHER_NAMES undeclared names per queue', async () => {
    const k = queueKeys(prefix, 'q');
    const entries: string[] = [];
    const names = LIVE_CHECK_OTHER_NAMES + 20;
    for (let i = 0; i < names; i++) entries.push(`u${i}`, JSON.stringify({ n: `gone${i}`, t: 1, p: {} }));
    // 30 failing recs, each with its own failing field: more distinct paths than are kept.
    for (let i = 0; i < 30; i++) entries.push(`r${i}`, JSON.stringify({ n: 'rec', t: 1, p: { m: { [`k${i}`]: 'x' } } }));
    for (let i = 0; i < 30; i++) entries.push(`bad${i}`, JSON.stringify({ n: 'ping', t: 1, p: { n: i % 2 === 0 ? 'x' : null } }));
    await raw.hset(k.jobs, ...entries);
    // A queue only the registry names (the new job set no longer uses it).
    await raw.hset(queueRegistryKey(prefix), 'old', '{"throttled":[]}');
    await raw.hset(queueKeys(prefix, 'old').dead, 'o1', JSON.stringify({ n: 'ping', t: 1, p: { n: 1 } }));

    const report = await checkStoredJobs({ redis: redisUrl(), prefix, jobs, pageSize: 13 });
    expect(report).toMatchObject({ interrupted: false, scanned: names + 60 + 1, failing: names + 60 + 1 });
    const q = report.queues.find((x) => x.queue === 'q');
    expect(q?.jobs).toHaveLength(2 + LIVE_CHECK_OTHER_NAMES + 1);
    expect(q?.jobs.slice(0, 2).map((t) => t.job)).toEqual(['ping', 'rec']);
    const rec = q?.jobs[1];
    expect(rec?.paths).toHaveLength(LIVE_CHECK_PATHS);
    expect(rec?.paths[0]).toMatchObject({ path: expect.stringMatching(/^m\.k\d+$/), count: 1 });
    expect(rec).toMatchObject({ failing: 30, otherPaths: 30 - LIVE_CHECK_PATHS });
    const rest = q?.jobs.find((t) => t.job === null);
    expect(rest).toMatchObject({ declared: false, scanned: 20, failing: 20, reasons: { unknown_job: 20 } });
    const ping = q?.jobs[0];
    expect(ping?.samples).toHaveLength(LIVE_CHECK_SAMPLES);
    // Every failing ping has the same field `n` wrong: one path, counted 30 times.
    expect(ping?.paths).toEqual([expect.objectContaining({ path: 'n', code: 'invalid_type', count: 30 })]);
    expect(report.queues.find((x) => x.queue === 'old')).toMatchObject({
      declared: false,
      scannedDead: 1,
      failing: 1,
      jobs: [expect.objectContaining({ job: 'ping', declared: false, reasons: expect.objectContaining({ unknown_job: 1 }), hint: expect.stringMatching(/now runs in queue q/) })],
    });
  });

  it('names each failing sample\'s state as getJob does: an error record on a job not scheduled is waiting', async () => {
    const p = testPrefix('live-check-states');
    const k = queueKeys(p, 'q');
    const bad = JSON.stringify({ n: 'ping', t: 1, p: { n: 'x' } });
    // w: waiting; d: delayed; r: retrying (scheduled, with an error); e: waiting again after a failure (promoted).
    await raw.hset(k.jobs, 'w', bad, 'd', bad, 'r', bad, 'e', bad);
    await raw.zadd(k.scheduled, Date.now() + 3_600_000, 'd', Date.now() + 3_600_000, 'r');
    const error = JSON.stringify({ name: 'Error', message: 'boom', attempt: 1, at: 1 });
    await raw.hset(k.errors, 'r', error, 'e', error);
    try {
      const report = await checkStoredJobs({ redis: redisUrl(), prefix: p, jobs });
      const samples = report.queues.find((x) => x.queue === 'q')?.jobs[0]?.samples ?? [];
      expect(Object.fromEntries(samples.map((s) => [s.id, s.state]))).toEqual({ w: 'waiting', d: 'delayed', r: 'retrying', e: 'waiting' });
    } finally {
      await deletePrefix(raw, p);
    }
  });

  it('gives no verdict when stopped, and refuses bad options', async () => {
    const controller = new AbortController();
    controller.abort();
    const report = await checkStoredJobs({ redis: redisUrl(), prefix, jobs, signal: controller.signal });
    expect(report).toMatchObject({ interrupted: true, scanned: 0 });
    await expect(checkStoredJobs({ redis: redisUrl(), prefix, jobs, pageSize: 0 })).rejects.toThrow(InvalidArgumentError);
    await expect(checkStoredJobs({ redis: redisUrl(), prefix, jobs, rate: 1.5 })).rejects.toThrow(/rate must be an integer/);
  });
});

describe('checkStoredJobs errors', () => {
  it('passes on what an onProgress callback throws as it is (not as Redis being unreachable)', async () => {
    const err = new Error('the caller broke');
    await expect(checkStoredJobs({ redis: redisUrl(), prefix, jobs, onProgress: () => { throw err; } })).rejects.toBe(err);
  });
});
