/**
 * How the operations commands print: exit codes, escaping of stored text (payloads and error messages are written by
 * whoever enqueued or failed a job, so no terminal control character of theirs may reach the terminal), colours only
 * on a terminal without NO_COLOR, tables, and JSON that carries nothing a terminal would interpret.
 */
import Table from 'cli-table3';
import pc from 'picocolors';

/** The exit codes of the operations commands (docs/operations.md lists them). */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** Failed: Redis unreachable or refusing, a job that could not be acted on, a confirmation declined. */
  failure: 1,
  /** The command line is wrong: an unknown option, a bad value, bad JSON, a confirmation needed without a terminal. */
  usage: 2,
  /** What was named does not exist: a job id, a dead letter, a queue or job name the job set does not declare. */
  notFound: 3,
  /** `enqueue`: the payload fails the job's schema (nothing was written). */
  invalid: 4,
  /** A bulk action stopped by Ctrl-C (SIGINT) between two pages; rerun the command to finish. */
  interrupted: 130,
} as const;

/** An error that ends a command with its exit code and a message on stderr. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

// C0 controls, DEL, C1 controls, and the Unicode controls that reorder or hide text (bidi overrides and isolates,
// zero-width and line/paragraph separators).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;
const UNSAFE_KEEP_NEWLINES = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

function escapeChar(c: string): string {
  const code = c.charCodeAt(0);
  if (c === '\n') return '\\n';
  if (c === '\r') return '\\r';
  if (c === '\t') return '\\t';
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/**
 * Stored text made safe to print: every control character (C0, DEL, C1) and every invisible or reordering Unicode
 * control is written as a visible escape (`\x1b`, `\u202e`). `keepNewlines` keeps line breaks (stacks).
 */
export function escapeText(text: string, keepNewlines = false): string {
  return text.replace(keepNewlines ? UNSAFE_KEEP_NEWLINES : UNSAFE, escapeChar);
}

/**
 * JSON.stringify, with the characters it leaves as they are but a terminal may act on (DEL, C1 controls, bidi and
 * invisible controls) written as `\u` escapes: still valid JSON of the same value.
 */
export function safeJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(/[\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Whether stdout gets colours: never when NO_COLOR is set to anything non-empty (https://no-color.org); always when
 * FORCE_COLOR is set to anything but empty or `0`; otherwise only on a terminal whose TERM is not `dumb`.
 */
export function colorsWanted(env: NodeJS.ProcessEnv = process.env, isTTY = process.stdout.isTTY === true): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '' && env.FORCE_COLOR !== '0') return true;
  return isTTY && env.TERM !== 'dumb';
}

/** The colours in use (all identity functions when colours are off). */
export type Colors = ReturnType<typeof pc.createColors>;

/** What a command writes to: stdout for results, stderr for messages and the progress bar. */
export class Printer {
  readonly c: Colors;

  constructor(
    /** `--json`: stdout carries one JSON document and nothing else. */
    readonly json: boolean,
    color = !json && colorsWanted(),
  ) {
    this.c = pc.createColors(color);
  }

  /** A line of human output (nothing under --json). */
  line(text = ''): void {
    if (!this.json) process.stdout.write(`${text}\n`);
  }

  /** The JSON result of a command. */
  result(value: unknown): void {
    process.stdout.write(`${safeJson(value, 2)}\n`);
  }

  /** A message on stderr (also under --json: stdout stays pure JSON). */
  note(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  /** A table with a bold header and no borders; every cell is escaped. */
  table(head: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
    const table = new Table({
      head: head.map((h) => this.c.bold(h)),
      style: { head: [], border: [], 'padding-left': 0, 'padding-right': 2, compact: true },
      chars: {
        top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '',
        left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '',
      },
    });
    for (const row of rows) table.push(row.map((cell) => (typeof cell === 'number' ? String(cell) : cell)));
    return table
      .toString()
      .split('\n')
      .map((l) => l.trimEnd())
      .join('\n');
  }

  /** Key/value lines, the keys padded to one width. */
  fields(pairs: readonly (readonly [string, string])[]): void {
    const width = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${this.c.dim(k.padEnd(width))}  ${v}`);
  }
}

/** A time as ISO text and how long ago / from now (`2026-12-02T08:00:00.000Z (3m ago)`). */
export function when(at: number | Date | undefined, now = Date.now()): string {
  if (at === undefined) return '-';
  const ms = typeof at === 'number' ? at : at.getTime();
  // Past ±8.64e15 ms no Date exists (toISOString would throw): a stored time that large is no time.
  if (!Number.isFinite(ms) || ms <= 0 || Number.isNaN(new Date(ms).getTime())) return '-';
  return `${new Date(ms).toISOString()} (${relative(ms, now)})`;
}

/** `3m ago`, `in 2h`. */
export function relative(ms: number, now = Date.now()): string {
  const d = Math.abs(now - ms);
  const text = d < 1_000 ? `${d}ms` : d < 60_000 ? `${Math.round(d / 1_000)}s` : d < 3_600_000 ? `${Math.round(d / 60_000)}m` : d < 86_400_000 ? `${(d / 3_600_000).toFixed(1)}h` : `${(d / 86_400_000).toFixed(1)}d`;
  return ms <= now ? `${text} ago` : `in ${text}`;
}
