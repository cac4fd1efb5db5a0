/**
 * The dashboard's guards, through its fetch handler on a real Redis: `authorize` (forbidden, read-only, a per-action
 * answer, a Response of its own), `readOnly`, and the CSRF checks of every POST (Sec-Fetch-Site, Origin, the signed
 * double-submit token). Also the node:http adapter, over a real socket.
 */
import { createServer, type Server } from 'node:http';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createClient, defineJobs, type JobClient } from '../src/index.js';
import { toNodeListener, type Access } from '../dashboard/index.js';
import { clearPrefix, redisUrl, testPrefix } from './helpers.js';
import { dashboards, get, ORIGIN, post, session } from './dashboard-helpers.js';

const jobs = defineJobs({ task: { payload: z.object({ n: z.number() }), queue: 'work' } });
const prefix = testPrefix('dashboard-security');
let client: JobClient<typeof jobs>;
const dashboard = dashboards({ prefix, jobs });

beforeAll(async () => {
  client = createClient(jobs, { redis: redisUrl(), prefix });
  await client.enqueue('task', { n: 1 }, { delay: '1h' });
});

afterAll(async () => {
  await client.close();
  await clearPrefix(prefix);
});

describe('authorize', () => {
  it('forbidden answers 403 to every page, file and POST', async () => {
    const d = dashboard({ authorize: () => 'forbidden' });
    for (const path of ['/', '/queues/work', '/dead', '/static/dashboard.js']) expect((await get(d, path)).status).toBe(403);
    expect((await post(d, { action: 'pause', queue: 'work' }, {})).status).toBe(403);
  });

  it('a Response of its own is sent as it is (a 401 asking for credentials)', async () => {
    const d = dashboard({
      authorize: (req) =>
        req.headers.get('authorization') === 'Bearer ok' ? 'full' : new Response('who are you?', { status: 401, headers: { 'WWW-Authenticate': 'Bearer' } }),
    });
    const denied = await get(d, '/');
    expect(denied.status).toBe(401);
    expect(denied.headers.get('www-authenticate')).toBe('Bearer');
    expect(denied.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await get(d, '/', { Authorization: 'Bearer ok' })).status).toBe(200);
  });

  it('a throwing authorize forbids', async () => {
    const d = dashboard({
      authorize: () => {
        throw new Error('auth backend down');
      },
      logError: () => {},
    });
    expect((await get(d, '/')).status).toBe(403);
  });

  it('read-only hides every action button and refuses POSTs with 403, even with a valid token', async () => {
    for (const d of [dashboard({ authorize: () => 'read-only' }), dashboard({ readOnly: true })]) {
      const overview = await get(d, '/');
      expect(overview.status).toBe(200);
      expect(overview.text).not.toContain('data-testid="pause-queue"');
      const queue = await get(d, '/queues/work?state=delayed');
      expect(queue.text).toContain('data-testid="job-row"');
      expect(queue.text).not.toContain('method="post"');
      expect(queue.text).not.toContain('data-testid="select-job"');
      const { cookie, token } = await session(d, '/queues/work?state=delayed');
      const res = await post(d, { _csrf: token, action: 'pause', queue: 'work' }, { Cookie: cookie });
      expect(res.status).toBe(403);
      expect(res.text).toContain('read-only');
    }
    // The same requests on a full dashboard show the buttons: the assertions above can fail.
    const full = await get(dashboard(), '/queues/work?state=delayed');
    expect(full.text).toContain('data-testid="pause-queue"');
    expect(full.text).toContain('data-testid="select-job"');
  });

  it('a per-action answer shows and allows only those actions', async () => {
    const access: Access = { actions: ['promote'] };
    const d = dashboard({ authorize: () => access });
    const queue = await get(d, '/queues/work?state=delayed');
    expect(queue.text).toContain('data-testid="selected-promote"');
    expect(queue.text).not.toContain('data-testid="selected-cancel"');
    expect(queue.text).not.toContain('data-testid="pause-queue"');
    const { cookie, token } = await session(d, '/queues/work?state=delayed');
    expect((await post(d, { _csrf: token, action: 'pause', queue: 'work' }, { Cookie: cookie })).text).toContain('You may not pause here');
    expect((await post(d, { _csrf: token, action: 'pause', queue: 'work' }, { Cookie: cookie })).status).toBe(403);
  });
});

describe('CSRF', () => {
  it('a POST with a valid token from a same-origin page passes the checks (an unknown action is then a 400)', async () => {
    const d = dashboard();
    const { cookie, token } = await session(d);
    const res = await post(d, { _csrf: token, action: 'explode' }, { Cookie: cookie });
    expect(res.status).toBe(400);
    expect(res.text).toContain('unknown action');
  });

  it('refuses a cross-site POST (Sec-Fetch-Site), a foreign Origin, a missing token, a token of another cookie', async () => {
    const d = dashboard();
    const { cookie, token } = await session(d);
    const fields = { _csrf: token, action: 'pause', queue: 'work' };
    const crossSite = await post(d, fields, { Cookie: cookie, 'Sec-Fetch-Site': 'cross-site' });
    expect(crossSite.status).toBe(403);
    expect(crossSite.text).toContain('Cross-site request refused');
    const foreign = await post(d, fields, { Cookie: cookie, Origin: 'https://evil.example', 'Sec-Fetch-Site': '' });
    expect(foreign.status).toBe(403);
    expect(foreign.text).toContain('https://evil.example');
    expect((await post(d, { action: 'pause', queue: 'work' }, { Cookie: cookie })).status).toBe(403);
    expect((await post(d, fields, {})).status).toBe(403);
    const other = await session(d);
    expect((await post(d, fields, { Cookie: other.cookie })).status).toBe(403);
    // Another dashboard instance's token is not this one's.
    const stranger = await session(dashboard());
    expect((await post(d, { ...fields, _csrf: stranger.token }, { Cookie: stranger.cookie })).status).toBe(403);
    // The queue was never paused by any of these.
    expect((await get(d, '/queues/work')).text).toContain('data-testid="queue-running"');
  });

  it('refuses a POST body over 1 MiB with 413, before reading it as a form', async () => {
    const d = dashboard();
    const { cookie, token } = await session(d);
    const res = await post(d, { _csrf: token, action: 'cancel', id: 'x'.repeat(1024 * 1024) }, { Cookie: cookie });
    expect(res.status).toBe(413);
  });

  it('writes only by POST: other methods get 405, a GET of /actions 404', async () => {
    const d = dashboard();
    for (const method of ['PUT', 'DELETE', 'PATCH']) expect((await d.fetch(new Request(`${ORIGIN}/actions`, { method }))).status).toBe(405);
    expect((await get(d, '/actions')).status).toBe(404);
  });

  it('sets the CSRF cookie HttpOnly and SameSite=Strict, and Secure behind https', async () => {
    const d = dashboard();
    const plain = await d.fetch(new Request(`${ORIGIN}/`));
    expect(plain.headers.get('set-cookie')).toMatch(/^jobcraft_csrf=[\w-]{32}; Path=\/; HttpOnly; SameSite=Strict$/);
    const proxied = await d.fetch(new Request(`${ORIGIN}/`, { headers: { 'X-Forwarded-Proto': 'https' } }));
    expect(proxied.headers.get('set-cookie')).toMatch(/; Secure$/);
  });
});

describe('node:http adapter', () => {
  let server: Server;
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  it('serves the dashboard over a real socket, under a base path, with its headers', async () => {
    const d = dashboard({ basePath: '/admin/jobs' });
    server = createServer(toNodeListener(d));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const res = await fetch(`http://127.0.0.1:${port}/admin/jobs/queues/work?state=delayed`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'nonce-");
    expect(await res.text()).toContain('data-testid="job-row"');
    const redirect = await fetch(`http://127.0.0.1:${port}/admin/jobs`, { redirect: 'manual' });
    expect(redirect.status).toBe(308);
    expect((await fetch(`http://127.0.0.1:${port}/elsewhere`)).status).toBe(404);
  });

  it("uses originalUrl when a router (as Express's app.use does) strips the mount path from req.url", async () => {
    const d = dashboard({ basePath: '/admin/jobs' });
    const listener = toNodeListener(d);
    // What Express does for app.use('/admin/jobs', listener): req.url relative to the mount, originalUrl whole.
    const express = createServer((req, res) => {
      const original = req.url ?? '/';
      Object.assign(req, { originalUrl: original, url: original.slice('/admin/jobs'.length) || '/' });
      void listener(req, res);
    });
    await new Promise<void>((resolve) => express.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = express.address() as AddressInfo;
      const res = await fetch(`http://127.0.0.1:${port}/admin/jobs/queues/work?state=delayed`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('data-testid="job-row"');
    } finally {
      await new Promise<void>((resolve) => express.close(() => resolve()));
    }
  });
});

describe('Hono', () => {
  it('mounts in a Hono app with the documented one-liner', async () => {
    const d = dashboard({ basePath: '/admin/jobs' });
    const app = new Hono();
    app.get('/', (c) => c.text('the app'));
    app.all('/admin/jobs', (c) => d.fetch(c.req.raw));
    app.all('/admin/jobs/*', (c) => d.fetch(c.req.raw));
    const page = await app.request('http://dash.test/admin/jobs/queues/work?state=delayed');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('data-testid="job-row"');
    expect((await app.request('http://dash.test/admin/jobs')).status).toBe(308);
    expect(await (await app.request('http://dash.test/')).text()).toBe('the app');
  });
});
