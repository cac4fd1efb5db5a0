/**
 * Decoding of leased jobs without Redis (src/worker/decode.ts): a leased job becomes a run, or goes to the dead
 * letters with its reason; a unique lock held `until: 'start'` is released when the job is taken (not when it was
 * recovered); a recovered job's payload is not parsed. A fake completer and fake scripts record what it asks for.
 * These paths moved out of the old worker.ts (prepare, throttleOf) in the split; the assertions pin what they did.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineJobs } from '../../src/define.js';
import { queueKeys } from '../../src/keys.js';
import { silentLogger } from '../../src/logger.js';
import { encodeEnvelope } from '../../src/payload.js';
import type { LeasedJob, Scripts } from '../../src/scripts.js';
import { throttledTypes } from '../../src/throttle.js';
import type { EventSink } from '../../src/worker/completer.js';
import { JobDecoder } from '../../src/worker/decode.js';

const jobs = defineJobs({
  plain: { payload: z.object({ n: z.number() }) },
  atStart: { payload: z.object({ k: z.string() }), unique: { until: 'start' } },
  untilDone: { payload: z.object({ k: z.string() }), unique: true },
  capped: { payload: z.object({}), concurrency: 2 },
  elsewhere: { payload: z.object({}), queue: 'other' },
});

function setup() {
  const k = queueKeys('t', 'default');
  const dead: { id: string; name: string | undefined; reason: string; message: string; more: Record<string, unknown> }[] = [];
  const released: { lock: string; id: string }[] = [];
  const events: string[] = [];
  let tracked = 0;
  const failed: { id: string; error: Error; lock: string | undefined; payload: unknown }[] = [];
  const sink: EventSink = { emit: (event, ...args) => void events.push(`${event} ${(args[0] as { reason?: string }).reason}`), listenerCount: () => 1 };
  const decoder = new JobDecoder({
    jobSet: jobs,
    keys: new Map([['default', k]]),
    types: new Map([['default', throttledTypes(jobs, k)]]),
    maxEnvelopeBytes: 10_000,
    scripts: { uniqueRelease: (lock: string, input: { id: string }) => (released.push({ lock, id: input.id }), Promise.resolve()) } as unknown as Scripts,
    logger: silentLogger,
    events: sink,
    completer: {
      toDead: (_k, ref, _attempt, reason, err, more = {}) =>
        void dead.push({ id: ref.id, name: ref.name, reason, message: (err as Error).message, more: more as Record<string, unknown> }),
    },
    track: (p) => (tracked++, p),
    reportError: () => {},
    failAttempt: (run, error) => void failed.push({ id: run.id, error, lock: run.lock, payload: run.payload }),
  });
  return { decoder, dead, released, events, k, failed, tracked: () => tracked };
}

/** A unique key as the client writes it into the envelope (its job's name and a SHA-1). */
const u = (n: number): string => `j:${String(n).repeat(40)}`;

const leased = (id: string, raw: string | null, attempt = 1): LeasedJob => ({ id, raw, attempt });

describe('JobDecoder', () => {
  it('turns a good job into a buffered run with its parsed payload, attempts and throttle slot', () => {
    const { decoder, k } = setup();
    const run = decoder.prepare('default', leased('a', encodeEnvelope('plain', 5, '{"n":1}', 7)), 'dequeue');
    expect(run).toMatchObject({ id: 'a', queue: 'default', attempt: 1, maxAttempts: 7, payload: { n: 1 }, state: 'buffered', typeIndex: 0, slot: undefined, lock: undefined });
    const capped = decoder.prepare('default', leased('c', encodeEnvelope('capped', 5, '{}')), 'dequeue');
    const type = throttledTypes(jobs, k).find((t) => t.name === 'capped');
    expect(capped?.typeIndex).toBeGreaterThan(0);
    expect(capped?.slot).toEqual({ running: type?.keys.running, ready: type?.keys.ready });
  });

  it("releases an until-start lock when the job is taken (tracked), and keeps an until-done lock on the run", () => {
    const { decoder, released, k, tracked } = setup();
    const start = decoder.prepare('default', leased('s', encodeEnvelope('atStart', 5, '{"k":"x"}', undefined, 0, u(1))), 'dequeue');
    expect(released).toEqual([{ lock: `${k.uniquePrefix}${u(1)}`, id: 's' }]);
    expect(tracked()).toBe(1);
    expect(start?.lock).toBeUndefined();
    const done = decoder.prepare('default', leased('d', encodeEnvelope('untilDone', 5, '{"k":"x"}', undefined, 0, u(2))), 'dequeue');
    expect(done?.lock).toBe(`${k.uniquePrefix}${u(2)}`);
    expect(released).toHaveLength(1);
  });

  it('a recovered job: its payload is not parsed, its until-start lock neither released nor dropped', () => {
    const { decoder, released, k } = setup();
    const run = decoder.prepare('default', leased('r', encodeEnvelope('atStart', 5, '{"k":42}', undefined, 0, u(1)), 3), 'recovery');
    expect(run).toMatchObject({ id: 'r', attempt: 3, payload: { k: 42 }, lock: `${k.uniquePrefix}${u(1)}` });
    expect(released).toEqual([]);
  });

  it('a job written with a newer payload version: not run, not dead-lettered; its attempt fails, its until-start lock kept', () => {
    const { decoder, dead, released, failed, k } = setup();
    const raw = encodeEnvelope('atStart', 5, '{"k":"x"}', undefined, 0, u(1), undefined, undefined, 2);
    expect(decoder.prepare('default', leased('n', raw, 2), 'dequeue')).toBeUndefined();
    expect(dead).toEqual([]);
    expect(released).toEqual([]);
    expect(failed.map((f) => [f.id, f.error.name])).toEqual([['n', 'PayloadVersionError']]);
    expect(failed[0]?.error.message).toMatch(/written with payload version 2; this worker knows up to 1/);
    // The run handed to the failure holds the lock (released when the job ends for good) and the unparsed payload.
    expect(failed[0]).toMatchObject({ lock: `${k.uniquePrefix}${u(1)}`, payload: { k: 'x' } });
  });

  it('sends what it cannot run to the dead letters with its reason', () => {
    const { decoder, dead, k } = setup();
    expect(decoder.prepare('default', leased('m', '{nope'), 'dequeue')).toBeUndefined();
    expect(decoder.prepare('default', leased('gone', null), 'dequeue')).toBeUndefined();
    expect(decoder.prepare('default', leased('u', encodeEnvelope('nosuch', 5, '{}')), 'dequeue')).toBeUndefined();
    expect(decoder.prepare('default', leased('w', encodeEnvelope('elsewhere', 5, '{}')), 'dequeue')).toBeUndefined();
    expect(decoder.prepare('default', leased('i', encodeEnvelope('untilDone', 5, '{"k":1}', undefined, 0, u(3))), 'dequeue')).toBeUndefined();
    expect(dead.map((d) => [d.id, d.name, d.reason])).toEqual([
      ['m', undefined, 'malformed_job'],
      ['gone', undefined, 'malformed_job'],
      ['u', 'nosuch', 'unknown_job'],
      ['w', 'elsewhere', 'unknown_job'],
      ['i', 'untilDone', 'invalid_payload'],
    ]);
    // An invalid payload's lock is released with its dead letter; the stored text goes along in case the entry is gone.
    expect(dead[4]?.more).toMatchObject({ lock: `${k.uniquePrefix}${u(3)}`, raw: encodeEnvelope('untilDone', 5, '{"k":1}', undefined, 0, u(3)) });
  });

  it('an id that is not UTF-8 was dead-lettered by the script: only the dead event, named from the envelope head', () => {
    const { decoder, dead, events } = setup();
    const l: LeasedJob = { id: '#invalid-utf8:x%FF', raw: encodeEnvelope('plain', 5, '{"n":1}'), attempt: 1, invalidId: true };
    expect(decoder.prepare('default', l, 'dequeue')).toBeUndefined();
    expect(dead).toEqual([]);
    expect(events).toEqual(['dead malformed_job']);
  });

  it('a stored job over the size limit is not parsed: invalid_payload when its head names a job, malformed_job otherwise', () => {
    const { decoder, dead } = setup();
    const head = encodeEnvelope('plain', 5, '{"n":1}').slice(0, 20);
    expect(decoder.prepare('default', { id: 'big', raw: null, attempt: 1, tooBig: { bytes: 20_000, head } }, 'dequeue')).toBeUndefined();
    expect(decoder.prepare('default', { id: 'junk', raw: null, attempt: 1, tooBig: { bytes: 20_000, head: 'xxxx' } }, 'dequeue')).toBeUndefined();
    expect(dead.map((d) => [d.id, d.name, d.reason])).toEqual([
      ['big', 'plain', 'invalid_payload'],
      ['junk', undefined, 'malformed_job'],
    ]);
  });
});
