/**
 * What the code generator learns about one job from running the schema file: each field of the runtime's
 * `JOB_DESCRIPTION` (the job options' own declaration says how each resolved field is shown), plus the JSON Schema
 * of the payload's input. Runs in the worker thread of load-worker.ts; plain data crosses back to the generator.
 */
import type { ResolvedJob } from 'jobcraft';
import type { describeResolvedJob, JobDescription } from 'jobcraft/schema';
import type { JsonSchemaNode } from './print-type.js';

/** What running the schema file produced for one job: its resolved options as described, and its input's JSON Schema. */
export type LoadedJob = JobDescription & {
  readonly name: string;
  /** JSON Schema (draft 2020-12) of the payload's input: `z.toJSONSchema(schema, { io: 'input' })`. */
  readonly inputJsonSchema: JsonSchemaNode & Record<string, unknown>;
  /** Why there is no JSON Schema, when there is none. */
  readonly inputProblem: string | undefined;
};

type ToJson = (params: Record<string, unknown>) => Record<string, unknown>;

/**
 * Describes one resolved job as plain data, with the runtime's `describeResolvedJob` (passed in: the worker imports
 * the runtime from where the generator found it).
 */
export function describeJob(job: ResolvedJob, describeResolved: typeof describeResolvedJob): LoadedJob {
  const toJson = (job.schema as { toJSONSchema?: ToJson }).toJSONSchema;
  let input: Record<string, unknown> | undefined;
  let inputProblem: string | undefined;
  if (typeof toJson !== 'function') inputProblem = 'it is not a zod 4 schema (it has no toJSONSchema)';
  else {
    try {
      input = toJson.call(job.schema, { io: 'input', unrepresentable: 'any' });
    } catch (err) {
      inputProblem = (err as Error).message;
    }
  }
  return { name: job.name, ...describeResolved(job), inputJsonSchema: input ?? {}, inputProblem };
}
