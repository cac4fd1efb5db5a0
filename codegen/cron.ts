/**
 * Checks a job's `cron` and `tz` options at generation time with the runtime's own rule (cron-parser, 5 or 6
 * fields, an IANA time zone), so a bad schedule fails the build with its location instead of failing at start-up.
 */
import { checkCron as cronProblem } from 'jobcraft/schema';
import type { StaticValue } from './static-value.js';

export interface CronProblem {
  /** The option at fault: `cron` or `tz`. */
  readonly option: 'cron' | 'tz';
  readonly message: string;
}

/** Problems with the `cron` / `tz` options, if any. */
export function checkCron(options: Readonly<Record<string, StaticValue>>): CronProblem[] {
  const problems: CronProblem[] = [];
  const tzProblem = options.tz === undefined ? undefined : cronProblem('* * * * *', options.tz);
  if (tzProblem !== undefined) problems.push({ option: 'tz', message: tzProblem });
  const patternProblem = options.cron === undefined ? undefined : cronProblem(options.cron, 'UTC');
  if (patternProblem !== undefined) problems.push({ option: 'cron', message: patternProblem });
  return problems;
}
