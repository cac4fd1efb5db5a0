/**
 * Argument checks throw the library's own InvalidArgumentError (still a TypeError), naming the call and the argument;
 * a faulty job definition found at enqueue is a JobDefinitionError. Nothing is written when a call is refused.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, InvalidArgumentError, JobDefinitionError } from '../src/index.js';
import { cleanupRegistry, keysUnder, testClient } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  note: { payload: z.object({ text: z.string() }) },
  keyed: { payload: z.object({ k: z.string() }), unique: { by: (p: unknown) => ((p as { k: string }).k === 'bad' ? (7 as unknown as string) : (p as { k: string }).k) } },
  slow: { payload: z.object({ n: z.number() }).refine(async () => true) },
});

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('errors of one family', () => {
  it('createWorker option checks throw InvalidArgumentError naming the option, before connecting', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ concurrency: 0 }, 'concurrency', /^createWorker: concurrency must be an integer of at least 1, got 0$/],
      [{ leaseMs: 50 }, 'leaseMs', /^createWorker: leaseMs must be an integer of at least 100/],
      [{ prefix: 'a b' }, 'prefix', /^createWorker: prefix "a b" may only hold/],
      [{ queues: [] }, 'queues', /queues is empty/],
      [{ queueOrder: 'random' }, 'queueOrder', /queueOrder must be "weighted" or "strict"/],
      [{ queueWeights: { default: -1 } }, 'queueWeights.default', /queueWeights\.default must be a positive number/],
      [{ keepCompleted: { age: 'soon' } }, 'keepCompleted.age', /^createWorker: keepCompleted\.age must be milliseconds or a string/],
    ];
    const handlers = { note: () => {}, keyed: () => {}, slow: () => {} };
    for (const [options, argument, message] of cases) {
      const err = thrown(() => createWorker(jobs, handlers, { ...options, redis: 'redis://127.0.0.1:1', logger: false }));
      expect(err, argument).toBeInstanceOf(InvalidArgumentError);
      expect(err, argument).toBeInstanceOf(TypeError);
      expect((err as InvalidArgumentError).call).toBe('createWorker');
      expect((err as InvalidArgumentError).argument).toBe(argument);
      expect((err as Error).message).toMatch(message);
      expect((err as Error).name).toBe('InvalidArgumentError');
    }
    const missing = thrown(() => createWorker(jobs, { note: () => {} } as never, { redis: 'redis://127.0.0.1:1', logger: false }));
    expect(missing).toBeInstanceOf(InvalidArgumentError);
    expect((missing as InvalidArgumentError).argument).toBe('handlers');
    expect((missing as Error).message).toMatch(/no handler for job "keyed"/);
  });

  it('enqueue option checks reject with InvalidArgumentError and write nothing', async () => {
    const { prefix, client, raw } = testClient(jobs, 'errors-family-enqueue', defer);
    const cases: [Promise<unknown>, string, string, RegExp][] = [
      [client.enqueue('note', { text: 'a' }, { jobId: 'a#b' }), 'enqueue "note"', 'jobId', /must not contain "#"/],
      [client.enqueue('note', { text: 'a' }, { delay: 'later' as never }), 'enqueue "note"', 'delay', /^enqueue "note": delay must be milliseconds/],
      [client.enqueue('note', { text: 'a' }, { priority: 5000 }), 'enqueue "note"', 'priority', /^enqueue "note": priority/],
      [client.enqueueMany('note', [{ text: 'a' }], { jobIds: ['x', 'y'] }), 'enqueueMany "note"', 'jobIds', /jobIds has 2 entries for 1 payloads/],
      [client.enqueue('ghost' as never, {} as never), 'jobcraft client', 'job', /unknown job "ghost"/],
    ];
    for (const [call, where, argument, message] of cases) {
      const err = await call.then(() => undefined, (e: unknown) => e);
      expect(err, argument).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).call, argument).toBe(where);
      expect((err as InvalidArgumentError).argument).toBe(argument);
      expect((err as Error).message).toMatch(message);
    }
    expect(await keysUnder(raw, prefix)).toEqual([]);
  });

  it("a job's faulty unique.by or async schema is a JobDefinitionError naming the job and the option", async () => {
    const { prefix, client, raw } = testClient(jobs, 'errors-family-definition', defer);
    const byErr = await client.enqueue('keyed', { k: 'bad' }).then(() => undefined, (e: unknown) => e);
    expect(byErr).toBeInstanceOf(JobDefinitionError);
    expect((byErr as JobDefinitionError).job).toBe('keyed');
    expect((byErr as JobDefinitionError).option).toBe('unique.by');
    expect((byErr as Error).message).toMatch(/must return a string, got number/);
    const asyncErr = await client.enqueue('slow', { n: 1 }).then(() => undefined, (e: unknown) => e);
    expect(asyncErr).toBeInstanceOf(JobDefinitionError);
    expect((asyncErr as JobDefinitionError).option).toBe('payload');
    expect((asyncErr as Error).message).toMatch(/^job "slow", option "payload": the schema is asynchronous/);
    expect(await keysUnder(raw, prefix)).toEqual([]);
  });
});
