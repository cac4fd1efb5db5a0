/**
 * Bulk actions over many jobs (`jobcraft dead retry|delete`, `jobcraft jobs retry|delete|promote|cancel`): they walk
 * a queue's `jobs` (live jobs) or `dead` hash in pages with HSCAN — a cursor, never the whole queue in memory — and
 * act on each page's matching ids with one idempotent call: a dead letter retried is no longer dead, a job cancelled
 * is gone, a job promoted is due now. So a run stopped anywhere (Ctrl-C, a crash, kill -9) and started again acts on
 * what is left, and every job is acted on once. A progress bar on stderr when it is a terminal.
 */
import { createInterface } from 'node:readline/promises';
import cliProgress from 'cli-progress';
import type { JobClient, JobSet } from 'jobcraft';

type Redis = JobClient<JobSet>['redis'];
import { CliError, EXIT, type Printer } from './ops-output.js';

/** What selects the jobs of a bulk action. */
export interface Selection {
  /** Ids named on the command line (then no scan). */
  readonly ids: readonly string[];
  /** `--all`: every job the other filters let through. */
  readonly all: boolean;
  /** `--job NAME`. */
  readonly job?: string;
  /** `--since`: ms since the epoch; dead letters that died, live jobs enqueued, at or after it. */
  readonly since?: number;
}

/**
 * Parses `--since`: a duration back from now (`90s`, `15m`, `2h`, `7d`) or an ISO 8601 time. Returns ms since the
 * epoch; exit 2 when it is neither.
 */
export function parseSince(text: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)$/.exec(text.trim());
  if (m !== null) {
    const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'ms'];
    return now - Number(m[1]) * unit;
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text);
    if (Number.isFinite(at)) return at;
  }
  throw new CliError(EXIT.usage, `--since ${JSON.stringify(text)} is neither a duration (90s, 15m, 2h, 7d) nor an ISO time (2026-12-01T08:00:00Z)`);
}

/** Checks that a bulk action names its jobs: ids, or `--all` / `--job` / `--since` (exit 2 otherwise). */
export function checkSelection(s: Selection, what: string): void {
  if (s.ids.length > 0 && (s.all || s.job !== undefined || s.since !== undefined)) {
    throw new CliError(EXIT.usage, `${what}: give job ids or --all/--job/--since, not both`);
  }
  if (s.ids.length === 0 && !s.all && s.job === undefined && s.since === undefined) {
    throw new CliError(EXIT.usage, `${what}: name the jobs: ids, or --all (optionally narrowed by --job NAME and --since)`);
  }
}

/** A stored job as the scan sees it: its id and what its envelope says. */
export interface Scanned {
  readonly id: string;
  /** Job name, when the envelope is readable. */
  readonly name: string | undefined;
  /** Enqueue time (ms), when readable. */
  readonly enqueuedAt: number | undefined;
}

/** Reads the job name and enqueue time of an envelope (`{"n":…,"t":…}`), without trusting it. */
export function readEnvelope(id: string, raw: string): Scanned {
  try {
    const env = JSON.parse(raw) as { n?: unknown; t?: unknown };
    return { id, name: typeof env.n === 'string' ? env.n : undefined, enqueuedAt: typeof env.t === 'number' ? env.t : undefined };
  } catch {
    return { id, name: undefined, enqueuedAt: undefined };
  }
}

/** What one page's action did. */
export interface PageResult {
  /** Ids acted on. */
  readonly done: number;
  /** Ids left as they were (already done, running, not in the right state). */
  readonly skipped: number;
}

/** A bulk action over one queue. */
export interface BulkAction {
  readonly queue: string;
  /** The hash scanned: the queue's `jobs` (live) or `dead`. */
  readonly hash: string;
  /**
   * Narrows a page of scanned jobs (by state, by time of death …) before the action; returns the ids to act on.
   * Called with the jobs that passed `--job` and (for live jobs) `--since`.
   */
  narrow?(page: readonly Scanned[]): Promise<readonly string[]>;
  /** Acts on a page of ids. Must be idempotent: acting again on an id already done changes nothing. */
  act(ids: readonly string[]): Promise<PageResult>;
}

/** The outcome of a bulk run. */
export interface BulkOutcome {
  readonly queue: string;
  /** Jobs looked at. */
  readonly scanned: number;
  /** Jobs that matched the selection. */
  readonly matched: number;
  readonly done: number;
  readonly skipped: number;
  /** Stopped by Ctrl-C before the end. */
  readonly interrupted: boolean;
  /** Under --dry-run, the first matching ids (at most 20). */
  readonly sample: readonly string[];
}

/** Jobs per HSCAN page. */
const PAGE = 200;

/** Set by the first Ctrl-C of a bulk run: the run stops after its current page. */
let stopRequested = false;
let sigintInstalled = false;

function installSigint(out: Printer): void {
  if (sigintInstalled) return;
  sigintInstalled = true;
  process.on('SIGINT', () => {
    if (stopRequested) process.exit(EXIT.interrupted);
    stopRequested = true;
    out.note('stopping after this page (Ctrl-C again to quit at once; rerunning the command finishes the rest)');
  });
}

/**
 * Runs a bulk action over one queue: HSCAN pages of `action.hash`, filtered by the selection, narrowed, acted on
 * (unless `dryRun`). `useSinceOnEnvelope`: `--since` compares the envelope's enqueue time (live jobs); otherwise
 * `narrow` applies it (dead letters: their time of death).
 */
export async function runBulk(
  redis: Redis,
  action: BulkAction,
  selection: Selection,
  options: {
    readonly dryRun: boolean;
    readonly out: Printer;
    readonly label: string;
    readonly sinceOnEnvelope: boolean;
    /** Jobs per HSCAN page (default {@link PAGE}). */
    readonly pageSize?: number;
    /** At most this many jobs acted on per second (pages are paced), to spare Redis and the workers; default no limit. */
    readonly rate?: number;
  },
): Promise<BulkOutcome> {
  const { out } = options;
  installSigint(out);
  const total = await redis.hlen(action.hash);
  const bar =
    !out.json && process.stderr.isTTY === true && total > 0
      ? new cliProgress.SingleBar(
          { stream: process.stderr, format: `${options.label} [{bar}] {value}/{total} scanned, {done} done`, hideCursor: true, clearOnComplete: false },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
  bar?.start(total, 0, { done: 0 });
  const seen = new Set<string>();
  const sample: string[] = [];
  let scanned = 0;
  let matched = 0;
  let done = 0;
  let skipped = 0;
  let cursor = '0';
  const started = performance.now();
  try {
    do {
      if (stopRequested) break;
      const [next, flat] = await redis.hscan(action.hash, cursor, 'COUNT', options.pageSize ?? PAGE);
      cursor = next;
      const page: Scanned[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const id = flat[i] as string;
        // HSCAN may return a field twice; each job counts (and is acted on) once per run.
        if (seen.has(id)) continue;
        seen.add(id);
        scanned++;
        const job = readEnvelope(id, flat[i + 1] as string);
        if (selection.job !== undefined && job.name !== selection.job) continue;
        if (options.sinceOnEnvelope && selection.since !== undefined && (job.enqueuedAt === undefined || job.enqueuedAt < selection.since)) continue;
        page.push(job);
      }
      const ids = page.length === 0 ? [] : action.narrow === undefined ? page.map((j) => j.id) : await action.narrow(page);
      matched += ids.length;
      if (options.dryRun) {
        for (const id of ids) if (sample.length < 20) sample.push(id);
      } else if (ids.length > 0) {
        const r = await action.act(ids);
        done += r.done;
        skipped += r.skipped;
        if (options.rate !== undefined && options.rate > 0) {
          // Paced: the jobs acted on so far may not have taken less than done / rate seconds.
          const ahead = ((done + skipped) / options.rate) * 1_000 - (performance.now() - started);
          if (ahead > 0) await new Promise((resolve) => setTimeout(resolve, ahead));
        }
      }
      bar?.update(Math.min(scanned, total), { done });
    } while (cursor !== '0');
  } finally {
    bar?.stop();
  }
  return { queue: action.queue, scanned, matched, done, skipped, interrupted: stopRequested, sample };
}

/**
 * Asks before a bulk action. `--yes` skips the question; without a terminal on stdin it refuses (exit 2) rather
 * than act unasked; a "no" exits 1 with nothing done.
 */
export async function confirm(question: string, yes: boolean, out: Printer): Promise<void> {
  if (yes) return;
  if (process.stdin.isTTY !== true) {
    throw new CliError(EXIT.usage, `${question.replace(/\?$/, '')}: this needs a confirmation, and stdin is not a terminal; pass --yes to go ahead (or --dry-run to see what it would do)`);
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question(`${question} [y/N] `);
    if (!/^y(es)?$/i.test(answer.trim())) throw new CliError(EXIT.failure, 'not confirmed: nothing done');
  } finally {
    rl.close();
  }
  void out;
}
