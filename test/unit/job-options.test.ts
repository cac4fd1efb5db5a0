/**
 * The job options are declared once (src/job-options.ts): these tests fail when an option is added to the
 * declaration but missing from docs/configuration.md or from what the code generator and the manifest describe,
 * and check that the per-enqueue checks (checkAttempts, checkPriority) say what defineJobs says.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { describeJob } from '../../codegen/describe-job.js';
import type { EmitContext, EmitJob } from '../../codegen/emit-common.js';
import { emitManifest } from '../../codegen/emit-manifest.js';
import type { DeclaredJob } from '../../codegen/read-schema.js';
import { checkAttempts, checkPriority, defineJobs, type ResolvedJob } from '../../src/define.js';
import { JobDefinitionError } from '../../src/errors.js';
import { ATTEMPTS_RANGE, JOB_OPTION_KEYS, NESTED_OPTION_KEYS, PRIORITY_RANGE } from '../../src/job-options.js';
import { describeResolvedJob, JOB_DESCRIPTION, type DescribedField } from '../../src/rules.js';

const described = Object.entries(JOB_DESCRIPTION) as [string, DescribedField][];

/** A job that sets every option (cron with a payload, unique by fields, both throttles). */
const options = {
  queue: 'mail',
  attempts: 3,
  backoff: { type: 'fixed', delay: '2s', maxDelay: '1m', jitter: 0.1 },
  timeout: '30s',
  priority: 7,
  description: 'Every option set.',
  cron: '0 3 * * *',
  tz: 'Europe/Berlin',
  cronPayload: { n: 1 },
  catchUp: 'all',
  unique: { by: ['n'], ttl: '5m', until: 'start' },
  concurrency: 2,
  rateLimit: { max: 10, per: '1s' },
  result: z.object({ url: z.string() }),
  resultRetention: '1h',
  maxResultBytes: 1000,
  aliases: ['everythingOld'],
  versions: [{ payload: z.object({ m: z.number() }), migrate: (p: { m: number }) => ({ n: p.m }) }],
  emitVersion: 2,
} as const;
const payload = z.object({ n: z.number() });
const everything = (): ResolvedJob => {
  const job = defineJobs({ everything: { payload, ...options } }).jobs.get('everything');
  if (job === undefined) throw new Error('defineJobs lost the job');
  return job;
};

describe('one declaration of the job options', () => {
  it('the test job sets every declared option', () => {
    expect(['payload', ...Object.keys(options)].sort()).toEqual([...JOB_OPTION_KEYS].sort());
  });

  it('docs/configuration.md documents every option and every nested option', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const section = docs.slice(docs.indexOf('## Job definitions'), docs.indexOf('\n## ', docs.indexOf('## Job definitions') + 1));
    const rows = section.split('\n').filter((l) => l.startsWith('| `'));
    const row = (key: string): string | undefined => rows.find((r) => r.startsWith(`| \`${key}\` |`));
    for (const key of JOB_OPTION_KEYS) {
      // Its own row, or rows of its nested options (`backoff.type`, `backoff.delay`, …).
      expect(row(key) ?? rows.find((r) => r.startsWith(`| \`${key}.`)), `row of option ${key}`).toBeDefined();
    }
    for (const [parent, keys] of Object.entries(NESTED_OPTION_KEYS)) {
      for (const key of keys) {
        // Its own row (`backoff.delay`), or named in its parent's row (`rateLimit`: `{ max: …, per: duration }`).
        expect(row(`${parent}.${key}`) ?? (row(parent)?.includes(key) ? row(parent) : undefined), `docs of ${parent}.${key}`).toBeDefined();
      }
    }
  });

  it('every option (but the payload, described as its JSON Schema) is described by exactly one field', () => {
    const claimed = described.flatMap(([, field]) => field.from);
    expect([...claimed].sort()).toEqual(JOB_OPTION_KEYS.filter((k) => k !== 'payload').sort());
    expect(new Set(claimed).size).toBe(claimed.length);
  });

  it('the code generator receives every described field, as the declaration shows it', () => {
    const job = everything();
    const loaded = describeJob(job, describeResolvedJob);
    for (const [field, { show }] of described) expect(loaded[field as keyof typeof loaded], field).toEqual(show(job));
    expect(loaded).toMatchObject({
      name: 'everything',
      queue: 'mail',
      description: 'Every option set.',
      attempts: 3,
      backoff: { type: 'fixed', delayMs: 2000, maxDelayMs: 60_000, jitter: 0.1 },
      timeoutMs: 30_000,
      priority: 7,
      cron: { pattern: '0 3 * * *', tz: 'Europe/Berlin', catchUp: 'all' },
      unique: { by: ['n'], ttlMs: 300_000, until: 'start' },
      throttle: { concurrency: 2, rateMax: 10, ratePerMs: 1000 },
      inputProblem: undefined,
    });
    expect(loaded.inputJsonSchema).toMatchObject({ type: 'object', required: ['n'] });
    // Plain data: it crosses from the worker thread that ran the schema file.
    expect(structuredClone(loaded)).toEqual(loaded);
    expect(describeJob({ ...job, unique: { by: () => 'k', ttlMs: 1, until: 'finish' } }, describeResolvedJob).unique).toEqual({ by: '[function]', ttlMs: 1, until: 'finish' });
  });

  it('the manifest shows each described field where the declaration places it, in its order', () => {
    const job = everything();
    const declared = { name: job.name, options } as unknown as DeclaredJob; // the manifest reads only these two
    const ctx = { jobs: [{ declared, resolved: describeJob(job, describeResolvedJob) } satisfies EmitJob], schemaPath: '../jobs.schema.ts' } as unknown as EmitContext;
    const manifest = JSON.parse(emitManifest(ctx)) as { jobs: Record<string, unknown>[] };
    const entry = manifest.jobs[0] ?? {};
    const at = (place: DescribedField['manifest']) => described.filter(([, f]) => f.manifest === place).map(([k]) => k);
    // The job sets every option, `result` included: its result's JSON Schema follows the input's.
    // …and its versions (it declares an earlier one): the current number, the emitted one, each earlier input.
    expect(Object.keys(entry)).toEqual(['name', ...at('job'), 'options', 'resolved', 'input', 'result', 'version', 'emitVersion', 'versions']);
    expect(entry).toMatchObject({ version: 2, emitVersion: 2, versions: [{ version: 1, input: { type: 'object', required: ['m'] } }] });
    expect(entry.result).toMatchObject({ type: 'object', properties: { url: { type: 'string' } } });
    expect(Object.keys(entry.resolved as object)).toEqual(at('resolved'));
    for (const [field, { show, manifest: place }] of described) {
      if (place === 'job') expect(entry[field], field).toEqual(show(job));
      if (place === 'resolved') expect((entry.resolved as Record<string, unknown>)[field], field).toEqual(show(job));
    }
    // Every option given is in the manifest as written.
    expect(Object.keys(entry.options as object).sort()).toEqual(Object.keys(options).sort());
  });
});

describe('the per-enqueue checks are the declaration’s own rule', () => {
  const values: unknown[] = [0, 1, 5, -1, 1.5, NaN, Infinity, '3', null, undefined, true, {}, [], 10_000, 10_001, -1000, -1001, 1000, 1001, 2 ** 53];

  const refusal = (option: 'attempts' | 'priority', value: unknown): string | undefined => {
    try {
      defineJobs({ j: { payload, [option]: value } } as never);
      return undefined;
    } catch (err) {
      expect(err).toBeInstanceOf(JobDefinitionError);
      expect((err as JobDefinitionError).option).toBe(option);
      return (err as Error).message;
    }
  };

  it.each([
    ['attempts', checkAttempts, ATTEMPTS_RANGE],
    ['priority', checkPriority, PRIORITY_RANGE],
  ] as const)('%s: defineJobs refuses exactly what the check refuses, with its message', (option, check, range) => {
    for (const value of [...values, range.min, range.max, range.min - 1, range.max + 1]) {
      if (value === undefined || value === null) continue; // absent: the default (null too, as always for these two)
      const problem = check(value);
      expect(refusal(option, value), String(value)).toBe(problem === undefined ? undefined : `job "j", option "${option}": ${problem}`);
    }
  });

  it('null means the default for attempts and priority (not at enqueue, where the types never offered it)', () => {
    expect(defineJobs({ j: { payload, attempts: null, priority: null } } as never).jobs.get('j')).toMatchObject({ attempts: 5, priority: 0 });
  });

  // The order defineJobs has always checked in (ad4ac05's hand checks): an unknown option; payload, queue, attempts,
  // priority, timeout, description, backoff (its unknown keys first), unique, concurrency, rateLimit; a cron-only
  // option without cron; tz, cron, catchUp, cronPayload.
  it('with several problems: names the one the hand-written checks named first', () => {
    const first = (def: Record<string, unknown>) => {
      try {
        defineJobs({ j: { payload, ...def } } as never);
      } catch (err) {
        return (err as JobDefinitionError).option;
      }
      return undefined;
    };
    expect(first({ attempts: 0, tz: 5, colour: 1 })).toBe('colour');
    expect(first({ attempts: 0, tz: 5 })).toBe('attempts');
    expect(first({ attempts: 0, catchUp: 'x' })).toBe('attempts');
    expect(first({ rateLimit: { max: 0 }, tz: 5 })).toBe('rateLimit.max');
    expect(first({ tz: 5 })).toBe('tz');
    expect(first({ concurrency: 0, attempts: 0, queue: 'a b' })).toBe('queue');
    expect(first({ cron: '99 * * * *', concurrency: 0 })).toBe('concurrency');
    expect(first({ priority: 5000, timeout: -1 })).toBe('priority');
    expect(first({ priority: 5000, backoff: { type: 'x' } })).toBe('priority');
    expect(first({ attempts: 0, backoff: { foo: 1 } })).toBe('attempts');
    expect(first({ queue: 'a b', unique: { foo: 1 } })).toBe('queue');
    expect(first({ backoff: { type: 'x', foo: 1 } })).toBe('backoff.foo');
    expect(first({ timeout: 0, description: 5 })).toBe('timeout');
    expect(first({ description: 5, backoff: null })).toBe('description');
    expect(first({ unique: { by: [] }, concurrency: 0 })).toBe('unique.by');
    expect(first({ cron: '* * *', catchUp: 'x' })).toBe('cron');
    expect(first({ cron: '0 * * * *', tz: 'Nowhere/Nope', catchUp: 'x' })).toBe('cron');
    expect(first({ cron: '0 * * * *', tz: 5, catchUp: 'x' })).toBe('tz');
    expect(first({ cron: '0 * * * *', catchUp: 'x', cronPayload: 5 })).toBe('catchUp');
    expect(first({ backoff: { delay: '10s', maxDelay: '1s', jitter: 2 } })).toBe('backoff.maxDelay');
    expect(first({ backoff: { type: 'x', delay: '10s', maxDelay: '1s' } })).toBe('backoff.type');
  });

  it('an unknown option lists every declared option', () => {
    expect(refusal('attempts', 1)).toBeUndefined();
    expect(() => defineJobs({ j: { payload, retries: 3 } } as never)).toThrow(`unknown option (known: ${JOB_OPTION_KEYS.join(', ')})`);
  });
});
