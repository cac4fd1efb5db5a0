/**
 * The rules of `jobcraft check`, table-style: each before/after pair of contracts-cases.ts must reach its verdict in
 * each direction and report the rules named. Plus the job-level rules (added, removed, renamed, queue changed), and
 * a job's result, compared with workers as its writers and waiters as its readers.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { compareLockfiles } from '../../codegen/contracts-compare.js';
import { failsIn, RESULT_HINTS, RULES } from '../../codegen/contracts-rules.js';
import { buildLockfile, formatLockfile, parseLockfile, type Lockfile } from '../../codegen/contracts-lockfile.js';
import { CASES, lockOf } from './contracts-cases.js';
import { payloadContract } from '../../codegen/describe-job.js';

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

  it('a rename with the old name as an alias is job-renamed: payload compared backward, breaking forward (workers first)', () => {
    const aliased = (lock: Lockfile, job: string, aliases: string[]): Lockfile => ({
      ...lock,
      jobs: { ...lock.jobs, [job]: { ...(lock.jobs[job] as Lockfile['jobs'][string]), aliases } },
    });
    const before = set({ sendMail: { payload, queue: 'q' } });
    const same = compareLockfiles(before, aliased(set({ sendEmail: { payload, queue: 'q' } }), 'sendEmail', ['sendMail']));
    expect(same.map((f) => [f.rule, f.job, f.direction, f.severity])).toEqual([
      ['job-renamed', 'sendEmail', 'forward', 'breaking'],
      ['job-renamed', 'sendMail', 'backward', 'safe'],
    ]);
    expect(same[0]?.hint).toMatch(/^deploy workers first/);
    expect(same[0]?.message).toContain('new name of sendMail');
    expect(same[1]?.message).toBe('job sendMail was renamed to sendEmail (an alias of sendEmail): its stored jobs run as sendEmail');

    // The new job's schema rejects what the old one wrote: breaking backward, as for a job kept under its name.
    const stricter = z.object({ a: z.string(), b: z.number() });
    const breaking = compareLockfiles(before, aliased(set({ sendEmail: { payload: stricter, queue: 'q' } }), 'sendEmail', ['sendMail']));
    expect(breaking.map((f) => [f.rule, f.job, f.direction, f.severity])).toContainEqual(['field-added-required', 'sendMail', 'backward', 'breaking']);
    expect(breaking.some((f) => f.rule === 'job-removed')).toBe(false);

    // A queue change with the rename breaks backward too.
    const moved = compareLockfiles(before, aliased(set({ sendEmail: { payload, queue: 'other' } }), 'sendEmail', ['sendMail']));
    expect(moved.map((f) => [f.rule, f.job, f.direction, f.severity])).toContainEqual(['queue-changed', 'sendMail', 'backward', 'breaking']);

    // An alias naming a job that still exists (or never existed) changes nothing.
    const kept = compareLockfiles(before, aliased(set({ sendMail: { payload, queue: 'q' }, x: { payload, queue: 'q' } }), 'x', ['nope']));
    expect(kept.map((f) => [f.rule, f.job])).toEqual([['job-added', 'x']]);
  });

  it('the lockfile keeps aliases (sorted) and reads them back; a job without any has no aliases entry', () => {
    const lock = buildLockfile('jobs.schema.ts', [
      { name: 'a', queue: 'q', inputJsonSchema: {}, outputJsonSchema: {}, unrepresentable: [], aliases: ['z', 'b'] },
      { name: 'c', queue: 'q', inputJsonSchema: {}, outputJsonSchema: {}, unrepresentable: [], aliases: [] },
    ]);
    expect(lock.jobs['a']?.aliases).toEqual(['b', 'z']);
    expect('aliases' in (lock.jobs['c'] ?? {})).toBe(false);
    expect(parseLockfile(formatLockfile(lock), 'x').jobs['a']?.aliases).toEqual(['b', 'z']);
    expect(() => parseLockfile(formatLockfile({ ...lock, jobs: { a: { ...lock.jobs['a']!, aliases: [1] as never } } }), 'x')).toThrow(/aliases of job "a"/);
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

  it('every rule has its row in the rules table of docs/contracts.md', () => {
    const docs = readFileSync(new URL('../../docs/contracts.md', import.meta.url), 'utf8');
    for (const id of Object.keys(RULES)) expect(docs, id).toContain(`| \`${id}\` |`);
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

describe('result changes: workers write, waiters read', () => {
  const payload = z.object({ a: z.string() });
  /** A lockfile of one job `job` whose result is `result` (none when undefined). */
  const withResult = (result: z.ZodType | undefined): Lockfile => lockOf(payload, 'default', 'job', result);
  const check = (before: z.ZodType | undefined, after: z.ZodType | undefined): { backward: string; forward: string; shown: string[] } => {
    const findings = compareLockfiles(withResult(before), withResult(after));
    for (const f of findings) {
      expect(f.part).toBe('result');
      expect(f.path.startsWith('result')).toBe(true);
    }
    return {
      backward: verdict(findings, 'backward'),
      forward: verdict(findings, 'forward'),
      shown: findings.map((f) => `${f.rule}:${f.direction}:${f.severity} ${f.path}`),
    };
  };
  const o = z.object;

  const cases: readonly { name: string; before: z.ZodType | undefined; after: z.ZodType | undefined; backward: string; forward: string; has: readonly string[] }[] = [
    { name: 'unchanged', before: o({ url: z.string() }), after: o({ url: z.string() }), backward: 'safe', forward: 'safe', has: [] },
    // Old workers stored results without `pages`: new waiters that require it cannot read them.
    { name: 'field added, required', before: o({ url: z.string() }), after: o({ url: z.string(), pages: z.number() }), backward: 'breaking', forward: 'safe', has: ['field-added-required:backward:breaking result.pages'] },
    // What is stored is what the handler returned, undeclared keys included (a plain z.object only strips them when
    // parsing): an old handler may have stored any `pages`, so even a field with a default breaks backward...
    { name: 'field added with a default', before: o({ url: z.string() }), after: o({ url: z.string(), pages: z.number().default(1) }), backward: 'breaking', forward: 'safe', has: ['type-narrowed:backward:breaking result.pages'] },
    // ...unless the old result schema was strict (then no undeclared key was ever stored).
    { name: 'field added with a default to a strict result', before: z.strictObject({ url: z.string() }), after: z.strictObject({ url: z.string(), pages: z.number().default(1) }), backward: 'safe', forward: 'breaking', has: ['field-added-optional:backward:safe result.pages', 'unknown-keys-rejected:forward:breaking result.pages'] },
    // New workers stop writing `url`: old waiters require it.
    { name: 'field removed', before: o({ url: z.string(), pages: z.number() }), after: o({ pages: z.number() }), backward: 'safe', forward: 'breaking', has: ['field-removed:forward:breaking result.url'] },
    { name: 'type narrowed', before: o({ pages: z.number() }), after: o({ pages: z.number().int() }), backward: 'breaking', forward: 'safe', has: ['type-narrowed:backward:breaking result.pages'] },
    { name: 'type widened', before: o({ pages: z.number().int() }), after: o({ pages: z.number() }), backward: 'safe', forward: 'breaking', has: ['type-widened:forward:breaking result.pages'] },
    { name: 'a non-object result narrowed', before: z.string(), after: z.string().min(3), backward: 'breaking', forward: 'safe', has: ['bound-tightened:backward:breaking result'] },
    { name: 'result added', before: undefined, after: o({ url: z.string() }), backward: 'safe', forward: 'safe', has: ['result-added:backward:safe result'] },
    { name: 'result removed', before: o({ url: z.string() }), after: undefined, backward: 'safe', forward: 'breaking', has: ['result-removed:forward:breaking result'] },
    { name: 'no result on either side', before: undefined, after: undefined, backward: 'safe', forward: 'safe', has: [] },
    // A refinement is a part JSON Schema cannot describe: unchanged, a safe warning; a transform on the output side is
    // the waiter's own business (it parses with its schema) and not compared.
    { name: 'an unchanged refinement, a changed output transform', before: o({ url: z.string().refine((u) => u !== '').transform((u) => u.length) }), after: o({ url: z.string().refine((u) => u !== '').transform((u) => u) }), backward: 'safe', forward: 'safe', has: ['unrepresentable:backward:safe result.url', 'unrepresentable:forward:safe result.url'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = check(c.before, c.after);
      expect({ backward: got.backward, forward: got.forward }, got.shown.join('\n')).toEqual({ backward: c.backward, forward: c.forward });
      for (const h of c.has) expect(got.shown).toContain(h);
      if (c.has.length === 0) expect(got.shown).toEqual([]);
    });
  }

  it('breaking result findings carry result hints and waiter wording', () => {
    const findings = compareLockfiles(withResult(o({ url: z.string(), pages: z.number() })), withResult(o({ pages: z.number() })));
    const broken = findings.filter((f) => f.severity === 'breaking');
    expect(broken.map((f) => [f.path, f.direction, f.message, f.hint])).toEqual([['result.url', 'forward', 'url is gone; old waiters require it', RESULT_HINTS.forward]]);
    const removed = compareLockfiles(withResult(o({ url: z.string() })), withResult(undefined));
    expect(removed[0]?.hint).toBe(RULES['result-removed'].hint);
  });

  it('a job without a result has no result in the lockfile; one with a result reads back', () => {
    expect('result' in (withResult(undefined).jobs.job ?? {})).toBe(false);
    const lock = withResult(o({ url: z.string().transform((s) => new URL(s)) }));
    const result = lock.jobs.job?.result;
    expect(result?.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(result?.unrepresentable.map((u) => `${u.side} ${u.path}`)).toEqual(['output url']);
    expect(parseLockfile(formatLockfile(lock), 'jobs.lock.json').jobs.job?.result).toEqual(result);
    expect(() => parseLockfile(formatLockfile({ ...lock, jobs: { job: { ...lock.jobs.job!, result: { hash: 'x' } as never } } }), 'f')).toThrow(/the result of job "job" needs/);
  });
});

describe('versioned payloads (docs/contracts.md, "Versioned payloads")', () => {
  const toJson = (schema: unknown, params: Record<string, unknown>): Record<string, unknown> => z.toJSONSchema(schema as z.ZodType, params) as Record<string, unknown>;
  /** A lockfile of job `job` whose versions are `schemas` (oldest first, the last the current payload). */
  const versioned = (schemas: readonly z.ZodType[], emitVersion?: number): Lockfile => {
    const contracts = schemas.map((s) => payloadContract(s, toJson));
    const current = contracts[contracts.length - 1]!;
    return buildLockfile('jobs.schema.ts', [
      {
        name: 'job',
        queue: 'default',
        inputJsonSchema: current.input,
        outputJsonSchema: current.output,
        unrepresentable: current.unrepresentable,
        versions: contracts.slice(0, -1),
        emitVersion,
      },
    ]);
  };
  const check = (before: Lockfile, after: Lockfile) => {
    const findings = compareLockfiles(before, after);
    return {
      backward: verdict(findings, 'backward'),
      forward: verdict(findings, 'forward'),
      shown: findings.map((f) => `${f.rule}:${f.direction}:${f.severity} ${f.message}`),
      findings,
    };
  };
  const o = z.object;
  const v1 = o({ to: z.string() });
  const v2 = o({ to: z.array(z.string()) });
  const v3 = o({ to: z.array(z.string()), subject: z.string() });

  it('a job without versions locks one version, as before; versions lock each, numbered, and a pin records emitVersion', () => {
    expect(lockOf(v1).jobs.job?.versions.map((v) => v.version)).toEqual([1]);
    expect('emitVersion' in (lockOf(v1).jobs.job ?? {})).toBe(false);
    const lock = versioned([v1, v2, v3]);
    expect(lock.jobs.job?.versions.map((v) => v.version)).toEqual([1, 2, 3]);
    expect(lock.jobs.job?.versions[0]?.hash).toBe(lockOf(v1).jobs.job?.versions[0]?.hash);
    expect('emitVersion' in (lock.jobs.job ?? {})).toBe(false);
    expect(versioned([v1, v2], 1).jobs.job?.emitVersion).toBe(1);
    expect(parseLockfile(formatLockfile(versioned([v1, v2], 1)), 'f').jobs.job).toEqual(versioned([v1, v2], 1).jobs.job);
    const broken = { ...lock, jobs: { job: { ...lock.jobs.job!, versions: [lock.jobs.job!.versions[1]!] } } };
    expect(() => parseLockfile(formatLockfile(broken), 'f')).toThrow(/versions of job "job" are not numbered 1, 2/);
    expect(() => parseLockfile(formatLockfile({ ...lock, jobs: { job: { ...lock.jobs.job!, emitVersion: 4 } } }), 'f')).toThrow(/emitVersion of job "job" is not one of its versions/);
  });

  const cases: { name: string; before: Lockfile; after: Lockfile; backward: 'safe' | 'breaking'; forward: 'safe' | 'breaking'; has: string[] }[] = [
    // The type change of the current schema, without and with a version: a version with a migration makes it safe
    // backward (stored jobs are read as version 1 and migrated); forward, producers writing version 2 meet old workers.
    { name: 'a type change without a version', before: lockOf(v1), after: lockOf(v2), backward: 'breaking', forward: 'breaking', has: ['type-changed:backward:breaking string → array'] },
    { name: 'a new version with a migration: safe backward, version-added forward', before: lockOf(v1), after: versioned([v1, v2]), backward: 'safe', forward: 'breaking', has: ['version-added:backward:safe version 2 is new (with a migration from version 1)', 'version-added:forward:breaking producers write version 2; the locked workers know versions 1 to 1 and fail those jobs (retried) until they are replaced'] },
    { name: 'a new version with producers pinned to the old one: safe both ways', before: lockOf(v1), after: versioned([v1, v2], 1), backward: 'safe', forward: 'safe', has: ['version-added:backward:safe version 2 is new (with a migration from version 1)'] },
    { name: 'the pin lifted once the workers know version 2: safe both ways', before: versioned([v1, v2], 1), after: versioned([v1, v2]), backward: 'safe', forward: 'safe', has: [] },
    { name: 'a third version on top of two', before: versioned([v1, v2]), after: versioned([v1, v2, v3]), backward: 'safe', forward: 'breaking', has: ['version-added:forward:breaking producers write version 3; the locked workers know versions 1 to 2 and fail those jobs (retried) until they are replaced'] },
    // An earlier version's schema edited: jobs stored with it are read by it; compared version by version.
    { name: 'an earlier version made stricter', before: versioned([v1, v2]), after: versioned([o({ to: z.string().min(3) }), v2]), backward: 'breaking', forward: 'safe', has: ['bound-tightened:backward:breaking version 1: minLength none → ≥ 3'] },
    // A version dropped from the list (the list got shorter): jobs stored with it cannot be read.
    { name: 'a version dropped', before: versioned([v1, v2, v3]), after: versioned([v2, v3]), backward: 'breaking', forward: 'safe', has: ['version-removed:backward:breaking version 3 is gone (the workers now know versions 1 to 2): jobs stored with it fail'] },
    // Versions collapsed back into one schema: version 2 (the locked current) is gone, and what producers now write
    // as version 1 is not what old workers read as version 1 (numbers are places in the list: never renumber).
    { name: 'versions collapsed into the current schema', before: versioned([v1, v2]), after: lockOf(v2), backward: 'breaking', forward: 'breaking', has: ['version-removed:backward:breaking version 2 is gone (the workers now know versions 1 to 1): jobs stored with it fail', 'type-changed:forward:breaking version 1: string → array'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = check(c.before, c.after);
      expect({ backward: got.backward, forward: got.forward }, got.shown.join('\n')).toEqual({ backward: c.backward, forward: c.forward });
      for (const h of c.has) expect(got.shown).toContain(h);
      if (c.has.length === 0) expect(got.shown).toEqual([]);
      for (const f of got.findings) if (f.severity === 'breaking') expect(f.hint).toBe(RULES[f.rule].hint);
    });
  }
});
