/**
 * The rules of `jobcraft check`: each kind of change it finds, named as a change from the locked (old) schemas to
 * the current (new) ones, with the direction in which it breaks and a one-line fix hint. docs/contracts.md shows this
 * table; test/unit/contracts-rules.test.ts holds it to the comparison.
 */

/**
 * Which readers meet which writers. `backward`: jobs written by old producers (the locked output schema), read by
 * new workers (the current input schema). `forward`: jobs written by new producers, read by old workers. For a
 * job's result, the writers are workers and the readers waiters: `backward` is results stored by old workers read by
 * new waiters, `forward` results of new workers read by old waiters.
 */
export type Direction = 'backward' | 'forward';

/** Which directions a check fails on: `full` is both (the default). */
export type Mode = Direction | 'full';

/** Whether a change can make a reader reject a job a writer wrote. */
export type Severity = 'breaking' | 'safe';

/** One rule: what it finds, in which directions it breaks, and how to fix it. */
export interface Rule {
  /** What changed, in a few words. */
  readonly what: string;
  /** The directions in which the change is breaking (in the others it is safe or not reported). */
  readonly breaks: readonly Direction[];
  /** A one-line fix hint. */
  readonly hint: string;
}

export const RULES = {
  'job-added': {
    what: 'a new job',
    breaks: [],
    hint: 'deploy the workers before the producers that enqueue it',
  },
  'job-removed': {
    what: 'a job is gone (a rename shows as removed + added)',
    breaks: ['backward'],
    hint: 'keep the job (and a worker for it) until no stored job is left; a rename: list the old name in the new job\'s aliases (docs/contracts.md, "Rename a job")',
  },
  'job-renamed': {
    what: "a job's name changed, its old name kept as an alias (backward: the old job's payload is compared with the new job's)",
    breaks: ['forward'],
    hint: 'deploy workers first: workers of the old job set know only the old name; switch producers to the new name once every worker runs the new job set',
  },
  'queue-changed': {
    what: "a job's queue changed",
    breaks: ['backward', 'forward'],
    hint: 'jobs already stored wait on the old queue: run workers for both queues until the old one is drained',
  },
  'version-added': {
    what: 'producers write a payload version the locked workers do not know (a new version, or emitVersion raised)',
    breaks: ['forward'],
    hint: 'pin emitVersion to the last version the running workers know for one release, deploy the workers, then remove the pin',
  },
  'version-removed': {
    what: 'a locked payload version is gone (the versions list got shorter, or was renumbered)',
    breaks: ['backward'],
    hint: 'version removed while jobs may still be stored — run check --live first; keep every version jobs may be stored with in the versions list',
  },
  'result-added': {
    what: 'a job now declares a result',
    breaks: [],
    hint: 'deploy the workers before the producers that wait for it: a job an old worker completes has no result (the wait ends with ResultExpiredError)',
  },
  'result-removed': {
    what: 'a job no longer declares a result',
    breaks: ['forward'],
    hint: 'stop waiting for the result in every producer and deploy them first; remove the result from the workers in a later release',
  },
  'field-added-required': {
    what: 'a new required field without a default',
    breaks: ['backward'],
    hint: 'add a default (.default(...)) or make it optional for one release',
  },
  'field-added-optional': {
    what: 'a new optional field (or one with a default)',
    breaks: [],
    hint: 'nothing to do',
  },
  'field-removed': {
    what: 'a field is gone',
    breaks: ['forward'],
    hint: 'make it optional first, deploy the workers, then remove it in a later release',
  },
  'field-made-required': {
    what: 'an optional field became required',
    breaks: ['backward'],
    hint: 'give it a default instead, or keep it optional until no job without it is stored',
  },
  'field-made-optional': {
    what: 'a required field became optional',
    breaks: ['forward'],
    hint: 'deploy the workers before the producers that may leave it out',
  },
  'unknown-keys-rejected': {
    what: 'the reader rejects keys the writer may write (a strict object)',
    breaks: ['backward', 'forward'],
    hint: 'keep the reader a plain z.object (unknown keys stripped) or z.looseObject for one release',
  },
  'type-changed': {
    what: 'a type changed to an unrelated one',
    breaks: ['backward', 'forward'],
    hint: 'add a version with a migration (versions: docs/contracts.md, "Versioned payloads"), or add a new field with the new type (optional), move readers to it, then remove the old one',
  },
  'type-narrowed': {
    what: 'a type accepts less (number → integer, a union member gone, any → string…)',
    breaks: ['backward'],
    hint: 'keep accepting the old values in the workers (a union) until none is stored',
  },
  'type-widened': {
    what: 'a type accepts more (integer → number, a union member added, a value → any)',
    breaks: ['forward'],
    hint: 'deploy the workers before the producers that write the new values',
  },
  'enum-value-removed': {
    what: 'an enum or literal value is gone',
    breaks: ['backward'],
    hint: 'keep accepting the value in the workers until no stored job uses it',
  },
  'enum-value-added': {
    what: 'a new enum or literal value',
    breaks: ['forward'],
    hint: 'deploy the workers before the producers that write it',
  },
  'bound-tightened': {
    what: 'a bound is tighter (min/max, length, items, multipleOf)',
    breaks: ['backward'],
    hint: 'tighten the producers first; tighten the workers once no stored job is outside the new bound',
  },
  'bound-loosened': {
    what: 'a bound is looser',
    breaks: ['forward'],
    hint: 'deploy the workers before the producers that write values beyond the old bound',
  },
  'format-changed': {
    what: 'a string format or pattern is new or different',
    breaks: ['backward'],
    hint: 'validate the format in the producers first; the workers only once no stored job lacks it',
  },
  'format-removed': {
    what: 'a string format or pattern is gone',
    breaks: ['forward'],
    hint: 'deploy the workers before the producers that write unformatted strings',
  },
  'nullable-removed': {
    what: 'null is no longer accepted',
    breaks: ['backward'],
    hint: 'keep .nullable() in the workers until no stored job holds null',
  },
  'nullable-added': {
    what: 'null is now accepted',
    breaks: ['forward'],
    hint: 'deploy the workers before the producers that write null',
  },
  unrepresentable: {
    what: 'a part JSON Schema cannot describe (transform, refinement, custom type, date…): not verified',
    breaks: ['backward', 'forward'],
    hint: 'breaking unless that part is unchanged; check it by hand, or describe it with plain zod types',
  },
  'cannot-compare': {
    what: 'a JSON Schema construct the check does not compare (intersections, $ref mismatches…)',
    breaks: ['backward', 'forward'],
    hint: 'check this change by hand',
  },
} as const satisfies Readonly<Record<string, Rule>>;

/**
 * The hint of a breaking finding in a job's result, by direction: the field rules' own hints speak of payloads, whose
 * writers and readers are the other way round.
 */
export const RESULT_HINTS: Readonly<Record<Direction, string>> = {
  backward:
    'results old workers stored fail the new result schema: keep the waiters accepting them until no old worker runs and their results are past resultRetention',
  forward: 'new workers would store results old waiters reject: deploy the waiters (producers) accepting the new result first, then the workers',
};

/** A rule's id, such as `field-added-required`. */
export type RuleId = keyof typeof RULES;

/** One change found in one direction. */
export interface Finding {
  readonly rule: RuleId;
  readonly job: string;
  /** The field, as `a.b`, `items[]`, `tuple[1]`, `record{}`; `` for the payload itself (or the job). */
  readonly path: string;
  readonly direction: Direction;
  /** `result` for a finding in the job's result (its path then starts with `result`); absent for the payload and the job. */
  readonly part?: 'result';
  readonly severity: Severity;
  /** What exactly changed, e.g. `minimum 0 → 1`. */
  readonly message: string;
  /** How to fix it, in a line (a breaking finding: the rule's hint; a safe one says there is nothing to do). */
  readonly hint: string;
}

/** Whether `finding` fails a check in `mode`. */
export function failsIn(finding: Finding, mode: Mode): boolean {
  return finding.severity === 'breaking' && (mode === 'full' || finding.direction === mode);
}
