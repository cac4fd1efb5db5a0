/**
 * planPass, the pure decision of one cron pass (issue 16, item 9): which firings a scheduler enqueues given the
 * recorded last firing, the Redis time and when it started; table-driven, no Redis.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs } from '../src/index.js';
import { FUTURE_WAIT_MS, HANDOVER_MS, ON_TIME_MS, planPass, type CronPass } from '../src/worker/cron.js';

const jobs = defineJobs({
  secLast: { payload: z.object({}), cron: '* * * * * *', catchUp: 'last' },
  secNone: { payload: z.object({}), cron: '* * * * * *', catchUp: 'none' },
  secAll: { payload: z.object({}), cron: '* * * * * *', catchUp: 'all' },
  minLast: { payload: z.object({}), cron: '* * * * *', catchUp: 'last' },
  hourLast: { payload: z.object({}), cron: '0 * * * *', catchUp: 'last' },
  hourNone: { payload: z.object({}), cron: '0 * * * *', catchUp: 'none' },
});
type Name = 'secLast' | 'secNone' | 'secAll' | 'minLast' | 'hourLast' | 'hourNone';

const T = Date.UTC(2026, 0, 1, 12, 0, 0); // on a whole minute
const s = (n: number): number => T + n * 1000;

interface Case {
  readonly what: string;
  readonly job: Name;
  readonly last: number;
  readonly now: number;
  readonly since: number;
  readonly expected: CronPass | undefined;
}

const cases: Case[] = [
  { what: 'nothing due yet', job: 'secLast', last: s(0), now: s(0.5), since: s(-10), expected: undefined },
  {
    what: 'a running scheduler 2.5 s late enqueues both firings it was late with',
    job: 'secNone',
    last: s(0),
    now: s(2.5),
    since: s(-10),
    expected: { due: [s(1), s(2)], newLast: s(2), skipped: false },
  },
  {
    what: 'a running scheduler stalled 30 s enqueues all 30 firings (late, not missed)',
    job: 'secLast',
    last: s(0),
    now: s(30.5),
    since: s(-10),
    expected: { due: Array.from({ length: 30 }, (_, i) => s(i + 1)), newLast: s(30), skipped: false },
  },
  {
    what: "after a 30 s outage (no scheduler ran), catchUp 'last' enqueues one firing, the latest",
    job: 'secLast',
    last: s(0),
    now: s(30.5),
    since: s(30.5),
    expected: { due: [s(30)], newLast: s(30), skipped: true },
  },
  {
    what: "after a 30 s outage, catchUp 'none' enqueues the latest only because it is on time",
    job: 'secNone',
    last: s(0),
    now: s(30.5),
    since: s(30.5),
    expected: { due: [s(30)], newLast: s(30), skipped: true },
  },
  {
    what: "catchUp 'all' after a 3.5 s outage enqueues every firing",
    job: 'secAll',
    last: s(0),
    now: s(3.5),
    since: s(3.5),
    expected: { due: [s(1), s(2), s(3)], newLast: s(3), skipped: false },
  },
  {
    what: "catchUp 'none': the only missed firing is 90 s old (beyond 60 s): skipped, nothing enqueued",
    job: 'hourNone',
    last: s(0),
    now: s(3690),
    since: s(3690),
    expected: { due: [], newLast: s(3600), skipped: true },
  },
  {
    what: "catchUp 'last': the same firing 90 s old is enqueued",
    job: 'hourLast',
    last: s(0),
    now: s(3690),
    since: s(3690),
    expected: { due: [s(3600)], newLast: s(3600), skipped: false },
  },
  {
    what: "catchUp 'last' after missing two firings: the latest, the other skipped",
    job: 'minLast',
    last: s(0),
    now: s(150),
    since: s(150),
    expected: { due: [s(120)], newLast: s(120), skipped: true },
  },
  // Review #4: worker A fired s(0) and then blocked; worker B starts at s(2.2). Nobody may drop s(1).
  {
    what: 'B, just started, leaves the firings due before its start to the writer of a recent record (handover)',
    job: 'secLast',
    last: s(0),
    now: s(2.2),
    since: s(2.2),
    expected: { due: [], newLast: s(0), skipped: false, handover: true },
  },
  {
    what: "the same under catchUp 'none'",
    job: 'secNone',
    last: s(0),
    now: s(2.2),
    since: s(2.2),
    expected: { due: [], newLast: s(0), skipped: false, handover: true },
  },
  {
    what: 'A, awake again at s(3.2), enqueues every firing it was late with',
    job: 'secLast',
    last: s(0),
    now: s(3.2),
    since: s(-100),
    expected: { due: [s(1), s(2), s(3)], newLast: s(3), skipped: false },
  },
  {
    what: "then B goes on from A's record",
    job: 'secLast',
    last: s(3),
    now: s(4.1),
    since: s(2.2),
    expected: { due: [s(4)], newLast: s(4), skipped: false },
  },
  {
    what: `A never wakes: once the record is over ${HANDOVER_MS / 1000} s old, B applies catchUp to the firings before its start and enqueues its own`,
    job: 'secLast',
    last: s(0),
    now: s(11.5),
    since: s(2.2),
    expected: { due: [2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(s), newLast: s(11), skipped: true },
  },
  {
    what: `a record older than ${HANDOVER_MS / 1000} s found by a fresh scheduler: an outage, catchUp applies`,
    job: 'secLast',
    last: s(0),
    now: s(HANDOVER_MS / 1000 + 1.5),
    since: s(HANDOVER_MS / 1000 + 1.5),
    expected: { due: [s(HANDOVER_MS / 1000 + 1)], newLast: s(HANDOVER_MS / 1000 + 1), skipped: true },
  },
  {
    // Review #5: failover to a Redis server 2 s behind; 12:00:00 already fired by the old clock.
    what: 'a record 2 s in the future (a small backward step of the Redis clock): wait, fire nothing, keep the record',
    job: 'minLast',
    last: s(0),
    now: s(-2),
    since: s(-100),
    expected: undefined,
  },
  {
    what: `a record exactly ${FUTURE_WAIT_MS / 1000} s in the future: still waited for`,
    job: 'secLast',
    last: s(0),
    now: s(-FUTURE_WAIT_MS / 1000),
    since: s(-100),
    expected: undefined,
  },
  {
    what: 'a record 90 s in the future (a clock ran ahead): reset to now',
    job: 'secLast',
    last: s(90),
    now: s(0),
    since: s(-100),
    expected: { due: [], newLast: s(0), skipped: false, reset: true },
  },
];

describe('planPass', () => {
  it.each(cases)('$what', ({ job, last, now, since, expected }) => {
    const resolved = jobs.jobs.get(job);
    if (resolved === undefined) throw new Error(job);
    expect(planPass(resolved, last, now, since)).toEqual(expected);
  });

  it('the limits are as documented', () => {
    expect(ON_TIME_MS).toBe(60_000);
    expect(HANDOVER_MS).toBe(10_000);
    expect(FUTURE_WAIT_MS).toBe(60_000);
  });
});
