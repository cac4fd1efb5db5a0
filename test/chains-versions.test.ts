/**
 * Chains and fan-ins of versioned jobs (docs/results.md "Chains", docs/contracts.md "Versioned payloads"): every job a
 * chain or fan-in writes records the payload version it was validated with (the job's emitVersion), whether the
 * client writes it (a first step, children, the parent) or the worker that hands a chain on (the next step). A next
 * step stored without it would be read as version 1 and parsed with the wrong schema. Real Redis, real workers.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, payloadVersion } from '../src/index.js';
import { cleanupRegistry, redisUrl, testClient } from './helpers.js';

const defer = cleanupRegistry();

/** `tally` is at version 2 ({ count }); version 1 was { n }. `tallyPinned` is the same, pinned to write version 1. */
const v1 = z.object({ n: z.number() });
const v2 = z.object({ count: z.number() });
const jobs = defineJobs({
  measure: { queue: 'chv-a', payload: z.object({ size: z.number() }), result: z.object({ count: z.number() }) },
  measureOld: { queue: 'chv-a', payload: z.object({ size: z.number() }), result: z.object({ n: z.number() }) },
  tally: { queue: 'chv-b', payload: v2, versions: [payloadVersion(v1, (p) => ({ count: p.n }))], result: z.string() },
  tallyPinned: { queue: 'chv-b', payload: v2, versions: [payloadVersion(v1, (p) => ({ count: p.n }))], emitVersion: 1, result: z.string() },
  gather: { queue: 'chv-a', payload: z.object({ label: z.string(), tallies: z.array(z.string()) }), result: z.string() },
});

function setup(name: string) {
  const t = testClient(jobs, name, defer);
  const seen: unknown[] = [];
  const worker = createWorker(
    jobs,
    {
      measure: (p) => ({ count: p.size * 2 }),
      measureOld: (p) => ({ n: p.size * 3 }),
      tally: (p) => {
        seen.push(p);
        return `count ${p.count}`;
      },
      tallyPinned: (p) => {
        seen.push(p);
        return `pinned count ${p.count}`;
      },
      gather: (p) => `${p.label}: ${p.tallies.join(', ')}`,
    },
    { redis: redisUrl(), prefix: t.prefix, logger: false },
  );
  defer(() => worker.close());
  return { ...t, seen };
}

describe('chains and fan-ins of versioned jobs', () => {
  it('a next step of a job at version 2 is written as version 2: the handler sees the result as its payload, not a failed migration', async () => {
    const { client, seen } = setup('chv-current');
    const chain = await client.chain('measure', { size: 5 }).next('tally').enqueue();
    expect(await chain.result({ timeout: '20s' })).toBe('count 10');
    expect(seen).toEqual([{ count: 10 }]);
  });

  it('a next step of a job pinned to version 1 takes a version-1 payload and is migrated up before its handler runs', async () => {
    const { client, seen } = setup('chv-pinned');
    const chain = await client.chain('measureOld', { size: 2 }).next('tallyPinned').enqueue();
    expect(await chain.result({ timeout: '20s' })).toBe('pinned count 6');
    expect(seen).toEqual([{ count: 6 }]);
  });

  it('a first step and fan-in children of a versioned job are written with its emitVersion', async () => {
    const { client, seen } = setup('chv-first');
    const first = await client.chain('tally', { count: 4 }).enqueue();
    const pinned = await client.chain('tallyPinned', { n: 7 }).enqueue();
    expect(await first.result({ timeout: '20s' })).toBe('count 4');
    expect(await pinned.result({ timeout: '20s' })).toBe('pinned count 7');
    const fan = await client.fanIn('gather', { label: 'all' }, { children: 'tally', payloads: [{ count: 1 }, { count: 2 }], into: 'tallies' });
    expect(await fan.result({ timeout: '20s' })).toBe('all: count 1, count 2');
    expect(seen).toEqual(expect.arrayContaining([{ count: 4 }, { count: 7 }, { count: 1 }, { count: 2 }]));
    expect(seen).toHaveLength(4);
  });
});
