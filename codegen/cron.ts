/**
 * Checks a job's `cron` and `tz` options at generation time with the runtime's own rule (cron-parser, 5 or 6
 * fields, an IANA time zone), so a bad schedule fails the build with its location instead of failing at start-up.
 *
 * The rule comes from `jobcraft/schema`, which loads zod and cron-parser: it is imported only once a schema has a
 * job with a schedule ({@link loadCronRule}), so a build without one does not pay for them in the main thread.
 */
import type { checkCron as CronRule } from 'jobcraft/schema';
import type { StaticValue } from './static-value.js';

export interface CronProblem {
  /** The option at fault: `cron` or `tz`. */
  readonly option: 'cron' | 'tz';
  readonly message: string;
}

let cronRule: typeof CronRule | undefined;

/**
 * Thrown by {@link checkCron} when the rule is not loaded yet: the caller awaits {@link loadCronRule} and reads the
 * schema again (its types are cached in the program by then).
 */
export class CronRuleNotLoaded extends Error {
  constructor() {
    super('the cron rule is not loaded yet (await loadCronRule() first)');
  }
}

/** Loads the runtime's cron rule; later calls return at once. */
export async function loadCronRule(): Promise<void> {
  cronRule ??= (await import('jobcraft/schema')).checkCron;
}

/** Problems with the `cron` / `tz` options, if any. Throws {@link CronRuleNotLoaded} when a job has them and the rule is not loaded. */
export function checkCron(options: Readonly<Record<string, StaticValue>>): CronProblem[] {
  if (options.tz === undefined && options.cron === undefined) return [];
  const rule = cronRule;
  if (rule === undefined) throw new CronRuleNotLoaded();
  const problems: CronProblem[] = [];
  const tzProblem = options.tz === undefined ? undefined : rule('* * * * *', options.tz);
  if (tzProblem !== undefined) problems.push({ option: 'tz', message: tzProblem });
  const patternProblem = options.cron === undefined ? undefined : rule(options.cron, 'UTC');
  if (patternProblem !== undefined) problems.push({ option: 'cron', message: patternProblem });
  return problems;
}
