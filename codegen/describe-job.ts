/**
 * What the code generator learns about one job from running the schema file: each field of the runtime's
 * `JOB_DESCRIPTION` (the job options' own declaration says how each resolved field is shown), plus the JSON Schema
 * of the payload's input. Runs in the worker thread of load-worker.ts; plain data crosses back to the generator.
 */
import type { ResolvedJob } from 'jobcraft';
import type { describeResolvedJob, JobDescription } from 'jobcraft/schema';
import { defaultLike, isComputedDefault, withoutComputedDefaults } from './computed-defaults.js';
import type { JsonSchemaNode } from './print-type.js';
import { partHash, type Unrepresentable } from './contracts-lockfile.js';

/** What running the schema file produced for one job: its resolved options as described, and its input's JSON Schema. */
export type LoadedJob = JobDescription & {
  readonly name: string;
  /** JSON Schema (draft 2020-12) of the payload's input: `z.toJSONSchema(schema, { io: 'input' })`. */
  readonly inputJsonSchema: JsonSchemaNode & Record<string, unknown>;
  /** Why there is no JSON Schema, when there is none. */
  readonly inputProblem: string | undefined;
  /** JSON Schema of the payload's output (what a producer writes): `z.toJSONSchema(schema, { io: 'output' })`; `{}` when there is none. */
  readonly outputJsonSchema: Record<string, unknown>;
  /** The parts of the payload neither JSON Schema describes exactly (transforms, refinements, custom types…). */
  readonly unrepresentable: readonly Unrepresentable[];
  /**
   * JSON Schema of the result's input (what a handler returns and is stored), for a job that declares a `result`:
   * `resultContract.input`; `null` for a job without one.
   */
  readonly resultJsonSchema: (JsonSchemaNode & Record<string, unknown>) | null;
  /** Both JSON Schemas of the result and their notes, as the lockfile holds them; `null` for a job without a result. */
  readonly resultContract: PayloadContract | null;
  /**
   * Each earlier payload version (oldest first; empty for a job without versions): both JSON Schemas and their notes,
   * as the lockfile holds them. The current version is `inputJsonSchema`/`outputJsonSchema`, number `version.current`.
   */
  readonly versions: readonly (PayloadContract & { readonly version: number })[];
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
  let inputProblem: string | undefined;
  let contract: PayloadContract | undefined;
  const toJson = toJsonSchemaOf(job.schema, standalone);
  if (toJson === undefined) {
    inputProblem = isZod4(job.schema)
      ? "zod's standalone toJSONSchema (zod/v4/core) could not be loaded from where the schema file imports zod"
      : 'it is not a zod 4 schema (it has no _zod internals)';
  } else {
    try {
      contract = payloadContract(job.schema, toJson);
    } catch (err) {
      inputProblem = (err as Error).message;
    }
  }
  let resultContract: PayloadContract | null = null;
  const resultSchema: unknown = job.result?.schema;
  if (resultSchema !== undefined) {
    const toResultJson = toJsonSchemaOf(resultSchema, standalone);
    try {
      resultContract = toResultJson === undefined ? null : payloadContract(resultSchema, toResultJson);
    } catch {
      resultContract = null;
    }
    // A result whose JSON Schema cannot be had is locked as "any" with a note, so a check never calls it verified.
    resultContract ??= { input: {}, output: {}, unrepresentable: [{ side: 'input', path: '', reason: 'no JSON Schema could be made of the result schema', hash: partHash({ input: {}, output: {} }) }] };
  }
  // Each earlier version's schemas; one that has none is locked as "any" with a note, as a result is.
  const versions = (job.versions ?? []).map((v) => {
    const toVersionJson = toJsonSchemaOf(v.schema, standalone);
    let c: PayloadContract | undefined;
    try {
      c = toVersionJson === undefined ? undefined : payloadContract(v.schema, toVersionJson);
    } catch {
      c = undefined;
    }
    c ??= { input: {}, output: {}, unrepresentable: [{ side: 'input', path: '', reason: `no JSON Schema could be made of version ${v.version}'s schema`, hash: partHash({ input: {}, output: {} }) }] };
    return { version: v.version, ...c };
  });
  const described = describeResolved(job);
  return {
    name: job.name,
    ...described,
    // A runtime older than versioned payloads describes no version: the job is version 1.
    version: (described as Partial<JobDescription>).version ?? { current: versions.length + 1, emit: versions.length + 1 },
    versions,
    // The manifest's `result` and the printer's descriptions: the contract's input side, so it is made once and its
    // computed defaults are left out as a payload's are.
    resultJsonSchema: (resultContract?.input ?? null) as LoadedJob['resultJsonSchema'],
    resultContract,
    inputJsonSchema: contract?.input ?? {},
    inputProblem,
    outputJsonSchema: contract?.output ?? {},
    unrepresentable: contract?.unrepresentable ?? [],
  };
}

/**
 * How to make `schema`'s JSON Schema: its own `toJSONSchema` method (classic zod), else zod core's standalone one
 * (zod/mini); `undefined` when it is no zod 4 schema or the standalone function could not be loaded.
 */
function toJsonSchemaOf(schema: unknown, standalone: () => ToJsonSchema | undefined): ToJsonSchema | undefined {
  const method = (schema as { toJSONSchema?: ToJsonMethod }).toJSONSchema;
  if (typeof method === 'function') return (s, params) => method.call(s, params);
  return isZod4(schema) ? standalone() : undefined;
}

/** Both JSON Schemas of a payload, and what they cannot say. */
export interface PayloadContract {
  /** What workers accept: `io: 'input'`. */
  readonly input: Record<string, unknown>;
  /** What producers write: `io: 'output'`. */
  readonly output: Record<string, unknown>;
  readonly unrepresentable: readonly Unrepresentable[];
}

/**
 * The JSON Schemas of both sides of a zod schema, with `unrepresentable: 'any'` (such a part becomes `{}`) and a
 * note for each part that JSON Schema does not describe exactly: what zod reports unrepresentable (transforms,
 * dates, bigints, custom types…), refinements (`.refine()`, `.superRefine()`: dropped silently by zod), and on the
 * input side a pipe into another schema (only the pipe's input is described). Computed defaults are left out
 * (computed-defaults.ts) so the schemas are the same on every run.
 */
export function payloadContract(schema: unknown, toJson: ToJsonSchema): PayloadContract {
  const notes = new Map<string, { side: 'input' | 'output'; path: string; reason: string; at: readonly (string | number)[] }>();
  const note = (side: 'input' | 'output', at: readonly (string | number)[], reason: string): void => {
    const path = fieldPath(at);
    notes.set(`${side}\u0000${path}\u0000${reason}`, { side, path, reason, at: [...at] });
  };
  const side = (io: 'input' | 'output'): Record<string, unknown> => {
    const defaults: unknown[] = [];
    const params = {
      io,
      unrepresentable: ({ path, message }: { path: (string | number)[]; message: string }) => {
        note(io, path, message);
        return 'any';
      },
    };
    const override = ({ zodSchema, path }: { zodSchema: unknown; path: (string | number)[] }): void => {
      if (defaultLike(zodSchema)) defaults.push(zodSchema);
      const def = (zodSchema as { _zod?: { def?: ZodDef } } | undefined)?._zod?.def;
      if (def === undefined) return;
      if (def.checks?.some((c) => c._zod?.def?.check === 'custom')) note(io, path, 'a refinement (.refine/.superRefine) is not described by JSON Schema');
      if (io === 'input' && def.type === 'pipe' && def.out?._zod?.def?.type !== 'transform') {
        note(io, path, 'a pipe into another schema: only the input side of the pipe is described');
      }
    };
    let json = toJson(schema, { ...params, override });
    const computed = defaults.filter(defaultLike).filter(isComputedDefault);
    if (computed.length > 0) json = withoutComputedDefaults(computed, () => toJson(schema, params));
    return json;
  };
  const input = side('input');
  const output = side('output');
  // Each note carries the hash of its part on both sides: `jobcraft check` calls the part unchanged when it is equal.
  const unrepresentable = [...notes.values()]
    .map(({ side: which, path, reason, at }) => ({ side: which, path, reason, hash: partHash({ input: partAt(input, at), output: partAt(output, at) }) }))
    .sort((a, b) => `${a.side} ${a.path} ${a.reason}`.localeCompare(`${b.side} ${b.path} ${b.reason}`));
  return { input, output, unrepresentable };
}

/** The node of a JSON Schema at a path of keys, or undefined. */
function partAt(json: unknown, at: readonly (string | number)[]): unknown {
  let node = json;
  for (const key of at) node = typeof node === 'object' && node !== null ? (node as Record<string | number, unknown>)[key] : undefined;
  return node;
}

interface ZodDef {
  readonly type?: unknown;
  readonly checks?: readonly { readonly _zod?: { readonly def?: { readonly check?: unknown } } }[];
  readonly out?: { readonly _zod?: { readonly def?: { readonly type?: unknown } } };
}

/**
 * A JSON Schema location as a payload field path: `properties/a/properties/b` → `a.b`, `items` → `[]`,
 * `prefixItems/1` → `[1]`, `additionalProperties` → `{}`; union branches (`anyOf/n`) name their field. `` is the
 * payload itself.
 */
export function fieldPath(path: readonly (string | number)[]): string {
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const next = path[i + 1];
    if (step === 'properties' && next !== undefined) {
      out += out === '' ? String(next) : `.${String(next)}`;
      i++;
    } else if (step === 'items') out += '[]';
    else if (step === 'prefixItems' && next !== undefined) {
      out += `[${String(next)}]`;
      i++;
    } else if (step === 'additionalProperties') out += '{}';
    else if ((step === 'anyOf' || step === 'oneOf' || step === 'allOf') && next !== undefined) i++;
    else if (step === '$defs' || step === 'definitions') {
      out = `#${String(next)}`;
      i++;
    }
  }
  return out;
}

/** Whether `schema` is a zod 4 schema (classic or zod/mini): it has the `_zod` internals with a definition. */
function isZod4(schema: unknown): boolean {
  const internals = (schema as { _zod?: { def?: unknown } } | null)?._zod;
  return typeof internals === 'object' && internals !== null && typeof internals.def === 'object';
}
