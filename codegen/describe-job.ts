/**
 * What the code generator learns about one job from running the schema file: each field of the runtime's
 * `JOB_DESCRIPTION` (the job options' own declaration says how each resolved field is shown), plus the JSON Schema
 * of the payload's input. Runs in the worker thread of load-worker.ts; plain data crosses back to the generator.
 */
import type { ResolvedJob } from 'jobcraft';
import type { describeResolvedJob, JobDescription } from 'jobcraft/schema';
import { defaultLike, isComputedDefault, withoutComputedDefaults } from './computed-defaults.js';
import type { JsonSchemaNode } from './print-type.js';

/** What running the schema file produced for one job: its resolved options as described, and its input's JSON Schema. */
export type LoadedJob = JobDescription & {
  readonly name: string;
  /** JSON Schema (draft 2020-12) of the payload's input: `z.toJSONSchema(schema, { io: 'input' })`. */
  readonly inputJsonSchema: JsonSchemaNode & Record<string, unknown>;
  /** Why there is no JSON Schema, when there is none. */
  readonly inputProblem: string | undefined;
};

/** zod 4's `z.toJSONSchema(schema, params)`, the standalone function (zod core: classic and zod/mini schemas alike). */
export type ToJsonSchema = (schema: unknown, params: Record<string, unknown>) => Record<string, unknown>;

type ToJsonMethod = (params: Record<string, unknown>) => Record<string, unknown>;

/**
 * Describes one resolved job as plain data, with the runtime's `describeResolvedJob` (passed in: the worker imports
 * the runtime from where the generator found it). The input's JSON Schema comes from the schema's own
 * `toJSONSchema` method (classic zod) or, for a schema without one (zod/mini), from `standalone()`: zod core's
 * `z.toJSONSchema`. Defaults computed by a function are left out of it (computed-defaults.ts).
 */
export function describeJob(
  job: ResolvedJob,
  describeResolved: typeof describeResolvedJob,
  standalone: () => ToJsonSchema | undefined = () => undefined,
): LoadedJob {
  let input: Record<string, unknown> | undefined;
  let inputProblem: string | undefined;
  const method = (job.schema as { toJSONSchema?: ToJsonMethod }).toJSONSchema;
  const toJson: ToJsonSchema | undefined =
    typeof method === 'function' ? (schema, params) => method.call(schema, params) : isZod4(job.schema) ? standalone() : undefined;
  if (toJson === undefined) {
    inputProblem = isZod4(job.schema)
      ? "zod's standalone toJSONSchema (zod/v4/core) could not be loaded from where the schema file imports zod"
      : 'it is not a zod 4 schema (it has no _zod internals)';
  } else {
    try {
      const defaults: unknown[] = [];
      const params = { io: 'input', unrepresentable: 'any' };
      input = toJson(job.schema, { ...params, override: ({ zodSchema }: { zodSchema: unknown }) => void (defaultLike(zodSchema) && defaults.push(zodSchema)) });
      const computed = defaults.filter(defaultLike).filter(isComputedDefault);
      if (computed.length > 0) input = withoutComputedDefaults(computed, () => toJson(job.schema, params));
    } catch (err) {
      inputProblem = (err as Error).message;
    }
  }
  return { name: job.name, ...describeResolved(job), inputJsonSchema: input ?? {}, inputProblem };
}

/** Whether `schema` is a zod 4 schema (classic or zod/mini): it has the `_zod` internals with a definition. */
function isZod4(schema: unknown): boolean {
  const internals = (schema as { _zod?: { def?: unknown } } | null)?._zod;
  return typeof internals === 'object' && internals !== null && typeof internals.def === 'object';
}
