/**
 * Scheduling (issue 4): delayed jobs (listed, cancellable, run once due) and cron jobs (each firing enqueued exactly
 * once by any number of worker processes, catch-up after downtime, time zones, no orphaned schedules, the firing
 * payload checked at defineJobs).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, JobDefinitionError, queueKeys, type JobSet } from '../src/index.js';
import { flowJobs } from './fixtures/flow-jobs.js';
import { PROCESS_TEST_MS, PROCESS_WAIT_MS, recordedStarts, spawnFlowWorker } from './fixtures/flow-process.js';
import { cleanupRegistry, deferred, deletePrefix, keysUnder, queueCounts, rawRedis, redisUrl, testClient, testPrefix, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  task: { payload: z.object({ label: z.string() }) },
  flaky: { payload: z.object({ label: z.string() }), attempts: 2, backoff: { type: 'fixed', delay: '1h' } },
  once: { payload: z.object({ key: z.string() }), queue: 'unique', unique: true },
});

function setup<J extends JobSet>(name: string, set: J) {
  const { prefix, client, raw } = testClient(set, name, defer);
  return { prefix, client, raw };
}

describe('delayed jobs', () => {
  it('delay and runAt: state delayed, listed soonest first by scheduled(), run once due, after ready jobs', async () => {
    const { prefix, client } = setup('delayed', jobs);
    const later = await client.enqueue('task', { label: 'later' }, { delay: '1500ms' });
    const at = await client.enqueue('task', { label: 'at' }, { runAt: new Date(Date.now() + 1000) });
    await client.enqueue('task', { label: 'now' });

    const laterInfo = await client.getJob(later.id);
    const atInfo = await client.getJob(at.id);
    expect(laterInfo.state).toBe('delayed');
    expect(atInfo.state).toBe('delayed');
    const listed = await client.scheduled('default');
    expect(listed.map((s) => [s.id, s.state, s.name, s.payload, s.attempts])).toEqual([
      [at.id, 'delayed', 'task', { label: 'at' }, 0],
      [later.id, 'delayed', 'task', { label: 'later' }, 0],
    ]);
    expect(listed.map((s) => s.runAt.getTime())).toEqual([atInfo.runAt?.getTime(), laterInfo.runAt?.getTime()]);
    expect(await client.scheduled('default', { offset: 1, limit: 1 })).toMatchObject([{ id: later.id }]);

    const ran: { label: string; at: number }[] = [];
    const worker = createWorker(
      jobs,
      { task: ({ label }) => void ran.push({ label, at: Date.now() }), flaky: () => {}, once: () => {} },
      { redis: redisUrl(), prefix, logger: false, concurrency: 1, prefetch: 0 },
    );
    defer(() => worker.close());
    await waitFor(() => ran.length === 3, 'the three jobs to run');
    expect(ran.map((r) => r.label)).toEqual(['now', 'at', 'later']);
    // Never before its due time (same machine: the Redis clock and Date.now() are one clock).
    expect(ran[1]?.at).toBeGreaterThanOrEqual(atInfo.runAt?.getTime() as number);
    expect(ran[2]?.at).toBeGreaterThanOrEqual(laterInfo.runAt?.getTime() as number);
    expect(await client.scheduled('default')).toEqual([]);
  });

  it('cancel removes a waiting, delayed or retrying job for good; a running one is reported active', async () => {
    const { prefix, client, raw } = setup('cancel', jobs);
    const delayed = await client.enqueue('task', { label: 'cancelled-delayed' }, { delay: 300 });
    const waiting = await client.enqueue('task', { label: 'cancelled-waiting' });
    expect(await client.cancel(delayed.id)).toBe('cancelled');
    expect(await client.cancel(waiting.id)).toBe('cancelled');
    expect(await client.cancel(waiting.id)).toBe('unknown');
    expect(await client.cancel('no-such-job')).toBe('unknown');
    expect((await client.getJob(delayed.id)).state).toBe('unknown');
    expect(await client.scheduled('default')).toEqual([]);
    // A job due after the cancelled one: once it has run, the cancelled one would have run too.
    const marker = await client.enqueue('task', { label: 'marker' }, { delay: 600 });

    const ran: string[] = [];
    const gate = deferred();
    const worker = createWorker(
      jobs,
      {
        task: async ({ label }) => {
          ran.push(label);
          if (label === 'block') await gate.promise;
        },
        flaky: ({ label }) => {
          ran.push(label);
          throw new Error('fails, retried in an hour');
        },
        once: () => {},
      },
      { redis: redisUrl(), prefix, logger: false },
    );
    defer(() => worker.close());

    const retrying = await client.enqueue('flaky', { label: 'flaky' });
    const listed = await waitFor(async () => {
      const s = await client.scheduled('default');
      return s.length === 2 ? s : undefined;
    }, 'the failed job to be scheduled for its retry');
    expect(listed.find((s) => s.id === retrying.id)).toMatchObject({ state: 'retrying', attempts: 1, name: 'flaky' });
    expect(await client.cancel(retrying.id)).toBe('cancelled');

    const running = await client.enqueue('task', { label: 'block' });
    await waitFor(() => ran.includes('block'), 'the blocking job to start');
    expect(await client.cancel(running.id)).toBe('active');
    gate.resolve();
    await waitFor(async () => (await client.getJob(running.id)).state === 'completed', 'the running job to complete');
    await waitFor(async () => (await client.getJob(marker.id)).state === 'completed', 'the marker job to complete');

    expect(ran.sort()).toEqual(['block', 'flaky', 'marker']);
    expect(await queueCounts(raw, queueKeys(prefix, 'default'))).toMatchObject({ wait: 0, prio: 0, scheduled: 0, active: 0, jobs: 0, attempts: 0, errors: 0 });
  });

  it('cancelling a delayed unique job releases its lock', async () => {
    const { prefix, client, raw } = setup('cancel-unique', jobs);
    const first = await client.enqueue('once', { key: 'k' }, { delay: '1h' });
    expect(await client.enqueue('once', { key: 'k' })).toEqual({ id: first.id, duplicate: true });
    expect(await keysUnder(raw, `${prefix}:{unique}:unique`)).toHaveLength(1);
    expect(await client.cancel(first.id)).toBe('cancelled');
    expect(await keysUnder(raw, `${prefix}:{unique}:unique`)).toHaveLength(0);
    const second = await client.enqueue('once', { key: 'k' });
    expect(second.duplicate).toBe(false);
    expect(second.id).not.toBe(first.id);
  });
});

/** The firing times (ms) of a cron job's executions, in execution order; duplicates are kept. */
async function executedFirings(raw: ReturnType<typeof rawRedis>, prefix: string, job: string): Promise<number[]> {
  return (await recordedStarts(raw, prefix, job)).map((s) => {
    const m = new RegExp(`^cron:${job}:(\\d+)$`).exec(s.id);
    if (!m) throw new Error(`unexpected id of a cron job: ${s.id}`);
    return Number(m[1]);
  });
}

/** Gaps (ms between consecutive firings, more than one second) in an every-second schedule. */
function gapsOf(firings: readonly number[]): { after: number; missing: number }[] {
  const sorted = [...firings].sort((a, b) => a - b);
  const gaps: { after: number; missing: number }[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const d = (sorted[i] as number) - (sorted[i - 1] as number);
    if (d > 1000) gaps.push({ after: sorted[i - 1] as number, missing: d / 1000 - 1 });
  }
  return gaps;
}

describe('cron jobs in three worker processes', () => {
  it('enqueue each firing exactly once, and after all were down follow catchUp none / last / all', async () => {
    const { prefix, raw } = setup('cron-procs', flowJobs);
    const names = ['tickNone', 'tickLast', 'tickAll'] as const;
    const startThree = async () => {
      const procs = [0, 1, 2].map(() => spawnFlowWorker(prefix, { queues: ['cron'] }, defer));
      await Promise.all(procs.map((p) => p.ready()));
      return procs;
    };
    const everyJobHas = (n: number, after = 0) =>
      waitFor(
        async () => {
          for (const name of names) if ((await executedFirings(raw, prefix, name)).filter((f) => f > after).length < n) return false;
          return true;
        },
        `${n} firings of every cron job`,
        PROCESS_WAIT_MS,
      );

    const testStart = Date.now();
    let procs = await startThree();
    await everyJobHas(4);
    await Promise.all(procs.map((p) => p.stop()));
    const stoppedAt = Date.now();
    await sleep(3_500); // every worker is down: about four firings are missed
    procs = await startThree();
    await everyJobHas(3, stoppedAt + 3_500);
    await Promise.all(procs.map((p) => p.stop()));

    for (const name of names) {
      const firings = await executedFirings(raw, prefix, name);
      // Exactly once: no firing ran twice.
      expect(new Set(firings).size, `${name}: a firing ran twice`).toBe(firings.length);
      // No firing ran before its time (same host: the worker's clock is Redis's), and each is a firing of the schedule
      // that ran once the workers were up: none before the test began, none after it.
      const starts = await recordedStarts(raw, prefix, name);
      for (const [i, f] of firings.entries()) expect(starts[i]?.at, `${name}: firing ${f} started early`).toBeGreaterThanOrEqual(f);
      expect(Math.min(...firings), `${name}: a firing before the test`).toBeGreaterThanOrEqual(testStart - 1000);
      const gaps = gapsOf(firings);
      if (name === 'tickAll') {
        // Every missed firing was enqueued after the restart: none missing from first to last.
        expect(gaps, `${name}: missing firings`).toEqual([]);
      } else {
        // Only the latest missed firing ran (for `none` because it was under 60 s late): one gap, in the downtime.
        expect(gaps, `${name}: gaps`).toHaveLength(1);
        expect(gaps[0]?.missing).toBeGreaterThanOrEqual(2);
        expect(gaps[0]?.after).toBeLessThanOrEqual(stoppedAt);
      }
    }
    // Each record holds the last firing handled.
    const records = await raw.hgetall(queueKeys(prefix, 'cron').cron);
    expect(Object.keys(records).sort()).toEqual([...names].sort());
  }, PROCESS_TEST_MS);
});

/** A job set with cron jobs whose record we set by hand (as if every worker had been down since then). */
async function startCronWorker<J extends JobSet>(set: J, prefix: string, records: Record<string, number>) {
  const raw = rawRedis();
  defer(() => raw.disconnect());
  const client = createClient(set, { redis: redisUrl(), prefix });
  defer(() => client.close());
  for (const q of set.queues) await client.pause(q); // only look at what is enqueued
  for (const [name, at] of Object.entries(records)) {
    const job = set.jobs.get(name);
    await raw.hset(queueKeys(prefix, job?.queue ?? 'default').cron, name, String(at));
  }
  const handlers = Object.fromEntries([...set.jobs.keys()].map((n) => [n, () => {}]));
  const worker = createWorker(set, handlers as never, { redis: redisUrl(), prefix, logger: false });
  defer(() => worker.close());
  return { raw, client, worker };
}

/** Ids of the jobs of `name` in `queue` (waiting, not run: the queue is paused), firing times ascending. */
async function enqueuedFirings(raw: ReturnType<typeof rawRedis>, prefix: string, queue: string, name: string): Promise<number[]> {
  const ids = await raw.hkeys(queueKeys(prefix, queue).jobs);
  return ids
    .filter((id) => id.startsWith(`cron:${name}:`))
    .map((id) => Number(id.slice(`cron:${name}:`.length)))
    .sort((a, b) => a - b);
}

describe('cron catch-up after downtime', () => {
  it('none skips a firing over 60 s late, last enqueues only the latest missed one, all enqueues each', async () => {
    const prefix = testPrefix('catchup');
    defer(async () => {
      const raw = rawRedis();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    // Hourly, last fired 5 minutes ago: three firings were missed since the record (2.5 h ago).
    const latest = Math.floor((Date.now() - 300_000) / 1000) * 1000;
    const d = new Date(latest);
    const pattern = `${d.getUTCSeconds()} ${d.getUTCMinutes()} * * * *`;
    const set = defineJobs({
      hourlyNone: { payload: z.object({}), queue: 'cron', cron: pattern, catchUp: 'none' },
      hourlyLast: { payload: z.object({}), queue: 'cron', cron: pattern },
      hourlyAll: { payload: z.object({}), queue: 'cron', cron: pattern, catchUp: 'all' },
    });
    const since = latest - 9_000_000;
    const { raw } = await startCronWorker(set, prefix, { hourlyNone: since, hourlyLast: since, hourlyAll: since });
    const k = queueKeys(prefix, 'cron');
    await waitFor(async () => {
      const r = await raw.hmget(k.cron, 'hourlyNone', 'hourlyLast', 'hourlyAll');
      return r.every((v) => v === String(latest));
    }, 'every record to reach the latest firing');
    expect(await enqueuedFirings(raw, prefix, 'cron', 'hourlyNone')).toEqual([]);
    expect(await enqueuedFirings(raw, prefix, 'cron', 'hourlyLast')).toEqual([latest]);
    expect(await enqueuedFirings(raw, prefix, 'cron', 'hourlyAll')).toEqual([latest - 7_200_000, latest - 3_600_000, latest]);
  });

  it('all enqueues at most 1,000 missed firings, the most recent ones', async () => {
    const prefix = testPrefix('catchup-cap');
    defer(async () => {
      const raw = rawRedis();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const set = defineJobs({ everySecond: { payload: z.object({}), queue: 'cron', cron: '* * * * * *', catchUp: 'all' } });
    const now = Math.floor(Date.now() / 1000) * 1000;
    const { raw, worker } = await startCronWorker(set, prefix, { everySecond: now - 2_000_000 });
    const firings = await waitFor(async () => {
      const f = await enqueuedFirings(raw, prefix, 'cron', 'everySecond');
      return f.length >= 1000 ? f : undefined;
    }, 'the catch-up firings');
    await worker.close();
    const all = await enqueuedFirings(raw, prefix, 'cron', 'everySecond');
    expect(gapsOf(all)).toEqual([]);
    // The 1,000 before `now` and whatever fired on time since: none of the ~1,000 older missed firings.
    expect(all[0]).toBeGreaterThanOrEqual(now - 999_000);
    expect(all.filter((f) => f <= now).length).toBeLessThanOrEqual(1000);
    expect(firings.length).toBeGreaterThanOrEqual(1000);
  });

  it('fires at the local time of tz (UTC by default); 5-field expressions have minute precision', async () => {
    const prefix = testPrefix('cron-tz');
    defer(async () => {
      const raw = rawRedis();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const set = defineJobs({
      noonKolkata: { payload: z.object({}), queue: 'cron', cron: '0 0 12 * * *', tz: 'Asia/Kolkata', catchUp: 'all' },
      noonUtc: { payload: z.object({}), queue: 'cron', cron: '0 0 12 * * *', catchUp: 'all' },
      noonFiveFields: { payload: z.object({}), queue: 'cron', cron: '0 12 * * *', catchUp: 'all' },
    });
    const since = Date.now() - 3 * 86_400_000;
    const { raw } = await startCronWorker(set, prefix, { noonKolkata: since, noonUtc: since, noonFiveFields: since });
    const timeOfDay = async (name: string) => {
      const f = await waitFor(async () => {
        const got = await enqueuedFirings(raw, prefix, 'cron', name);
        return got.length === 3 ? got : undefined;
      }, `three daily firings of ${name}`);
      return f.map((ms) => ms % 86_400_000);
    };
    const h = 3_600_000;
    expect(await timeOfDay('noonKolkata')).toEqual([6.5 * h, 6.5 * h, 6.5 * h]); // 12:00 IST = 06:30 UTC
    expect(await timeOfDay('noonUtc')).toEqual([12 * h, 12 * h, 12 * h]);
    expect(await timeOfDay('noonFiveFields')).toEqual([12 * h, 12 * h, 12 * h]);
  });

  it('each firing is a job with id cron:<name>:<firing ms> carrying cronPayload (default {})', async () => {
    const prefix = testPrefix('cron-payload');
    defer(async () => {
      const raw = rawRedis();
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const set = defineJobs({
      report: { payload: z.object({ to: z.string(), days: z.number().default(7) }), queue: 'cron', cron: '0 0 * * * *', cronPayload: { to: 'ops' } },
      cleanup: { payload: z.object({ olderThan: z.string().default('30d') }), queue: 'cron', cron: '0 0 * * * *' },
    });
    const lastHour = Math.floor(Date.now() / 3_600_000) * 3_600_000;
    const { client } = await startCronWorker(set, prefix, { report: lastHour - 1000, cleanup: lastHour - 1000 });
    const report = await waitFor(async () => {
      const j = await client.getJob(`cron:report:${lastHour}`);
      return j.state === 'waiting' ? j : undefined;
    }, 'the report firing');
    expect(report).toMatchObject({ name: 'report', queue: 'cron', payload: { to: 'ops' }, enqueuedAt: new Date(lastHour) });
    const cleanup = await waitFor(async () => {
      const j = await client.getJob(`cron:cleanup:${lastHour}`);
      return j.state === 'waiting' ? j : undefined;
    }, 'the cleanup firing');
    expect(cleanup.payload).toEqual({});
  });
});

describe('cron schedules removed from the definitions', () => {
  it('a worker deletes the records of jobs that are gone or no longer have a schedule, and keeps the others', async () => {
    const { prefix, raw } = setup('cron-orphans', flowJobs);
    const k = queueKeys(prefix, 'cron');
    const set = defineJobs({
      kept: { payload: z.object({}), queue: 'cron', cron: '0 0 1 1 *' },
      unscheduled: { payload: z.object({}), queue: 'cron' },
    });
    await raw.hset(k.cron, 'kept', '1000', 'unscheduled', '1000', 'removed', '1000');
    const worker = createWorker(set, { kept: () => {}, unscheduled: () => {} }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    await waitFor(async () => (await raw.hlen(k.cron)) === 1, 'the orphaned records to be deleted');
    expect(await raw.hkeys(k.cron)).toEqual(['kept']);
  });

  it('a worker deletes the records of a queue whose cron jobs were all removed (the queue is gone)', async () => {
    const { prefix, raw } = setup('cron-orphan-queue', flowJobs);
    // `reports` held only a cron job; the new definitions have no `reports` queue at all.
    const gone = queueKeys(prefix, 'reports').cron;
    // The old deploy: a worker with the cron job ran (and registered the queue as one with cron records).
    const oldSet = defineJobs({ weeklyReport: { payload: z.object({}), queue: 'reports', cron: '0 0 1 1 *' } });
    const old = createWorker(oldSet, { weeklyReport: () => {} }, { redis: redisUrl(), prefix, logger: false });
    await waitFor(async () => (await raw.exists(gone)) === 1, 'the old worker to record its cron job');
    await old.close();
    await raw.hset(gone, 'weeklyReport', '1000');
    const set = defineJobs({ task: { payload: z.object({}) } });
    const worker = createWorker(set, { task: () => {} }, { redis: redisUrl(), prefix, logger: false });
    defer(() => worker.close());
    await waitFor(async () => (await raw.exists(gone)) === 0, 'the cron record of the removed queue to be deleted');
  });
});

describe('cron definitions', () => {
  it('a cronPayload (or the default {}) that fails the schema is a JobDefinitionError at defineJobs', () => {
    const schema = z.object({ days: z.number().min(1) });
    expect(() => defineJobs({ r: { payload: schema, cron: '0 * * * *', cronPayload: { days: 0 } } })).toThrow(JobDefinitionError);
    expect(() => defineJobs({ r: { payload: schema, cron: '0 * * * *', cronPayload: { days: 0 } } })).toThrow(/cronPayload/);
    expect(() => defineJobs({ r: { payload: schema, cron: '0 * * * *' } })).toThrow(/\(\{\}, as no cronPayload is given\) fails the schema/);
    // @ts-expect-error: cronPayload is typed by the job's own schema input
    expect(() => defineJobs({ r: { payload: schema, cron: '0 * * * *', cronPayload: { days: 'seven' } } })).toThrow(JobDefinitionError);
    expect(() => defineJobs({ r: { payload: schema, cron: '0 * * * *', cronPayload: { days: 7 } } })).not.toThrow();
  });

  it('refuses bad expressions, unknown time zones, bad catchUp, and cron options without cron', () => {
    const payload = z.object({});
    expect(() => defineJobs({ r: { payload, cron: '* * *' } })).toThrow(/has 3 fields/);
    expect(() => defineJobs({ r: { payload, cron: '99 * * * *' } })).toThrow(JobDefinitionError);
    expect(() => defineJobs({ r: { payload, cron: '0 * * * *', tz: 'Mars/Olympus' } })).toThrow(/time zone/);
    expect(() => defineJobs({ r: { payload, cron: '0 * * * *', catchUp: 'some' as 'all' } })).toThrow(/catchUp/);
    expect(() => defineJobs({ r: { payload, tz: 'UTC' } })).toThrow(/only applies to jobs with a "cron" schedule/);
    expect(() => defineJobs({ r: { payload, catchUp: 'all' } })).toThrow(JobDefinitionError);
    expect(() => defineJobs({ r: { payload, cronPayload: {} } })).toThrow(JobDefinitionError);
  });
});

describe('cron firings of a throttled job type', () => {
  it('respect its concurrency cap', async () => {
    const prefix = testPrefix('cron-capped');
    const raw = rawRedis();
    defer(async () => {
      await deletePrefix(raw, prefix);
      raw.disconnect();
    });
    const set = defineJobs({
      capped: { payload: z.object({}), queue: 'cron', cron: '* * * * * *', catchUp: 'all', concurrency: 1 },
    });
    await raw.hset(queueKeys(prefix, 'cron').cron, 'capped', String(Math.floor(Date.now() / 1000) * 1000 - 5000));
    let running = 0;
    let max = 0;
    let done = 0;
    const worker = createWorker(
      set,
      {
        capped: async () => {
          max = Math.max(max, ++running);
          await sleep(200);
          running--;
          done++;
        },
      },
      { redis: redisUrl(), prefix, logger: false, concurrency: 10 },
    );
    defer(() => worker.close());
    await waitFor(() => done >= 5, 'the five caught-up firings to run');
    expect(max).toBe(1);
  });
});
