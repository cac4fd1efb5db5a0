/**
 * Defaults computed by a function are recognized (classic zod and zod/mini alike) and left out of the JSON Schema
 * codegen writes into jobs.manifest.json; constant defaults are still written. The JSON Schema of a zod/mini
 * payload comes from the standalone z.toJSONSchema.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as zm from 'zod/mini';
import { COMPUTED_DEFAULT_COMMENT, isComputedDefault } from '../../codegen/computed-defaults.js';
import { describeJob } from '../../codegen/describe-job.js';
import { defineJobs } from '../../src/define.js';
import { describeResolvedJob } from '../../src/rules.js';

type Node = Parameters<typeof isComputedDefault>[0];
const node = (schema: unknown): Node => schema as Node;

describe('isComputedDefault', () => {
  it.each<[string, unknown, boolean]>([
    ['.default(() => randomUUID())', z.string().default(() => randomUUID()), true],
    ['.default(() => new Date())', z.coerce.date().default(() => new Date()), true],
    ["a function returning a constant, .default(() => 'eu')", z.string().default(() => 'eu'), true],
    ['.default(3)', z.number().default(3), false],
    ['.default([])', z.array(z.string()).default([]), false],
    ['.prefault(() => ...)', z.string().prefault(() => String(Math.random())), true],
    [".prefault('x')", z.string().prefault('x'), false],
    ['.catch(() => ...)', z.string().catch(() => `at ${Date.now()}`), true],
    [".catch('low')", z.string().catch('low'), false],
    ['zod/mini _default(schema, fn)', zm._default(zm.string(), () => randomUUID()), true],
    ['zod/mini _default(schema, 1)', zm._default(zm.number(), 1), false],
    ['a described default keeps its getter', z.string().default(() => randomUUID()).describe('id'), true],
    ['not a default', z.string(), false],
  ])('%s', (_name, schema, computed) => {
    expect(isComputedDefault(node(schema))).toBe(computed);
  });
});

describe('the JSON Schema of a payload', () => {
  const jobs = defineJobs({
    classic: {
      payload: z.object({
        id: z.uuid().default(() => randomUUID()),
        at: z.iso.datetime().default(() => new Date().toISOString()),
        label: z.string().catch(() => `label-${Date.now()}`),
        retries: z.number().default(3),
        level: z.enum(['low', 'high']).catch('low'),
      }),
    },
    mini: { payload: zm.object({ id: zm._default(zm.uuid(), () => randomUUID()), n: zm._default(zm.number(), 1), note: zm.optional(zm.string()) }) },
  });
  const describe_ = (name: 'classic' | 'mini') => {
    const job = jobs.jobs.get(name);
    if (job === undefined) throw new Error(name);
    return describeJob(job, describeResolvedJob, () => z.toJSONSchema as never);
  };

  it('leaves out computed defaults (marked with a $comment) and writes constant ones; the same on every run', () => {
    const first = describe_('classic');
    expect(first.inputProblem).toBeUndefined();
    const properties = (first.inputJsonSchema as { properties: Record<string, Record<string, unknown>> }).properties;
    for (const field of ['id', 'at', 'label']) {
      expect(properties[field], field).not.toHaveProperty('default');
      expect(properties[field]?.$comment, field).toBe(COMPUTED_DEFAULT_COMMENT);
    }
    expect(properties.retries?.default).toBe(3);
    expect(properties.level?.default).toBe('low');
    expect(describe_('classic')).toEqual(first);
  });

  it('describes a zod/mini payload with the standalone z.toJSONSchema', () => {
    const mini = describe_('mini');
    expect(mini.inputProblem).toBeUndefined();
    expect(mini.inputJsonSchema).toMatchObject({
      type: 'object',
      properties: { id: { type: 'string', format: 'uuid', $comment: COMPUTED_DEFAULT_COMMENT }, n: { type: 'number', default: 1 }, note: { type: 'string' } },
    });
    expect((mini.inputJsonSchema as { properties: { id: object } }).properties.id).not.toHaveProperty('default');
  });

  it("a result's computed default is left out of its JSON Schema too (the manifest's `result`), the same on every run", () => {
    const withResult = defineJobs({
      report: { payload: z.object({}), result: z.object({ at: z.iso.datetime().default(() => new Date().toISOString()), rows: z.number().default(0) }) },
    });
    const job = withResult.jobs.get('report');
    if (job === undefined) throw new Error('report');
    const first = describeJob(job, describeResolvedJob);
    const properties = (first.resultJsonSchema as { properties: Record<string, Record<string, unknown>> }).properties;
    expect(properties.at).not.toHaveProperty('default');
    expect(properties.at?.$comment).toBe(COMPUTED_DEFAULT_COMMENT);
    expect(properties.rows?.default).toBe(0);
    expect(first.resultJsonSchema).toEqual(first.resultContract?.input);
    expect(describeJob(job, describeResolvedJob)).toEqual(first);
  });

  it('a schema that is no zod 4 schema still has no JSON Schema, and says why', () => {
    const job = jobs.jobs.get('classic');
    if (job === undefined) throw new Error('classic');
    const described = describeJob({ ...job, schema: { parse: (v: unknown) => v } as never }, describeResolvedJob);
    expect(described.inputProblem).toBe('it is not a zod 4 schema (it has no _zod internals)');
  });
});
