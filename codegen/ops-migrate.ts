/**
 * `jobcraft migrate <job> --to <N>`: rewrites a job type's stored payloads (waiting, delayed, retrying jobs and dead
 * letters) to payload version N in place. A printer over the runtime's `admin.migrate` (src/admin-migrate.ts): HSCAN
 * pages, one compare-and-set script call per page, so Ctrl-C (after the current page), a crash or kill -9 leaves
 * every job either as it was or migrated, and a rerun finishes. The migrations are functions: the job set comes from
 * the schema file (`--schema`, default jobs.schema.ts), never the manifest. Exit codes: docs/operations.md.
 */
import type { MigrateOutcome, MigrateProgress } from 'jobcraft';
import { pacing, type BulkOptions } from './ops-actions.js';
import { checkJobName, type CommonOptions, type Context } from './ops-context.js';
import { CliError, EXIT, escapeText, type Printer } from './ops-output.js';
import { interruptSignal, progressBar } from './ops-progress.js';

/** `jobcraft migrate`'s options (commander's names). */
export interface MigrateCommandOptions extends CommonOptions, Pick<BulkOptions, 'pageSize' | 'rate'> {
  readonly to?: string;
  readonly dryRun?: boolean;
  /** `--no-dead` sets it false. */
  readonly dead?: boolean;
  readonly maxPayloadBytes?: string;
}

/**
 * The exit codes of `jobcraft migrate` (docs/operations.md, "jobcraft migrate"): those of every operations command,
 * and 4 when some stored payloads could not be migrated (each left as it was, listed).
 */
export const MIGRATE_EXIT = { ok: EXIT.ok, failure: EXIT.failure, usage: EXIT.usage, notFound: EXIT.notFound, notMigrated: EXIT.invalid, interrupted: EXIT.interrupted } as const;

function positive(text: string | undefined, option: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text.trim()) || Number(text) < 1) throw new CliError(EXIT.usage, `${option} must be an integer from 1, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** A progress bar per hash read (the live jobs, then the dead letters). */
function migrateBar(out: Printer): { onProgress: (p: MigrateProgress) => void; stop: () => void } {
  return progressBar<MigrateProgress>(out, {
    key: (p) => `${p.queue}\u0000${p.source}`,
    format: (p) => `migrating ${escapeText(p.queue)} ${p.source === 'jobs' ? 'jobs' : 'dead letters'} [{bar}] {value}/{total} read, {migrated} migrated, {failed} failed`,
    values: (p) => ({ migrated: p.migrated, failed: p.failed }),
    clearOnComplete: false,
  });
}

function printHuman(out: Printer, r: MigrateOutcome): void {
  const c = out.c;
  const would = r.dryRun ? 'would migrate' : 'migrated';
  out.line(
    `${r.dryRun ? 'dry run: ' : ''}job ${escapeText(r.job)} (queue ${escapeText(r.queue)}) to payload version ${r.to} (current: ${r.current}); ${r.matched} stored job(s) of ${r.scanned} read${r.dead ? '' : ' (dead letters not read)'}`,
  );
  if (r.versions.length > 0) {
    out.line(out.table(['stored version', 'jobs', r.dryRun ? 'would migrate' : 'migrated', 'failed'], r.versions.map((v) => [v.version === r.to ? `${v.version} (target)` : v.version, v.jobs, v.migrated, v.failed > 0 ? c.red(String(v.failed)) : 0])));
  }
  const parts = [`${would} ${r.migrated}`, `${r.atTarget} already at version ${r.to}`];
  if (r.active > 0) parts.push(`${r.active} running (left to their worker, which upcasts them)`);
  if (r.changed > 0) parts.push(`${r.changed} changed meanwhile (left as they were)`);
  if (r.failed > 0) parts.push(c.red(`${r.failed} failed (left as they were)`));
  out.line(parts.join(', '));
  if (r.failures.length > 0) {
    out.line('');
    out.line(c.bold(`failures${r.failed > r.failures.length ? ` (the first ${r.failures.length} of ${r.failed})` : ''}:`));
    const rows = r.failures.flatMap((f) =>
      f.issues.map((i, n) => [n === 0 ? escapeText(f.id) : '', n === 0 ? (f.source === 'dead' ? 'dead letter' : 'live') : '', n === 0 ? (f.from === undefined ? '?' : `v${f.from}`) : '', escapeText(i.path === '' ? '-' : i.path), escapeText(i.code), escapeText(i.message)]),
    );
    out.line(out.table(['id', 'where', 'stored', 'field', 'code', 'message'], rows));
  }
  if (r.interrupted) out.line(c.yellow('interrupted: rerun the same command to finish; jobs already migrated are skipped'));
  else if (r.active > 0 || r.changed > 0) out.line('rerun the command later to migrate the jobs that were running or changed (a rerun skips the done ones)');
}

/** `migrate <job> --to <N> [--dry-run] [--no-dead] [--page-size n] [--rate n] [--max-payload-bytes n] [--json]`. */
export async function migrateJob(ctx: Context, name: string, o: MigrateCommandOptions): Promise<number> {
  if (ctx.loaded.kind !== 'schema') {
    throw new CliError(EXIT.usage, `migrate runs the jobs' migration functions, which only the schema file holds (${ctx.loaded.file} is a manifest): pass --schema <file>`);
  }
  if (o.to === undefined) throw new CliError(EXIT.usage, 'migrate: name the target payload version: --to <N>');
  const to = positive(o.to, '--to');
  const { pageSize, rate } = pacing(o);
  const maxPayloadBytes = positive(o.maxPayloadBytes, '--max-payload-bytes');
  if (!ctx.jobs.jobs.has(name)) {
    const renamed = ctx.jobs.aliases.get(name);
    if (renamed !== undefined) throw new CliError(EXIT.notFound, `${JSON.stringify(name)} is an old name of job "${renamed.name}": run jobcraft migrate ${renamed.name} (jobs stored under its aliases are included)`);
  }
  const job = ctx.jobs.jobs.get(checkJobName(ctx, name));
  if (job !== undefined && to !== undefined && to > job.version) {
    throw new CliError(EXIT.usage, `--to ${to}: job "${name}" has payload versions 1 to ${job.version} (its current one)`);
  }
  if (job !== undefined && to !== undefined && to > job.emitVersion) {
    // Not refused: the workers may all be new already. Said, because a worker that does not know version `to` yet
    // does not run the migrated jobs (it fails their attempts) until its own deploy.
    ctx.out.note(`note: version ${to} is above the version producers write (emitVersion ${job.emitVersion}): run this only once every worker knows version ${to}`);
  }
  const { createAdmin } = await import('jobcraft');
  const admin = createAdmin({ redis: ctx.client.redis, prefix: ctx.prefix, jobs: ctx.jobs });
  const bar = migrateBar(ctx.out);
  let outcome: MigrateOutcome;
  try {
    outcome = await admin.migrate({
      job: name,
      to,
      dryRun: o.dryRun === true,
      dead: o.dead ?? true,
      pageSize,
      rate,
      maxPayloadBytes,
      signal: interruptSignal(ctx.out, 'stopping after this page (Ctrl-C again to quit at once; rerunning the command finishes the rest)'),
      onProgress: bar.onProgress,
    });
  } finally {
    bar.stop();
    await admin.close();
  }
  if (ctx.out.json) ctx.out.result(outcome);
  else printHuman(ctx.out, outcome);
  return outcome.interrupted ? MIGRATE_EXIT.interrupted : outcome.failed > 0 ? MIGRATE_EXIT.notMigrated : MIGRATE_EXIT.ok;
}
