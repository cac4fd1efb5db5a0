/**
 * `createDashboard(options)`: a Hono app behind a standard fetch handler. Each request is authorized first
 * (`authorize`, then `readOnly`), every response gets the security headers (a CSP with a fresh nonce on pages),
 * every POST passes the CSRF checks, and every page reads Redis through the Inspector (bounded by the page size)
 * and writes through the Admin API.
 */
import { Hono, type Context as HonoContext } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Cluster, Redis } from 'ioredis';
import { createAdmin, createInspector, InvalidArgumentError, RedisUnavailableError, type Admin, type RedisConfig } from 'jobcraft';
import { parseActionForm, resultPage, runAction } from './actions.js';
import { loadAssets } from './assets.js';
import { BadRequest, type ChartCache, type Ctx } from './context.js';
import { html, layout, type Html, type Page } from './html.js';
import { DASHBOARD_ACTIONS, type Access, type ActionEvent, type Dashboard, type DashboardAction, type DashboardOptions } from './options.js';
import { overviewPage } from './page-overview.js';
import { queuePage } from './page-queue.js';
import { jobPage, shownPayload } from './page-job.js';
import { deadPage } from './page-dead.js';
import { scheduledPage, workersPage } from './page-misc.js';
import { liveCheckPage, typesPage } from './page-types.js';
import { contentSecurityPolicy, cookieOf, Csrf, CSRF_COOKIE, CSRF_FIELD, csrfCookieHeader, crossSiteReason, newNonce, securityHeaders } from './security.js';

/** The default refresh period of the pages (ms). */
export const DEFAULT_POLL_MS = 5_000;
/** The shortest `csrfSecret` accepted. */
export const MIN_CSRF_SECRET = 32;
/** The largest POST body accepted (1,000 ids of 256 characters fit). */
export const MAX_POST_BYTES = 1024 * 1024;

/** What a request may do, resolved: the actions it may take (none: read-only). */
type Resolved = ReadonlySet<DashboardAction>;

type Env = { Variables: { access: Resolved; nonce: string; csrf: string } };

const PLAIN_TEXT = { 'Content-Type': 'text/plain; charset=utf-8' } as const;

/** An early answer (one the middleware's exit never sees), with the security headers every response carries. */
function secured(body: ConstructorParameters<typeof Response>[0], init: ResponseInit): Response {
  const res = new Response(body, init);
  securityHeaders(res.headers);
  return res;
}

function isConnection(v: unknown): v is Redis | Cluster {
  return v instanceof Redis || v instanceof Cluster || (typeof v === 'object' && v !== null && typeof (v as { info?: unknown }).info === 'function' && typeof (v as { evalsha?: unknown }).evalsha === 'function');
}

/** One connection for the inspector, the admin API and INFO: the caller's, or one opened here (then closed by close()). */
function openRedis(config: RedisConfig | undefined): { redis: Redis | Cluster; owned: boolean } {
  if (isConnection(config)) return { redis: config, owned: false };
  const common = { maxRetriesPerRequest: 2, enableReadyCheck: true } as const;
  if (config === undefined) return { redis: new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', common), owned: true };
  if (typeof config === 'string') return { redis: new Redis(config, common), owned: true };
  if ('cluster' in config) return { redis: new Cluster([...config.cluster], config.options), owned: true };
  return { redis: new Redis({ ...common, ...config }), owned: true };
}

/** `"/admin/jobs/"` → `"/admin/jobs"`; `"/"` → `""`. */
function normalizeBasePath(path: string): string {
  if (!path.startsWith('/') || /[?#\\]/.test(path)) throw new InvalidArgumentError('createDashboard', 'basePath', `basePath must be a path starting with "/" (no query or fragment): ${JSON.stringify(path)}`);
  return path.replace(/\/+$/, '');
}

function resolveAccess(access: Exclude<Access, Response>, readOnly: boolean): Resolved | undefined {
  if (access === 'forbidden') return undefined;
  if (readOnly || access === 'read-only') return new Set();
  if (access === 'full') return new Set(DASHBOARD_ACTIONS);
  if (typeof access === 'object' && Array.isArray(access.actions)) return new Set(access.actions.filter((a) => DASHBOARD_ACTIONS.includes(a)));
  return undefined;
}

/**
 * Builds the dashboard. Mount its `fetch` in any server that speaks `Request`/`Response` (Hono, Bun, Deno), or
 * with `toNodeListener` in node:http, Express, Fastify. See docs/dashboard.md.
 */
export function createDashboard(options: DashboardOptions = {}): Dashboard {
  const basePath = normalizeBasePath(options.basePath ?? '/');
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  if (!Number.isInteger(pollMs) || pollMs < 0) throw new InvalidArgumentError('createDashboard', 'pollMs', `pollMs must be a whole number of ms ≥ 0: ${String(pollMs)}`);
  const maxJobs = options.liveCheckMaxJobs;
  if (maxJobs !== undefined && (typeof maxJobs !== 'number' || !Number.isInteger(maxJobs) || maxJobs < 1)) {
    throw new InvalidArgumentError('createDashboard', 'liveCheckMaxJobs', `liveCheckMaxJobs must be a whole number of stored jobs ≥ 1: ${String(maxJobs)}`);
  }
  const logError = options.logError ?? ((message: string, error: unknown) => console.error(`jobcraft dashboard: ${message}`, error));
  const { redis, owned } = openRedis(options.redis);
  // A connection of ours gets an error listener: without one ioredis prints every failed reconnect, stack and all.
  // Each cause is logged once until Redis is back; the pages then say it is unreachable (503).
  // The cause is kept for the 503 page too: the command that failed only says ioredis gave up retrying.
  let lastConnectionError: string | undefined;
  if (owned) {
    redis.on('error', (err: Error) => {
      if (err.message === lastConnectionError) return;
      lastConnectionError = err.message;
      logError('Redis connection error', err);
    });
    redis.on('ready', () => (lastConnectionError = undefined));
  }
  const inspector = createInspector({ redis, prefix: options.prefix, jobs: options.jobs });
  let admin: Admin | undefined;
  const adminApi = (): Admin => (admin ??= createAdmin({ redis, prefix: options.prefix, jobs: options.jobs }));
  if (options.csrfSecret !== undefined && (typeof options.csrfSecret !== 'string' || options.csrfSecret.length < MIN_CSRF_SECRET)) {
    throw new InvalidArgumentError('createDashboard', 'csrfSecret', `csrfSecret must be a string of at least ${MIN_CSRF_SECRET} characters (random, kept secret)`);
  }
  const csrf = new Csrf(options.csrfSecret);
  const assets = loadAssets();
  const trusted = options.trustedOrigins ?? [];
  for (const origin of trusted) {
    let parsed: string | undefined;
    try {
      parsed = new URL(origin).origin;
    } catch {
      parsed = undefined;
    }
    // A browser's Origin is exactly scheme://host[:port]: anything else listed here would never match one.
    if (parsed !== origin) {
      throw new InvalidArgumentError('createDashboard', 'trustedOrigins', `trustedOrigins holds ${JSON.stringify(origin)}, which is not an origin (scheme://host[:port], no path${parsed === undefined || parsed === 'null' ? '' : `: ${parsed}`})`);
    }
  }
  const charts: ChartCache = new Map();

  const app = new Hono<Env>({ strict: false }).basePath(basePath === '' ? '/' : basePath);

  /** The page context: links relative to this page's depth under the base path (as the browser resolves them). */
  function pageOf(c: HonoContext<Env>, url = new URL(c.req.url)): Page {
    const access = c.get('access');
    const rel = url.pathname.slice(basePath.length).replace(/^\//, '');
    const depth = rel.split('/').length - 1;
    return {
      root: depth === 0 ? './' : '../'.repeat(depth),
      nonce: c.get('nonce'),
      csrf: c.get('csrf'),
      can: (a) => access.has(a),
      pollMs,
      here: rel + url.search,
    };
  }

  function ctxOf(c: HonoContext<Env>): Ctx {
    const url = new URL(c.req.url);
    return { inspector, admin: adminApi, redis, options, jobs: options.jobs, page: pageOf(c, url), url, charts };
  }

  async function htmlResponse(c: HonoContext<Env>, body: Html, status: 200 | 400 | 403 | 404 | 500 | 503 = 200): Promise<Response> {
    c.header('Content-Security-Policy', contentSecurityPolicy(c.get('nonce')));
    return c.html(await body, status);
  }

  function errorPage(c: HonoContext<Env>, status: 400 | 403 | 404 | 500 | 503, title: string, message: string): Promise<Response> {
    return htmlResponse(c, layout(pageOf(c), title, html`<p class="error" data-testid="error">${message}</p>`, false), status);
  }

  // Authorization, nonce, CSRF cookie; security headers on the way out.
  app.use('*', async (c, next) => {
    let access: Access;
    try {
      access = options.authorize === undefined ? 'full' : await options.authorize(c.req.raw);
    } catch (err) {
      logError('authorize threw; the request is refused', err);
      access = 'forbidden';
    }
    if (access instanceof Response) {
      // Copied: the headers of Response.redirect() or of a fetch() answer are immutable, and setting ours threw.
      return secured(access.body, { status: access.status, statusText: access.statusText, headers: access.headers });
    }
    const resolved = resolveAccess(access, options.readOnly === true);
    if (resolved === undefined) return secured('forbidden\n', { status: 403, headers: PLAIN_TEXT });
    c.set('access', resolved);
    c.set('nonce', newNonce());
    let cookie = cookieOf(c.req.raw, CSRF_COOKIE);
    const fresh = cookie === undefined || !/^[A-Za-z0-9_-]{32}$/.test(cookie);
    if (fresh) cookie = csrf.newCookie();
    c.set('csrf', csrf.token(cookie as string));
    await next();
    const secure = new URL(c.req.url).protocol === 'https:' || c.req.header('x-forwarded-proto')?.split(',')[0]?.trim() === 'https';
    if (fresh && c.req.method === 'GET' && (c.res.headers.get('content-type') ?? '').startsWith('text/html')) c.res.headers.append('Set-Cookie', csrfCookieHeader(cookie as string, '/', secure));
    securityHeaders(c.res.headers);
  });

  app.onError((err, c) => {
    if (err instanceof InvalidArgumentError || err instanceof BadRequest) return errorPage(c, 400, 'Bad request', err.message);
    if (err instanceof RedisUnavailableError) {
      const cause = lastConnectionError;
      return errorPage(c, 503, 'Redis unavailable', cause === undefined || err.message.includes(cause) ? err.message : `${err.message} (connection error: ${cause})`);
    }
    logError(`${c.req.method} ${new URL(c.req.url).pathname} failed`, err);
    return errorPage(c, 500, 'Error', `The request failed: ${(err as Error)?.message ?? String(err)}`);
  });

  app.get('/', async (c) => htmlResponse(c, await overviewPage(ctxOf(c))));
  app.get('/queues/:queue', async (c) => htmlResponse(c, await queuePage(ctxOf(c), c.req.param('queue'))));
  app.get('/jobs/:id', async (c) => {
    const page = await jobPage(ctxOf(c), c.req.param('id'));
    return page === undefined ? errorPage(c, 404, 'Not found', `No job has the id ${c.req.param('id')} (it may have completed and been trimmed, or been deleted).`) : htmlResponse(c, page);
  });
  app.get('/jobs/:id/payload', async (c) => {
    const job = await inspector.job(c.req.param('id'));
    if (job.state === 'unknown') return c.text('not found\n', 404);
    if (job.state === 'completed' || job.payload === undefined) return c.text('no payload: a completed job keeps none, and an unreadable one has none to give\n', 404);
    const { text, failed } = await shownPayload(options, job);
    if (failed) return c.text(`${text}\n`, 500);
    const name = `job-${job.id.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`;
    return new Response(text, { headers: { 'Content-Type': 'application/json; charset=utf-8', 'Content-Disposition': `attachment; filename="${name}"` } });
  });
  app.get('/dead', async (c) => htmlResponse(c, await deadPage(ctxOf(c))));
  app.get('/scheduled', async (c) => htmlResponse(c, await scheduledPage(ctxOf(c))));
  app.get('/workers', async (c) => htmlResponse(c, await workersPage(ctxOf(c))));
  app.get('/types', (c) => htmlResponse(c, typesPage(ctxOf(c))));
  // Read-only (a GET that writes nothing), so every user who may see the dashboard may run it; bounded (page-types.ts).
  app.get('/types/live-check', async (c) => htmlResponse(c, await liveCheckPage(ctxOf(c))));
  app.get('/static/:file', (c) => {
    const asset = assets.get(c.req.param('file'));
    if (asset === undefined) return c.text('not found\n', 404);
    return new Response(asset.body, { headers: { 'Content-Type': asset.type, 'Cache-Control': 'public, max-age=300' } });
  });

  app.post('/actions', bodyLimit({ maxSize: MAX_POST_BYTES, onError: (c) => c.text('request body too large\n', 413) }), async (c) => {
    const crossSite = crossSiteReason(c.req.raw, trusted);
    if (crossSite !== undefined) return errorPage(c, 403, 'Refused', `Cross-site request refused: ${crossSite}.`);
    const body = (await c.req.parseBody({ all: true })) as Record<string, unknown>;
    const token = typeof body[CSRF_FIELD] === 'string' ? (body[CSRF_FIELD] as string) : c.req.header('x-csrf-token');
    if (!csrf.check(cookieOf(c.req.raw, CSRF_COOKIE), token)) return errorPage(c, 403, 'Refused', 'Missing or stale CSRF token: reload the page and try again.');
    // Read-only: every POST is refused as such, before its form is read (a malformed one too: 403, not 400).
    if (c.get('access').size === 0) return errorPage(c, 403, 'Refused', 'No action may be taken here (read-only access).');
    const form = parseActionForm(body);
    if (!c.get('access').has(form.action)) return errorPage(c, 403, 'Refused', `You may not ${form.action} here (your access allows only ${[...c.get('access')].join(', ')}).`);
    const ctx = ctxOf(c);
    let done;
    try {
      done = await runAction(ctx, form);
    } catch (err) {
      const target = form.ids.length > 0 ? { ids: form.ids } : { selection: { queue: form.queue ?? '', job: form.job, state: form.state } };
      await notify({ action: form.action, queue: form.queue, target, dryRun: form.dryRun, result: err, failed: true, request: c.req.raw });
      throw err;
    }
    await notify({ action: form.action, queue: done.queue, target: done.target, dryRun: form.dryRun, result: done.result, failed: false, request: c.req.raw });
    return htmlResponse(c, resultPage(ctx.page, form, done));
  });
  // Writes are POSTs to /actions only.
  app.on(['PUT', 'PATCH', 'DELETE'], '*', (c) => c.text('method not allowed\n', 405));
  app.notFound((c) => (c.get('access') === undefined ? c.text('not found\n', 404) : errorPage(c, 404, 'Not found', 'No such page.')));

  async function notify(event: ActionEvent): Promise<void> {
    if (options.onAction === undefined) return;
    try {
      await options.onAction(event);
    } catch (err) {
      logError('onAction threw', err);
    }
  }

  const hostName = (h: string): string => h.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  const allowedHosts = options.allowedHosts === undefined ? undefined : new Set(options.allowedHosts.map(hostName));

  return {
    async fetch(request: Request): Promise<Response> {
      const url = new URL(request.url);
      if (allowedHosts !== undefined && !allowedHosts.has(hostName(url.hostname))) {
        return secured(
          `Host ${JSON.stringify(url.hostname)} is not one this dashboard answers for (allowedHosts: ${[...allowedHosts].join(', ')}): a request naming another host may come from a DNS rebinding attack. Open the dashboard by one of those names, or add this one.\n`,
          { status: 403, headers: PLAIN_TEXT },
        );
      }
      // The root without its slash: send the browser to it with one, so relative links resolve under it.
      if (basePath !== '' && url.pathname === basePath) {
        const last = basePath.slice(basePath.lastIndexOf('/') + 1);
        return secured(null, { status: 308, headers: { Location: `./${last}/${url.search}` } });
      }
      return app.fetch(request);
    },
    async close(): Promise<void> {
      await Promise.allSettled([inspector.close(), admin?.close()]);
      if (owned) redis.disconnect();
    },
  };
}
