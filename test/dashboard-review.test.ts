/**
 * Defects found by the dashboard's adversarial review, each pinned by a test written before its fix (HTTP through the
 * fetch handler, the real command over a socket, or the page script as served): the dead letters page carried every
 * shown payload out of Redis; an `authorize` Response with immutable headers failed; Redis down flooded the log and
 * answered 500; a forged state widened an action; replicas refused each other's CSRF tokens; options were refused
 * without naming them; coming back to a tab refreshed with polling off; a mistyped queue looked empty; the command's
 * action log could be forged, `--host [::1]` failed and DNS rebinding reached the open loopback dashboard; a completed
 * job showed an empty payload; the bare base path's redirect lacked the security headers; the job-type filter could
 * not name undeclared jobs. Plus an escaping regression test for the manifest's text.
 */
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Redis } from 'ioredis';
import * as z from 'zod';
import { createClient, createWorker, defineJobs, PermanentError, type JobClient, type Worker } from '../src/index.js';
import { createDashboard } from '../dashboard/index.js';
import { clearPrefix, redisUrl, testPrefix, waitFor } from './helpers.js';
import { dashboards, get, post, serving, session, testId } from './dashboard-helpers.js';
import { request as httpRequest } from 'node:http';

const jobs = defineJobs({
  heavy: { payload: z.object({ blob: z.string() }), queue: 'heavy', attempts: 1 },
  task: { payload: z.object({ n: z.number() }), queue: 'work' },
});

const prefix = testPrefix('dashboard-review');
let client: JobClient<typeof jobs>;
let worker: Worker;
const dashboard = dashboards({ prefix, jobs });
/** The environment of the `jobcraft dashboard` runs: this file's Redis and prefix, no credentials. */
const cliEnv = { REDIS_URL: redisUrl(), JOBCRAFT_PREFIX: prefix, JOBCRAFT_DASHBOARD_TOKEN: '', JOBCRAFT_DASHBOARD_USER: '', JOBCRAFT_DASHBOARD_PASSWORD: '' };
const BLOB = 'x'.repeat(400 * 1024);

/** Bytes of a reply (strings, buffers, nested arrays). */
function replyBytes(r: unknown): number {
  if (typeof r === 'string') return Buffer.byteLength(r);
  if (Buffer.isBuffer(r)) return r.length;
  if (Array.isArray(r)) return r.reduce((n: number, x) => n + replyBytes(x), 0);
  if (r !== null && typeof r === 'object') return Object.values(r).reduce((n: number, x) => n + replyBytes(x), 0);
  return 8;
}

/** A connection that counts the bytes of every reply it receives, and records each command sent (`NAME first-arg`). */
function countingConnection(): { redis: Redis; bytes: () => number; commands: string[]; reset: () => void } {
  const redis = new Redis(redisUrl());
  let bytes = 0;
  const commands: string[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = ((command: Parameters<Redis['sendCommand']>[0], stream?: Parameters<Redis['sendCommand']>[1]) => {
    const p = send(command, stream);
    commands.push(`${command.name.toUpperCase()} ${String(command.args[0] ?? '')}`);
    (command as unknown as { promise: Promise<unknown> }).promise.then((r) => (bytes += replyBytes(r))).catch(() => {});
    return p;
  }) as Redis['sendCommand'];
  return { redis, bytes: () => bytes, commands, reset: () => ((bytes = 0), commands.splice(0)) };
}

beforeAll(async () => {
  client = createClient(jobs, { redis: redisUrl(), prefix });
  worker = createWorker(
    jobs,
    {
      heavy: () => {
        throw new PermanentError('refused');
      },
    },
    { redis: redisUrl(), prefix, logger: false, queues: ['heavy'] },
  );
  await worker.ready;
  // Ids of the user's: the inspector cannot tell their queue from them.
  for (let i = 0; i < 4; i++) await client.enqueue('heavy', { blob: BLOB }, { jobId: `order-${i}` });
  await client.enqueue('task', { n: 1 }, { delay: '1h', jobId: 'later-1' });
  await client.enqueue('task', { n: 2 }, { jobId: 'waiting-1' });
  await waitFor(async () => (await client.getJob('order-3'))?.state === 'dead', 'the heavy jobs dead');
});

afterAll(async () => {
  await worker?.close();
  await client?.close();
  await clearPrefix(prefix);
});

describe('cost', () => {
  it("the dead letters page shows each letter's reason without carrying its payload out of Redis", async () => {
    const counting = countingConnection();
    try {
      const d = dashboard({ redis: counting.redis });
      await get(d, '/dead?queue=heavy'); // warm: scripts loaded, registry read
      counting.reset();
      const page = await get(d, '/dead?queue=heavy');
      expect(page.status).toBe(200);
      expect(page.text.match(/data-testid="job-row"/g)).toHaveLength(4);
      expect(page.text).toContain('<td>permanent_error</td>');
      // Four letters of 400 KiB each: a page that read them would carry 1.6 MB.
      expect(counting.bytes()).toBeLessThan(64 * 1024);
    } finally {
      counting.redis.disconnect();
    }
  });

  it('a queue page reads the queue registry once (its counts and listing take the queue from that read)', async () => {
    const counting = countingConnection();
    try {
      await counting.redis.ping(); // connected: a command queued offline would be sent (and counted) twice
      counting.reset();
      const d = dashboard({ redis: counting.redis });
      const page = await get(d, '/queues/work?state=delayed');
      expect(page.status).toBe(200);
      expect(page.text).toContain('data-job-id="later-1"');
      expect(page.text).not.toContain('data-testid="queue-unknown"');
      expect(counting.commands.filter((c) => c === `HGETALL ${prefix}:queues`)).toHaveLength(1);
    } finally {
      counting.redis.disconnect();
    }
  });
});

describe('authorize', () => {
  it('a Response with immutable headers (Response.redirect to a login page) is sent, with the security headers', async () => {
    const d = dashboard({ authorize: () => Response.redirect('https://login.example/?next=%2Fjobs', 302), logError: () => {} });
    const res = await get(d, '/');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://login.example/?next=%2Fjobs');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });
});

describe('Redis down', () => {
  it('answers 503 with a page naming the problem, and logs through logError instead of ioredis flooding the console', async () => {
    const logged: string[] = [];
    const consoleError = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const d = dashboard({ redis: 'redis://127.0.0.1:1', logError: (m, e) => logged.push(`${m}: ${String(e)}`) });
      const res = await get(d, '/');
      expect(res.status).toBe(503);
      expect(testId(res.text, 'error')).toContain('redis://127.0.0.1:1 is unreachable');
      expect(res.text).toContain('data-no-refresh');
      const ioredisNoise = consoleError.mock.calls.filter((c) => String(c[0]).includes('[ioredis]'));
      expect(ioredisNoise).toEqual([]);
      expect(logged.some((l) => l.includes('ECONNREFUSED'))).toBe(true);
      await d.close();
    } finally {
      consoleError.mockRestore();
    }
  });
});

describe('actions', () => {
  it('refuses a state the action does not apply to instead of acting on every state', async () => {
    const d = dashboard();
    const { cookie, token } = await session(d);
    // cancel does not apply to active jobs: a forged form must not turn into "cancel every waiting/delayed/retrying job".
    const res = await post(d, { _csrf: token, action: 'cancel', queue: 'work', state: 'active', select: 'all', dry: '1' }, { Cookie: cookie });
    expect(res.status).toBe(400);
    expect(testId(res.text, 'error')).toContain('cancel does not apply to active jobs');
    const byId = await post(d, { _csrf: token, action: 'cancel', queue: 'work', state: 'dead', id: 'later-1' }, { Cookie: cookie });
    expect(byId.status).toBe(400);
    expect((await client.getJob('later-1'))?.state).toBe('delayed');
  });

  it('a refused Origin says how to accept it (X-Forwarded-Host or trustedOrigins)', async () => {
    const d = dashboard();
    const { cookie, token } = await session(d);
    const res = await post(d, { _csrf: token, action: 'pause', queue: 'work' }, { Cookie: cookie, Origin: 'https://ops.example.com', 'Sec-Fetch-Site': 'same-origin' });
    expect(res.status).toBe(403);
    expect(testId(res.text, 'error')).toContain('trustedOrigins');
    expect(testId(res.text, 'error')).toContain('X-Forwarded-Host');
  });
});

describe('replicas', () => {
  it('dashboards sharing csrfSecret accept each other\'s tokens (replicas behind a load balancer); others refuse them', async () => {
    const secret = 'a-secret-shared-by-every-replica-0123456789';
    const a = dashboard({ csrfSecret: secret });
    const b = dashboard({ csrfSecret: secret });
    const { cookie, token } = await session(a, '/queues/work?state=delayed');
    const res = await post(b, { _csrf: token, action: 'promote', queue: 'work', state: 'delayed', id: 'no-such-job' }, { Cookie: cookie });
    expect(res.status).toBe(200);
    expect(res.text).toContain('not found');
    expect((await post(dashboard(), { _csrf: token, action: 'promote', queue: 'work', id: 'no-such-job' }, { Cookie: cookie })).status).toBe(403);
    expect(() => createDashboard({ redis: redisUrl(), prefix, csrfSecret: 'short' })).toThrow(/csrfSecret.*at least 32/);
  });
});

describe('options', () => {
  it('a bad option is refused with a message naming it', () => {
    expect(() => createDashboard({ redis: redisUrl(), prefix, basePath: 'admin' })).toThrow(/basePath must be a path starting with "\/"/);
    expect(() => createDashboard({ redis: redisUrl(), prefix, pollMs: -1 })).toThrow(/pollMs must be a whole number of ms/);
    // An origin is scheme://host[:port]: one with a path or a trailing slash would never match a browser's Origin.
    expect(() => createDashboard({ redis: redisUrl(), prefix, trustedOrigins: ['https://ops.example.com/'] })).toThrow(/trustedOrigins.*"https:\/\/ops.example.com\/".*https:\/\/ops.example.com/);
    expect(() => createDashboard({ redis: redisUrl(), prefix, trustedOrigins: ['ops.example.com'] })).toThrow(/trustedOrigins/);
  });
});

/**
 * Runs the page script as served (GET /static/dashboard.js) against a stub of the few DOM parts it touches, and
 * records what it fetches: the polling logic without a browser.
 */
function runPageScript(source: string, o: { pollMs: number; stored?: string; noRefresh?: boolean }) {
  const listeners: Record<string, ((e: unknown) => void)[]> = {};
  const fetches: string[] = [];
  const ticks: (() => void)[] = [];
  const select = { options: [{ value: '0' }, { value: '2000' }, { value: '5000' }], value: '', addEventListener: () => {}, appendChild: () => {} };
  const content = { querySelector: () => null, contains: () => false, replaceChildren: () => {} };
  const document = {
    hidden: false,
    activeElement: null,
    body: { getAttribute: (n: string) => (n === 'data-poll-ms' ? String(o.pollMs) : null), hasAttribute: (n: string) => n === 'data-no-refresh' && o.noRefresh === true },
    getElementById: (id: string) => (id === 'refresh-interval' ? select : id === 'content' ? content : null),
    addEventListener: (type: string, f: (e: unknown) => void) => (listeners[type] ??= []).push(f),
    createElement: () => ({}),
  };
  const window = {
    localStorage: { getItem: () => o.stored ?? null, setItem: () => {} },
    setInterval: (f: () => void) => ticks.push(f),
    clearInterval: () => {},
    location: { href: 'http://dash.test/queues/work' },
    confirm: () => true,
  };
  const fetch = (url: string) => {
    fetches.push(url);
    return new Promise(() => {});
  };
  runInNewContext(source, { window, document, fetch });
  const becomeVisible = () => {
    document.hidden = false;
    for (const f of listeners['visibilitychange'] ?? []) f({});
  };
  return { fetches, ticks, document, becomeVisible };
}

describe('polling (the page script)', () => {
  it('coming back to the tab refreshes only when polling is on, and never an action\'s answer', async () => {
    const source = (await get(dashboard(), '/static/dashboard.js')).text;
    const on = runPageScript(source, { pollMs: 5000 });
    on.document.hidden = true;
    for (const tick of on.ticks) tick();
    expect(on.fetches).toEqual([]); // hidden: no refresh
    on.becomeVisible();
    expect(on.fetches).toEqual(['http://dash.test/queues/work']);
    const off = runPageScript(source, { pollMs: 5000, stored: '0' });
    expect(off.ticks).toEqual([]);
    off.becomeVisible();
    expect(off.fetches).toEqual([]); // the user turned refreshing off
    const answer = runPageScript(source, { pollMs: 5000, noRefresh: true });
    answer.becomeVisible();
    expect(answer.fetches).toEqual([]); // a POST's answer: reloading it would GET /actions
  });
});

describe('queue page', () => {
  it('says so when no queue of that name is registered, instead of showing an empty queue', async () => {
    const d = dashboard();
    const typo = await get(d, '/queues/wrok');
    expect(typo.status).toBe(200);
    expect(testId(typo.text, 'queue-unknown')).toContain('No queue named wrok is registered');
    expect(testId((await get(d, `/queues/${encodeURIComponent('<b>x</b>')}`)).text, 'queue-unknown')).toContain('&lt;b&gt;x&lt;/b&gt;');
    expect((await get(d, '/queues/work')).text).not.toContain('data-testid="queue-unknown"');
  });
});

describe('jobcraft dashboard (the command)', () => {
  it('logs each action on one line of its own: a queue name holding a newline cannot forge another log line', async () => {
    const run = await serving([], cliEnv, async (url, out) => {
      const page = await fetch(url);
      const cookie = /jobcraft_csrf=[^;]+/.exec(page.headers.get('set-cookie') ?? '')?.[0] ?? '';
      const token = /<meta name="jobcraft-csrf" content="([^"]+)">/.exec(await page.text())?.[1] ?? '';
      const forged = 'nothing\naction dead-purge queue=payments';
      const res = await fetch(`${url}actions`, {
        method: 'POST',
        headers: { Cookie: cookie, Origin: new URL(url).origin, 'Sec-Fetch-Site': 'same-origin' },
        body: new URLSearchParams({ _csrf: token, action: 'resume', queue: forged }),
      });
      expect(res.status).toBe(400); // the admin API refuses the name; the failed attempt is logged all the same
      await waitFor(() => out().includes('action resume'), 'the action logged');
    });
    expect(run.stdout).toContain('action resume queue="nothing\\naction dead-purge queue=payments"');
    expect(run.stdout).not.toMatch(/^action dead-purge/m);
  });
});

describe('jobcraft dashboard --host', () => {
  it('binds an IPv6 loopback address written in brackets, as in a URL', async () => {
    const run = await serving(['--host', '[::1]'], cliEnv, async (url) => {
      expect(url).toMatch(/^http:\/\/\[::1\]:\d+\/$/);
      expect((await fetch(url)).status).toBe(200);
    });
    expect(run.code).toBe(0);
  });
});

/** A GET over a real socket with the Host header given (as a browser sends it after a DNS rebinding). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { Host: host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('DNS rebinding', () => {
  it('allowedHosts: a request for another host name is refused before anything is read', async () => {
    const d = dashboard({ allowedHosts: ['localhost', '127.0.0.1'] });
    const evil = await get(d, '/');
    expect(evil.status).toBe(403); // dash.test is not listed
    expect(evil.text).toContain('dash.test');
    expect(evil.text).toContain('allowedHosts');
    expect((await d.fetch(new Request('http://localhost:4000/'))).status).toBe(200);
    expect((await d.fetch(new Request('http://127.0.0.1:4000/queues/work'))).status).toBe(200);
  });

  it('the command without credentials answers only requests for a loopback host name (a rebound attacker.example is refused)', async () => {
    await serving([], cliEnv, async (url) => {
      const port = new URL(url).port;
      const rebound = await getWithHost(url, `attacker.example:${port}`);
      expect(rebound.status).toBe(403);
      expect(rebound.body).not.toContain('data-queue');
      expect((await getWithHost(url, `localhost:${port}`)).status).toBe(200);
      expect((await getWithHost(url, `127.0.0.1:${port}`)).status).toBe(200);
    });
  });
});

describe('job page', () => {
  it('a completed job says it keeps no payload (not an empty box), and its download answers 404 saying so', async () => {
    const done = await client.enqueue('task', { n: 7 }, { jobId: 'done-1' });
    const w = createWorker(jobs, { task: () => {} }, { redis: redisUrl(), prefix, logger: false, queues: ['work'] });
    try {
      await waitFor(async () => (await client.getJob(done.id))?.state === 'completed', 'done-1 completed');
    } finally {
      await w.close();
    }
    const d = dashboard();
    const page = await get(d, '/jobs/done-1');
    expect(testId(page.text, 'job-state')).toBe('completed');
    expect(page.text).not.toContain('data-testid="payload"');
    expect(testId(page.text, 'payload-none')).toContain('keeps no payload');
    const download = await get(d, '/jobs/done-1/payload');
    expect(download.status).toBe(404);
    expect(download.text).toContain('no payload');
  });
});

describe('headers', () => {
  it('the redirect of the bare base path carries the security headers too (docs: every response)', async () => {
    const d = dashboard({ basePath: '/admin/jobs' });
    const res = await get(d, '/admin/jobs?range=day');
    expect(res.status).toBe(308);
    expect(res.headers.get('location')).toBe('./jobs/?range=day');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
  });
});

describe('job-type filter', () => {
  it('offers a text field on a queue the job set declares no job for, and keeps a filter the select does not list', async () => {
    const d = dashboard();
    // The job set declares nothing on "other": a select would offer only "any".
    const other = await get(d, '/queues/other');
    expect(other.text).toMatch(/<input name="job" value="" data-testid="job-filter"/);
    // A filter from the URL on a declared queue stays shown (and selected) even when the job set lacks the name.
    const legacy = await get(d, '/queues/work?state=waiting&job=legacy-name');
    expect(legacy.text).toContain('<option value="legacy-name" selected>legacy-name</option>');
  });
});

describe('escaping (regression)', () => {
  it('manifest text (job names, JSON Schema descriptions) shows as text on the job types page', async () => {
    const evil = '</pre><script>alert(1)</script><img src=x onerror=alert(2)>';
    const d = dashboard({ manifest: { jobs: [{ name: `t"${evil}`, queue: 'work', description: evil, input: { type: 'object', description: evil } }] } });
    const page = await get(d, '/types');
    expect(page.status).toBe(200);
    expect(page.text).not.toContain('<script>alert(1)');
    expect(page.text).not.toContain('<img src=x');
    expect(testId(page.text, 'job-type-schema')).toContain('&lt;/pre&gt;&lt;script&gt;');
    expect(page.text).toContain('data-job="t&quot;&lt;/pre&gt;');
  });
});
