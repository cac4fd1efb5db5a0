import { InvalidArgumentError } from './errors.js';
/**
 * A length of time: a number of milliseconds, or a string such as `"250ms"`, `"30s"`, `"5m"`, `"2h"`, `"1d"`.
 * Strings may combine units (`"1m30s"`).
 */
export type Duration = number | `${number}${DurationUnit}` | (string & {});

/** Units accepted in a duration string. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd';

const UNIT_MS: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Converts a {@link Duration} to whole milliseconds.
 * Returns a message describing the problem instead of a number when the value is not a valid, non-negative duration.
 */
export function parseDuration(value: unknown): number | string {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) return `must be a finite number of milliseconds, got ${String(value)}`;
    if (value < 0) return `must not be negative, got ${value}`;
    return Math.round(value);
  }
  if (typeof value !== 'string') return `must be milliseconds or a string like "30s", got ${describe(value)}`;
  const text = value.trim();
  if (text.startsWith('-')) return `must not be negative, got "${value}"`;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text));
  let total = 0;
  let matched = 0;
  PART.lastIndex = 0;
  for (let m = PART.exec(text); m !== null; m = PART.exec(text)) {
    total += Number(m[1]) * UNIT_MS[m[2] as DurationUnit];
    matched = PART.lastIndex;
  }
  if (text.length === 0 || matched !== text.length) {
    return `must be milliseconds or a string like "250ms", "30s", "5m", "2h", "1d", got "${value}"`;
  }
  return Math.round(total);
}

/**
 * Like {@link parseDuration} but throws an {@link InvalidArgumentError} naming the call and the argument when the
 * value is not a valid duration.
 */
export function toMs(value: Duration, call: string, argument: string): number {
  const ms = parseDuration(value);
  if (typeof ms === 'string') throw new InvalidArgumentError(call, argument, `${argument} ${ms}`);
  return ms;
}

/**
 * An integer with its digits grouped in threes for messages ("33,554,432"). Not `toLocaleString`: that loads ICU's
 * locale data, ~7 MB of a process's RSS, and this runs at import.
 */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A short, safe description of any value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}
