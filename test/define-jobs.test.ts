/**
 * defineJobs: definitions are checked when declared (a clear error naming the job and the option), and every
 * option gets its documented default, with durations given as milliseconds or strings.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs, JobDefinitionError } from '../src/index.js';

const payload = z.object({});

/** Runs `define`, expects a JobDefinitionError and returns it. */
function definitionError(define: () => unknown): JobDefinitionError {
  let caught: unknown;
  try {
    define();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(JobDefinitionError);
  return caught as JobDefinitionError;
}

describe('defineJobs refuses bad definitions, naming the job and the option', () => {
  it.each([
    ['an unknown option', { payload, retries: 3 }, 'retries'],
    ['an unknown backoff option', { payload, backoff: { delay: 10, factor: 2 } }, 'backoff.factor'],
    ['a negative timeout', { payload, timeout: -5 }, 'timeout'],
    ['a zero timeout', { payload, timeout: 0 }, 'timeout'],
    ['a negative backoff delay', { payload, backoff: { delay: '-1s' } }, 'backoff.delay'],
    ['an unparsable duration', { payload, timeout: 'soon' }, 'timeout'],
    ['maxDelay below delay', { payload, backoff: { delay: '10s', maxDelay: '1s' } }, 'backoff.maxDelay'],
    ['a jitter above 1', { payload, backoff: { jitter: 2 } }, 'backoff.jitter'],
    ['an unknown backoff type', { payload, backoff: { type: 'linear' } }, 'backoff.type'],
    ['zero attempts', { payload, attempts: 0 }, 'attempts'],
    ['fractional attempts', { payload, attempts: 1.5 }, 'attempts'],
    ['a priority out of range', { payload, priority: 5000 }, 'priority'],
    ['a bad queue name', { payload, queue: 'has space' }, 'queue'],
    ['a payload that is not a zod schema', { payload: { type: 'object' } }, 'payload'],
    ['a missing payload', { queue: 'q' }, 'payload'],
  ])('%s', (_what, definition, option) => {
    const err = definitionError(() => defineJobs({ myJob: definition as never }));
    expect(err.job).toBe('myJob');
    expect(err.option).toBe(option);
    expect(err.message).toContain('"myJob"');
    expect(err.message).toContain(option);
  });

  it.each(['1job', 'has space', 'a:b', '', 'x'.repeat(101)])('refuses the job name %j', (name) => {
    const err = definitionError(() => defineJobs({ [name]: { payload } }));
    expect(err.job).toBe(name);
  });

  it('refuses an empty declaration', () => {
    definitionError(() => defineJobs({}));
  });
});

describe('defineJobs resolves options', () => {
  it('fills in the documented defaults', () => {
    const set = defineJobs({ plain: { payload } });
    const job = set.jobs.get('plain');
    expect(job).toMatchObject({
      name: 'plain',
      queue: 'default',
      attempts: 5,
      priority: 0,
      timeoutMs: undefined,
      backoff: { type: 'exponential', delayMs: 1_000, maxDelayMs: 3_600_000, jitter: 0.2 },
    });
    expect(set.queues).toEqual(['default']);
  });

  it('accepts durations as milliseconds or strings', () => {
    const set = defineJobs({
      a: { payload, timeout: '30s', backoff: { type: 'fixed', delay: '1m30s', maxDelay: '2h' } },
      b: { payload, timeout: 250, backoff: { delay: '500ms' }, queue: 'other' },
    });
    expect(set.jobs.get('a')).toMatchObject({ timeoutMs: 30_000, backoff: { type: 'fixed', delayMs: 90_000, maxDelayMs: 7_200_000, jitter: 0 } });
    expect(set.jobs.get('b')).toMatchObject({ timeoutMs: 250, backoff: { delayMs: 500 } });
    expect(set.queues).toEqual(['default', 'other']);
  });
});
