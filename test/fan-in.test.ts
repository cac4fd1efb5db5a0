/**
 * Fan-in (docs/results.md, "Fan-in"): a parent job created once its children ended, its payload field holding their
 * typed results, with a policy for a failed child; one record per parent, deleted when the parent is created; the
 * children's results handed over crash-safely through the outbox of their queue. Real Redis and workers.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, InvalidArgumentError, JobDeadError, queueKeys } from '../src/index.js';
import { Scripts } from '../src/scripts.js';
import { cleanupRegistry, queueCounts, redisUrl, rejection, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

const jobs = defineJobs({
  countWords: {
    payload: z.object({ text: z.string(), fail: z.boolean().default(false) }),
    result: z.object({ words: z.number(), lang: z.string().default('en') }),
    queue: 'count',
    attempts: 1,
  },
  summarize: {
    payload: z.object({ topic: z.string(), counts: z.array(z.object({ words: z.number(), lang: z.string() })) }),
    result: z.object({ topic: z.string(), total: z.number(), n: z.number() }),
    queue: 'sum',
  },
  summarizeLoose: {
    payload: z.object({ topic: z.string(), counts: z.array(z.object({ words: z.number() }).nullable()) }),
    result: z.object({ total: z.number(), missing: z.number() }),
    queue: 'sum',
  },
});

function setup(name: string, workerToo = true) {
  const t = testClient(jobs, name, defer);
  const starts = new Map<string, number>();
  const count = (id: string): void => void starts.set(id, (starts.get(id) ?? 0) + 1);
  const startWorker = () => {
    const worker = createWorker(
      jobs,
      {
        countWords: ({ text, fail }, ctx) => {
          count(ctx.id);
          if (fail) throw new Error(`cannot count ${text}`);
          return { words: text.split(' ').length };
        },
        summarize: ({ topic, counts }, ctx) => {
          count(ctx.id);
          return { topic, total: counts.reduce((s, c) => s + c.words, 0), n: counts.length };
        },
        summarizeLoose: ({ counts }, ctx) => {
          count(ctx.id);
          return { total: counts.reduce((s, c) => s + (c?.words ?? 0), 0), missing: counts.filter((c) => c === null).length };
        },
      },
      { redis: redisUrl(), prefix: t.prefix, leaseMs: 1000, logger: false },
    );
    defer(() => worker.close());
    return worker;
  };
  if (workerToo) startWorker();
  return { ...t, starts, startWorker, sumK: queueKeys(t.prefix, 'sum'), countK: queueKeys(t.prefix, 'count') };
}

const texts = ['a b', 'c d e', 'f', 'g h i j', 'k l'];

describe('a fan-in', () => {
  it('runs the parent once after every child, its field holding their results (output form) in child order', async () => {
    const { client, raw, starts, sumK, countK } = setup('fanin-basic');
    const fan = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: texts.map((text) => ({ text })), into: 'counts' });
    expect(fan.children).toEqual(texts.map((_, i) => `${fan.id}/${i}`));
    expect(await fan.result({ timeout: '20s' })).toEqual({ topic: 't', total: 12, n: 5 });
    expect(starts.get(fan.id)).toBe(1);
    // The parent's stored payload had the children's results, with their defaults filled in.
    expect(await client.job('countWords', `${fan.id}/3`).result()).toEqual({ words: 4, lang: 'en' });
    // The record is gone once the parent exists; nothing left in either queue.
    expect(await raw.exists(`${sumK.faninPrefix}${fan.id}`)).toBe(0);
    for (const k of [sumK, countK]) {
      const c = await queueCounts(raw, k);
      expect([c.jobs, c.active, c.wait, c.dead], k.queue).toEqual([0, 0, 0, 0]);
      expect(await raw.hlen(k.chainOutbox)).toBe(0);
    }
  });

  it("policy 'fail': a dead child dead-letters the parent (child_failed) without running it", async () => {
    const { client, starts } = setup('fanin-fail');
    const fan = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a' }, { text: 'b', fail: true }, { text: 'c' }], into: 'counts' });
    const err = (await rejection(fan.result({ timeout: '20s' }))) as JobDeadError;
    expect(err).toBeInstanceOf(JobDeadError);
    expect(err.reason).toBe('child_failed');
    expect(err.lastError?.message).toBe(`1 of 3 children failed (the first: child 1, job ${fan.id}/1)`);
    expect(starts.get(fan.id)).toBeUndefined();
    const [letter] = await client.deadLetters.list('sum');
    expect(letter?.id).toBe(fan.id);
    expect(letter?.reason).toBe('child_failed');
  });

  it("policy 'continue': the parent runs with null in a dead child's place; 'ignore': with the completed children only", async () => {
    const { client } = setup('fanin-continue');
    const payloads = [{ text: 'a b' }, { text: 'x', fail: true }, { text: 'c d e' }];
    const cont = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads, into: 'counts', onChildFailure: 'continue' });
    expect(await cont.result({ timeout: '20s' })).toEqual({ total: 5, missing: 1 });
    const ign = await client.fanIn('summarize', { topic: 'u' }, { children: 'countWords', payloads, into: 'counts', onChildFailure: 'ignore' });
    expect(await ign.result({ timeout: '20s' })).toEqual({ topic: 'u', total: 5, n: 2 });
  });

  it('a child whose stored payload fails its schema at dequeue counts as failed for its parent', async () => {
    const { client, raw, startWorker, countK } = setup('fanin-bad-child', false);
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }, { text: 'c' }], into: 'counts', onChildFailure: 'continue' });
    const stored = (await raw.hget(countK.jobs, `${fan.id}/1`)) as string;
    await raw.hset(countK.jobs, `${fan.id}/1`, stored.replace('"text":"c"', '"text":7'));
    startWorker();
    expect(await fan.result({ timeout: '20s' })).toEqual({ total: 2, missing: 1 });
    const [letter] = await client.deadLetters.list('count');
    expect([letter?.id, letter?.reason]).toEqual([`${fan.id}/1`, 'invalid_payload']);
  });

  it("a child cancelled with client.cancel counts as failed for its parent (which would otherwise wait for ever)", async () => {
    const { client, startWorker } = setup('fanin-cancel', false);
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }, { text: 'c' }], into: 'counts', onChildFailure: 'continue' });
    expect(await client.cancel(`${fan.id}/0`)).toBe('cancelled');
    startWorker();
    expect(await fan.result({ timeout: '20s' })).toEqual({ total: 1, missing: 1 });
  });

  it('is written in one call, idempotent by jobId, and refuses what cannot run before writing anything', async () => {
    const { client, raw, sumK, countK } = setup('fanin-create', false);
    const fan = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a' }, { text: 'b' }], into: 'counts', jobId: 'report-1' });
    expect(fan.duplicate).toBe(false);
    expect(await raw.hgetall(`${sumK.faninPrefix}report-1`)).toMatchObject({ '#n': '2', '#c': '0', '#p': 'fail' });
    expect((await raw.hkeys(countK.jobs)).sort()).toEqual(['report-1/0', 'report-1/1']);
    expect(JSON.parse((await raw.hget(countK.jobs, 'report-1/1')) as string).fi).toEqual({ id: 'report-1', q: 'sum', c: 1, i: 1 });
    const again = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'z' }], into: 'counts', jobId: 'report-1' });
    expect(again.duplicate).toBe(true);
    expect(await raw.hlen(countK.jobs)).toBe(2);
    const many = Array.from({ length: 11 }, () => ({ text: 'x' }));
    expect((await rejection(client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: many, into: 'counts', maxChildren: 10 }))).message).toMatch(/1 to maxChildren \(10\) children, got 11/);
    expect(await rejection(client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: many, into: 'counts', maxChildren: 10_001 }))).toBeInstanceOf(InvalidArgumentError);
    expect(await rejection(client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: [], into: 'counts' }))).toBeInstanceOf(InvalidArgumentError);
    expect(await raw.hlen(countK.jobs)).toBe(2);
  });

  it("a child's hand-off that could not be made (its worker gone) is finished by another worker's sweep; a repeat counts once", async () => {
    const { client, raw, starts, startWorker, sumK, countK } = setup('fanin-sweep', false);
    // The parent's queue refuses the record's writes for a while: the children's hand-offs stay in their outbox.
    const fan = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads: texts.map((text) => ({ text })), into: 'counts' });
    await raw.rename(`${sumK.faninPrefix}${fan.id}`, `${sumK.faninPrefix}${fan.id}:aside`);
    await raw.set(`${sumK.faninPrefix}${fan.id}`, 'in the way');
    const first = startWorker();
    await waitFor(async () => (await raw.hlen(countK.chainOutbox)) === texts.length, 'every child handed off into the outbox');
    await first.close();
    await raw.rename(`${sumK.faninPrefix}${fan.id}:aside`, `${sumK.faninPrefix}${fan.id}`);
    startWorker();
    expect(await fan.result({ timeout: '20s' })).toEqual({ topic: 't', total: 12, n: 5 });
    expect(starts.get(fan.id)).toBe(1);
    expect(await raw.hlen(countK.chainOutbox)).toBe(0);
  });

  it('keeps one hash per parent while its children run: memory per 1,000 children measured', async () => {
    const { client, raw, prefix, sumK } = setup('fanin-memory', false);
    const payloads = Array.from({ length: 1_001 }, (_, i) => ({ text: `word ${i}` }));
    const fan = await client.fanIn('summarize', { topic: 't' }, { children: 'countWords', payloads, into: 'counts', maxChildren: 2_000 });
    const record = `${sumK.faninPrefix}${fan.id}`;
    const before = Number(await raw.memory('USAGE', record, 'SAMPLES', '0'));
    const scripts = new Scripts(raw);
    // 1,000 children end (a typical small result each); the 1,001st would create the parent.
    for (let i = 0; i < 1_000; i++) {
      const k = queueKeys(prefix, 'sum');
      expect(await scripts.faninRecord({ ...k, fanin: record, outbox: k.chainOutbox }, { parent: fan.id, index: i, value: `{"words":${100 + i},"lang":"en"}`, maxDead: 10 })).toBe(1);
    }
    // A repeated record of the same child changes nothing.
    const k = queueKeys(prefix, 'sum');
    expect(await scripts.faninRecord({ ...k, fanin: record, outbox: k.chainOutbox }, { parent: fan.id, index: 7, value: '{"words":1}', maxDead: 10 })).toBe(0);
    const after = Number(await raw.memory('USAGE', record, 'SAMPLES', '0'));
    console.log(`fan-in record: ${before} bytes with no child ended, ${after} bytes with 1,000 ended (${((after - before) / 1000).toFixed(1)} bytes per child)`);
    expect(after - before).toBeLessThan(100_000);
    expect(await raw.hlen(record)).toBe(1_006);
    expect(await scripts.faninRecord({ ...k, fanin: record, outbox: k.chainOutbox }, { parent: fan.id, index: 1_000, value: '{"words":1}', maxDead: 10 })).toBe(2);
    expect(await raw.exists(record)).toBe(0);
    expect(await raw.hexists(sumK.jobs, fan.id)).toBe(1);
  });
});
