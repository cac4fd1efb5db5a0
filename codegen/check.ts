/**
 * `jobcraft check [--against <git ref | lockfile>] [--mode backward|forward|full] [--json]`: the current schemas
 * against the locked ones (contracts-compare.ts), every change per job in both directions, exit 2 on a breaking
 * change in the mode's directions.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { compareLockfiles } from './contracts-compare.js';
import { canonicalJson, lockfilePath, parseLockfile, type Lockfile } from './contracts-lockfile.js';
import { failsIn, type Finding, type Mode } from './contracts-rules.js';
import { Generator } from './generate.js';
import { lockfileOf } from './lock.js';
import { consoleOutput, displayPath, reportFailure, UsageError, type Output } from './problems.js';

/** `jobcraft check`'s options. */
export interface CheckCommandOptions {
  /** The schema file. Default `jobs.schema.ts`. */
  readonly schema?: string;
  /** A lockfile path, or a git ref whose jobs.lock.json (beside the schema file) to compare with. Default: the lockfile on disk. */
  readonly against?: string;
  /** The directions that fail the check. Default `full` (both). */
  readonly mode?: Mode;
  /** Print one JSON document instead of a table. */
  readonly json?: boolean;
}

/** The exit codes of `jobcraft check`. */
export const CHECK_EXIT = {
  /** No breaking change in the mode's directions. */
  ok: 0,
  /** A usage problem: no lockfile, a bad ref, a bad schema file. */
  usage: 1,
  /** A breaking change in the mode's directions. */
  breaking: 2,
} as const;

/** What `--json` prints. */
export interface CheckReport {
  /** Where the locked contracts came from: a path, or `ref:path`. */
  readonly against: string;
  readonly mode: Mode;
  /** Whether a finding fails the check in the mode. */
  readonly breaking: boolean;
  readonly findings: readonly Finding[];
}

const MODES: readonly Mode[] = ['backward', 'forward', 'full'];

/** Reads the locked contracts `against` names, for the schema file `schemaFile`. Throws {@link UsageError}. */
export function readAgainst(schemaFile: string, against: string | undefined): { readonly lock: Lockfile; readonly source: string } {
  const beside = lockfilePath(schemaFile);
  if (against === undefined) {
    if (!existsSync(beside)) throw new UsageError(`no ${displayPath(beside)}: run \`jobcraft lock\` and commit it, or pass --against <git ref | lockfile>`);
    return { lock: parseLockfile(readFileSync(beside, 'utf8'), displayPath(beside)), source: displayPath(beside) };
  }
  if (against.trim() === '') throw new UsageError('--against needs a git ref or a lockfile path');
  if (existsSync(against) && statSync(against).isFile()) {
    return { lock: parseLockfile(readFileSync(against, 'utf8'), against), source: against };
  }
  // A git ref: the lockfile beside the schema file as committed there.
  if (against.startsWith('-')) throw new UsageError(`--against ${against}: not a file, and a git ref does not start with "-"`);
  const spec = `${against}:./${basename(beside)}`;
  let text: string;
  try {
    text = execFileSync('git', ['show', spec], { cwd: dirname(beside), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? (err as Error).message).trim().split('\n')[0] ?? '';
    throw new UsageError(`--against ${against}: not a file, and git cannot show ${basename(beside)} at that ref (${stderr})`);
  }
  return { lock: parseLockfile(text, `${against}:${displayPath(beside)}`), source: `${against}:${displayPath(beside)}` };
}

/** Runs `jobcraft check`. Returns the exit code ({@link CHECK_EXIT}). */
export async function runCheck(options: CheckCommandOptions, generator = new Generator(), out: Output = consoleOutput): Promise<number> {
  const mode = options.mode ?? 'full';
  try {
    if (!MODES.includes(mode)) throw new UsageError(`--mode ${String(mode)}: use backward, forward or full`);
    const result = await generator.generate({ schema: options.schema });
    const { lock: before, source } = readAgainst(result.schemaFile, options.against);
    const after = parseLockfile(lockfileOf(result).text, displayPath(result.schemaFile));
    const findings = compareLockfiles(before, after);
    const breaking = findings.some((f) => failsIn(f, mode));
    if (options.json === true) {
      const report: CheckReport = { against: source, mode, breaking, findings };
      out.log(JSON.stringify(report, null, 2));
    } else {
      out.log(await humanReport(findings, source, mode, breaking, canonicalJson(before.jobs) === canonicalJson(after.jobs)));
    }
    return breaking ? CHECK_EXIT.breaking : CHECK_EXIT.ok;
  } catch (err) {
    return reportFailure(err, out, CHECK_EXIT.usage);
  }
}

/** The table of findings and a verdict line. */
async function humanReport(findings: readonly Finding[], source: string, mode: Mode, breaking: boolean, unchanged: boolean): Promise<string> {
  const { Printer, escapeText } = await import('./ops-output.js');
  const printer = new Printer(false);
  const c = printer.c;
  const lines: string[] = [`compared with ${escapeText(source)} (mode ${mode})`];
  if (findings.length === 0) {
    lines.push(unchanged ? 'the job contracts are unchanged' : 'no change to what any job accepts or writes; run `jobcraft lock` to record the new contracts');
    return lines.join('\n');
  }
  const rows = findings.map((f) => [
    failsIn(f, mode) ? c.red('breaking') : f.severity === 'breaking' ? c.yellow('breaking*') : c.green('safe'),
    f.rule,
    escapeText(f.job),
    escapeText(f.path === '' ? '-' : f.path),
    f.direction,
    escapeText(f.message),
    f.hint,
  ]);
  lines.push(printer.table(['severity', 'rule', 'job', 'field', 'direction', 'change', 'fix'], rows));
  const failing = findings.filter((f) => failsIn(f, mode)).length;
  const outside = findings.filter((f) => f.severity === 'breaking' && !failsIn(f, mode)).length;
  if (outside > 0) lines.push(`* breaking in a direction mode ${mode} does not check`);
  lines.push(
    breaking
      ? c.red(`${failing} breaking change(s): a rolling deploy would dead-letter jobs (see docs/contracts.md for safe rollout recipes)`)
      : `no breaking change in mode ${mode} (${findings.length} finding(s))${unchanged ? '; the job contracts are unchanged' : '; run `jobcraft lock` to record the new contracts'}`,
  );
  return lines.join('\n');
}
