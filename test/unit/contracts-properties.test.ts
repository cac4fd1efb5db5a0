/**
 * Property tests of the "safe" verdicts of `jobcraft check`: for every case of contracts-cases.ts judged safe in a
 * direction, payloads generated from the writer's input JSON Schema (fast-check arbitraries built from it here), as
 * the writer's zod schema parses them (what a producer stores), must all parse with the reader's zod schema.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type * as z from 'zod';
import type { JsonSchema } from '../../codegen/contracts-lockfile.js';
import { CASES, lockOf } from './contracts-cases.js';

/** An arbitrary of values meant to meet `node` (the writer's zod schema has the last word: others are skipped). */
function arbitraryOf(node: JsonSchema, root: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (typeof node.$ref === 'string') {
    if (depth > 3) return fc.constant(null);
    const target = node.$ref === '#' ? root : ((root.$defs as Record<string, JsonSchema>)[node.$ref.replace('#/$defs/', '')] ?? {});
    return arbitraryOf(target, root, depth + 1);
  }
  const union = (node.anyOf ?? node.oneOf) as JsonSchema[] | undefined;
  if (Array.isArray(union)) return fc.oneof(...union.map((m) => arbitraryOf(m, root, depth)));
  if (Array.isArray(node.type)) return fc.oneof(...(node.type as string[]).map((type) => arbitraryOf({ ...node, type }, root, depth)));
  if ('const' in node) return fc.constant(node.const);
  if (Array.isArray(node.enum)) return fc.constantFrom(...(node.enum as unknown[]));
  switch (node.type) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
    case 'number': {
      const min = typeof node.minimum === 'number' ? node.minimum : typeof node.exclusiveMinimum === 'number' ? node.exclusiveMinimum + 1 : -1000;
      const max = typeof node.maximum === 'number' ? node.maximum : typeof node.exclusiveMaximum === 'number' ? node.exclusiveMaximum - 1 : 1000;
      const lo = Math.max(min, -1e6);
      const hi = Math.min(max, 1e6);
      const step = typeof node.multipleOf === 'number' ? node.multipleOf : 1;
      const ints = fc.integer({ min: Math.ceil(lo / step), max: Math.floor(hi / step) }).map((n) => n * step);
      return node.type === 'integer' ? ints : fc.oneof(ints, fc.double({ min: lo, max: hi, noNaN: true, noDefaultInfinity: true }));
    }
    case 'string': {
      if (node.format === 'email') return fc.emailAddress();
      if (node.format === 'uuid') return fc.uuid({ version: 4 });
      if (node.format === 'uri') return fc.webUrl();
      const minLength = typeof node.minLength === 'number' ? node.minLength : 0;
      const maxLength = typeof node.maxLength === 'number' ? node.maxLength : minLength + 8;
      return fc.string({ minLength, maxLength });
    }
    case 'array': {
      const prefix = Array.isArray(node.prefixItems) ? (node.prefixItems as JsonSchema[]).map((p) => arbitraryOf(p, root, depth)) : [];
      if (prefix.length > 0) return fc.tuple(...prefix);
      const items = typeof node.items === 'object' && node.items !== null ? arbitraryOf(node.items as JsonSchema, root, depth + 1) : fc.jsonValue();
      const minLength = typeof node.minItems === 'number' ? node.minItems : 0;
      return fc.array(items, { minLength, maxLength: Math.min(typeof node.maxItems === 'number' ? node.maxItems : minLength + 4, minLength + 4) });
    }
    default: {
      const props = (node.properties ?? {}) as Record<string, JsonSchema>;
      const required = Array.isArray(node.required) ? (node.required as string[]) : [];
      const record = fc.record(
        Object.fromEntries(Object.entries(props).map(([k, p]) => [k, arbitraryOf(p, root, depth + 1)])),
        { requiredKeys: required },
      );
      const extra = node.additionalProperties;
      if (typeof extra === 'object' && extra !== null) {
        // A record's values, or any value beside a loose object's fields.
        const value = Object.keys(extra).length > 0 ? arbitraryOf(extra as JsonSchema, root, depth + 1) : fc.jsonValue({ maxDepth: 1 });
        return fc.tuple(record, fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), value, { maxKeys: 3 })).map(([r, d]) => ({ ...d, ...r }));
      }
      return record;
    }
  }
}

/**
 * Whether what `writer` stores, `reader` parses, for `runs` payloads generated from the writer's input side: the
 * number parsed, and the first payload rejected.
 */
function confirm(writer: z.ZodType, reader: z.ZodType, runs = 150): { parsed: number; rejected: string | undefined } {
  const input = (lockOf(writer).jobs.job?.versions[0]?.input ?? {}) as JsonSchema;
  let parsed = 0;
  const details = fc.check(
    fc.property(arbitraryOf(input, input), (candidate) => {
      const written = writer.safeParse(candidate);
      fc.pre(written.success);
      // Stored as JSON in Redis.
      const stored: unknown = JSON.parse(JSON.stringify(written.data));
      const read = reader.safeParse(stored);
      if (!read.success) throw new Error(`${JSON.stringify(stored)} rejected: ${read.error.message}`);
      parsed++;
    }),
    { numRuns: runs, seed: 13 },
  );
  const cause = details.errorInstance as Error | undefined;
  if (details.failed && !(cause?.message ?? '').includes('rejected')) throw new Error(`the property test itself failed: ${String(cause)}`);
  return { parsed, rejected: details.failed ? cause?.message : undefined };
}

describe('every "safe" verdict holds for generated payloads', () => {
  for (const c of CASES.filter((k) => k.noProperty !== true)) {
    if (c.backward === 'safe') {
      it(`${c.name}: old producers → new workers`, () => {
        const { parsed, rejected } = confirm(c.before, c.after);
        expect(rejected).toBeUndefined();
        expect(parsed).toBeGreaterThan(50);
      });
    }
    if (c.forward === 'safe') {
      it(`${c.name}: new producers → old workers`, () => {
        const { parsed, rejected } = confirm(c.after, c.before);
        expect(rejected).toBeUndefined();
        expect(parsed).toBeGreaterThan(50);
      });
    }
  }
});

describe('the generator can find a failure (the property test can fail)', () => {
  for (const c of CASES.filter((k) => k.noProperty !== true && k.rules.some((r) => r.endsWith(':breaking')) && !k.rules.some((r) => r.startsWith('unrepresentable')))) {
    const direction = c.backward === 'breaking' ? 'backward' : 'forward';
    it(`${c.name}: a payload is rejected ${direction}`, () => {
      const [writer, reader] = direction === 'backward' ? [c.before, c.after] : [c.after, c.before];
      expect(confirm(writer, reader, 300).rejected).toMatch(/rejected/);
    });
  }
});
