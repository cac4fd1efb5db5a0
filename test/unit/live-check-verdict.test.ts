/**
 * The live check's verdict on a stored job (src/live-check.ts verdictOfStoredJob) is the worker's: each stored text
 * of a table — good jobs, payloads the schema rejects, schemas that throw, unknown names, a job of another queue,
 * jobs over the size limit or nested too deep, text that is no envelope — goes through the worker's decoder
 * (src/worker/decode.ts, with a fake completer that records dead letters) and through the verdict, and both must say
 * the same: run it, or dead-letter it with the same reason and the same issues.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs } from '../../src/define.js';
import { PayloadVersionError } from '../../src/errors.js';
import { payloadVersion } from '../../src/versions.js';
import { queueKeys } from '../../src/keys.js';
import { pathText, verdictOfStoredJob } from '../../src/live-check.js';
import { silentLogger } from '../../src/logger.js';
import { encodeEnvelope } from '../../src/payload.js';
import type { Scripts } from '../../src/scripts.js';
import { throttledTypes } from '../../src/throttle.js';
import { JobDecoder } from '../../src/worker/decode.js';

const jobs = defineJobs({
  email: { payload: z.object({ to: z.email(), tags: z.array(z.object({ name: z.string().min(1) })).optional() }) },
  strict: { payload: z.strictObject({ a: z.number() }) },
  throws: {
    payload: z.object({ s: z.string() }).transform((v) => {
      if (v.s === 'boom') throw new Error('transform failed');
      return v;
    }),
  },
  elsewhere: { payload: z.object({}), queue: 'other' },
  // Version 2, with version 1's migration (throws on 'boom').
  versioned: {
    payload: z.object({ to: z.array(z.email()) }),
    versions: [
      payloadVersion(z.object({ to: z.string() }), (p) => {
        if (p.to === 'boom') throw new Error('cannot migrate boom');
        return { to: [p.to] };
      }),
    ],
  },
});
const MAX = 2_000;

function workerVerdict(raw: string): { reason: string | undefined; issues: unknown } {
  const k = queueKeys('t', 'default');
  let dead: { reason: string; issues: unknown } | undefined;
  const decoder = new JobDecoder({
    jobSet: jobs,
    keys: new Map([['default', k]]),
    types: new Map([['default', throttledTypes(jobs, k)]]),
    maxEnvelopeBytes: MAX,
    scripts: { uniqueRelease: () => Promise.resolve() } as unknown as Scripts,
    logger: silentLogger,
    events: { emit: () => {}, listenerCount: () => 0 },
    completer: { toDead: (_k, _ref, _attempt, reason, _err, more = {}) => void (dead = { reason, issues: (more as { issues?: unknown }).issues }) },
    track: (p) => p,
    reportError: () => {},
    failAttempt: () => {},
  });
  const run = decoder.prepare('default', { id: 'x', raw, attempt: 1 }, 'dequeue');
  return run !== undefined ? { reason: undefined, issues: undefined } : { reason: dead?.reason, issues: dead?.issues };
}

const env = (name: string, payload: string): string => encodeEnvelope(name, 1, payload);
const envV = (name: string, payload: string, version: number): string => encodeEnvelope(name, 1, payload, undefined, undefined, undefined, undefined, undefined, version);
const CASES: readonly (readonly [string, string])[] = [
  ['a good job', env('email', '{"to":"a@example.com"}')],
  ['a good job with nested items', env('email', '{"to":"a@example.com","tags":[{"name":"x"}]}')],
  ['a missing field', env('email', '{}')],
  ['a bad format and a bad array item', env('email', '{"to":"nope","tags":[{"name":""},{"name":1}]}')],
  ['an unknown key for a strict object', env('strict', '{"a":1,"b":2}')],
  ['a transform that throws', env('throws', '{"s":"boom"}')],
  ['a transform that passes', env('throws', '{"s":"ok"}')],
  ['a removed job', env('gone', '{}')],
  ['a job of another queue', env('elsewhere', '{}')],
  ['a job over the size limit', env('email', JSON.stringify({ to: 'a@example.com', pad: 'x'.repeat(MAX) }))],
  ['garbage over the size limit', 'x'.repeat(MAX + 10)],
  ['a job nested too deep', env('email', `{"to":"a@example.com","d":${'['.repeat(300)}${']'.repeat(300)}}`)],
  ['text that is not JSON', 'not json'],
  ['JSON that is no envelope', '[1,2]'],
  ['an envelope without a payload', '{"n":"email","t":1}'],
  ['an envelope with a bad attempts override', '{"n":"email","t":1,"a":0,"p":{"to":"a@example.com"}}'],
  ['version 1 stored (no v), migrated', env('versioned', '{"to":"a@example.com"}')],
  ['version 1 stored, rejected after its migration', env('versioned', '{"to":"nope"}')],
  ['version 1 stored, rejected by its own schema', env('versioned', '{"to":["a@example.com"]}')],
  ['version 1 stored, its migration throws', env('versioned', '{"to":"boom"}')],
  ['version 2 stored', envV('versioned', '{"to":["a@example.com"]}', 2)],
  ['version 2 stored, rejected', envV('versioned', '{"to":"a@example.com"}', 2)],
  ['an envelope with a bad version', '{"n":"versioned","t":1,"v":0,"p":{"to":"a@example.com"}}'],
  ...['-1', '1.5', '"2"', 'null', '1e400', '[2]', 'true'].map(
    (v) => [`an envelope with a hostile version ${v}`, `{"n":"versioned","t":1,"v":${v},"p":{"to":"a@example.com"}}`] as const,
  ),
];

describe('verdictOfStoredJob', () => {
  it.each(CASES)('%s: the same verdict as the worker', (_what, raw) => {
    const worker = workerVerdict(raw);
    const live = verdictOfStoredJob(raw, 'default', jobs, MAX);
    expect(live.ok ? undefined : live.reason).toBe(worker.reason);
    // Where the worker stores issues (invalid payloads), they are the same.
    if (!live.ok && worker.issues !== undefined) expect(live.issues).toEqual(worker.issues);
  });

  it('covers every reason, and a job runs only when the worker runs it', () => {
    const reasons = new Set(CASES.map(([, raw]) => workerVerdict(raw).reason));
    expect(reasons).toEqual(new Set([undefined, 'invalid_payload', 'unknown_job', 'malformed_job']));
  });

  it('a version newer than the job set knows: the worker fails the attempt (retried), the verdict counts it as failing', () => {
    const raw = envV('versioned', '{"to":["a@example.com"]}', 3);
    const k = queueKeys('t', 'default');
    const failed: Error[] = [];
    let dead = false;
    const decoder = new JobDecoder({
      jobSet: jobs,
      keys: new Map([['default', k]]),
      types: new Map([['default', throttledTypes(jobs, k)]]),
      maxEnvelopeBytes: MAX,
      scripts: { uniqueRelease: () => Promise.resolve() } as unknown as Scripts,
      logger: silentLogger,
      events: { emit: () => {}, listenerCount: () => 0 },
      completer: { toDead: () => void (dead = true) },
      track: (p) => p,
      reportError: () => {},
      failAttempt: (_run, err) => void failed.push(err),
    });
    expect(decoder.prepare('default', { id: 'x', raw, attempt: 1 }, 'dequeue')).toBeUndefined();
    expect(dead).toBe(false);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(PayloadVersionError);
    expect(failed[0]?.message).toBe('job "versioned" was written with payload version 3; this worker knows up to 2: deploy workers that know version 3 (the job is retried)');
    const live = verdictOfStoredJob(raw, 'default', jobs, MAX);
    expect(live).toMatchObject({ ok: false, reason: 'invalid_payload', version: 3, issues: [{ code: 'version_unknown' }] });
  });

  it('names the version step of a failure, and the version the job was written with', () => {
    const after = verdictOfStoredJob(env('versioned', '{"to":"nope"}'), 'default', jobs, MAX);
    expect(after).toMatchObject({ ok: false, version: 1, issues: [{ path: ['to', 0], message: expect.stringMatching(/^after the migration from version 1 to 2, version 2's schema: /) }] });
    const own = verdictOfStoredJob(env('versioned', '{"to":[]}'), 'default', jobs, MAX);
    expect(own).toMatchObject({ ok: false, issues: [{ path: ['to'], message: expect.stringMatching(/^stored as version 1, its schema: /) }] });
    const threw = verdictOfStoredJob(env('versioned', '{"to":"boom"}'), 'default', jobs, MAX);
    expect(threw).toMatchObject({ ok: false, issues: [{ path: [], code: 'migration_failed', message: 'the migration from version 1 to 2 threw: Error: cannot migrate boom' }] });
    expect(verdictOfStoredJob(envV('versioned', '{"to":["a@example.com"]}', 2), 'default', jobs, MAX)).toEqual({ ok: true, job: 'versioned', version: 2 });
  });

  it('names the failing fields: nesting with dots, any array element as []', () => {
    const v = verdictOfStoredJob(env('email', '{"to":"nope","tags":[{"name":""},{"name":1}]}'), 'default', jobs, MAX);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.issues.map((i) => pathText(i.path))).toEqual(['to', 'tags[].name', 'tags[].name']);
    expect(pathText([])).toBe('');
    expect(pathText([0, 'a', 2])).toBe('[].a[]');
  });
});

describe('jobcraft check --live exit codes', () => {
  it('are jobcraft check\'s (repeated in check-live.ts so that it does not load the generator), plus 130', async () => {
    const { CHECK_EXIT } = await import('../../codegen/check.js');
    const { LIVE_CHECK_EXIT } = await import('../../codegen/check-live.js');
    expect(LIVE_CHECK_EXIT).toEqual({ ...CHECK_EXIT, interrupted: 130 });
  });
});
