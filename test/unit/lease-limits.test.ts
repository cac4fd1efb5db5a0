/** leaseMs is bounded: a longer lease would overflow the worker's timers (setTimeout fires at once past 2^31 − 1 ms). */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, InvalidArgumentError } from '../../src/index.js';

const jobs = defineJobs({ t: { payload: z.object({ n: z.number() }) } });

describe('leaseMs limits', () => {
  it('refuses a lease over 24 h with an InvalidArgumentError (a TypeError) naming the limit, before connecting', () => {
    for (const leaseMs of [86_400_001, 2 ** 31, 30 * 86_400_000]) {
      expect(() => createWorker(jobs, { t: () => {} }, { leaseMs, redis: 'redis://127.0.0.1:1', logger: false }), String(leaseMs)).toThrow(
        new InvalidArgumentError('createWorker', 'leaseMs', `leaseMs must be at most 86400000 (24 h; the worker's timers cannot count longer), got ${leaseMs}`),
      );
    }
  });
});
