/**
 * A chain outbox key of the wrong Redis type (written by someone with access to Redis): the worker's sweep reports it
 * naming the key (HLEN alone answers WRONGTYPE without saying which key), and keeps serving its queues.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createWorker, defineJobs, queueKeys } from '../src/index.js';
import { cleanupRegistry, redisUrl, testClient, waitFor } from './helpers.js';

const defer = cleanupRegistry();
const jobs = defineJobs({ square: { queue: 'cho', payload: z.object({ n: z.number() }), result: z.number() } });

describe('a chain outbox of the wrong type', () => {
  it('is reported naming the key, and the queue keeps running', async () => {
    const { client, raw, prefix } = testClient(jobs, 'chain-outbox-type', defer);
    const k = queueKeys(prefix, 'cho');
    await raw.set(k.chainOutbox, 'a string where a hash belongs');
    const reported: string[] = [];
    const log = (m: string): void => void reported.push(m);
    const worker = createWorker(jobs, { square: (p) => p.n * p.n }, { redis: redisUrl(), prefix, leaseMs: 1_000, logger: { debug: () => {}, info: () => {}, warn: log, error: log } });
    worker.on('error', (e) => void reported.push(e.message));
    defer(() => worker.close());
    const h = await client.enqueue('square', { n: 7 });
    expect(await h.result({ timeout: '20s' })).toBe(49);
    await waitFor(() => reported.some((m) => m.includes(k.chainOutbox)), `a report naming ${k.chainOutbox}`, 20_000);
  });
});
