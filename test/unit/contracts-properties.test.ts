/**
 * Property tests of the "safe" verdicts of `jobcraft check`: for every case of contracts-cases.ts judged safe in a
 * direction, payloads generated from the writer's input JSON Schema (fast-check arbitraries built from it here), as
 * the writer's zod schema parses them (what a producer stores), must all parse with the reader's zod schema.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as zod from 'zod';
import type * as z from 'zod';
import { compareLockfiles } from '../../codegen/contracts-compare.js';
import type { JsonSchema } from '../../codegen/contracts-lockfile.js';
import { failsIn } from '../../codegen/contracts-rules.js';
import { CASES, lockOf, versionedLockOf } from './contracts-cases.js';

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
      // fast-check's emailAddress() writes many addresses zod's stricter pattern refuses; these it accepts.
      if (node.format === 'email') {
        return fc.tuple(fc.stringMatching(/^[a-z0-9]{1,8}$/), fc.stringMatching(/^[a-z]{1,8}$/), fc.constantFrom('com', 'org', 'de')).map(([u, d, t]) => `${u}@${d}.${t}`);
      }
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
        // Keys the cases use for fields too, so that an undeclared key meets a field of the other side.
        const key = fc.oneof(fc.string({ minLength: 1, maxLength: 4 }), fc.constantFrom('a', 'b', 'c', 'd', 'n', 'e'));
        return fc.tuple(record, fc.dictionary(key, value, { maxKeys: 3 })).map(([r, d]) => ({ ...d, ...r }));
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
  const cause = details.errorInstance as Error | null;
  if (details.failed && !(cause?.message ?? '').includes('rejected')) {
    throw new Error(`the property test itself failed: ${cause === null ? `${details.numSkips} payloads skipped (the writer refused them)` : String(cause)}`);
  }
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

/** A payload schema of a small grammar, as data (so a counterexample prints readably), and its zod schema. */
type Shape =
  | { readonly k: 'string'; readonly min?: number; readonly max?: number }
  | { readonly k: 'number'; readonly int: boolean; readonly min?: number; readonly max?: number }
  | { readonly k: 'boolean' }
  | { readonly k: 'enum'; readonly values: readonly string[] }
  | { readonly k: 'literal'; readonly value: string | number }
  | { readonly k: 'email' }
  | { readonly k: 'record'; readonly of: Shape }
  | { readonly k: 'array'; readonly item: Shape; readonly min?: number }
  | { readonly k: 'nullable'; readonly of: Shape }
  | { readonly k: 'union'; readonly a: Shape; readonly b: Shape }
  | { readonly k: 'object'; readonly mode: 'plain' | 'strict' | 'loose'; readonly fields: Readonly<Record<string, { readonly shape: Shape; readonly presence: 'required' | 'optional' | 'default' }>> };

function zodOf(shape: Shape): z.ZodType {
  switch (shape.k) {
    case 'string': {
      let s = zod.string();
      if (shape.min !== undefined) s = s.min(shape.min);
      if (shape.max !== undefined) s = s.max(shape.max);
      return s;
    }
    case 'number': {
      let n = shape.int ? zod.number().int() : zod.number();
      if (shape.min !== undefined) n = n.min(shape.min);
      if (shape.max !== undefined) n = n.max(shape.max);
      return n;
    }
    case 'boolean':
      return zod.boolean();
    case 'enum':
      return zod.enum(shape.values as [string, ...string[]]);
    case 'literal':
      return zod.literal(shape.value);
    case 'email':
      return zod.email();
    case 'record':
      return zod.record(zod.string(), zodOf(shape.of));
    case 'array':
      return shape.min === undefined ? zod.array(zodOf(shape.item)) : zod.array(zodOf(shape.item)).min(shape.min);
    case 'nullable':
      return zodOf(shape.of).nullable();
    case 'union':
      return zod.union([zodOf(shape.a), zodOf(shape.b)]);
    case 'object': {
      const fields = Object.fromEntries(
        Object.entries(shape.fields).map(([k, f]) => {
          const inner = zodOf(f.shape);
          // A default only where a constant fits every shape of the grammar: null.
          return [k, f.presence === 'required' ? inner : f.presence === 'optional' ? inner.optional() : inner.nullable().default(null)];
        }),
      );
      return shape.mode === 'strict' ? zod.strictObject(fields) : shape.mode === 'loose' ? zod.looseObject(fields) : zod.object(fields);
    }
  }
}

const optionalSmall = fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined });
const shapes = fc.letrec<{ shape: Shape; leaf: Shape; object: Shape }>((tie) => ({
  leaf: fc.oneof(
    fc.record({ k: fc.constant('string' as const), min: optionalSmall, max: fc.option(fc.integer({ min: 3, max: 6 }), { nil: undefined }) }, { requiredKeys: ['k'] }),
    fc.record({ k: fc.constant('number' as const), int: fc.boolean(), min: fc.option(fc.integer({ min: -2, max: 2 }), { nil: undefined }), max: fc.option(fc.integer({ min: 2, max: 5 }), { nil: undefined }) }, { requiredKeys: ['k', 'int'] }),
    fc.constant({ k: 'boolean' as const }),
    fc.record({ k: fc.constant('enum' as const), values: fc.uniqueArray(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }) }),
    fc.record({ k: fc.constant('literal' as const), value: fc.constantFrom('a', 'x', 1, 2) }),
    fc.constant({ k: 'email' as const }),
  ),
  shape: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    tie('leaf'),
    fc.record({ k: fc.constant('nullable' as const), of: tie('leaf') }),
    fc.record({ k: fc.constant('union' as const), a: tie('leaf'), b: tie('leaf') }),
    fc.record({ k: fc.constant('record' as const), of: tie('leaf') }),
    fc.record({ k: fc.constant('array' as const), item: tie('shape'), min: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined }) }, { requiredKeys: ['k', 'item'] }),
    tie('object'),
  ),
  object: fc.record({
    k: fc.constant('object' as const),
    mode: fc.constantFrom('plain' as const, 'plain' as const, 'strict' as const, 'loose' as const),
    fields: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.record({ shape: tie('shape'), presence: fc.constantFrom('required' as const, 'optional' as const, 'default' as const) }), { maxKeys: 3 }),
  }),
}));

describe('random pairs of schemas: every "safe" verdict holds for generated payloads', () => {
  it('200 pairs, each safe direction confirmed with 60 payloads', () => {
    let confirmed = 0;
    fc.assert(
      fc.property(shapes.object, shapes.object, (before, after) => {
        const old = zodOf(before);
        const now = zodOf(after);
        const findings = compareLockfiles(lockOf(old), lockOf(now));
        for (const direction of ['backward', 'forward'] as const) {
          if (findings.some((f) => failsIn(f, direction))) continue;
          const [writer, reader] = direction === 'backward' ? [old, now] : [now, old];
          const { rejected } = confirm(writer, reader, 60);
          if (rejected !== undefined) throw new Error(`${direction} judged safe, but ${rejected}`);
          confirmed++;
        }
      }),
      { numRuns: 200, seed: 1302 },
    );
    // The pairs are related often enough for the test to mean something.
    expect(confirmed).toBeGreaterThan(40);
  });
});

describe('random pairs of an earlier version (versioned payloads): every "safe" verdict holds for generated payloads', () => {
  it('version 1 edited in place, producers pinned to it on both sides: each safe direction of version 1 confirmed', () => {
    // The current version is the same on both sides: every finding is about version 1, whose jobs old producers
    // wrote (backward) and pinned new producers write (forward).
    // Accepting anything: a check comparing an old version 1 with it (not with the new version 1) would call it safe.
    const current = zod.unknown();
    let confirmed = 0;
    fc.assert(
      fc.property(shapes.object, shapes.object, (before, after) => {
        const old = zodOf(before);
        const now = zodOf(after);
        const findings = compareLockfiles(versionedLockOf([old], current, 1), versionedLockOf([now], current, 1));
        for (const f of findings) if (f.rule !== 'version-added' && f.rule !== 'version-removed') expect(f.message).toMatch(/^version 1: /);
        for (const direction of ['backward', 'forward'] as const) {
          if (findings.some((f) => failsIn(f, direction))) continue;
          const [writer, reader] = direction === 'backward' ? [old, now] : [now, old];
          const { rejected } = confirm(writer, reader, 60);
          if (rejected !== undefined) throw new Error(`version 1 ${direction} judged safe, but ${rejected}`);
          confirmed++;
        }
      }),
      { numRuns: 100, seed: 1303 },
    );
    expect(confirmed).toBeGreaterThan(20);
  });

  it('the version a pinned new producer writes is the one compared forward, and an unknown one is breaking', () => {
    const a = zod.object({ a: zod.string() });
    const b = zod.object({ a: zod.string(), b: zod.number() });
    // Old workers know versions 1 (a) and 2 (b); new producers pinned to 1 write a, which they read as a.
    expect(compareLockfiles(versionedLockOf([a], b), versionedLockOf([a], b, 1)).filter((f) => failsIn(f, 'forward'))).toEqual([]);
    // Old workers know only version 1: new producers writing version 2 break them.
    expect(compareLockfiles(lockOf(a), versionedLockOf([a], b)).filter((f) => failsIn(f, 'forward')).map((f) => f.rule)).toEqual(['version-added']);
  });
});
