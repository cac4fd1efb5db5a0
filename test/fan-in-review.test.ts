/**
 * Review of fan-in (issue #14): ways a child could end without its parent ever hearing of it, which left the parent
 * (and every wait for it) waiting for ever. Real Redis, real workers, the real admin.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createAdmin, createClient, createWorker, defineJobs, JobValidationError, queueKeys } from '../src/index.js';
import { faninEndField, faninLinkOfHead } from '../src/fan-in.js';
import { cleanupRegistry, redisUrl, rejection, testClient, waitFor } from './helpers.js';


const defer = cleanupRegistry();

const jobs = defineJobs({
  countWords: {
    payload: z.object({ text: z.string() }),
    result: z.object({ words: z.number() }),
    queue: 'count',
    attempts: 1,
  },
  /** Its results field has an integer-like name: JavaScript orders such keys first in an object. */
  byIndex: {
    payload: z.object({ topic: z.string(), '0': z.array(z.object({ words: z.number() })) }),
    result: z.number(),
    queue: 'sum',
  },
  summarizeLoose: {
    payload: z.object({ topic: z.string(), counts: z.array(z.object({ words: z.number() }).nullable()) }),
    result: z.object({ topic: z.string(), total: z.number(), missing: z.number() }),
    queue: 'sum',
  },
});

function setup(name: string, workerOptions: { maxPayloadBytes?: number } = {}) {
  const t = testClient(jobs, name, defer);
  const startWorker = () => {
    const worker = createWorker(
      jobs,
      {
        countWords: ({ text }) => ({ words: text.split(' ').length }),
        byIndex: (p) => p['0'].reduce((s, c) => s + c.words, 0),
        summarizeLoose: ({ topic, counts }) => ({ topic, total: counts.reduce((s, c) => s + (c?.words ?? 0), 0), missing: counts.filter((c) => c === null).length }),
      },
      { redis: redisUrl(), prefix: t.prefix, leaseMs: 1000, logger: false, ...workerOptions },
    );
    defer(() => worker.close());
    return worker;
  };
  return { ...t, startWorker, sumK: queueKeys(t.prefix, 'sum'), countK: queueKeys(t.prefix, 'count') };
}

describe('a fan-in child that ends without running', () => {
  it("too big for its worker (dead-lettered unparsed) still counts as failed for its parent", async () => {
    // The client accepts 2,000-byte payloads; the worker parses at most 300: the big child is dead-lettered from its
    // head alone (invalid_payload), and its parent must still hear of it.
    const { client, startWorker } = setup('fanin-rev-big', { maxPayloadBytes: 300 });
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }, { text: 'x'.repeat(2_000) }], into: 'counts', onChildFailure: 'continue' });
    startWorker();
    expect(await fan.result({ timeout: '15s' })).toEqual({ topic: 't', total: 2, missing: 1 });
    const [letter] = await client.deadLetters.list('count');
    expect([letter?.id, letter?.reason]).toEqual([`${fan.id}/1`, 'invalid_payload']);
  });

  it('cancelled through the admin API (no job set) counts as failed for its parent', async () => {
    const { client, prefix, startWorker } = setup('fanin-rev-admin');
    const admin = createAdmin({ redis: redisUrl(), prefix });
    defer(() => admin.close());
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b c' }, { text: 'd' }], into: 'counts', onChildFailure: 'continue' });
    const outcome = await admin.act('cancel', [`${fan.id}/1`]);
    expect(outcome.results[0]?.result).toBe('done');
    startWorker();
    expect(await fan.result({ timeout: '15s' })).toEqual({ topic: 't', total: 3, missing: 1 });
  });

  it("cancelled with client.cancel while its parent's record cannot be written: the failure is kept and recorded later", async () => {
    const { client, raw, startWorker, sumK, countK } = setup('fanin-rev-cancel');
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }, { text: 'c' }], into: 'counts', onChildFailure: 'continue' });
    const record = `${sumK.faninPrefix}${fan.id}`;
    // The record refuses writes for a while (a wrong-typed key in its place): the cancel's record for the parent fails.
    await raw.rename(record, `${record}:aside`);
    await raw.set(record, 'in the way');
    const cancelled = await client.cancel(`${fan.id}/1`).catch((e: unknown) => e);
    // The job is cancelled (whatever the answer says about the parent's record)...
    expect(await raw.hexists(countK.jobs, `${fan.id}/1`)).toBe(0);
    expect(cancelled === 'cancelled' || cancelled instanceof Error).toBe(true);
    // ...and its end for the parent is kept in its queue's outbox, in the same step as the cancel.
    expect(await raw.hexists(countK.chainOutbox, faninEndField(`${fan.id}/1`))).toBe(1);
    await raw.del(record);
    await raw.rename(`${record}:aside`, record);
    startWorker();
    expect(await fan.result({ timeout: '20s' })).toEqual({ topic: 't', total: 2, missing: 1 });
    await waitFor(async () => (await raw.hlen(countK.chainOutbox)) === 0, 'the outbox emptied');
  });
});

describe('waiting for a fan-in from another process', () => {
  it("client.job(parent, id).result() waits while the children run, instead of finding the parent unknown", async () => {
    const { client, prefix, startWorker } = setup('fanin-rev-other');
    const other = createClient(jobs, { redis: redisUrl(), prefix });
    defer(() => other.close());
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }, { text: 'c' }], into: 'counts' });
    const waited = other.job('summarizeLoose', fan.id).result({ timeout: '15s' });
    // Let the other process's first read happen while no child has run yet.
    await new Promise((r) => setTimeout(r, 200));
    startWorker();
    expect(await waited).toEqual({ topic: 't', total: 3, missing: 0 });
  });
});

describe("a fan-in's parent dead-lettered child_failed", () => {
  it("is announced by the worker that recorded the last child: its 'dead' event (and so the metrics that count it)", async () => {
    // Child 1 is too big for this worker: it dies (invalid_payload), and the parent (policy 'fail') with it.
    const { client, startWorker } = setup('fanin-rev-deadevent', { maxPayloadBytes: 300 });
    const worker = startWorker();
    const dead: { id: string; name: string | undefined; reason: string; message: string }[] = [];
    worker.on('dead', ({ job, reason, error }) => void dead.push({ id: job.id, name: job.name, reason, message: error.message }));
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a' }, { text: 'x'.repeat(2_000) }], into: 'counts' });
    await rejection(fan.result({ timeout: '15s' }));
    await waitFor(() => dead.find((d) => d.id === fan.id), "the parent's dead event");
    expect(dead.find((d) => d.id === fan.id)).toMatchObject({ name: 'summarizeLoose', reason: 'child_failed', message: `1 of 2 children failed (the first: child 1, job ${fan.id}/1)` });
  });
});

describe('fan-in input', () => {
  it('refuses a sparse list of payloads (a hole is no payload) before writing anything', async () => {
    const { client, raw, sumK, countK } = setup('fanin-rev-sparse');
    const payloads = [{ text: 'a' }, { text: 'b' }, { text: 'c' }];
    delete (payloads as unknown[])[1];
    const err = await rejection(client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads, into: 'counts', jobId: 'sparse' }));
    expect(err).toBeInstanceOf(JobValidationError);
    expect(err.message).toMatch(/countWords/);
    expect(await raw.exists(`${sumK.faninPrefix}sparse`)).toBe(0);
    expect(await raw.hlen(countK.jobs)).toBe(0);
  });
});

describe("a fan-in's parent payload", () => {
  it('gets the results into a field of any name, an integer-like one too', async () => {
    const { client, startWorker } = setup('fanin-rev-index');
    startWorker();
    const fan = await client.fanIn('byIndex', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }, { text: 'c' }], into: '0' });
    expect(await fan.result({ timeout: '15s' })).toBe(3);
  });

  it('is validated when the fan-in is created (apart from its results field): nothing written, no child run', async () => {
    const { client, raw, sumK, countK } = setup('fanin-rev-parent');
    const err = await rejection(client.fanIn('summarizeLoose', { topic: 7 as unknown as string }, { children: 'countWords', payloads: [{ text: 'a' }], into: 'counts', jobId: 'p1' }));
    expect(err).toBeInstanceOf(JobValidationError);
    expect((err as JobValidationError).message).toMatch(/summarizeLoose/);
    expect((err as JobValidationError).issues.map((i) => i.path)).toEqual([['topic']]);
    expect(await raw.exists(`${sumK.faninPrefix}p1`)).toBe(0);
    expect(await raw.hlen(countK.jobs)).toBe(0);
  });
});

describe('a fan-in whose parent and children share a queue', () => {
  it("keeps a child's end apart from its creation's hand-off (one outbox): the creator's late clean-up cannot remove it", async () => {
    const sameJobs = defineJobs({
      child: { payload: z.object({ n: z.number() }), result: z.number(), queue: 'one' },
      parent: { payload: z.object({ values: z.array(z.number()) }), result: z.number(), queue: 'one' },
    });
    const { client, raw, prefix } = testClient(sameJobs, 'fanin-rev-samequeue', defer);
    const k = queueKeys(prefix, 'one');
    const handlers = { child: ({ n }: { n: number }) => n * 10, parent: ({ values }: { values: number[] }) => values.reduce((a, b) => a + b, 0) };
    const fan = await client.fanIn('parent', {}, { children: 'child', payloads: [{ n: 1 }, { n: 2 }], into: 'values' });
    const record = `${k.faninPrefix}${fan.id}`;
    // The record refuses writes for a while: the children's ends stay in the outbox (as after a crash of their worker).
    await raw.rename(record, `${record}:aside`);
    await raw.set(record, 'in the way');
    const first = createWorker(sameJobs, handlers, { redis: redisUrl(), prefix, leaseMs: 1000, logger: false });
    await waitFor(async () => (await raw.hlen(k.chainOutbox)) === 2, "both children's ends in the outbox");
    await first.close();
    // The fan-in's creator removes its creation hand-offs late (they ran first: createChildren enqueues, then HDELs).
    await raw.hdel(k.chainOutbox, `${fan.id}/0`, `${fan.id}/1`);
    await raw.del(record);
    await raw.rename(`${record}:aside`, record);
    const second = createWorker(sameJobs, handlers, { redis: redisUrl(), prefix, leaseMs: 1000, logger: false });
    defer(() => second.close());
    expect(await fan.result({ timeout: '15s' })).toBe(30);
  });
});

describe('faninLinkOfHead (the link of a child read from its unparsed text)', () => {
  it("reads the envelope's own fi field, never one a payload holds", () => {
    const child = '{"n":"countWords","t":1,"fi":{"id":"P","q":"sum","i":3},"p":{"text":"x"}}';
    expect(faninLinkOfHead(child)).toEqual({ id: 'P', q: 'sum', i: 3 });
    const forged = '{"n":"countWords","t":1,"p":{"a":1,"fi":{"id":"P","q":"sum","i":0},"p":1}}';
    expect(faninLinkOfHead(forged)).toBeUndefined();
    expect(faninLinkOfHead('{"n":"countWords","t":1,"fi":{"id":"P","q":"sum","i":3}')).toBeUndefined();
  });
});

describe('a fan-in wait while Redis is unreachable for a moment', () => {
  it('goes on (as a job wait does) while its children run, and gets the result once Redis answers', async () => {
    const { raw, prefix, startWorker } = setup('fanin-rev-blip');
    const client = createClient(jobs, { redis: redisUrl(), prefix, timeout: '200ms' });
    defer(() => client.close());
    const fan = await client.fanIn('summarizeLoose', { topic: 't' }, { children: 'countWords', payloads: [{ text: 'a b' }], into: 'counts' });
    const waited = fan.result({ timeout: '20s' });
    await new Promise((r) => setTimeout(r, 100));
    // Redis answers nobody for 1.5 s, while the children have not run (no worker yet): reads time out meanwhile.
    await raw.client('PAUSE', 1500, 'ALL');
    await new Promise((r) => setTimeout(r, 1700));
    startWorker();
    expect(await waited).toEqual({ topic: 't', total: 2, missing: 0 });
  });
});
