/**
 * --watch after a save that edits some jobs: only those jobs are type-checked again.
 *
 * Checking the `defineJobs({...})` call costs time in proportion to its jobs (each payload's z.input and z.output is
 * computed), and the compiler cannot check part of a file again. So the file the compiler is given is the saved
 * one with every job that did not change blanked out (replaced by spaces, newlines kept, so every position and
 * line:column stays what it is in the real file); the jobs that did not change keep what the last run made of them
 * (their options, their written-out types), their locations moved with the text. This is sound only when nothing a
 * job's meaning depends on changed besides its own text, so the generator uses it only when the file outside the
 * job map, every other local file the schema imports and the list of job names (in order) are exactly as in the
 * last successful run; anything else, and any problem found, gets a full check.
 */
import { ts } from './typescript.js';
import type { SourceLocation } from './problems.js';

/** One job of the job map, as text: its property and the comma after it. */
export interface JobSlice {
  readonly name: string;
  /** Offset after the previous job's comma (or the map's `{`): the property's leading trivia is part of the job. */
  readonly start: number;
  /** Offset after the property and the comma following it, if any. */
  readonly end: number;
  readonly text: string;
}

/** The job map of a schema file, cut into jobs, and everything around it. */
export interface JobMapSlices {
  readonly jobs: readonly JobSlice[];
  /** The file without the job map's contents: a change here may change any job. */
  readonly context: string;
}

function unwrap(node: ts.Expression): ts.Expression {
  let e = node;
  while (ts.isParenthesizedExpression(e) || ts.isSatisfiesExpression(e) || ts.isAsExpression(e)) e = e.expression;
  return e;
}

/**
 * Cuts the job map of the only `defineJobs({...})` call (by name, syntax only) into jobs; `undefined` when the
 * file is not that simple (no call or several, a spread or a computed name in the map).
 */
export function sliceJobMap(fileName: string, text: string): JobMapSlices | undefined {
  // A save is sliced twice (to check only its changed jobs, then to remember the run), so the last answer is kept.
  if (lastSliced !== undefined && lastSliced.fileName === fileName && lastSliced.text === text) return lastSliced.slices;
  const slices = slice(fileName, text);
  lastSliced = { fileName, text, slices };
  return slices;
}

let lastSliced: { readonly fileName: string; readonly text: string; readonly slices: JobMapSlices | undefined } | undefined;

function slice(fileName: string, text: string): JobMapSlices | undefined {
  const sourceFile = ts.createSourceFile(fileName, text, { languageVersion: ts.ScriptTarget.Latest, jsDocParsingMode: ts.JSDocParsingMode.ParseNone }, true);
  const maps: ts.ObjectLiteralExpression[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isCallExpression(node)) {
      const callee = node.expression;
      const name = ts.isIdentifier(callee) ? callee.text : ts.isPropertyAccessExpression(callee) ? callee.name.text : undefined;
      const argument = node.arguments[0];
      if (name === 'defineJobs' && argument !== undefined && ts.isObjectLiteralExpression(unwrap(argument))) maps.push(unwrap(argument) as ts.ObjectLiteralExpression);
    }
    ts.forEachChild(node, visit);
  };
  visit(sourceFile);
  const [map, second] = maps;
  if (map === undefined || second !== undefined) return undefined;
  const jobs: JobSlice[] = [];
  const properties = map.properties;
  for (let i = 0; i < properties.length; i++) {
    const prop = properties[i] as ts.ObjectLiteralElementLike;
    if (!ts.isPropertyAssignment(prop) || !(ts.isIdentifier(prop.name) || ts.isStringLiteral(prop.name))) return undefined;
    // From the end of the job before (its comma) or the map's `{`, so a job's leading comments are its own: in a
    // JavaScript schema a doc comment can type the job (`/** @type … */`), and an edit of it must have the job
    // checked again. The slices tile the map up to the last job's comma.
    const start = prop.getFullStart();
    const next = properties[i + 1];
    const comma = /^\s*,/.exec(text.slice(prop.end));
    const end = next !== undefined ? next.getFullStart() : prop.end + (comma?.[0].length ?? 0);
    jobs.push({ name: prop.name.text, start, end, text: text.slice(start, end) });
  }
  const open = map.getStart(sourceFile) + 1;
  const close = map.end - 1;
  return { jobs, context: `${text.slice(0, open)}\u0000${text.slice(close)}` };
}

/** `text` with the given ranges replaced by spaces (newlines kept, so lines and columns stay where they are). */
export function blankOut(text: string, ranges: readonly { start: number; end: number }[]): string {
  let out = '';
  let at = 0;
  for (const { start, end } of [...ranges].sort((a, b) => a.start - b.start)) {
    out += text.slice(at, start) + text.slice(start, end).replace(/[^\r\n]/g, ' ');
    at = end;
  }
  return out + text.slice(at);
}

/** 1-based line and column of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/**
 * A location inside a job whose text moved from `from` to `to` (1-based line and column of the job's start):
 * lines move by the difference, and columns too on the job's first line.
 */
export function moveLocation<L extends SourceLocation>(location: L, from: { line: number; column: number }, to: { line: number; column: number }): L {
  const column = location.line === from.line ? location.column + (to.column - from.column) : location.column;
  return { ...location, line: location.line + (to.line - from.line), column };
}
