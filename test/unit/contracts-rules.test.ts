/**
 * The rules of `jobcraft check`, table-style: each before/after pair of contracts-cases.ts must reach its verdict in
 * each direction and report the rules named. Plus the job-level rules (added, removed, renamed, queue changed).
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { compareLockfiles } from '../../codegen/contracts-compare.js';
import { failsIn, RULES } from '../../codegen/contracts-rules.js';
import { buildLockfile, type Lockfile } from '../../codegen/contracts-lockfile.js';
import { CASES, lockOf } from './contracts-cases.js';

function verdict(findings: ReturnType<typeof compareLockfiles>, direction: 'backward' | 'forward'): 'safe' | 'breaking' {
  return findings.some((f) => failsIn(f, direction)) ? 'breaking' : 'safe';
}

describe('payload changes, both directions', () => {
  it('has dozens of cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  for (const c of CASES) {
    it(c.name, () => {
      const findings = compareLockfiles(lockOf(c.before), lockOf(c.after));
      const shown = findings.map((f) => `${f.rule}:${f.direction}:${f.severity} ${f.path} ${f.message}`);
      expect({ backward: verdict(findings, 'backward'), forward: verdict(findings, 'forward'), shown }).toMatchObject({
        backward: c.backward,
        forward: c.forward,
      });
      const ids = findings.map((f) => `${f.rule}:${f.direction}:${f.severity}`);
      for (const rule of c.rules) expect(ids, shown.join('\n')).toContain(rule);
      if (c.backward === 'safe' && c.forward === 'safe' && c.rules.length === 0) expect(shown).toEqual([]);
      for (const f of findings) {
        expect(f.job).toBe('job');
        if (f.severity === 'breaking') expect(f.hint).toBe(RULES[f.rule].hint);
        else expect(f.hint).not.toBe(RULES[f.rule].hint);
      }
    });
  }

  it('names the field path through nesting, arrays and records', () => {
    const before = lockOf(z.object({ user: z.object({ tags: z.array(z.object({ id: z.string() })) }), r: z.record(z.string(), z.number()) }));
    const after = lockOf(z.object({ user: z.object({ tags: z.array(z.object({ id: z.number() })) }), r: z.record(z.string(), z.string()) }));
    const paths = compareLockfiles(before, after).filter((f) => f.direction === 'backward').map((f) => `${f.rule} ${f.path}`);
    expect(paths).toEqual(['type-changed r{}', 'type-changed user.tags[].id']);
  });

  it('messages read old → new in both directions', () => {
    const shown = (before: z.ZodType, after: z.ZodType): string[] =>
      compareLockfiles(lockOf(before), lockOf(after)).map((f) => `${f.direction} ${f.rule} ${f.message}`);
    expect(shown(z.object({ n: z.number() }), z.object({ n: z.number().int() }))).toEqual(['backward type-narrowed number → integer', 'forward type-narrowed number → integer']);
    expect(shown(z.object({ n: z.number().min(1) }), z.object({ n: z.number().min(2) }))).toEqual(['backward bound-tightened minimum ≥ 1 → ≥ 2', 'forward bound-tightened minimum ≥ 1 → ≥ 2']);
    expect(shown(z.object({ s: z.string() }), z.object({ s: z.unknown() }))).toEqual(['backward type-widened string → any', 'forward type-widened string → any']);
    expect(shown(z.object({ s: z.string() }), z.object({ s: z.number() }))).toEqual(['backward type-changed string → number', 'forward type-changed string → number']);
    expect(shown(z.object({ s: z.string().optional() }), z.object({ s: z.string() }))).toEqual(['backward field-made-required s optional → required', 'forward field-made-required s optional → required']);
  });

  it('a recursive schema compares without looping', () => {
    type Node = { name: string; children: Node[] };
    const node: z.ZodType<Node> = z.lazy(() => z.object({ name: z.string(), children: z.array(node) }));
    const findings = compareLockfiles(lockOf(z.object({ root: node })), lockOf(z.object({ root: node })));
    expect(findings).toEqual([]);
  });
});

describe('job-level changes', () => {
  const payload = z.object({ a: z.string() });
  const set = (jobs: Record<string, { payload: z.ZodType; queue: string }>): Lockfile => {
    const locks = Object.entries(jobs).map(([name, j]) => lockOf(j.payload, j.queue, name));
    return { ...locks[0]!, jobs: Object.assign({}, ...locks.map((l) => l.jobs)) as Lockfile['jobs'] };
  };

  it('a job added is safe', () => {
    const findings = compareLockfiles(set({ a: { payload, queue: 'q' } }), set({ a: { payload, queue: 'q' }, b: { payload, queue: 'q' } }));
    expect(findings.map((f) => [f.rule, f.job, f.direction, f.severity])).toEqual([['job-added', 'b', 'forward', 'safe']]);
  });

  it('a job removed breaks backward', () => {
    const findings = compareLockfiles(set({ a: { payload, queue: 'q' }, b: { payload: z.object({ b: z.number() }), queue: 'q' } }), set({ a: { payload, queue: 'q' } }));
    expect(findings.map((f) => [f.rule, f.job, f.direction, f.severity])).toEqual([['job-removed', 'b', 'backward', 'breaking']]);
    expect(findings[0]?.message).toBe('job b is gone');
  });

  it('a rename shows as removed + added, with the likely twin named', () => {
    const findings = compareLockfiles(set({ sendMail: { payload, queue: 'q' } }), set({ sendEmail: { payload, queue: 'q' } }));
    expect(findings.map((f) => [f.rule, f.job])).toEqual([
      ['job-added', 'sendEmail'],
      ['job-removed', 'sendMail'],
    ]);
    expect(findings[1]?.message).toContain('sendEmail has the same payload and queue: renamed?');
    expect(findings[1]?.hint).toContain('aliases');
  });

  it('a queue change breaks both directions', () => {
    const findings = compareLockfiles(set({ a: { payload, queue: 'q1' } }), set({ a: { payload, queue: 'q2' } }));
    expect(findings.map((f) => [f.rule, f.direction, f.severity, f.message])).toEqual([
      ['queue-changed', 'backward', 'breaking', 'queue q1 → q2'],
      ['queue-changed', 'forward', 'breaking', 'queue q1 → q2'],
    ]);
  });

  it('every rule the table names is documented with a hint', () => {
    for (const [id, rule] of Object.entries(RULES)) {
      expect(rule.hint.length, id).toBeGreaterThan(5);
      expect(rule.what.length, id).toBeGreaterThan(5);
    }
  });

  it('the lockfile lists jobs sorted, one version each', () => {
    const lock = buildLockfile('/x/jobs.schema.ts', [
      { name: 'b', queue: 'q', inputJsonSchema: {}, outputJsonSchema: {}, unrepresentable: [] },
      { name: 'a', queue: 'q', inputJsonSchema: { type: 'string' }, outputJsonSchema: {}, unrepresentable: [] },
    ]);
    expect(Object.keys(lock.jobs)).toEqual(['a', 'b']);
    expect(lock.schema).toBe('jobs.schema.ts');
    expect(lock.jobs.a?.versions.map((v) => v.version)).toEqual([1]);
    expect(lock.jobs.a?.versions[0]?.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(lock.jobs.a?.versions[0]?.hash).not.toBe(lock.jobs.b?.versions[0]?.hash);
  });
});
