/**
 * Review of chains (issue #14): hostile chain records, and what a chain's steps must not do. Real Redis, real workers.
 */
import { describe, expect, it } from 'vitest';
import { ChainBrokenError, createClient, createWorker, InvalidArgumentError, queueKeys } from '../src/index.js';
import { parseChainLink, parseOutboxEntry } from '../src/chain.js';
import { parseFaninLink } from '../src/fan-in.js';
import { CHAIN_LEASE_MS, chainHandlers, chainJobs } from './fixtures/chain-jobs.js';
import { cleanupRegistry, redisUrl, rejection, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();

describe('a hostile chain record', () => {
  it("naming a next step's queue jobcraft would never name (a brace: keys outside the queue's hash tag) dead-letters the step", async () => {
    const { client, raw, prefix } = testClient(chainJobs, 'chain-rev-queue', defer);
    const fetchK = queueKeys(prefix, 'fetch');
    const chain = await client.chain('fetchPage', { url: 'x' }).next('countWords').enqueue();
    const stored = (await raw.hget(fetchK.jobs, `${chain.id}/0`)) as string;
    await raw.hset(fetchK.jobs, `${chain.id}/0`, stored.replace('"q":"count"', '"q":"count}{evil"'));
    const worker = createWorker(chainJobs, chainHandlers, { redis: redisUrl(), prefix, leaseMs: CHAIN_LEASE_MS, logger: false });
    defer(() => worker.close());
    const err = (await rejection(chain.result({ timeout: '15s' }))) as ChainBrokenError;
    expect(err).toBeInstanceOf(ChainBrokenError);
    expect(err.reason).toBe('malformed_job');
    expect(await raw.keys(`${prefix}:{count}{evil}*`)).toEqual([]);
  });

  it('the parsers refuse queue names jobcraft does not allow', () => {
    expect(parseChainLink({ id: 'c', i: 0, s: [{ n: 'a', q: 'x}' }] })).toMatch(/ch.s\[0\]/);
    expect(parseFaninLink({ id: 'p', q: '{x', i: 0 })).toMatch(/fi.q/);
    expect(parseOutboxEntry(JSON.stringify({ k: 'f', q: 'a}b', p: 'p', i: 0, w: 1 }))).toBeUndefined();
    expect(parseOutboxEntry(JSON.stringify({ q: 'a b', n: 'x', e: '{}', w: 1 }))).toBeUndefined();
    expect(parseOutboxEntry(JSON.stringify({ q: 'count', n: 'x', e: '{}', w: 1 }))).toMatchObject({ q: 'count' });
  });
});

describe('a chain waited for from another process', () => {
  it('client.chainOf(id, steps).result() waits through steps that do not exist yet and gives the typed last result', async () => {
    const { client, prefix } = testClient(chainJobs, 'chain-rev-other', defer);
    const other = createClient(chainJobs, { redis: redisUrl(), prefix });
    defer(() => other.close());
    const chain = await client.chain('fetchPage', { url: 'https://a' }).next('countWords').next('report').enqueue();
    const handle = other.chainOf(chain.id, ['fetchPage', 'countWords', 'report']);
    expect(handle.steps.map((s) => s.id)).toEqual(chain.steps.map((s) => s.id));
    // A plain job handle for the last step finds it unknown: it does not exist before its step before it completed.
    expect((await rejection(other.job('report', `${chain.id}/2`).result())).name).toBe('JobNotFoundError');
    const waited = handle.result({ timeout: '15s' });
    const worker = createWorker(chainJobs, chainHandlers, { redis: redisUrl(), prefix, leaseMs: CHAIN_LEASE_MS, logger: false });
    defer(() => worker.close());
    const text: string = await waited;
    expect(text).toBe(await chain.result({ timeout: '15s' }));
  });

  it('ends with ChainBrokenError when an earlier step died, and refuses steps that cannot be a chain', async () => {
    const { client, prefix } = testClient(chainJobs, 'chain-rev-other-dead', defer);
    const worker = createWorker(chainJobs, chainHandlers, { redis: redisUrl(), prefix, leaseMs: CHAIN_LEASE_MS, logger: false });
    defer(() => worker.close());
    const chain = await client.chain('fetchPage', { url: 'x', fail: true }).next('countWords').enqueue();
    const err = (await rejection(client.chainOf(chain.id, ['fetchPage', 'countWords']).result({ timeout: '15s' }))) as ChainBrokenError;
    expect(err).toBeInstanceOf(ChainBrokenError);
    expect(err.stepId).toBe(`${chain.id}/0`);
    expect(() => client.chainOf('c', ['archive' as 'fetchPage', 'countWords'])).toThrow(InvalidArgumentError);
    expect(() => client.chainOf('c#1', ['fetchPage'])).toThrow(InvalidArgumentError);
  });
});

describe('a chain wait while Redis is unreachable for a moment', () => {
  it('goes on (as a job wait does) when a read of the outbox times out, and gets the result once Redis answers', async () => {
    const { raw, prefix } = testClient(chainJobs, 'chain-rev-blip', defer);
    const client = createClient(chainJobs, { redis: redisUrl(), prefix, timeout: '200ms' });
    defer(() => client.close());
    const countK = queueKeys(prefix, 'count');
    // The next step's queue refuses its creation for now: the hand-off waits in the outbox, the wait polls it.
    await raw.set(countK.jobs, 'in the way');
    const worker = createWorker(chainJobs, chainHandlers, { redis: redisUrl(), prefix, leaseMs: CHAIN_LEASE_MS, logger: false });
    worker.on('error', () => {});
    defer(() => worker.close());
    const chain = await client.chain('fetchPage', { url: 'https://b' }).next('countWords').enqueue();
    const waited = chain.result({ timeout: '20s' });
    await waitFor(async () => (await raw.hlen(queueKeys(prefix, 'fetch').chainOutbox)) === 1, 'the hand-off waiting');
    // Redis answers nobody for 1.5 s: the client's reads time out (200 ms) meanwhile.
    await raw.client('PAUSE', 1500, 'ALL');
    await new Promise((r) => setTimeout(r, 1700));
    await raw.del(countK.jobs);
    expect(await waited).toEqual({ words: expect.any(Number), lang: 'en' });
  });
});
