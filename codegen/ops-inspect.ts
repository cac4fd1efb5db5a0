/**
 * The read commands on the runtime's Inspector (`createInspector` from `jobcraft`): `jobcraft stats [--watch]`,
 * `jobcraft queues`, `jobcraft jobs <queue>`, `jobcraft workers`. They need no job declarations (the queue and
 * worker registries in Redis say what exists), and every read is bounded by queues, workers or the page size.
 */
import { loadCreateInspector, type History, type Inspector, type ListState, type QueueStats, type WorkerInfo } from './ops-inspect-types.js';
import { prefixOf, redisUrlOf, report, type CommonOptions } from './ops-context.js';
import { CliError, EXIT, Printer, escapeText, relative, safeJson, when } from './ops-output.js';

/** Opens an inspector, runs the body, closes it; errors become exit codes as in every command. */
export async function withInspector(o: CommonOptions, body: (inspector: Inspector, out: Printer) => Promise<number | void>): Promise<void> {
  const out = new Printer(o.json === true);
  let inspector: Inspector | undefined;
  try {
    const createInspector = await loadCreateInspector();
    try {
      inspector = createInspector({ redis: redisUrlOf(o), prefix: prefixOf(o) });
    } catch (err) {
      throw new CliError(EXIT.usage, (err as Error).message);
    }
    process.exitCode = (await body(inspector, out)) ?? EXIT.ok;
  } catch (err) {
    // The runtime refusing a value given on the command line (a cursor this listing did not print …) is a usage
    // error. By name: the runtime is loaded at run time, its classes are not this module's.
    if (err instanceof Error && err.name === 'InvalidArgumentError') {
      process.exitCode = report(out, new CliError(EXIT.usage, err.message));
      return;
    }
    process.exitCode = report(out, err);
  } finally {
    await inspector?.close().catch(() => {});
  }
}

/** Processed and failed attempts of a queue: in the last complete minute, and the last 60 complete minutes. */
export interface Throughput {
  readonly processedLastMinute: number;
  readonly processedLastHour: number;
  readonly failedLastMinute: number;
  readonly failedLastHour: number;
}

/**
 * Sums a minute-resolution history into {@link Throughput}: the bucket in progress (start after `now` − 1 min) is
 * left out, so "last minute" is the last complete minute and "last hour" the 60 complete minutes before it.
 */
export function throughputOf(history: Pick<History, 'points'>, now: number): Throughput {
  const complete = history.points.filter((p) => p.at.getTime() + 60_000 <= now);
  const hour = complete.filter((p) => p.at.getTime() >= now - 61 * 60_000).slice(-60);
  const last = hour.slice(-1);
  const sum = (points: typeof hour, f: 'processed' | 'failed'): number => points.reduce((a, p) => a + p[f], 0);
  return {
    processedLastMinute: sum(last, 'processed'),
    processedLastHour: sum(hour, 'processed'),
    failedLastMinute: sum(last, 'failed'),
    failedLastHour: sum(hour, 'failed'),
  };
}

/** `1.2s`, `3m`, `-` for zero: a latency. */
export function duration(ms: number): string {
  if (ms <= 0) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)}m`;
  return `${(ms / 3_600_000).toFixed(1)}h`;
}

interface StatsRow {
  readonly stats: QueueStats;
  readonly throughput: Throughput;
}

async function readStats(inspector: Inspector): Promise<StatsRow[]> {
  const all = await inspector.allStats();
  return Promise.all(
    all.map(async (stats) => {
      const now = stats.at.getTime();
      const history = await inspector.history(stats.queue, { resolution: 'minute', from: now - 62 * 60_000, to: now });
      return { stats, throughput: throughputOf(history, now) };
    }),
  );
}

function statsJson(rows: readonly StatsRow[]): unknown {
  return {
    at: rows[0]?.stats.at.toISOString() ?? new Date().toISOString(),
    queues: rows.map(({ stats: s, throughput: t }) => ({
      queue: s.queue,
      waiting: s.waiting,
      delayed: s.delayed,
      active: s.active,
      retrying: s.retrying,
      dead: s.dead,
      completed: s.completed,
      paused: s.paused,
      latencyMs: s.latencyMs,
      oldestWaitingAt: s.oldestWaitingAt?.toISOString() ?? null,
      nextDueAt: s.nextDueAt?.toISOString() ?? null,
      ...t,
    })),
  };
}

function statsTable(out: Printer, rows: readonly StatsRow[]): string {
  if (rows.length === 0) return 'no queues registered under this prefix (a worker registers the queues it serves, a client those it enqueues into)';
  return out.table(
    ['QUEUE', 'WAITING', 'DELAYED', 'ACTIVE', 'RETRYING', 'DEAD', 'PAUSED', 'LATENCY', 'DONE/MIN', 'DONE/HOUR', 'FAILED/HOUR'],
    rows.map(({ stats: s, throughput: t }) => [
      escapeText(s.queue),
      s.waiting,
      s.delayed,
      s.active,
      s.retrying,
      s.dead > 0 ? out.c.red(String(s.dead)) : '0',
      s.paused ? out.c.yellow('paused') : 'no',
      duration(s.latencyMs),
      t.processedLastMinute,
      t.processedLastHour,
      t.failedLastHour > 0 ? out.c.red(String(t.failedLastHour)) : '0',
    ]),
  );
}

/** The longest `--interval` of `stats --watch`: a day. */
const MAX_WATCH_INTERVAL_MS = 86_400_000;

/** `jobcraft stats [--watch] [--interval 2s]`. */
export async function stats(inspector: Inspector, out: Printer, o: { watch?: boolean; interval?: string }): Promise<number> {
  if (o.watch !== true) {
    const rows = await readStats(inspector);
    if (out.json) out.result(statsJson(rows));
    else out.line(statsTable(out, rows));
    return EXIT.ok;
  }
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(o.interval ?? '2s');
  if (m === null) throw new CliError(EXIT.usage, `--interval must be a duration such as 2s or 500ms, got ${JSON.stringify(o.interval)}`);
  const intervalMs = Math.max(200, Number(m[1]) * (m[2] === 'ms' ? 1 : 1_000));
  // Longer than a timer can wait (2^31 ms) Node fires it at once: a loop reading Redis without pause.
  if (intervalMs > MAX_WATCH_INTERVAL_MS) throw new CliError(EXIT.usage, `--interval may be at most a day (86400s), got ${JSON.stringify(o.interval)}`);
  let stop = false;
  const stopped = new Promise<void>((resolve) =>
    process.once('SIGINT', () => {
      stop = true;
      resolve();
    }),
  );
  const inPlace = !out.json && process.stdout.isTTY === true;
  while (!stop) {
    const rows = await readStats(inspector);
    if (out.json) {
      // One JSON document per line (NDJSON), one line per refresh.
      process.stdout.write(`${safeJson(statsJson(rows))}\n`);
    } else {
      const text = `${out.c.dim(`${new Date().toISOString()}  every ${duration(intervalMs)}, Ctrl-C to stop`)}\n${statsTable(out, rows)}`;
      // In place on a terminal (cursor home, clear below); piped, one snapshot after another.
      process.stdout.write(inPlace ? `\u001b[H\u001b[J${text}\n` : `${text}\n\n`);
    }
    await Promise.race([stopped, new Promise((resolve) => setTimeout(resolve, intervalMs))]);
  }
  return EXIT.ok;
}

/** `jobcraft queues`. */
export async function queues(inspector: Inspector, out: Printer): Promise<number> {
  const [entries, all] = await Promise.all([inspector.queues(), inspector.allStats()]);
  const byQueue = new Map(all.map((s) => [s.queue, s]));
  if (out.json) {
    out.result({
      queues: entries.map((e) => {
        const s = byQueue.get(e.queue);
        return { queue: e.queue, throttled: e.throttled, paused: s?.paused ?? false, waiting: s?.waiting ?? 0, delayed: s?.delayed ?? 0, active: s?.active ?? 0, dead: s?.dead ?? 0, latencyMs: s?.latencyMs ?? 0 };
      }),
    });
    return EXIT.ok;
  }
  if (entries.length === 0) {
    out.line('no queues registered under this prefix');
    return EXIT.ok;
  }
  out.line(
    out.table(
      ['QUEUE', 'PAUSED', 'WAITING', 'DELAYED', 'ACTIVE', 'DEAD', 'LATENCY', 'THROTTLED TYPES'],
      entries.map((e) => {
        const s = byQueue.get(e.queue);
        return [escapeText(e.queue), s?.paused ? out.c.yellow('paused') : 'no', s?.waiting ?? 0, s?.delayed ?? 0, s?.active ?? 0, s?.dead ?? 0, duration(s?.latencyMs ?? 0), e.throttled.map((t) => escapeText(t)).join(', ') || '-'];
      }),
    ),
  );
  return EXIT.ok;
}

/** A stored time (ms) as ISO text, or null when it is none a Date can hold (stored records are anyone's text). */
function isoOrNull(ms: number): string | null {
  const d = new Date(ms);
  return ms > 0 && !Number.isNaN(d.getTime()) ? d.toISOString() : null;
}

const STATES: readonly ListState[] = ['waiting', 'delayed', 'retrying', 'active', 'dead', 'completed'];

/** `jobcraft jobs <queue> [--state S] [--job NAME] [--limit N] [--cursor C]`: one page. */
export async function listJobs(inspector: Inspector, out: Printer, queue: string, o: CommonOptions & { state?: string; job?: string; limit?: string; cursor?: string }): Promise<number> {
  const state = (o.state ?? 'waiting') as ListState;
  if (!STATES.includes(state)) throw new CliError(EXIT.usage, `--state must be one of ${STATES.join(', ')}, got ${JSON.stringify(o.state)}`);
  const limit = o.limit === undefined ? 50 : Number(o.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1_000) throw new CliError(EXIT.usage, `--limit must be an integer from 1 to 1000, got ${JSON.stringify(o.limit)}`);
  const known = await inspector.queues();
  if (!known.some((q) => q.queue === queue)) {
    throw new CliError(EXIT.notFound, `no queue ${JSON.stringify(queue)} registered under this prefix${known.length > 0 ? ` (queues: ${known.map((q) => q.queue).join(', ')})` : ''}`);
  }
  const page = await inspector.jobs(queue, { state, job: o.job, limit, cursor: o.cursor });
  if (out.json) {
    out.result({
      queue,
      state,
      cursor: page.cursor ?? null,
      jobs: page.jobs.map((j) => ({
        id: j.id,
        name: j.name ?? null,
        state: j.state,
        attempts: j.attempts,
        enqueuedAt: j.enqueuedAt?.toISOString() ?? null,
        at: j.at?.toISOString() ?? null,
        lastError: j.lastError === undefined ? null : { name: j.lastError.name, message: j.lastError.message, at: isoOrNull(j.lastError.at) },
      })),
    });
    return EXIT.ok;
  }
  if (page.jobs.length === 0) out.line(`no ${state} jobs${o.job === undefined ? '' : ` of job ${escapeText(o.job)}`} in this page of queue ${escapeText(queue)}`);
  else {
    const atLabel = { waiting: 'AT', delayed: 'DUE', retrying: 'DUE', active: 'LEASE EXPIRES', dead: 'DIED', completed: 'FINISHED' }[state];
    out.line(
      out.table(
        ['ID', 'JOB', 'ATTEMPTS', 'ENQUEUED', atLabel, 'LAST ERROR'],
        page.jobs.map((j) => [
          escapeText(j.id),
          escapeText(j.name ?? '?'),
          j.attempts,
          j.enqueuedAt === undefined ? '-' : relative(j.enqueuedAt.getTime()),
          j.at === undefined ? '-' : when(j.at),
          j.lastError === undefined ? '' : escapeText(`${j.lastError.name}: ${j.lastError.message}`).slice(0, 60),
        ]),
      ),
    );
  }
  if (page.cursor !== undefined) out.line(out.c.dim(`more: ${escapeText(nextPageHint(queue, { state, job: o.job, limit, cursor: page.cursor }, o))}`));
  return EXIT.ok;
}

/** A word as a POSIX shell reads it back: as it is when nothing in it is special, else in single quotes. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_@%+=:,./-][A-Za-z0-9_@%+=:,./#-]*$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command that lists the next page, to copy: the listing's own options and the `--redis` and `--prefix` given
 * on the command line (those from the environment are there for the next command too), so that it reads the same
 * queue. A `--redis` URL holding a password is written `'<url>'`: the command prints no secret.
 */
export function nextPageHint(queue: string, page: { state: ListState; job?: string; limit: number; cursor: string }, o: Pick<CommonOptions, 'redis' | 'prefix'>): string {
  const words = ['jobcraft', 'jobs', queue, '--state', page.state];
  if (page.job !== undefined) words.push('--job', page.job);
  words.push('--limit', String(page.limit), '--cursor', page.cursor);
  if (o.redis !== undefined) words.push('--redis', hasPassword(o.redis) ? '<url>' : o.redis);
  if (o.prefix !== undefined) words.push('--prefix', o.prefix);
  return words.map(shellWord).join(' ');
}

/** Whether a Redis URL carries a password (one that is no URL is taken as a host name: none). */
function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== '';
  } catch {
    return false;
  }
}

/** `jobcraft workers`. */
export async function workers(inspector: Inspector, out: Printer): Promise<number> {
  const list = await inspector.workers();
  if (out.json) {
    out.result({
      workers: list.map((w: WorkerInfo) => ({
        ...w,
        running: w.running.map((r) => ({ ...r, startedAt: r.startedAt.toISOString() })),
        startedAt: w.startedAt.toISOString(),
        lastBeatAt: w.lastBeatAt.toISOString(),
        expiresAt: w.expiresAt.toISOString(),
      })),
    });
    return EXIT.ok;
  }
  if (list.length === 0) {
    out.line('no live workers under this prefix');
    return EXIT.ok;
  }
  out.line(
    out.table(
      ['NAME', 'HOST', 'PID', 'VERSION', 'QUEUES', 'RUNNING', 'STARTED', 'LAST BEAT'],
      list.map((w) => [escapeText(w.name), escapeText(w.host), w.pid, escapeText(w.version), w.queues.map((q) => escapeText(q)).join(', '), `${w.runningCount}/${w.concurrency}`, relative(w.startedAt.getTime()), relative(w.lastBeatAt.getTime())]),
    ),
  );
  return EXIT.ok;
}
