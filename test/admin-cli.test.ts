/**
 * How the `jobcraft jobs|dead` commands hand their options to the write API (`createAdmin`): the real `jobcraft`
 * command against the real Redis, on this file's own prefix.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, queueKeys } from '../src/index.js';
import { jobs } from '../jobs.schema.js';
import { runCli } from './cli.js';
import { deletePrefix, rawRedis, redisUrl, testPrefix } from './helpers.js';

const prefix = testPrefix('admin-cli');
const client = createClient(jobs, { redis: redisUrl(), prefix });
const raw = rawRedis();

afterAll(async () => {
  await client.close();
  await deletePrefix(raw, prefix);
  raw.disconnect();
});

describe('jobcraft jobs <verb> <ids> --queue', () => {
  it('acts on the job of that queue when another queue has a job with the same id', async () => {
    const email = queueKeys(prefix, 'email');
    const webhooks = queueKeys(prefix, 'webhooks');
    await client.enqueue('sendWelcomeEmail', { userId: 'u1', email: 'u1@example.com' }, { jobId: 'same', delay: '1h' });
    await client.enqueue('deliverWebhook', { url: 'https://example.com/hook', event: 'x', body: {} }, { jobId: 'same', delay: '1h' });
    const r = await runCli(['jobs', 'cancel', 'same', '--queue', 'webhooks', '--json'], { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, NO_COLOR: '', FORCE_COLOR: '' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(await raw.hexists(webhooks.jobs, 'same')).toBe(0);
    expect(await raw.hexists(email.jobs, 'same')).toBe(1);
  });
});
