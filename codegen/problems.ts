import { relative, isAbsolute } from 'node:path';

/** A place in a source file, 1-based like editors show it. */
export interface SourceLocation {
  /** Absolute path of the file. */
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One thing wrong with a schema file: a message and where it is. */
export interface Problem {
  readonly location: SourceLocation;
  readonly message: string;
}

/** Thrown when the schema file cannot be turned into code; carries every problem found. */
export class CodegenError extends Error {
  override readonly name = 'CodegenError';
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[]) {
    super(problems.map((p) => formatProblem(p)).join('\n'));
    this.problems = problems;
  }
}

/** A path as the user should see it: relative to the working directory when below it. */
export function displayPath(file: string, cwd = process.cwd()): string {
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel.split('\\').join('/');
}

/** `jobs.schema.ts:12:5: error: …`, the form editors and terminals turn into links. */
export function formatProblem(problem: Problem, cwd = process.cwd()): string {
  const { file, line, column } = problem.location;
  return `${displayPath(file, cwd)}:${line}:${column}: error: ${problem.message}`;
}

/** The command cannot start: a missing schema file, an output folder it must not replace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
