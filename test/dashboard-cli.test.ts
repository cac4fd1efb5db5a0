/**
 * `jobcraft dashboard`, the real command: it refuses a non-loopback bind without credentials (exit 2, saying why),
 * serves on loopback by default, asks for credentials when they are set, honours --read-only and --base-path, and
 * stops cleanly on SIGTERM.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, defineJobs } from '../src/index.js';
import { runCli } from './cli.js';
import { serving } from './dashboard-helpers.js';
import { clearPrefix, redisUrl, testPrefix } from './helpers.js';

const prefix = testPrefix('dashboard-cli');
const jobs = defineJobs({ ping: { payload: z.object({}), queue: 'pings' } });
const env = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, JOBCRAFT_DASHBOARD_TOKEN: '', JOBCRAFT_DASHBOARD_USER: '', JOBCRAFT_DASHBOARD_PASSWORD: '' };

beforeAll(async () => {
  const client = createClient(jobs, { redis: redisUrl(), prefix });
  await client.enqueue('ping', {});
  await client.close();
});
afterAll(() => clearPrefix(prefix));

describe('jobcraft dashboard', () => {
  it('refuses to bind a non-loopback address without credentials, saying why', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const run = await runCli(['dashboard', '--host', host, '--port', '0'], env);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`refusing to bind ${host}`);
      expect(run.stderr).toContain('JOBCRAFT_DASHBOARD_TOKEN');
    }
  });

  it('serves on loopback by default, and exits 0 on SIGTERM', async () => {
    const run = await serving([], env, async (url) => {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      const res = await fetch(url);
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('data-queue="pings"');
      expect(text).toContain('data-testid="pause-queue"');
    });
    expect(run.code).toBe(0);
  });

  it('with a token binds any address and asks every request for it; --read-only and --base-path apply', async () => {
    const token = 'a-long-enough-secret-token';
    await serving(['--host', '0.0.0.0', '--read-only', '--base-path', '/ops'], { ...env, JOBCRAFT_DASHBOARD_TOKEN: token }, async (url) => {
      const port = new URL(url).port;
      const local = `http://127.0.0.1:${port}/ops/`;
      const anonymous = await fetch(local);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic /);
      expect((await fetch(local, { headers: { Authorization: 'Bearer wrong-token-of-some-length' } })).status).toBe(401);
      const bearer = await fetch(local, { headers: { Authorization: `Bearer ${token}` } });
      expect(bearer.status).toBe(200);
      const text = await bearer.text();
      expect(text).toContain('data-queue="pings"');
      expect(text).not.toContain('data-testid="pause-queue"');
      const basic = await fetch(local, { headers: { Authorization: `Basic ${Buffer.from(`me:${token}`).toString('base64')}` } });
      expect(basic.status).toBe(200);
    });
  });

  it('--insecure-bind binds a non-loopback address without credentials when told to', async () => {
    await serving(['--host', '0.0.0.0', '--insecure-bind'], env, async (url) => {
      expect((await fetch(`http://127.0.0.1:${new URL(url).port}/`)).status).toBe(200);
    });
  });

  it('refuses half-set basic credentials and a short token', async () => {
    const half = await runCli(['dashboard', '--host', '0.0.0.0', '--port', '0'], { ...env, JOBCRAFT_DASHBOARD_USER: 'me' });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('JOBCRAFT_DASHBOARD_PASSWORD');
    const short = await runCli(['dashboard', '--port', '0'], { ...env, JOBCRAFT_DASHBOARD_TOKEN: 'short' });
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('at least 16 characters');
  });
});
