import { createHash } from 'node:crypto';
import type { ResolvedJob } from './define.js';
import { JobDefinitionError } from './errors.js';
import { canonicalJson } from './payload.js';

/**
 * The unique key of a payload, as stored in its envelope (`u`) and used in the lock's key name:
 * `<job name>:<sha1 of the basis>`. The basis is the canonical JSON of the parsed payload, of the `by` fields, or the
 * `by` function's result.
 */
export function uniqueKeyOf(job: ResolvedJob, parsed: unknown): string | undefined {
  const unique = job.unique;
  if (unique === undefined) return undefined;
  let basis: string;
  if (typeof unique.by === 'function') {
    let result: unknown;
    try {
      result = unique.by(parsed);
    } catch (err) {
      throw new JobDefinitionError(job.name, 'unique.by', `the unique.by function of job "${job.name}" threw: ${(err as Error).message}`, { cause: err });
    }
    if (typeof result !== 'string') throw new JobDefinitionError(job.name, 'unique.by', `the unique.by function of job "${job.name}" must return a string, got ${typeof result}`);
    basis = `f:${result}`;
  } else if (unique.by !== undefined) {
    const record = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Record<string, unknown>;
    basis = `b:${canonicalJson(unique.by.map((field) => [field, record[field] ?? null]))}`;
  } else {
    basis = `p:${canonicalJson(parsed)}`;
  }
  return `${job.name}:${createHash('sha1').update(basis).digest('hex')}`;
}
