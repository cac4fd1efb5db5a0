/**
 * Helpers of the dashboard tests: dashboards closed after a file's tests, requests against a dashboard's fetch
 * handler, a form's CSRF token and cookie, and the `jobcraft dashboard` command serving for the length of a test.
 */
import type { ChildProcess } from 'node:child_process';
import { afterAll } from 'vitest';
import { createDashboard, type Dashboard, type DashboardOptions } from '../dashboard/index.js';
import { runCli, type Run } from './cli.js';
import { redisUrl, waitFor } from './helpers.js';

export const ORIGIN = 'http://dash.test';

/**
 * Opens dashboards on the test Redis with `defaults` (a file's prefix and job set) and each call's options over them;
 * every one is closed after the file's tests. Call once per file, at module level.
 */
export function dashboards(defaults: DashboardOptions): (options?: DashboardOptions) => Dashboard {
  const open: Dashboard[] = [];
  afterAll(async () => {
    for (const d of open.splice(0)) await d.close();
  });
  return (options = {}) => {
    const d = createDashboard({ redis: redisUrl(), ...defaults, ...options });
    open.push(d);
    return d;
  };
}

/** GETs a path of the dashboard (relative to the origin). */
export async function get(dashboard: Dashboard, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; headers: Headers }> {
  const res = await dashboard.fetch(new Request(`${ORIGIN}${path}`, { headers }));
  return { status: res.status, text: await res.text(), headers: res.headers };
}

/** The CSRF cookie set by a page and the token its forms carry. */
export async function session(dashboard: Dashboard, path = '/'): Promise<{ cookie: string; token: string }> {
  const res = await dashboard.fetch(new Request(`${ORIGIN}${path}`));
  const set = res.headers.get('set-cookie') ?? '';
  const cookie = /jobcraft_csrf=([^;]+)/.exec(set)?.[1];
  const token = /<meta name="jobcraft-csrf" content="([^"]+)">/.exec(await res.text())?.[1];
  if (cookie === undefined || token === undefined) throw new Error(`no CSRF cookie or token on ${path}`);
  return { cookie: `jobcraft_csrf=${cookie}`, token };
}

/** POSTs a form to the dashboard's /actions as a same-origin browser would (override any header in `headers`; '' leaves it out). */
export async function post(
  dashboard: Dashboard,
  fields: Record<string, string | readonly string[]>,
  headers: Record<string, string>,
  path = '/actions',
): Promise<{ status: number; text: string }> {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of typeof v === 'string' ? [v] : v) body.append(k, one);
  const res = await dashboard.fetch(
    new Request(`${ORIGIN}${path}`, {
      method: 'POST',
      body,
      headers: Object.fromEntries(
        Object.entries({ 'Content-Type': 'application/x-www-form-urlencoded', Origin: ORIGIN, 'Sec-Fetch-Site': 'same-origin', ...headers }).filter(([, v]) => v !== ''),
      ),
    }),
  );
  return { status: res.status, text: await res.text() };
}

/** The text content of an HTML fragment's test id element (first match), tags stripped. */
export function testId(html: string, id: string): string | undefined {
  const m = new RegExp(`data-testid="${id}"[^>]*>([\\s\\S]*?)</`).exec(html);
  return m?.[1];
}

/**
 * Runs `jobcraft dashboard --port 0 …args` with `env`, waits for the URL it prints (failing at once when it exits
 * first), runs `body` with that URL and its stdout so far, then stops it with SIGTERM. Returns the finished run.
 */
export async function serving(args: readonly string[], env: NodeJS.ProcessEnv, body: (url: string, stdout: () => string) => Promise<void>): Promise<Run> {
  let child: ChildProcess | undefined;
  let out = '';
  const done = runCli(['dashboard', '--port', '0', ...args], env, (c) => {
    child = c;
    c.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()));
  });
  try {
    const url = await Promise.race([
      waitFor(() => /on (http:\/\/\S+)/.exec(out)?.[1], `the dashboard's URL (stdout: ${out})`, 30_000),
      done.then((run) => {
        throw new Error(`the command exited ${run.code}: ${run.stderr}`);
      }),
    ]);
    await body(url, () => out);
  } finally {
    child?.kill('SIGTERM');
  }
  return done;
}
