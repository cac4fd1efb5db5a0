/**
 * Before/after payload schemas with the verdicts `jobcraft check` must reach in each direction, shared by the
 * table test (contracts-rules.test.ts) and the property test (contracts-properties.test.ts), which confirms every
 * "safe" verdict by parsing generated payloads.
 */
import * as z from 'zod';
import { payloadContract } from '../../codegen/describe-job.js';
import { buildLockfile, type Lockfile } from '../../codegen/contracts-lockfile.js';
import type { RuleId } from '../../codegen/contracts-rules.js';

export type Verdict = 'safe' | 'breaking';

/** One before/after pair of a job's payload. */
export interface Case {
  readonly name: string;
  readonly before: z.ZodType;
  readonly after: z.ZodType;
  /** Old producers → new workers. */
  readonly backward: Verdict;
  /** New producers → old workers. */
  readonly forward: Verdict;
  /** Rules that must be among the findings, as `rule:direction:severity`. */
  readonly rules: readonly `${RuleId}:${'backward' | 'forward'}:${Verdict}`[];
  /** Skip the property test (a schema its generator cannot produce values for). */
  readonly noProperty?: true;
}

const toJson = (schema: unknown, params: Record<string, unknown>): Record<string, unknown> => z.toJSONSchema(schema as z.ZodType, params) as Record<string, unknown>;

/** A lockfile holding one job `job` with `payload`, on `queue`, with `result` when given. */
export function lockOf(payload: z.ZodType, queue = 'default', name = 'job', result?: z.ZodType): Lockfile {
  const contract = payloadContract(payload, toJson);
  return buildLockfile('jobs.schema.ts', [
    {
      name,
      queue,
      inputJsonSchema: contract.input,
      outputJsonSchema: contract.output,
      unrepresentable: contract.unrepresentable,
      ...(result === undefined ? {} : { result: payloadContract(result, toJson) }),
    },
  ]);
}

/**
 * A lockfile holding one versioned job `job`: `earlier` its earlier versions (1, 2, …), `current` the last one, and
 * `emitVersion` when producers are pinned.
 */
export function versionedLockOf(earlier: readonly z.ZodType[], current: z.ZodType, emitVersion?: number): Lockfile {
  const contract = payloadContract(current, toJson);
  return buildLockfile('jobs.schema.ts', [
    {
      name: 'job',
      queue: 'default',
      inputJsonSchema: contract.input,
      outputJsonSchema: contract.output,
      unrepresentable: contract.unrepresentable,
      versions: earlier.map((schema) => payloadContract(schema, toJson)),
      ...(emitVersion === undefined ? {} : { emitVersion }),
    },
  ]);
}

const o = z.object;

export const CASES: readonly Case[] = [
  // Fields added and removed
  { name: 'unchanged', before: o({ a: z.string() }), after: o({ a: z.string() }), backward: 'safe', forward: 'safe', rules: [] },
  {
    name: 'new required field without default',
    before: o({ a: z.string() }),
    after: o({ a: z.string(), b: z.number() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['field-added-required:backward:breaking', 'field-added-required:forward:safe'],
  },
  {
    name: 'new field with a default',
    before: o({ a: z.string() }),
    after: o({ a: z.string(), b: z.number().default(1) }),
    backward: 'safe',
    forward: 'safe',
    rules: ['field-added-optional:backward:safe', 'field-added-required:forward:safe'],
  },
  {
    name: 'new optional field',
    before: o({ a: z.string() }),
    after: o({ a: z.string(), b: z.number().optional() }),
    backward: 'safe',
    forward: 'safe',
    rules: ['field-added-optional:backward:safe', 'field-added-optional:forward:safe'],
  },
  {
    name: 'required field removed',
    before: o({ a: z.string(), b: z.number() }),
    after: o({ a: z.string() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['field-removed:backward:safe', 'field-removed:forward:breaking'],
  },
  {
    name: 'optional field removed',
    before: o({ a: z.string(), b: z.number().optional() }),
    after: o({ a: z.string() }),
    backward: 'safe',
    forward: 'safe',
    rules: ['field-removed:backward:safe', 'field-removed:forward:safe'],
  },
  {
    name: 'defaulted field removed (old workers fill it in)',
    before: o({ a: z.string(), b: z.number().default(3) }),
    after: o({ a: z.string() }),
    backward: 'safe',
    forward: 'safe',
    rules: ['field-removed:forward:safe'],
  },
  {
    name: 'optional → required',
    before: o({ a: z.string().optional() }),
    after: o({ a: z.string() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['field-made-required:backward:breaking', 'field-made-required:forward:safe'],
  },
  {
    name: 'required → optional',
    before: o({ a: z.string() }),
    after: o({ a: z.string().optional() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['field-made-optional:backward:safe', 'field-made-optional:forward:breaking'],
  },
  {
    name: 'optional → defaulted',
    before: o({ a: z.string().optional() }),
    after: o({ a: z.string().default('x') }),
    backward: 'safe',
    forward: 'safe',
    rules: [],
  },
  {
    name: 'required field renamed',
    before: o({ a: z.string() }),
    after: o({ b: z.string() }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['field-added-required:backward:breaking', 'field-removed:forward:breaking'],
  },
  // Object strictness
  {
    name: 'object made strict, field added',
    before: o({ a: z.string(), b: z.string().optional() }),
    after: z.strictObject({ a: z.string() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['unknown-keys-rejected:backward:breaking'],
  },
  {
    name: 'strict reader, writer adds an optional field',
    before: z.strictObject({ a: z.string() }),
    after: z.strictObject({ a: z.string(), b: z.string().optional() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['unknown-keys-rejected:forward:breaking'],
  },
  {
    name: 'strict → loose',
    before: z.strictObject({ a: z.string() }),
    after: z.looseObject({ a: z.string() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['unknown-keys-rejected:forward:breaking'],
  },
  {
    name: 'plain → strict, same fields',
    before: o({ a: z.string() }),
    after: z.strictObject({ a: z.string() }),
    backward: 'safe',
    forward: 'safe',
    rules: [],
  },
  {
    name: 'loose → strict',
    before: z.looseObject({ a: z.string() }),
    after: z.strictObject({ a: z.string() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['unknown-keys-rejected:backward:breaking'],
  },
  {
    name: 'loose writer, field removed: it may still pass the key through, with any value',
    before: o({ a: z.string(), c: z.boolean().optional() }),
    after: z.looseObject({ a: z.string() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['field-removed:forward:safe', 'type-widened:forward:breaking'],
  },
  {
    name: 'loose writer and reader, same fields',
    before: z.looseObject({ a: z.string() }),
    after: z.looseObject({ a: z.string() }),
    backward: 'safe',
    forward: 'safe',
    rules: [],
  },
  // Types
  {
    name: 'string → number',
    before: o({ a: z.string() }),
    after: o({ a: z.number() }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['type-changed:backward:breaking', 'type-changed:forward:breaking'],
  },
  {
    name: 'number → integer',
    before: o({ n: z.number() }),
    after: o({ n: z.number().int() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking', 'type-narrowed:forward:safe'],
  },
  {
    name: 'integer → number',
    before: o({ n: z.number().int() }),
    after: o({ n: z.number() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:backward:safe', 'type-widened:forward:breaking'],
  },
  {
    name: 'string → string | number',
    before: o({ a: z.string() }),
    after: o({ a: z.union([z.string(), z.number()]) }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:backward:safe', 'type-widened:forward:breaking'],
  },
  {
    name: 'string | number → string',
    before: o({ a: z.union([z.string(), z.number()]) }),
    after: o({ a: z.string() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking'],
  },
  {
    name: 'unknown → string',
    before: o({ a: z.unknown() }),
    after: o({ a: z.string() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking'],
    noProperty: true,
  },
  {
    name: 'string → unknown',
    before: o({ a: z.string() }),
    after: o({ a: z.unknown() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:backward:safe'],
    noProperty: true,
  },
  {
    name: 'boolean → string',
    before: o({ a: z.boolean() }),
    after: o({ a: z.string() }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['type-changed:backward:breaking'],
  },
  // Enums and literals
  {
    name: 'enum value added',
    before: o({ e: z.enum(['a', 'b']) }),
    after: o({ e: z.enum(['a', 'b', 'c']) }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['enum-value-added:backward:safe', 'enum-value-added:forward:breaking'],
  },
  {
    name: 'enum value removed',
    before: o({ e: z.enum(['a', 'b', 'c']) }),
    after: o({ e: z.enum(['a', 'b']) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['enum-value-removed:backward:breaking', 'enum-value-removed:forward:safe'],
  },
  {
    name: 'literal changed',
    before: o({ kind: z.literal('v1') }),
    after: o({ kind: z.literal('v2') }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['enum-value-removed:backward:breaking', 'enum-value-added:forward:breaking'],
  },
  {
    name: 'string → enum',
    before: o({ e: z.string() }),
    after: o({ e: z.enum(['a', 'b']) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking', 'type-narrowed:forward:safe'],
  },
  {
    name: 'enum → string',
    before: o({ e: z.enum(['a', 'b']) }),
    after: o({ e: z.string() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:backward:safe', 'type-widened:forward:breaking'],
  },
  {
    name: 'enum → string with a min length all values meet',
    before: o({ e: z.enum(['ab', 'cd']) }),
    after: o({ e: z.string().min(2) }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:backward:safe'],
  },
  {
    name: 'enum → string with a min length a value fails',
    before: o({ e: z.enum(['a', 'cd']) }),
    after: o({ e: z.string().min(2) }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['enum-value-removed:backward:breaking'],
  },
  {
    name: 'literal union gains a member',
    before: o({ v: z.union([z.literal(1), z.literal(2)]) }),
    after: o({ v: z.union([z.literal(1), z.literal(2), z.literal(3)]) }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['enum-value-added:forward:breaking'],
  },
  // Bounds and formats
  {
    name: 'min tightened',
    before: o({ n: z.number().min(0) }),
    after: o({ n: z.number().min(1) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['bound-tightened:backward:breaking', 'bound-tightened:forward:safe'],
  },
  {
    name: 'max loosened',
    before: o({ n: z.number().max(10) }),
    after: o({ n: z.number().max(100) }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['bound-loosened:backward:safe', 'bound-loosened:forward:breaking'],
  },
  {
    name: 'positive → nonnegative',
    before: o({ n: z.number().positive() }),
    after: o({ n: z.number().nonnegative() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['bound-loosened:forward:breaking'],
  },
  {
    name: 'bound added',
    before: o({ n: z.number() }),
    after: o({ n: z.number().max(5) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['bound-tightened:backward:breaking'],
  },
  {
    name: 'string min length tightened',
    before: o({ s: z.string().min(1) }),
    after: o({ s: z.string().min(3) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['bound-tightened:backward:breaking'],
  },
  {
    name: 'string max length removed',
    before: o({ s: z.string().max(3) }),
    after: o({ s: z.string() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['bound-loosened:forward:breaking'],
  },
  {
    name: 'multipleOf added',
    before: o({ n: z.number().int() }),
    after: o({ n: z.number().int().multipleOf(5) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['bound-tightened:backward:breaking'],
  },
  {
    name: 'string → email',
    before: o({ s: z.string() }),
    after: o({ s: z.email() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['format-changed:backward:breaking', 'format-changed:forward:safe'],
  },
  {
    name: 'email → string',
    before: o({ s: z.email() }),
    after: o({ s: z.string() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['format-removed:forward:breaking'],
  },
  {
    name: 'email → uuid',
    before: o({ s: z.email() }),
    after: o({ s: z.uuid() }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['format-changed:backward:breaking', 'format-removed:forward:breaking'],
  },
  {
    name: 'pattern added',
    before: o({ s: z.string() }),
    after: o({ s: z.string().regex(/^[a-z]+$/) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['format-changed:backward:breaking'],
    noProperty: true,
  },
  // Nullable
  {
    name: 'nullable added',
    before: o({ a: z.string() }),
    after: o({ a: z.string().nullable() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['nullable-added:backward:safe', 'nullable-added:forward:breaking'],
  },
  {
    name: 'nullable removed',
    before: o({ a: z.string().nullable() }),
    after: o({ a: z.string() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['nullable-removed:backward:breaking', 'nullable-removed:forward:safe'],
  },
  {
    name: 'nullish → optional',
    before: o({ a: z.string().nullish() }),
    after: o({ a: z.string().optional() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['nullable-removed:backward:breaking'],
  },
  // Arrays, tuples, records, nesting
  {
    name: 'array items narrowed',
    before: o({ xs: z.array(z.number()) }),
    after: o({ xs: z.array(z.number().int()) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking'],
  },
  {
    name: 'array items widened',
    before: o({ xs: z.array(z.string()) }),
    after: o({ xs: z.array(z.union([z.string(), z.number()])) }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:forward:breaking'],
  },
  {
    name: 'array min items tightened',
    before: o({ xs: z.array(z.string()) }),
    after: o({ xs: z.array(z.string()).min(1) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['bound-tightened:backward:breaking'],
  },
  {
    name: 'array of objects gains a required field',
    before: o({ items: z.array(o({ id: z.string() })) }),
    after: o({ items: z.array(o({ id: z.string(), qty: z.number() })) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['field-added-required:backward:breaking'],
  },
  {
    name: 'tuple element changed',
    before: o({ t: z.tuple([z.string(), z.number()]) }),
    after: o({ t: z.tuple([z.string(), z.string()]) }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['type-changed:backward:breaking'],
  },
  {
    name: 'tuple gains an element',
    before: o({ t: z.tuple([z.string()]) }),
    after: o({ t: z.tuple([z.string(), z.number()]) }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['bound-tightened:backward:breaking', 'bound-loosened:forward:breaking'],
  },
  {
    name: 'record values narrowed',
    before: o({ r: z.record(z.string(), z.number()) }),
    after: o({ r: z.record(z.string(), z.number().int()) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking'],
  },
  {
    name: 'record unknown → string values',
    before: o({ r: z.record(z.string(), z.unknown()) }),
    after: o({ r: z.record(z.string(), z.string()) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['type-narrowed:backward:breaking'],
    noProperty: true,
  },
  {
    name: 'nested object field optional → required',
    before: o({ user: o({ id: z.string(), name: z.string().optional() }) }),
    after: o({ user: o({ id: z.string(), name: z.string() }) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['field-made-required:backward:breaking'],
  },
  {
    name: 'discriminated union gains a member',
    before: o({ e: z.discriminatedUnion('kind', [o({ kind: z.literal('a'), x: z.number() }), o({ kind: z.literal('b'), y: z.string() })]) }),
    after: o({
      e: z.discriminatedUnion('kind', [o({ kind: z.literal('a'), x: z.number() }), o({ kind: z.literal('b'), y: z.string() }), o({ kind: z.literal('c') })]),
    }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['type-widened:forward:breaking'],
  },
  {
    name: 'discriminated union loses a member',
    before: o({ e: z.discriminatedUnion('kind', [o({ kind: z.literal('a'), x: z.number() }), o({ kind: z.literal('b'), y: z.string() })]) }),
    after: o({ e: z.discriminatedUnion('kind', [o({ kind: z.literal('a'), x: z.number() })]) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['enum-value-removed:backward:breaking'],
  },
  // What JSON Schema cannot say
  {
    name: 'transform, unchanged',
    before: o({ q: z.union([z.number(), z.string()]).transform((v) => String(v)) }),
    after: o({ q: z.union([z.number(), z.string()]).transform((v) => String(v)) }),
    backward: 'safe',
    forward: 'safe',
    rules: ['unrepresentable:backward:safe'],
  },
  {
    name: 'transform, input changed',
    before: o({ q: z.union([z.number(), z.string()]).transform((v) => Number(v)) }),
    after: o({ q: z.string().transform((v) => Number(v)) }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['unrepresentable:backward:breaking'],
    noProperty: true,
  },
  {
    name: 'refinement added',
    before: o({ a: z.string() }),
    after: o({ a: z.string().refine((s) => s.length % 2 === 0) }),
    backward: 'breaking',
    forward: 'breaking',
    rules: ['unrepresentable:backward:breaking'],
    noProperty: true,
  },
  {
    name: 'a date field, unchanged, beside a new field',
    before: o({ at: z.date(), n: z.number() }),
    after: o({ at: z.date(), n: z.number(), m: z.string().optional() }),
    backward: 'safe',
    forward: 'safe',
    rules: ['unrepresentable:backward:safe', 'unrepresentable:forward:safe', 'field-added-optional:backward:safe'],
    noProperty: true,
  },
  {
    name: 'a date field made optional',
    before: o({ at: z.date(), n: z.number() }),
    after: o({ at: z.date().optional(), n: z.number() }),
    backward: 'safe',
    forward: 'breaking',
    rules: ['field-made-optional:forward:breaking'],
    noProperty: true,
  },
  {
    name: 'a transform beside a changed field',
    before: o({ q: z.string().transform((v) => v.length), n: z.number() }),
    after: o({ q: z.string().transform((v) => v.length), n: z.number().int() }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['unrepresentable:backward:safe', 'type-narrowed:backward:breaking'],
    noProperty: true,
  },
  {
    name: 'a refinement changed with the same JSON Schema (not seen: the limit)',
    before: o({ a: z.string().refine((s) => s.length > 1) }),
    after: o({ a: z.string().refine((s) => s.length > 5) }),
    backward: 'safe',
    forward: 'safe',
    rules: ['unrepresentable:backward:safe'],
    noProperty: true,
  },
  {
    name: 'pipe into a stricter schema',
    before: o({ a: z.string() }),
    after: o({ a: z.string().pipe(z.string().min(3)) }),
    backward: 'breaking',
    forward: 'safe',
    rules: ['unrepresentable:backward:breaking'],
    noProperty: true,
  },
];
