import { relative, isAbsolute } from 'node:path';

/** A place in a source file, 1-based like editors show it. */
export interface SourceLocation {
  /** Absolute path of the file. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One thing wrong with a schema file: where it is, the job it concerns (when it concerns one) and what is wrong. */
export interface Problem extends SourceLocation {
  /** The job's name, when the problem belongs to one job. */
  readonly job?: string;
  readonly message: string;
}

/**
 * Which step found the problems: reading the file's syntax, resolving its imports (a module the compiler cannot
 * find), the structure codegen needs, the type checker, the payload types (a field no enqueue call can fill, such as
 * a `z.date()` input), or running the file. Each step runs only when the ones before it found nothing.
 */
export type ProblemStage = 'syntax' | 'imports' | 'structure' | 'types' | 'payload' | 'run';

/** Thrown when the schema file cannot be turned into code; carries every problem found. */
export class CodegenError extends Error {
  override readonly name = 'CodegenError';

  constructor(
    readonly problems: readonly Problem[],
    readonly stage: ProblemStage = 'structure',
  ) {
    super(problems.map((p) => formatProblem(p)).join('\n'));
  }
}

/** A problem at `location`. */
export function problemAt(location: SourceLocation, message: string, job?: string): Problem {
  const { file, line, column } = location;
  return job === undefined ? { file, line, column, message } : { file, line, column, job, message };
}

/** A path as the user should see it: relative to the working directory when below it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel.split('\\').join('/');
}

/** `jobs.schema.ts:12:5: error: …`, the form editors and terminals turn into links. */
export function formatProblem(problem: Problem, cwd = process.cwd()): string {
  return `${displayPath(problem.file, cwd)}:${problem.line}:${problem.column}: error: ${problem.message}`;
}

/** The command cannot start: a missing schema file, an output folder it must not replace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Where a command's messages go (the tests capture them). */
export interface Output {
  log(line: string): void;
  error(line: string): void;
}

/** The terminal's stdout and stderr. */
export const consoleOutput: Output = { log: (l) => console.log(l), error: (l) => console.error(l) };

/**
 * Reports a failure every schema-reading command shares: the schema's problems (each with file and line) or a usage
 * error. Returns `exitCode` when it reported one; anything else is not ours to word and is thrown again.
 */
export function reportFailure(err: unknown, out: Output, exitCode: number): number {
  if (err instanceof CodegenError) {
    for (const problem of err.problems) out.error(formatProblem(problem));
    return exitCode;
  }
  if (err instanceof UsageError) {
    out.error(`error: ${err.message}`);
    return exitCode;
  }
  throw err;
}
