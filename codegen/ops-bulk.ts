/**
 * The command-line side of bulk actions over many jobs (`jobcraft dead retry|delete`, `jobcraft jobs
 * retry|delete|promote|cancel`): the selection options, the confirmation, Ctrl-C and the progress bar. The work itself
 * is the runtime's `admin.bulk` (src/admin.ts): HSCAN pages, one idempotent call per page, so a run stopped anywhere
 * (Ctrl-C, a crash, kill -9) and started again acts on what is left, and every job is acted on once.
 */
import { createInterface } from 'node:readline/promises';
import type { BulkProgress } from 'jobcraft';
import { CliError, EXIT, type Printer } from './ops-output.js';
import { interruptSignal, progressBar } from './ops-progress.js';

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

/**
 * The signal that stops a bulk run after its current page (ops-progress.ts): rerunning the command finishes the rest
 * (the runtime's `admin.bulk` is resumable).
 */
export function bulkInterruptSignal(out: Printer): AbortSignal {
  return interruptSignal(out, 'stopping after this page (Ctrl-C again to quit at once; rerunning the command finishes the rest)');
}

/** A progress bar per queue of a bulk run (ops-progress.ts), labelled `<label> <queue>`. */
export function bulkProgressBar(out: Printer, label: string): { onProgress: (p: BulkProgress) => void; stop: () => void } {
  return progressBar<BulkProgress>(out, {
    key: (p) => p.queue,
    format: (p) => `${label} ${p.queue} [{bar}] {value}/{total} scanned, {done} done`,
    values: (p) => ({ done: p.done }),
    clearOnComplete: false,
  });
}

/**
 * Asks before a bulk action. `--yes` skips the question; without a terminal on stdin it refuses (exit 2) rather
 * than act unasked; a "no" exits 1 with nothing done.
 */
export async function confirm(question: string, yes: boolean): Promise<void> {
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
}
