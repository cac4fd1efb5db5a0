/**
 * Chains (docs/results.md, "Chains"): a → b → c, each step's result the next step's payload, written in one call,
 * handed on across queues (other hash slots) through the outbox of the finished step's queue, and waited for without
 * ever hanging. Real Redis, real workers, a real worker process SIGKILLed between two steps.
 */
import { describe, expect, it } from 'vitest';
import {
  ChainBrokenError,
  createWorker,
  InvalidArgumentError,
  JobDeadError,
  JobValidationError,
  queueKeys,
  ResultTimeoutError,
  ResultWaitAbortedError,
} from '../src/index.js';
import { CHAIN_LEASE_MS, chainHandlers, chainJobs } from './fixtures/chain-jobs.js';
import { typeKeys } from '../src/keys.js';
import { cleanupRegistry, queueCounts, redisUrl, rejection, spawnChildWorker, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

/** Counts each handler's starts by job id. */
function counted(starts: Map<string, number>) {
  const wrap =
    <P, R>(f: (p: P) => R) =>
    (p: P, ctx: { id: string }): R => {
      starts.set(ctx.id, (starts.get(ctx.id) ?? 0) + 1);
      return f(p);
    };
  return {
    fetchPage: wrap(chainHandlers.fetchPage),
    countWords: wrap(chainHandlers.countWords),
    throttledCount: wrap(chainHandlers.throttledCount),
    report: wrap(chainHandlers.report),
    archive: wrap(chainHandlers.archive),
    unrelated: wrap(chainHandlers.unrelated),
  };
}

function setup(name: string, workerToo = true) {
  const t = testClient(chainJobs, name, defer);
  const starts = new Map<string, number>();
  const startWorker = () => {
    const worker = createWorker(chainJobs, counted(starts), { redis: redisUrl(), prefix: t.prefix, leaseMs: CHAIN_LEASE_MS, logger: false });
    defer(() => worker.close());
    return worker;
  };
  if (workerToo) startWorker();
  return { ...t, starts, startWorker, fetchK: queueKeys(t.prefix, 'fetch'), countK: queueKeys(t.prefix, 'count') };
}

describe('a chain', () => {
  it('runs its steps in order across queues, each result the next payload (output form), and gives the typed last result', async () => {
    const { client, raw, starts, fetchK, countK } = setup('chain-basic');
    const chain = await client.chain('fetchPage', { url: 'https://a' }).next('countWords').next('report').enqueue();
    expect(chain.duplicate).toBe(false);
    expect(chain.steps.map((s) => [s.index, s.name, s.id])).toEqual([
      [0, 'fetchPage', `${chain.id}/0`],
      [1, 'countWords', `${chain.id}/1`],
      [2, 'report', `${chain.id}/2`],
    ]);
    // countWords returned { words }, its output has lang filled in: that is report's payload.
    expect(await chain.result({ timeout: '20s' })).toBe('90 words (en)');
    expect(await chain.steps[1]?.result()).toEqual({ words: 90, lang: 'en' });
    expect(Object.fromEntries(starts)).toEqual({ [`${chain.id}/0`]: 1, [`${chain.id}/1`]: 1, [`${chain.id}/2`]: 1 });
    // Nothing left behind: no live job, no outbox entry, in either queue.
    for (const k of [fetchK, countK]) {
      const c = await queueCounts(raw, k);
      expect([c.jobs, c.active, c.wait, c.dead], k.queue).toEqual([0, 0, 0, 0]);
      expect(await raw.hlen(k.chainOutbox), k.queue).toBe(0);
    }
    // Each step is a job of its own queue, completed there.
    expect(await raw.hexists(countK.done, `${chain.id}/1`)).toBe(1);
    expect(await raw.hexists(fetchK.done, `${chain.id}/2`)).toBe(1);
  });

  it('is written in one call: the first step carries the rest; a jobId makes it idempotent', async () => {
    const { client, raw, fetchK, countK } = setup('chain-atomic', false);
    const chain = await client.chain('fetchPage', { url: 'u' }, { jobId: 'order-7', priority: 3 }).next('countWords').next('archive').enqueue();
    expect(chain.id).toBe('order-7');
    const stored = JSON.parse((await raw.hget(fetchK.jobs, 'order-7/0')) as string) as Record<string, unknown>;
    expect(stored.n).toBe('fetchPage');
    expect(stored.r).toBe(3);
    expect(stored.ch).toEqual({ id: 'order-7', i: 0, s: [{ n: 'countWords', q: 'count' }, { n: 'archive', q: 'count' }] });
    expect(await raw.hlen(countK.jobs)).toBe(0);
    const again = await client.chain('fetchPage', { url: 'other' }, { jobId: 'order-7' }).next('countWords').next('archive').enqueue();
    expect(again.duplicate).toBe(true);
    expect(await raw.hlen(fetchK.jobs)).toBe(1);
    // A chain whose last step declares no result has no result() to wait for.
    expect('result' in chain).toBe(false);
  });

  it('refuses, before writing anything, a chain that cannot run', async () => {
    const { client, raw, fetchK } = setup('chain-refused', false);
    const err = await rejection(client.chain('fetchPage', { url: 1 as unknown as string }).next('countWords').enqueue());
    expect(err).toBeInstanceOf(JobValidationError);
    // A step without a result in the middle (the types forbid it; an untyped caller is refused at run time).
    const loose = client.chain('fetchPage', { url: 'x' }).next('countWords') as unknown as { next(n: string): { next(n: string): { enqueue(): Promise<unknown> } } };
    expect(await rejection(loose.next('archive').next('report').enqueue())).toBeInstanceOf(InvalidArgumentError);
    let long = client.chain('unrelated', { id: 1 }) as unknown as { next(n: string): typeof long; enqueue(): Promise<unknown> };
    for (let i = 0; i < 16; i++) long = long.next('unrelated');
    expect((await rejection(long.enqueue())).message).toMatch(/at most 16 steps, got 17/);
    expect(await rejection(client.chain('fetchPage', { url: 'x' }, { jobId: 'a#b' }).enqueue())).toBeInstanceOf(InvalidArgumentError);
    expect(await raw.hlen(fetchK.jobs)).toBe(0);
  });

  it('ends at a dead step: the later steps never run and their waits reject with ChainBrokenError naming it', async () => {
    const { client, raw, starts, countK } = setup('chain-dead');
    const chain = await client.chain('fetchPage', { url: 'bad', fail: true }).next('countWords').next('report').enqueue();
    const err = await rejection(chain.result({ timeout: '20s' }));
    expect(err).toBeInstanceOf(ChainBrokenError);
    const broken = err as ChainBrokenError;
    expect([broken.job, broken.id, broken.step, broken.stepJob, broken.stepId, broken.reason]).toEqual(['report', `${chain.id}/2`, 0, 'fetchPage', `${chain.id}/0`, 'attempts_exhausted']);
    expect(broken.lastError?.message).toBe('cannot fetch bad');
    expect(broken.cause).toBeInstanceOf(JobDeadError);
    expect(await rejection(chain.steps[1]?.result() as Promise<unknown>)).toBeInstanceOf(ChainBrokenError);
    // The dead step's own wait gets its own JobDeadError.
    expect(await rejection(chain.steps[0]?.result() as Promise<unknown>)).toBeInstanceOf(JobDeadError);
    expect(starts.get(`${chain.id}/1`)).toBeUndefined();
    expect(await raw.hlen(countK.jobs)).toBe(0);
  });

  it('goes on when its dead step is retried from the dead letters', async () => {
    const { client, raw, fetchK } = setup('chain-dead-retry');
    const chain = await client.chain('fetchPage', { url: 'bad', fail: true }).next('countWords').enqueue();
    await rejection(chain.result({ timeout: '20s' }));
    // Mend the stored payload (as an operator fixing the cause would), then retry the dead step.
    const stored = (await raw.hget(fetchK.dead, `${chain.id}/0`)) as string;
    await raw.hset(fetchK.dead, `${chain.id}/0`, stored.replace('"fail":true', '"fail":false'));
    expect(await client.deadLetters.retry(`${chain.id}/0`, 'fetch')).toBe(true);
    expect(await chain.result({ timeout: '20s' })).toEqual({ words: 30, lang: 'en' });
  });

  it('a wait times out or aborts (naming the step waited for) while no worker runs the chain', async () => {
    const { client } = setup('chain-timeout', false);
    const chain = await client.chain('fetchPage', { url: 'x' }).next('countWords').enqueue();
    const err = (await rejection(chain.result({ timeout: 50 }))) as ResultTimeoutError;
    expect(err).toBeInstanceOf(ResultTimeoutError);
    expect([err.job, err.id]).toEqual(['countWords', `${chain.id}/1`]);
    const ac = new AbortController();
    const waiting = chain.result({ signal: ac.signal });
    ac.abort(new Error('enough'));
    expect(await rejection(waiting)).toBeInstanceOf(ResultWaitAbortedError);
  });

  it('a hand-off left in the outbox by a worker SIGKILLed between two steps is finished by another worker: nothing lost, nothing run twice', async () => {
    const { client, raw, prefix, starts, startWorker, fetchK, countK } = setup('chain-sigkill', false);
    // The next step's queue refuses writes for a while (its jobs key has the wrong type): the hand-off cannot be made.
    await raw.set(countK.jobs, 'in the way');
    const child = spawnChildWorker({ JC_PREFIX: prefix, JC_QUEUES: 'fetch' }, defer, 'test/fixtures/chain-worker.ts');
    const chain = await client.chain('fetchPage', { url: 'https://k' }).next('countWords').next('report').enqueue();
    const waiting = chain.result({ timeout: '30s' });
    await child.waitStarted(1);
    // Step 0 is acknowledged (its result stored) and its hand-off recorded in the outbox, in one call ...
    const entry = await waitFor(() => raw.hget(fetchK.chainOutbox, `${chain.id}/1`), 'the hand-off in the outbox');
    expect(JSON.parse(entry)).toMatchObject({ q: 'count', n: 'countWords' });
    expect(await raw.hexists(fetchK.done, `${chain.id}/0`)).toBe(1);
    // ... and the worker dies before the next step exists.
    expect(await child.signal('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
    expect(child.started.map((s) => s.id)).toEqual([`${chain.id}/0`]);
    await raw.del(countK.jobs);
    startWorker();
    expect(await waiting).toBe('90 words (en)');
    // Step 0 ran once (in the child), the others once each; the outbox is empty.
    expect(starts.get(`${chain.id}/0`)).toBeUndefined();
    expect(starts.get(`${chain.id}/1`)).toBe(1);
    expect(starts.get(`${chain.id}/2`)).toBe(1);
    expect(await raw.hlen(fetchK.chainOutbox)).toBe(0);
  });

  it('a step whose stored chain record was tampered with is dead-lettered (malformed_job), not run as the end of the chain', async () => {
    const { client, raw, starts, startWorker, fetchK } = setup('chain-tampered', false);
    const chain = await client.chain('fetchPage', { url: 'x' }).next('countWords').enqueue();
    const stored = (await raw.hget(fetchK.jobs, `${chain.id}/0`)) as string;
    await raw.hset(fetchK.jobs, `${chain.id}/0`, stored.replace('"s":[{"n":"countWords"', '"s":[{"n":"no such job!"'));
    startWorker();
    const err = (await rejection(chain.result({ timeout: '20s' }))) as ChainBrokenError;
    expect(err).toBeInstanceOf(ChainBrokenError);
    expect(err.reason).toBe('malformed_job');
    expect(err.lastError?.message).toMatch(/cannot run as a chain step: its chain record's step 1/);
    expect(starts.get(`${chain.id}/0`)).toBeUndefined();
  });

  it('a step of a throttled type is handed on into its type\'s ready set', async () => {
    const { client, raw, prefix, countK } = setup('chain-throttled', false);
    // Only queue "fetch" is served: the handed-on step waits where a worker of "count" would take it from.
    const worker = createWorker(chainJobs, counted(new Map()), { redis: redisUrl(), prefix, queues: ['fetch'], leaseMs: CHAIN_LEASE_MS, logger: false });
    defer(() => worker.close());
    const chain = await client.chain('fetchPage', { url: 'abc' }).next('throttledCount').enqueue();
    const ready = typeKeys(countK, 'throttledCount').ready;
    await waitFor(() => raw.zscore(ready, `${chain.id}/1`), 'the next step in its type\'s ready set');
    expect(await raw.llen(countK.wait)).toBe(0);
    const other = createWorker(chainJobs, counted(new Map()), { redis: redisUrl(), prefix, leaseMs: CHAIN_LEASE_MS, logger: false });
    defer(() => other.close());
    expect(await chain.result({ timeout: '20s' })).toEqual({ words: 30 });
  });

  it('a repeated hand-off is a no-op: the next step is created once, even after it completed', async () => {
    const { client, raw, starts, fetchK } = setup('chain-repeat');
    const chain = await client.chain('fetchPage', { url: 'abc' }).next('countWords').enqueue();
    expect(await chain.result({ timeout: '20s' })).toEqual({ words: 30, lang: 'en' });
    // Replay the hand-off as a crashed worker's sweep would find it (an old entry).
    const entry = { q: 'count', n: 'countWords', w: Date.now() - 60_000, e: JSON.stringify({ n: 'countWords', t: Date.now(), p: { url: 'abc', bytes: 300 } }) };
    await raw.hset(fetchK.chainOutbox, `${chain.id}/1`, JSON.stringify(entry));
    await waitFor(async () => (await raw.hlen(fetchK.chainOutbox)) === 0, 'the sweep to finish the entry');
    expect(starts.get(`${chain.id}/1`)).toBe(1);
  });
});
