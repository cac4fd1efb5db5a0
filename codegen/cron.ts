/** Checks a job's `cron` and `tz` options at generation time, with cron-parser (the parser the runtime uses). */
import { CronExpressionParser } from 'cron-parser';
import type { StaticValue } from './static-value.js';

export interface CronProblem {
  /** The option at fault: `cron` or `tz`. */
  readonly option: string;
  readonly message: string;
}

/** Problems with the `cron` / `tz` options, if any. Jobs without `cron` have none. */
export function checkCron(options: Readonly<Record<string, StaticValue>>): CronProblem[] {
  const { cron, tz } = options;
  const problems: CronProblem[] = [];
  if (tz !== undefined) {
    if (typeof tz !== 'string' || !isTimeZone(tz)) {
      problems.push({ option: 'tz', message: `unknown time zone ${JSON.stringify(tz)} (use an IANA name such as "Europe/Berlin")` });
    }
  }
  if (cron === undefined) return problems;
  if (typeof cron !== 'string') {
    problems.push({ option: 'cron', message: `cron must be a string such as "0 3 * * *", got ${JSON.stringify(cron)}` });
    return problems;
  }
  const fields = cron.trim().split(/\s+/);
  if (!cron.trim().startsWith('@') && fields.length !== 5 && fields.length !== 6) {
    problems.push({
      option: 'cron',
      message: `invalid cron expression ${JSON.stringify(cron)}: expected 5 fields (minute hour day month weekday) or 6 (with seconds first), got ${fields.length}`,
    });
    return problems;
  }
  try {
    CronExpressionParser.parse(cron);
  } catch (err) {
    problems.push({ option: 'cron', message: `invalid cron expression ${JSON.stringify(cron)}: ${(err as Error).message}` });
  }
  return problems;
}

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}
