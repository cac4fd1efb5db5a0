/**
 * Option resolution of defineJobs without Redis: every default (docs/configuration.md), every accepted form, and a
 * JobDefinitionError naming the job and the option for every refused one.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { checkAttempts, checkCron, checkPriority, checkQueueName, defineJobs, isZodSchema, JOB_DEFAULTS } from '../../src/define.js';
import { JobDefinitionError } from '../../src/errors.js';

const p = z.object({ n: z.number().optional() });
const one = (def: Record<string, unknown>) => defineJobs({ j: { payload: p, ...def } } as never).jobs.get('j');
const refuses = (def: Record<string, unknown>, option: string | RegExp, message: RegExp) => {
  let err: unknown;
  try {
    one(def);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(JobDefinitionError);
  expect((err as Error).message).toMatch(/"j"/);
  expect((err as Error).message).toMatch(option);
  expect((err as Error).message).toMatch(message);
};

describe('defaults', () => {
  it('queue "default", 5 attempts, exponential 1 s backoff capped at 1 h with 20 % jitter, priority 0, nothing else', () => {
    const j = one({});
    expect(j).toMatchObject({
      name: 'j',
      queue: 'default',
      attempts: 5,
      priority: 0,
      backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 },
      timeoutMs: undefined,
      unique: undefined,
      throttle: undefined,
      cron: undefined,
      description: undefined,
    });
    expect(JOB_DEFAULTS).toEqual({ queue: 'default', attempts: 5, backoff: { type: 'exponential', delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 }, priority: 0 });
  });

  it('a fixed backoff has no jitter unless asked; true means 0.2, false 0', () => {
    expect(one({ backoff: { type: 'fixed' } })?.backoff).toEqual({ type: 'fixed', delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0 });
    expect(one({ backoff: { type: 'fixed', jitter: true } })?.backoff.jitter).toBe(0.2);
    expect(one({ backoff: { jitter: false } })?.backoff.jitter).toBe(0);
    expect(one({ backoff: { jitter: 0.5 } })?.backoff.jitter).toBe(0.5);
    expect(one({ backoff: { jitter: 0 } })?.backoff.jitter).toBe(0);
    expect(one({ backoff: { jitter: 1 } })?.backoff.jitter).toBe(1);
    expect(one({ backoff: {} })?.backoff).toEqual({ type: 'exponential', delayMs: 1000, maxDelayMs: 3_600_000, jitter: 0.2 });
    expect(one({ backoff: { delay: '2s', maxDelay: '2s' } })?.backoff).toMatchObject({ delayMs: 2000, maxDelayMs: 2000 });
    expect(one({ backoff: { delay: 0 } })?.backoff.delayMs).toBe(0);
  });

  it('unique: true is the whole payload for 1 h until finish; an object fills in the same', () => {
    expect(one({ unique: true })?.unique).toEqual({ by: undefined, ttlMs: 3_600_000, until: 'finish' });
    expect(one({ unique: {} })?.unique).toEqual({ by: undefined, ttlMs: 3_600_000, until: 'finish' });
    expect(one({ unique: { by: ['n'], ttl: '5m', until: 'start' } })?.unique).toEqual({ by: ['n'], ttlMs: 300_000, until: 'start' });
    expect(one({ unique: false })?.unique).toBeUndefined();
  });

  it('throttles: a cap alone, a rate alone, both', () => {
    expect(one({ concurrency: 2 })?.throttle).toEqual({ concurrency: 2, rateMax: 0, ratePerMs: 0 });
    expect(one({ rateLimit: { max: 5, per: '1s' } })?.throttle).toEqual({ concurrency: 0, rateMax: 5, ratePerMs: 1000 });
    expect(one({ concurrency: 1, rateLimit: { max: 100_000, per: 1 } })?.throttle).toEqual({ concurrency: 1, rateMax: 100_000, ratePerMs: 1 });
  });

  it('cron: UTC, catch up the last firing, payload {} by default', () => {
    const j = one({ cron: '* * * * *' });
    expect(j?.cron).toMatchObject({ pattern: '* * * * *', tz: 'UTC', catchUp: 'last' });
  });

  it('keeps the given queue, attempts, priority, timeout and description', () => {
    expect(one({ queue: 'mail', attempts: 1, priority: -1000, timeout: '2s', description: 'd' })).toMatchObject({
      queue: 'mail',
      attempts: 1,
      priority: -1000,
      timeoutMs: 2000,
      description: 'd',
    });
    expect(one({ attempts: 10_000, priority: 1000 })).toMatchObject({ attempts: 10_000, priority: 1000 });
  });
});

describe('refusals', () => {
  it('names', () => {
    expect(() => defineJobs({ '1x': { payload: p } } as never)).toThrow(/is not a valid job name/);
    expect(() => defineJobs({ ['a'.repeat(101)]: { payload: p } } as never)).toThrow(JobDefinitionError);
    expect(() => defineJobs({ ['a'.repeat(100)]: { payload: p } } as never)).not.toThrow();
    refuses({ queue: 'bad queue' }, /queue/, /not a valid queue name/);
    refuses({ queue: 'q'.repeat(65) }, /queue/, /not a valid queue name/);
    expect(one({ queue: 'q'.repeat(64) })?.queue).toBe('q'.repeat(64));
  });

  it('shape of the definition and the payload', () => {
    expect(() => defineJobs({ j: 5 } as never)).toThrow(/definition must be an object/);
    expect(() => defineJobs({ j: null } as never)).toThrow(/definition must be an object/);
    expect(() => defineJobs({ j: [] } as never)).toThrow(/definition must be an object/);
    expect(() => defineJobs({ j: {} } as never)).toThrow(/payload.*is missing/);
    expect(() => defineJobs({ j: { payload: { parse() {} } } } as never)).toThrow(/must be a zod schema/);
    refuses({ colour: 'red' }, /colour/, /unknown option/);
  });

  it('numbers out of range', () => {
    refuses({ attempts: 0 }, /attempts/, /between 1 and 10000/);
    refuses({ attempts: 10_001 }, /attempts/, /between 1 and 10000/);
    refuses({ attempts: 1.5 }, /attempts/, /must be an integer/);
    refuses({ priority: 1001 }, /priority/, /between -1000 and 1000/);
    refuses({ priority: -1001 }, /priority/, /between -1000 and 1000/);
    refuses({ priority: '1' }, /priority/, /must be an integer/);
    refuses({ timeout: 0 }, /timeout/, /greater than zero/);
    refuses({ timeout: 'soon' }, /timeout/, /must be milliseconds/);
    refuses({ description: 5 }, /description/, /must be a string/);
  });

  it('backoff', () => {
    refuses({ backoff: 'fast' }, /backoff/, /must be an object/);
    refuses({ backoff: null }, /backoff/, /must be an object/);
    refuses({ backoff: [] }, /backoff/, /must be an object/);
    refuses({ backoff: { type: 'linear' } }, /backoff\.type/, /"exponential" or "fixed"/);
    refuses({ backoff: { factor: 2 } }, /backoff\.factor/, /unknown option/);
    refuses({ backoff: { delay: '2s', maxDelay: '1s' } }, /backoff\.maxDelay/, /must not be less than backoff\.delay/);
    refuses({ backoff: { delay: -1 } }, /backoff\.delay/, /negative/);
    refuses({ backoff: { jitter: 1.5 } }, /backoff\.jitter/, /between 0 and 1/);
    refuses({ backoff: { jitter: -0.1 } }, /backoff\.jitter/, /between 0 and 1/);
    refuses({ backoff: { jitter: 'some' } }, /backoff\.jitter/, /between 0 and 1/);
  });

  it('unique', () => {
    refuses({ unique: 'yes' }, /unique/, /must be true or an object/);
    refuses({ unique: [] }, /unique/, /must be true or an object/);
    refuses({ unique: null }, /unique/, /must be true or an object/);
    refuses({ unique: { key: 'n' } }, /unique\.key/, /unknown option/);
    refuses({ unique: { by: [] } }, /unique\.by/, /non-empty list/);
    refuses({ unique: { by: [''] } }, /unique\.by/, /non-empty list/);
    refuses({ unique: { by: 'n' } }, /unique\.by/, /non-empty list/);
    refuses({ unique: { ttl: 0 } }, /unique\.ttl/, /greater than zero/);
    refuses({ unique: { until: 'never' } }, /unique\.until/, /"start" or "finish"/);
  });

  it('throttles', () => {
    refuses({ concurrency: 0 }, /concurrency/, /at least 1/);
    refuses({ concurrency: 1.5 }, /concurrency/, /at least 1/);
    refuses({ concurrency: '2' }, /concurrency/, /at least 1/);
    refuses({ rateLimit: 5 }, /rateLimit/, /must be an object/);
    refuses({ rateLimit: null }, /rateLimit/, /must be an object/);
    refuses({ rateLimit: [] }, /rateLimit/, /must be an object/);
    refuses({ rateLimit: { max: 1, per: '1s', burst: 2 } }, /rateLimit\.burst/, /unknown option/);
    refuses({ rateLimit: { max: 0, per: '1s' } }, /rateLimit\.max/, /1 to 100,000/);
    refuses({ rateLimit: { max: 100_001, per: '1s' } }, /rateLimit\.max/, /1 to 100,000/);
    refuses({ rateLimit: { max: 1.5, per: '1s' } }, /rateLimit\.max/, /1 to 100,000/);
    refuses({ rateLimit: { max: 1 } }, /rateLimit\.per/, /is missing/);
    refuses({ rateLimit: { max: 1, per: 0 } }, /rateLimit\.per/, /greater than zero/);
  });
});

describe('the check functions', () => {
  it('checkPriority, checkAttempts, checkQueueName return a problem or undefined', () => {
    expect(checkPriority(0)).toBeUndefined();
    expect(checkPriority(1000)).toBeUndefined();
    expect(checkPriority(-1000)).toBeUndefined();
    expect(checkPriority(1001)).toBe('must be between -1000 and 1000, got 1001');
    expect(checkPriority(0.5)).toBe('must be an integer, got number 0.5');
    expect(checkAttempts(1)).toBeUndefined();
    expect(checkAttempts(10_000)).toBeUndefined();
    expect(checkAttempts(0)).toBe('must be between 1 and 10000, got 0');
    expect(checkAttempts('3')).toBe('must be an integer, got "3"');
    expect(checkQueueName('a-b_c.d')).toBeUndefined();
    expect(checkQueueName('9')).toBeUndefined();
    expect(checkQueueName('-a')).toMatch(/is not a valid queue name/);
    expect(checkQueueName(5)).toBe('must be a string, got number 5');
  });

  it('checkCron refuses wrong field counts, unknown zones and bad expressions', () => {
    expect(checkCron('* * * * *', 'UTC')).toBeUndefined();
    expect(checkCron('* * * * * *', 'Europe/Berlin')).toBeUndefined();
    expect(checkCron('@daily', 'UTC')).toBeUndefined();
    expect(checkCron('* * *', 'UTC')).toMatch(/has 3 fields; a cron expression has 5/);
    expect(checkCron('* * * * * * *', 'UTC')).toMatch(/has 7 fields/);
    expect(checkCron('* * * * *', 'Mars/Olympus')).toMatch(/time zone "Mars\/Olympus" is unknown/);
    expect(checkCron('99 * * * *', 'UTC')).toMatch(/is not a valid cron expression/);
    expect(checkCron(5, 'UTC')).toMatch(/must be a cron expression string/);
  });

  it('isZodSchema tells zod schemas from look-alikes', () => {
    expect(isZodSchema(z.string())).toBe(true);
    expect(isZodSchema({ _zod: 1 })).toBe(false);
    expect(isZodSchema({})).toBe(false);
    expect(isZodSchema(null)).toBe(false);
  });
});
