/**
 * `jobcraft lock`: writes jobs.lock.json beside the schema file (contracts-lockfile.ts says what it holds), and the
 * staleness test `jobcraft codegen --check` runs when a lockfile exists.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { Generator, type GenerateResult } from './generate.js';
import { buildLockfile, formatLockfile, lockfilePath } from './contracts-lockfile.js';
import { consoleOutput, displayPath, reportFailure, type Output } from './problems.js';

/** `jobcraft lock`'s options. */
export interface LockCommandOptions {
  /** The schema file. Default `jobs.schema.ts`. */
  readonly schema?: string;
}

/** The lockfile the generator's run describes: where it goes and its text. */
export function lockfileOf(result: GenerateResult): { readonly path: string; readonly text: string } {
  const lock = buildLockfile(
    result.schemaFile,
    result.jobs.map((job) => ({
      name: job.name,
      queue: job.queue,
      inputJsonSchema: job.inputJsonSchema,
      outputJsonSchema: job.outputJsonSchema,
      unrepresentable: job.unrepresentable,
      result: job.resultContract,
      aliases: job.aliases,
      versions: job.versions,
      emitVersion: job.version.emit,
    })),
  );
  return { path: lockfilePath(result.schemaFile), text: formatLockfile(lock) };
}

/**
 * Whether the lockfile beside the schema file matches the schemas: `absent` (no lockfile: nothing to keep
 * fresh), `fresh` or `stale`.
 */
export function lockfileState(result: GenerateResult): { readonly path: string; readonly state: 'absent' | 'fresh' | 'stale' } {
  const { path, text } = lockfileOf(result);
  if (!existsSync(path)) return { path, state: 'absent' };
  return { path, state: readFileSync(path, 'utf8') === text ? 'fresh' : 'stale' };
}

/** Runs `jobcraft lock`. Returns the exit code: 0 written or up to date, 1 for a bad schema or a usage problem. */
export async function runLock(options: LockCommandOptions, generator = new Generator(), out: Output = consoleOutput): Promise<number> {
  try {
    const result = await generator.generate({ schema: options.schema });
    const { path, text } = lockfileOf(result);
    const shown = displayPath(path);
    const partial = result.jobs.filter((j) => j.unrepresentable.length > 0).map((j) => j.name);
    const note = partial.length === 0 ? '' : `; with parts JSON Schema cannot describe, compared by their hash only: ${partial.join(', ')}`;
    if (existsSync(path) && readFileSync(path, 'utf8') === text) {
      out.log(`${shown} is up to date (${result.jobs.length} jobs${note})`);
      return 0;
    }
    // Written whole or not at all.
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, text);
    renameSync(temporary, path);
    out.log(`wrote ${shown} (${result.jobs.length} jobs${note}): commit it`);
    return 0;
  } catch (err) {
    return reportFailure(err, out, 1);
  }
}
