/** Runs codegen once, as `jobcraft codegen` does: generate, then write or (with --check) compare. */
import { Generator, type GenerateOptions } from './generate.js';
import { lockfileState } from './lock.js';
import { staleFiles, writeOutput } from './output.js';
import { consoleOutput, displayPath, reportFailure, type Output } from './problems.js';

export interface CodegenCommandOptions extends GenerateOptions {
  /** Compare instead of writing: report each stale file and fail. */
  readonly check?: boolean;
  /** Regenerate on every save of the schema file and the files it imports. */
  readonly watch?: boolean;
}

/**
 * Runs codegen once: generates, then writes (or with `check`, compares). Returns the exit code: 0 on success,
 * 1 for a bad schema, a stale output folder (`check`) or a usage problem; every problem is reported on `out`.
 * The time reported is from `startedAt` (a `performance.now()` value; the command passes 0, the process's start,
 * so that it reports the whole wall time a build pays, start-up included).
 */
export async function runCodegen(
  options: CodegenCommandOptions,
  generator = new Generator(),
  out: Output = consoleOutput,
  startedAt = performance.now(),
): Promise<number> {
  try {
    const result = await generator.generate(options);
    const folder = displayPath(result.outDir);
    if (options.check) {
      const stale = staleFiles(result.outDir, result.files);
      // The lockfile too, when there is one beside the schema file (jobcraft lock).
      const lock = lockfileState(result);
      if (lock.state === 'stale') {
        out.error(`${displayPath(lock.path)} is stale: the schemas changed since it was written; run \`jobcraft check\`, then \`jobcraft lock\` and commit the result`);
      } else if (lock.state === 'fresh') out.log(`${displayPath(lock.path)} is up to date`);
      if (stale.length === 0) {
        out.log(`${folder}/ is up to date`);
        return lock.state === 'stale' ? 1 : 0;
      }
      for (const path of stale) out.error(`${folder}/${path} is stale`);
      out.error(`${stale.length} stale file(s) in ${folder}/: run \`jobcraft codegen\` and commit the result`);
      return 1;
    }
    const changed = writeOutput(result.outDir, result.files);
    const ms = Math.round(performance.now() - startedAt);
    out.log(
      changed.length === 0
        ? `${folder}/ is up to date (${result.files.length} files, ${ms} ms)`
        : `wrote ${folder}/ (${changed.length} of ${result.files.length} files changed: ${changed.join(', ')}) in ${ms} ms`,
    );
    return 0;
  } catch (err) {
    return reportFailure(err, out, 1);
  }
}
