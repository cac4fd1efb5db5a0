/**
 * The worker's option checking without Redis (src/worker/options.ts): every default, the derived lease timings, and
 * the refusal of each bad value, before any connection is made.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs } from '../../src/define.js';
import { InvalidArgumentError } from '../../src/errors.js';
import { MAX_LEASE_MS, resolveWorkerOptions, type WorkerOptions } from '../../src/worker/options.js';
import type { Handler } from '../../src/worker/job-run.js';

const payload = z.object({});
const jobs = defineJobs({
  a: { payload },
  b: { payload, queue: 'other' },
});
const noop: Handler<unknown> = () => {};
const handlers = { a: noop, b: noop };
const resolve = (options: WorkerOptions, h: Record<string, Handler<unknown>> = handlers) => resolveWorkerOptions(jobs, h, options);
const refuses = (options: WorkerOptions, message: RegExp, h?: Record<string, Handler<unknown>>) =>
  expect(() => resolve(options, h)).toThrow(message);

describe('defaults', () => {
  it('fills in every default (docs/configuration.md)', () => {
    const o = resolve({});
    expect(o).toMatchObject({
      prefix: 'jobcraft',
      concurrency: 10,
      prefetch: undefined,
      leaseMs: 30_000,
      leaseMarginMs: 5_000,
      shutdownTimeoutMs: 10_000,
      keepCount: 1_000,
      keepAgeMs: 3_600_000,
      maxDead: 10_000,
      strictOrder: false,
      middleware: [],
    });
    expect(o.queues).toEqual(['default', 'other']);
    expect(o.maxEnvelopeBytes).toBeGreaterThan(16 * 1024 * 1024);
  });

  it('starts a job leased ahead only with a renewal interval and half the margin of its lease left', () => {
    expect(resolve({ leaseMs: 30_000 }).startLeaseMs).toBe(7_500 + 2_500);
    expect(resolve({ leaseMs: 1_000 }).startLeaseMs).toBe(250 + 100);
  });

  it('serves each queue once, in the order given', () => {
    expect(resolve({ queues: ['other', 'default', 'other'] }).queues).toEqual(['other', 'default']);
  });

  it('needs handlers only for the jobs of the queues served', () => {
    expect(resolve({ queues: ['default'] }, { a: noop }).queues).toEqual(['default']);
  });

  it('accepts prefetch 0, shutdownTimeoutMs 0 and keepCompleted.count 0', () => {
    const o = resolve({ prefetch: 0, shutdownTimeoutMs: 0, keepCompleted: { count: 0 } });
    expect([o.prefetch, o.shutdownTimeoutMs, o.keepCount]).toEqual([0, 0, 0]);
  });
});

describe('refusals', () => {
  it('refuses a prefix outside the key alphabet', () => {
    refuses({ prefix: 'a b' }, /createWorker: prefix "a b" may only hold/);
  });

  it('refuses non-integer or too small counts, naming the option', () => {
    refuses({ concurrency: 0 }, /createWorker: concurrency must be an integer of at least 1, got 0/);
    refuses({ concurrency: 1.5 }, /concurrency must be an integer/);
    refuses({ prefetch: -1 }, /createWorker: prefetch must be an integer of at least 0, got -1/);
    refuses({ leaseMs: 99 }, /createWorker: leaseMs must be an integer of at least 100, got 99/);
    refuses({ shutdownTimeoutMs: -1 }, /shutdownTimeoutMs must be an integer of at least 0/);
    refuses({ keepCompleted: { count: -1 } }, /keepCompleted.count must be an integer of at least 0/);
    refuses({ deadLetters: { max: 0 } }, /deadLetters.max must be an integer of at least 1/);
    refuses({ maxPayloadBytes: 0 }, /maxPayloadBytes must be an integer of at least 1/);
  });

  it('refuses more than 5,000 slots, and a lease over 24 h', () => {
    refuses({ concurrency: 4_000, prefetch: 1_001 }, /concurrency \+ prefetch must not exceed 5,000/);
    refuses({ concurrency: 2_501 }, /concurrency \+ prefetch must not exceed 5,000/); // automatic: counts concurrency
    refuses({ leaseMs: MAX_LEASE_MS + 1 }, /leaseMs must be at most 86400000/);
  });

  it('refuses an empty or unknown queue list, a bad queue order and bad weights', () => {
    refuses({ queues: [] }, /queues is empty/);
    refuses({ queues: ['nope'] }, /queue "nope" has no jobs \(queues: default, other\)/);
    refuses({ queueOrder: 'random' as never }, /queueOrder must be "weighted" or "strict", got "random"/);
    refuses({ queues: ['default'], queueWeights: { other: 2 } as never }, /queueWeights names queue "other", which this worker does not serve/);
    refuses({ queueWeights: { other: 0 } }, /queueWeights.other must be a positive number, got 0/);
    refuses({ queueWeights: { other: Infinity } }, /queueWeights.other must be a positive number/);
  });

  it('refuses a missing handler and a handler for no declared job', () => {
    refuses({}, /no handler for job "b" \(queue "other" is served by this worker\)/, { a: noop });
    refuses({}, /handler "c" matches no declared job/, { ...handlers, c: noop });
  });

  it('throws InvalidArgumentError naming createWorker and the option', () => {
    let err: unknown;
    try {
      resolve({ queueWeights: { other: -1 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ call: 'createWorker', argument: 'queueWeights.other' });
  });
});
