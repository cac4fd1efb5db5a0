/**
 * `jobcraft dashboard [--port 4000] [--host 127.0.0.1] [--base-path /] [--read-only] [--insecure-bind] …`: the web
 * dashboard (@jobcraft/dashboard, loaded only when the command runs) on its own HTTP server. It binds the loopback
 * interface by default and refuses any other address unless credentials are set in the environment
 * (JOBCRAFT_DASHBOARD_TOKEN, or JOBCRAFT_DASHBOARD_USER + JOBCRAFT_DASHBOARD_PASSWORD) or `--insecure-bind` says an
 * open dashboard is meant. docs/dashboard.md ("The standalone command").
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CommonOptions } from './ops-context.js';

/** Options of the dashboard command. */
interface DashboardCommandOptions extends CommonOptions {
  readonly port: string;
  readonly host: string;
  readonly basePath: string;
  readonly readOnly?: boolean;
  readonly insecureBind?: boolean;
  readonly trustedOrigin?: string;
}

const USAGE = 2;

/** The names a browser uses for this machine's loopback interface. */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'] as const;

/** The host name of an origin (`https://ops.example.com:8443` → `ops.example.com`), or the text itself when it is none. */
function hostOf(origin: string): string {
  try {
    return new URL(origin).hostname;
  } catch {
    return origin;
  }
}

/** Whether a host to bind is the loopback interface only. */
function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The credentials from the environment, or undefined when none are set (a half-set pair is a usage error). */
function credentialsFrom(env: NodeJS.ProcessEnv): { readonly token?: string; readonly user?: string; readonly password?: string } | undefined {
  const token = env.JOBCRAFT_DASHBOARD_TOKEN || undefined;
  const user = env.JOBCRAFT_DASHBOARD_USER || undefined;
  const password = env.JOBCRAFT_DASHBOARD_PASSWORD || undefined;
  if ((user === undefined) !== (password === undefined)) throw new Error('set both JOBCRAFT_DASHBOARD_USER and JOBCRAFT_DASHBOARD_PASSWORD, or neither');
  if (token !== undefined && token.length < 16) throw new Error('JOBCRAFT_DASHBOARD_TOKEN must be at least 16 characters');
  if (token === undefined && user === undefined) return undefined;
  return { token, user, password };
}

/** Compares two secrets in time independent of where they differ. */
function same(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/**
 * The authorize hook of the credentials: `Authorization: Bearer <token>`, or basic auth with the user and password
 * (or any user and the token as password, so a browser can log in with the token). Anything else gets a 401 asking
 * for basic auth.
 */
function authorizeWith(creds: NonNullable<ReturnType<typeof credentialsFrom>>, readOnly: boolean): (request: Request) => 'full' | 'read-only' | Response {
  const granted = readOnly ? 'read-only' : 'full';
  return (request) => {
    const header = request.headers.get('authorization') ?? '';
    const [scheme, value = ''] = header.split(' ', 2);
    if (scheme?.toLowerCase() === 'bearer' && creds.token !== undefined && same(value, creds.token)) return granted;
    if (scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = decoded.slice(0, colon);
      const password = decoded.slice(colon + 1);
      if (colon >= 0 && creds.user !== undefined && creds.password !== undefined && same(user, creds.user) && same(password, creds.password)) return granted;
      if (colon >= 0 && creds.token !== undefined && same(password, creds.token)) return granted;
    }
    return new Response('authentication required\n', { status: 401, headers: { 'WWW-Authenticate': 'Basic realm="jobcraft dashboard", charset="UTF-8"', 'Content-Type': 'text/plain; charset=utf-8' } });
  };
}

/** Adds the `dashboard` command to the program. */
export function registerDashboardCommand(program: Command): void {
  program
    .command('dashboard')
    .description('serve the web dashboard (loopback only unless credentials are set: see docs/dashboard.md)')
    .option('--port <n>', 'TCP port (0: any free port)', '4000')
    .option('--host <host>', 'address to bind; other than loopback needs JOBCRAFT_DASHBOARD_TOKEN or JOBCRAFT_DASHBOARD_USER/PASSWORD, or --insecure-bind', '127.0.0.1')
    .option('--base-path <path>', 'the path the dashboard is served under (e.g. behind a reverse proxy)', '/')
    .option('--read-only', 'show everything, act on nothing')
    .option('--insecure-bind', 'bind a non-loopback address without credentials (anyone who reaches it may act on jobs)')
    .option('--trusted-origin <origins>', 'comma-separated origins (https://ops.example.com) whose POSTs are accepted besides the request\'s own: a proxy that rewrites Host')
    .option('--redis <url>', 'Redis URL (default: $JOBCRAFT_REDIS_URL, $REDIS_URL, redis://127.0.0.1:6379)')
    .option('--prefix <prefix>', 'key prefix (default: $JOBCRAFT_PREFIX, "jobcraft")')
    .option('--schema <file>', 'the job declarations from a schema file, run with tsx (job types and cron pages)')
    .option('--manifest <file>', 'the job declarations from a generated manifest (default: generated/jobs.manifest.json when present)')
    .exitOverride((err) => {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') process.exit(0);
      process.exit(USAGE);
    })
    .action(async (options: DashboardCommandOptions) => {
      process.exitCode = await runDashboard(options);
    });
}

/** A value of a request in a log line: as it is when it is a plain name, else quoted (a newline cannot start a forged line). */
function logValue(text: string): string {
  return /^[\w.:-]+$/.test(text) ? text : JSON.stringify(text);
}

function fail(code: number, message: string): number {
  console.error(`error: ${message}`);
  return code;
}

/** Runs the dashboard until SIGINT/SIGTERM; returns the exit code of a refusal, or resolves never while serving. */
async function runDashboard(o: DashboardCommandOptions): Promise<number> {
  const port = Number(o.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) return fail(USAGE, `--port must be a port number (0-65535): ${JSON.stringify(o.port)}`);
  let creds: ReturnType<typeof credentialsFrom>;
  try {
    creds = credentialsFrom(process.env);
  } catch (err) {
    return fail(USAGE, (err as Error).message);
  }
  if (!isLoopback(o.host) && creds === undefined && o.insecureBind !== true) {
    return fail(
      USAGE,
      `refusing to bind ${o.host}, which is not a loopback address, without authentication: anyone who reaches it could retry, delete and cancel jobs. ` +
        'Set JOBCRAFT_DASHBOARD_TOKEN (bearer token, at least 16 characters) or JOBCRAFT_DASHBOARD_USER and JOBCRAFT_DASHBOARD_PASSWORD (basic auth), ' +
        'or pass --insecure-bind if something in front of it (a proxy with its own auth) guards it.',
    );
  }
  let dashboardModule: typeof import('@jobcraft/dashboard');
  try {
    dashboardModule = await import('@jobcraft/dashboard');
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('@jobcraft/dashboard')) {
      return fail(1, 'the dashboard command needs the @jobcraft/dashboard package: npm install --save-dev @jobcraft/dashboard');
    }
    throw err;
  }
  const [{ redisUrlOf, prefixOf, loadJobs }, { CliError }] = await Promise.all([import('./ops-context.js'), import('./ops-output.js')]);
  // The job set is optional here: without declarations the dashboard still shows every queue, job and worker.
  let jobs: Awaited<ReturnType<typeof loadJobs>>['jobs'] | undefined;
  let manifest: unknown;
  const explicit = o.schema !== undefined || o.manifest !== undefined;
  if (explicit || existsSync(resolve('generated/jobs.manifest.json')) || existsSync(resolve('jobs.schema.ts'))) {
    try {
      const loaded = await loadJobs(o, 'manifest');
      jobs = loaded.jobs;
      if (loaded.kind === 'manifest') manifest = JSON.parse(readFileSync(loaded.file, 'utf8')) as unknown;
    } catch (err) {
      if (err instanceof CliError) return fail(err.exitCode, err.message);
      throw err;
    }
  }
  const readOnly = o.readOnly === true;
  const trustedOrigins = (o.trustedOrigin ?? '').split(',').map((x) => x.trim()).filter((x) => x !== '');
  let dashboard: ReturnType<typeof dashboardModule.createDashboard>;
  try {
    dashboard = dashboardModule.createDashboard({
      redis: redisUrlOf(o),
      prefix: prefixOf(o),
      jobs,
      manifest,
      basePath: o.basePath,
      readOnly,
      trustedOrigins,
      // Open on loopback: only requests naming a loopback host (or a trusted origin's), so a page whose name an
      // attacker rebinds to 127.0.0.1 (DNS rebinding) cannot read or act through the browser.
      allowedHosts: creds === undefined && isLoopback(o.host) ? [...LOOPBACK_NAMES, o.host, ...trustedOrigins.map((x) => hostOf(x))] : undefined,
      authorize: creds === undefined ? undefined : authorizeWith(creds, readOnly),
      onAction: (e) => console.log(`action ${e.action}${e.dryRun ? ' (dry run)' : ''}${e.queue === undefined ? '' : ` queue=${logValue(e.queue)}`}${e.failed ? ' failed' : ''}`),
    });
  } catch (err) {
    return fail(USAGE, (err as Error).message);
  }
  const server = dashboardModule.createDashboardServer(dashboard);
  const listening = await new Promise<Error | undefined>((done) => {
    server.once('error', done);
    // An IPv6 address may be written as in a URL (`[::1]`); listen() takes it bare.
    server.listen(port, o.host.replace(/^\[(.*)\]$/, '$1'), () => done(undefined));
  });
  if (listening !== undefined) {
    await dashboard.close();
    return fail(1, `cannot listen on ${o.host}:${port}: ${listening.message}`);
  }
  const address = server.address();
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  const shownHost = o.host.includes(':') && !o.host.startsWith('[') ? `[${o.host}]` : o.host;
  const base = o.basePath.endsWith('/') ? o.basePath : `${o.basePath}/`;
  console.log(`jobcraft dashboard on http://${shownHost}:${actualPort}${base} (prefix ${prefixOf(o)}${readOnly ? ', read-only' : ''}${creds === undefined ? '' : ', authentication on'}${jobs === undefined ? ', no job set' : ''})`);
  return new Promise<number>((done) => {
    const stop = (): void => {
      server.close();
      server.closeAllConnections();
      void dashboard.close().finally(() => done(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
