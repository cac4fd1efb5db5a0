/**
 * How job names become identifiers: `sendWelcomeEmail` → `SendWelcomeEmail` → `enqueueSendWelcomeEmail`,
 * `SendWelcomeEmailInput`, `SendWelcomeEmailPayload`, `SendWelcomeEmailHandler`.
 */
import { JOB_NAME_PATTERN } from 'jobcraft/rules';

/** Why a job name cannot become an identifier, or `undefined` when it can. */
export function identifierProblem(name: string): string | undefined {
  if (JOB_NAME_PATTERN.test(name)) return undefined;
  return (
    `job name ${JSON.stringify(name)} cannot become an identifier: start with a letter, then use letters, digits, ` +
    '"_", "-" or "." (at most 100 characters)'
  );
}

/** `billing.charge-card` → `BillingChargeCard`. Separators (`_`, `-`, `.`) start a new word. */
export function pascalCase(name: string): string {
  return name
    .split(/[-_.]+/)
    .filter((part) => part !== '')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The identifiers generated for one job. */
export interface JobIdentifiers {
  /** `SendWelcomeEmail` */
  readonly base: string;
  /** `SendWelcomeEmailInput`: what enqueue takes. */
  readonly input: string;
  /** `SendWelcomeEmailPayload`: what the handler gets. */
  readonly payload: string;
  /** `SendWelcomeEmailHandler` */
  readonly handler: string;
  /** `enqueueSendWelcomeEmail` */
  readonly enqueue: string;
  /** `SendWelcomeEmailResult`: what waiting for the result gives (a job with a `result` schema). */
  readonly result: string;
  /** `SendWelcomeEmailReturns`: what the handler returns (a job with a `result` schema). */
  readonly returns: string;
  /** `enqueueSendWelcomeEmailAndWait`: enqueue, then wait for the result (a job with a `result` schema). */
  readonly andWait: string;
}

export function jobIdentifiers(name: string): JobIdentifiers {
  const base = pascalCase(name);
  return {
    base,
    input: `${base}Input`,
    payload: `${base}Payload`,
    handler: `${base}Handler`,
    enqueue: `enqueue${base}`,
    result: `${base}Result`,
    returns: `${base}Returns`,
    andWait: `enqueue${base}AndWait`,
  };
}

/** Members of the runtime's `JobClient`, which the generated client extends with one `enqueue…` method per job. */
export const CLIENT_MEMBERS: ReadonlySet<string> = new Set(['enqueue', 'enqueueMany', 'getJob', 'deadLetters', 'redis', 'close']);

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** A property key as TypeScript source: bare when it is an identifier, quoted otherwise. */
export function propertyKey(key: string): string {
  return IDENTIFIER.test(key) ? key : quote(key);
}

/** A string literal in single quotes. */
export function quote(text: string): string {
  return `'${JSON.stringify(text).slice(1, -1).replace(/\\"/g, '"').replace(/'/g, "\\'")}'`;
}
