/**
 * `jobcraft check --live`: the deploy gate over the jobs stored in Redis now. A printer over the runtime's
 * `checkStoredJobs` (src/live-check.ts), which reads every stored job a worker may still parse and parses it with
 * the schema file's job set as a worker would at dequeue. Exit codes as `jobcraft check`'s: 0 nothing would fail,
 * 2 a stored job would fail, 1 a usage problem or Redis refusing; 130 when Ctrl-C stopped it (no verdict).
 */
import type { JobSet, LiveCheckJobType, LiveCheckProgress, LiveCheckReport } from 'jobcraft';
import { loadJobs, prefixOf, redisUrlOf } from './ops-context.js';
import { CliError, EXIT, Printer, escapeText } from './ops-output.js';
import { interruptSignal, progressBar } from './ops-progress.js';

/** `jobcraft check --live`'s options (commander's names). */
export interface LiveCheckCommandOptions {
  readonly schema?: string;
  readonly redis?: string;
  readonly prefix?: string;
  /** `--queue` (repeatable): only these queues. */
  readonly queue?: readonly string[];
  /** `--no-dead` sets it false. */
  readonly dead?: boolean;
  readonly pageSize?: string;
  readonly rate?: string;
  readonly maxPayloadBytes?: string;
  readonly json?: boolean;
}

/**
 * What is wrong in combining `check`'s options with or without `--live`, or undefined: `--against` and `--mode` compare
 * lockfiles (not with `--live`); the connection and scan options apply to `--live` only.
 */
export function liveOptionsProblem(o: LiveCheckCommandOptions & { readonly live?: boolean; readonly against?: string }, modeGiven: boolean): string | undefined {
  if (o.live === true) {
    if (o.against !== undefined) return '--against compares lockfiles: run `jobcraft check --against …` and `jobcraft check --live` as two steps';
    if (modeGiven) return '--mode applies to the lockfile comparison, not to --live (a stored job either parses or not)';
    return undefined;
  }
  const live = [
    ['--redis', o.redis],
    ['--prefix', o.prefix],
    ['--queue', o.queue],
    ['--page-size', o.pageSize],
    ['--rate', o.rate],
    ['--max-payload-bytes', o.maxPayloadBytes],
    ['--no-dead', o.dead === false ? true : undefined],
  ].filter(([, v]) => v !== undefined);
  return live.length === 0 ? undefined : `${live.map(([n]) => n).join(', ')} appl${live.length === 1 ? 'ies' : 'y'} to --live only`;
}

/**
 * The exit codes of `jobcraft check --live`: `jobcraft check`'s (CHECK_EXIT in check.ts, repeated here: importing it
 * would load the generator and the TypeScript compiler, which the live check does not need), and 130 for Ctrl-C.
 */
export const LIVE_CHECK_EXIT = { ok: 0, usage: 1, breaking: 2, interrupted: EXIT.interrupted } as const;

/** What `--json` prints: the runtime's report, the schema file and the verdict. */
export interface LiveCheckJson extends LiveCheckReport {
  readonly live: true;
  readonly schema: string;
  /** `ok`: no stored job would fail; `would_fail`: some would; `interrupted`: stopped before the end, no verdict. */
  readonly verdict: 'ok' | 'would_fail' | 'interrupted';
}

function integer(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim())) throw new CliError(LIVE_CHECK_EXIT.usage, `${option} must be a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A progress bar per hash read. */
function liveCheckBar(out: Printer): { onProgress: (p: LiveCheckProgress) => void; stop: () => void } {
  return progressBar<LiveCheckProgress>(out, {
    key: (p) => `${p.queue}\u0000${p.source}`,
    format: (p) => `checking ${escapeText(p.queue)} ${p.source === 'jobs' ? 'jobs' : 'dead letters'} [{bar}] {value}/{total} read, {failing} would fail`,
    values: (p) => ({ failing: p.failing }),
    clearOnComplete: true,
  });
}

const name = (t: LiveCheckJobType): string => (t.job === null ? '(no readable name)' : escapeText(t.job));

/** The human report: a table of every queue and job type read, then each failing type's paths, samples and fix. */
function printHuman(out: Printer, report: LiveCheckReport, schema: string): void {
  const c = out.c;
  const scope = `${report.dead ? 'live jobs and dead letters' : 'live jobs (dead letters not read)'}`;
  out.line(`stored ${scope} under prefix ${escapeText(report.prefix)}, parsed with ${escapeText(schema)} as a worker would (payload limit ${report.maxPayloadBytes} bytes)`);
  const rows: (string | number)[][] = [];
  for (const q of report.queues) {
    for (const t of q.jobs) {
      rows.push([
        escapeText(q.queue) + (q.declared ? '' : '*'),
        name(t) + (t.declared ? '' : t.job === null ? '' : '*'),
        t.scanned,
        t.failing > 0 ? c.red(String(t.failing)) : 0,
        t.failingBy.waiting,
        t.failingBy.delayed,
        t.failingBy.retrying,
        t.failingBy.active,
        t.failingBy.dead,
      ]);
    }
  }
  if (rows.length === 0) {
    out.line(`no stored job in ${report.queues.length} queue(s)`);
  } else {
    out.line(out.table(['queue', 'job', 'read', 'would fail', 'waiting', 'delayed', 'retrying', 'active', 'dead'], rows));
    if (report.queues.some((q) => !q.declared || q.jobs.some((t) => !t.declared && t.job !== null))) {
      out.line('* not in the new job set: no worker of the new code runs these jobs');
    }
    // Versioned jobs: how many were stored with each payload version, and how many of those would fail (migrations included).
    for (const q of report.queues) {
      for (const t of q.jobs) {
        if (t.versions === undefined || t.versions.length === 0) continue;
        const parts = t.versions.map((v) => `v${v.version} ${v.scanned}${v.failing > 0 ? ` (${c.red(`${v.failing} would fail`)})` : ''}`);
        out.line(`${escapeText(q.queue)} / ${name(t)} by payload version: ${parts.join(', ')}`);
      }
    }
  }
  for (const q of report.queues) {
    for (const t of q.jobs) {
      if (t.failing === 0) continue;
      const reasons = Object.entries(t.reasons)
        .filter(([, n]) => n > 0)
        .map(([r, n]) => `${r} ${n}`)
        .join(', ');
      out.line('');
      out.line(c.bold(`${escapeText(q.queue)} / ${name(t)}: ${t.failing} of ${t.scanned} would fail (${reasons})`));
      out.line(
        out.table(
          ['field', 'code', 'jobs', 'message'],
          t.paths.map((p) => [escapeText(p.path === '' ? '-' : p.path), escapeText(p.code), p.count, escapeText(p.message)]),
        ),
      );
      if (t.otherPaths > 0) out.line(`  and ${t.otherPaths} job(s) with other problems`);
      out.line(`  e.g. ${t.samples.map((s) => `${escapeText(s.id)} (${s.state})`).join(', ')}`);
      if (t.hint !== undefined) out.line(`  fix: ${t.hint}`);
    }
  }
  out.line('');
  if (report.interrupted) {
    out.line(c.yellow(`interrupted after ${report.scanned} stored job(s) (${report.failing} would fail so far): no verdict; run the check again to read everything`));
  } else if (report.failing > 0) {
    out.line(c.red(`${report.failing} of ${report.scanned} stored job(s) would fail at dequeue with the new schemas: a deploy now would dead-letter them`));
  } else {
    out.line(c.green(`ok: all ${report.scanned} stored job(s) in ${report.queues.length} queue(s) parse with the new schemas`));
  }
}

/** Runs `jobcraft check --live`. Returns the exit code ({@link LIVE_CHECK_EXIT}). */
export async function runLiveCheck(options: LiveCheckCommandOptions): Promise<number> {
  const out = new Printer(options.json === true);
  const bar = liveCheckBar(out);
  try {
    const pageSize = integer(options.pageSize, '--page-size');
    const rate = integer(options.rate, '--rate');
    const maxPayloadBytes = integer(options.maxPayloadBytes, '--max-payload-bytes');
    if (pageSize !== undefined && (pageSize < 1 || pageSize > 10_000)) throw new CliError(LIVE_CHECK_EXIT.usage, `--page-size must be 1 to 10000, got ${pageSize}`);
    if (rate !== undefined && rate < 1) throw new CliError(LIVE_CHECK_EXIT.usage, `--rate must be at least 1, got ${rate}`);
    if (maxPayloadBytes !== undefined && maxPayloadBytes < 1) throw new CliError(LIVE_CHECK_EXIT.usage, `--max-payload-bytes must be at least 1, got ${maxPayloadBytes}`);
    const loaded = await loadJobs({ schema: options.schema ?? 'jobs.schema.ts' }, 'schema');
    const runtime = await import('jobcraft');
    if (typeof runtime.checkStoredJobs !== 'function') {
      throw new CliError(LIVE_CHECK_EXIT.usage, 'this jobcraft runtime has no checkStoredJobs (check --live needs a newer jobcraft package): upgrade it');
    }
    const report = await runtime.checkStoredJobs({
      redis: redisUrlOf(options),
      prefix: prefixOf(options),
      jobs: loaded.jobs as JobSet,
      queues: options.queue === undefined || options.queue.length === 0 ? undefined : options.queue,
      dead: options.dead ?? true,
      pageSize,
      rate,
      maxPayloadBytes,
      signal: interruptSignal(out, 'stopping after this page (Ctrl-C again to quit at once): no verdict'),
      onProgress: bar.onProgress,
    });
    bar.stop();
    const verdict = report.interrupted ? 'interrupted' : report.failing > 0 ? 'would_fail' : 'ok';
    if (out.json) {
      const json: LiveCheckJson = { live: true, schema: options.schema ?? 'jobs.schema.ts', verdict, ...report };
      out.result(json);
    } else {
      printHuman(out, report, options.schema ?? 'jobs.schema.ts');
    }
    return verdict === 'interrupted' ? LIVE_CHECK_EXIT.interrupted : verdict === 'would_fail' ? LIVE_CHECK_EXIT.breaking : LIVE_CHECK_EXIT.ok;
  } catch (err) {
    bar.stop();
    // Every problem that is not a verdict exits 1, as `jobcraft check`'s usage problems do (the ops commands' 2 and 3 too).
    const e = err as Error;
    const message = err instanceof CliError ? e.message : `${e?.name && e.name !== 'Error' ? `${e.name}: ` : ''}${e?.message ?? String(err)}`;
    out.note(`${out.c.red('error:')} ${escapeText(message, true)}`);
    return LIVE_CHECK_EXIT.usage;
  }
}
