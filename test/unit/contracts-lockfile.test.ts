/**
 * What the lockfile records for a payload (both sides, notes for what JSON Schema cannot say, stable bytes) and how
 * a file that is not a lockfile is refused.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { formatLockfile, parseLockfile } from '../../codegen/contracts-lockfile.js';
import { fieldPath } from '../../codegen/describe-job.js';
import { UsageError } from '../../codegen/problems.js';
import { lockOf } from './contracts-cases.js';

function notes(payload: z.ZodType): string[] {
  const version = lockOf(payload).jobs.job?.versions[0];
  return (version?.unrepresentable ?? []).map((n) => `${n.side} ${n.path}: ${n.reason}`);
}

describe('what JSON Schema cannot say is noted, per side and field', () => {
  it('a transform: its output side only', () => {
    expect(notes(z.object({ q: z.string().transform((s) => s.length) }))).toEqual(['output q: Transforms cannot be represented in JSON Schema']);
  });

  it('a refinement: both sides', () => {
    expect(notes(z.object({ a: z.object({ b: z.string().refine((s) => s !== 'x') }) }))).toEqual([
      'input a.b: a refinement (.refine/.superRefine) is not described by JSON Schema',
      'output a.b: a refinement (.refine/.superRefine) is not described by JSON Schema',
    ]);
  });

  it('a pipe into another schema: its input side', () => {
    expect(notes(z.object({ p: z.string().pipe(z.string().min(3)) }))).toEqual(['input p: a pipe into another schema: only the input side of the pipe is described']);
  });

  it('a date, a bigint and a custom type inside arrays and records: both sides, with their field paths', () => {
    expect(notes(z.object({ at: z.array(z.date()), n: z.record(z.string(), z.bigint()), c: z.custom<string>(() => true).optional() }))).toEqual([
      'input at[]: Date cannot be represented in JSON Schema',
      'input c: Custom types cannot be represented in JSON Schema',
      'input n{}: BigInt cannot be represented in JSON Schema',
      'output at[]: Date cannot be represented in JSON Schema',
      'output c: Custom types cannot be represented in JSON Schema',
      'output n{}: BigInt cannot be represented in JSON Schema',
    ]);
  });

  it('a plain payload has none', () => {
    expect(notes(z.object({ a: z.string(), b: z.array(z.number()).optional(), c: z.enum(['x']).default('x') }))).toEqual([]);
  });

  it('field paths read as the payload is written', () => {
    expect(fieldPath([])).toBe('');
    expect(fieldPath(['properties', 'a', 'properties', 'b'])).toBe('a.b');
    expect(fieldPath(['properties', 'xs', 'items', 'properties', 'id'])).toBe('xs[].id');
    expect(fieldPath(['properties', 't', 'prefixItems', 1])).toBe('t[1]');
    expect(fieldPath(['properties', 'u', 'anyOf', 0, 'properties', 'k'])).toBe('u.k');
    expect(fieldPath(['properties', 'r', 'additionalProperties'])).toBe('r{}');
  });
});

describe('the file', () => {
  it('is the same bytes on every run, computed defaults included', () => {
    const payload = z.object({ id: z.uuid().default(() => randomUUID()), at: z.iso.datetime().default(() => new Date().toISOString()) });
    const first = formatLockfile(lockOf(payload));
    expect(formatLockfile(lockOf(payload))).toBe(first);
    expect(first).not.toMatch(/"default": "/);
    expect(first).toContain('default: computed by a function each time the payload is parsed; not written here');
    expect(first.endsWith('}\n')).toBe(true);
  });

  it('has its keys sorted at every level and reads back as written', () => {
    const text = formatLockfile(lockOf(z.object({ zeta: z.string(), alpha: z.number() })));
    const keysInOrder = (value: unknown): void => {
      if (Array.isArray(value)) return value.forEach(keysInOrder);
      if (typeof value !== 'object' || value === null) return;
      const keys = Object.keys(value).filter((k) => k !== '$comment');
      expect(keys).toEqual([...keys].sort());
      Object.values(value).forEach(keysInOrder);
    };
    keysInOrder(JSON.parse(text));
    const { $comment: _comment, ...body } = JSON.parse(text) as Record<string, unknown>;
    expect(parseLockfile(text, 'jobs.lock.json')).toEqual(body);
  });

  it('a file that is not a lockfile is refused, naming it and the problem', () => {
    const refused = (text: string): string => {
      try {
        parseLockfile(text, 'old.json');
      } catch (err) {
        expect(err).toBeInstanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused('{')).toMatch(/^old\.json is not JSON: /);
    expect(refused('[]')).toBe('old.json is not a jobcraft lockfile: not an object');
    expect(refused('{"lockfileVersion": 2, "schema": "s", "jobs": {}}')).toMatch(/lockfileVersion 2 \(this jobcraft reads version 1; upgrade it, or run `jobcraft lock`\)/);
    expect(refused('{"lockfileVersion": 1, "schema": "s", "jobs": {"a": {"queue": "q", "versions": []}}}')).toMatch(/job "a" needs a "queue" string and a non-empty "versions" list/);
    expect(refused('{"lockfileVersion": 1, "schema": "s", "jobs": {"a": {"queue": "q", "versions": [{"version": 1}]}}}')).toMatch(/version 1 of job "a" needs/);
  });
});
