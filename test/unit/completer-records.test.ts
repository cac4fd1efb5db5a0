/**
 * The completer's records without Redis (src/worker/completer.ts): what it asks the scripts for on each outcome of
 * an attempt, which events it emits and in what order, and what becomes of the run and its lease when Redis refuses
 * the record (the lease moved on) or the call fails. A fake of the scripts answers each call when the test says so.
 * These paths moved out of the old worker.ts (succeed/acked/fail/toDead) in the split; the assertions pin what they
 * did there.
 */
import { describe, expect, it } from 'vitest';
import type { ResolvedJob } from '../../src/define.js';
import { PermanentError, SnoozeSignal } from '../../src/errors.js';
import { queueKeys } from '../../src/keys.js';
import type { Logger } from '../../src/logger.js';
import type { Scripts } from '../../src/scripts.js';
import { Completer, type AckCarrier, type EventSink } from '../../src/worker/completer.js';
import type { JobRun } from '../../src/worker/job-run.js';

/** A call the completer made, answered by the test. */
interface Call {
  readonly script: 'reschedule' | 'dead';
  readonly input: Record<string, unknown>;
  answer(ok: boolean): void;
  fail(err: Error): void;
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function runOf(id: string, attempt = 1, maxAttempts = 3, more: Partial<JobRun> = {}): JobRun {
  return {
    id,
    queue: 'q',
    attempt,
    maxAttempts,
    job: { name: 'j', backoff: { type: 'fixed', delayMs: 100, maxDelayMs: 1_000, jitter: 0 } } as unknown as ResolvedJob,
    envelope: { n: 'j', t: 0, p: {} } as JobRun['envelope'],
    payload: {},
    controller: undefined,
    lock: undefined,
    typeIndex: 0,
    slot: undefined,
    state: 'running',
    startedAt: 0,
    deadline: Infinity,
    timer: undefined,
    ...more,
  };
}

function setup() {
  const calls: Call[] = [];
  const call =
    (script: Call['script']) =>
    (_k: unknown, input: Record<string, unknown>): Promise<boolean> =>
      new Promise<boolean>((resolve, reject) => calls.push({ script, input, answer: resolve, fail: reject }));
  const scripts = { reschedule: call('reschedule'), dead: call('dead') } as unknown as Scripts;
  const events: string[] = [];
  const sink: EventSink = {
    emit: (event, ...args) => {
      const e = args[0] as { job?: { id: string; attempt: number }; willRetry?: boolean; delayMs?: number; reason?: string };
      const detail = event === 'failed' ? ` retry=${e.willRetry}` : event === 'retrying' ? ` ${e.delayMs}` : event === 'dead' ? ` ${e.reason}` : '';
      events.push(`${event} ${e.job?.id}#${e.job?.attempt}${detail}`);
    },
    listenerCount: () => 1,
  };
  const logs: string[] = [];
  const logger: Logger = {
    debug: () => {},
    info: (m) => void logs.push(`info ${m}`),
    warn: (m) => void logs.push(`warn ${m}`),
    error: (m) => void logs.push(`error ${m}`),
  };
  const held = new Set<JobRun>();
  const notRecorded: string[] = [];
  const errors: string[] = [];
  const tracked: Promise<unknown>[] = [];
  const completer = new Completer({
    scripts,
    keys: new Map([['q', queueKeys('t', 'q')]]),
    maxDead: 10,
    logger,
    events: sink,
    track: (p) => (tracked.push(p), p),
    reportError: (err, what) => void errors.push(`${what}: ${(err as Error).message}`),
    leases: { drop: (run) => held.delete(run) },
    notRecorded: (run) => void notRecorded.push(run.id),
    declared: (queue, name) => queue === 'q' && name !== 'undeclared',
  });
  return { completer, calls, events, logs, held, notRecorded, errors, tracked };
}

describe('Completer: success', () => {
  it('queues the completion in its queue batch and tells the carrier how many wait; the batch hands them over in order', () => {
    const { completer } = setup();
    const told: number[] = [];
    const batch = completer.batchOf('q');
    batch.carrier = { acksWaiting: (n) => void told.push(n) } satisfies AckCarrier;
    const [a, b, c] = [runOf('a'), runOf('b'), runOf('c')];
    completer.succeed(a);
    const firstAt = batch.firstAt;
    completer.succeed(b);
    expect(a.state).toBe('acking');
    expect(told).toEqual([1, 2]);
    expect(batch.firstAt).toBe(firstAt); // the oldest one's time, not the latest
    const taken = batch.take();
    expect(taken).toEqual([a, b]);
    expect(batch.length).toBe(0);
    completer.succeed(c);
    batch.putBack(taken); // a call that failed: its completions go back ahead of the newer one
    expect(batch.take()).toEqual([a, b, c]);
  });

  it('on the answer: completed for each recorded run (lease forgotten); a refused one is lost, warned about while held, only noted once given up', () => {
    const { completer, events, logs, held } = setup();
    const [ok, refusedHeld, refusedGivenUp] = [runOf('ok'), runOf('r1'), runOf('r2')];
    held.add(ok).add(refusedHeld);
    completer.batchOf('q').recorded([ok, refusedHeld, refusedGivenUp], ['r1', 'r2']);
    expect(events).toEqual(['completed ok#1']);
    expect([ok.state, refusedHeld.state, refusedGivenUp.state]).toEqual(['done', 'lost', 'lost']);
    expect(held.size).toBe(0);
    expect(logs).toEqual([
      'warn job r1 (j) finished after its lease was taken over; the completion was not recorded',
      'info job r2 (j) finished after its lease was taken over; the completion was not recorded',
    ]);
  });
});

describe('Completer: failure', () => {
  it('retry: emits failed at once, reschedules with the backoff and the stored error, then emits retrying once recorded', async () => {
    const { completer, calls, events, held } = setup();
    const run = runOf('x', 1, 3, { slot: { running: 'r', ready: 'y' } });
    held.add(run);
    completer.fail(run, new Error('boom'));
    expect(run.state).toBe('failing');
    expect(events).toEqual(['failed x#1 retry=true']);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.script).toBe('reschedule');
    expect(calls[0]?.input).toMatchObject({ fence: { id: 'x', attempt: 1 }, delayMs: 100, giveAttemptBack: false, slot: { running: 'r', ready: 'y' } });
    expect(JSON.parse(calls[0]?.input['errorJson'] as string)).toMatchObject({ message: 'boom', attempt: 1 });
    calls[0]?.answer(true);
    await flush();
    expect(events).toEqual(['failed x#1 retry=true', 'retrying x#1 100']);
    expect(run.state).toBe('done');
    expect(held.size).toBe(0);
  });

  it('retry refused (the lease moved on): no retrying event, the run is lost and the refusal warned about', async () => {
    const { completer, calls, events, logs, held } = setup();
    const run = runOf('x');
    held.add(run);
    completer.fail(run, new Error('boom'));
    calls[0]?.answer(false);
    await flush();
    expect(events).toEqual(['failed x#1 retry=true']);
    expect(run.state).toBe('lost');
    expect(logs).toEqual(['warn job x (j) failed after its lease was taken over; the failure was not recorded']);
  });

  it('last attempt or PermanentError: failed, then dead once recorded, releasing the lock and slot of the run', async () => {
    const { completer, calls, events } = setup();
    const last = runOf('last', 3, 3, { lock: 'L', slot: { running: 'r', ready: 'y' } });
    completer.fail(last, new Error('boom'));
    const permanent = runOf('perm', 1, 3);
    completer.fail(permanent, new PermanentError('never'));
    expect(events).toEqual(['failed last#3 retry=false', 'failed perm#1 retry=false']);
    expect(calls.map((c) => c.script)).toEqual(['dead', 'dead']);
    expect(calls[0]?.input).toMatchObject({ id: 'last', attempt: 3, maxDead: 10, fallbackEnvelope: '', lock: 'L', slot: { running: 'r', ready: 'y' } });
    expect(JSON.parse(calls[1]?.input['infoJson'] as string)).toMatchObject({ reason: 'permanent_error', attempts: 1 });
    calls[0]?.answer(true);
    calls[1]?.answer(false);
    await flush();
    expect(events).toEqual(['failed last#3 retry=false', 'failed perm#1 retry=false', 'dead last#3 attempts_exhausted']);
    expect([last.state, permanent.state]).toEqual(['done', 'lost']);
  });

  it('snooze: no event at all; rescheduled with the attempt given back and no error record', async () => {
    const { completer, calls, events } = setup();
    const run = runOf('nap', 3, 3);
    completer.fail(run, new SnoozeSignal(250));
    expect(calls).toHaveLength(1);
    expect(calls[0]?.input).toMatchObject({ fence: { id: 'nap', attempt: 3 }, delayMs: 250, giveAttemptBack: true });
    expect(calls[0]?.input['errorJson']).toBeUndefined();
    calls[0]?.answer(true);
    await flush();
    expect(events).toEqual([]);
    expect(run.state).toBe('done');
  });

  it('a record that fails in Redis is reported, its lease forgotten, and named to close() (notRecorded); every call is tracked', async () => {
    const { completer, calls, held, notRecorded, errors, tracked } = setup();
    const run = runOf('x');
    held.add(run);
    completer.fail(run, new Error('boom'));
    expect(tracked).toHaveLength(1);
    calls[0]?.fail(new Error('connection lost'));
    await flush();
    expect(held.size).toBe(0);
    expect(notRecorded).toEqual(['x']);
    expect(errors).toEqual(['recording the failure of job x: connection lost']);
  });

  it('toDead warns for the reasons a handler did not cause, and says nothing more for exhausted or permanent', async () => {
    const { completer, calls, events, logs } = setup();
    const k = queueKeys('t', 'q');
    const ref = { id: 'm', name: undefined, queue: 'q', attempt: 1, maxAttempts: undefined };
    completer.toDead(k, ref, 1, 'malformed_job', new Error('not json'), { raw: '{' });
    expect(logs).toEqual(['warn job m sent to the dead letters (malformed_job): not json']);
    expect(calls[0]?.input).toMatchObject({ id: 'm', attempt: 1, fallbackEnvelope: '{' });
    calls[0]?.answer(true);
    await flush();
    expect(events).toEqual(['dead m#1 malformed_job']);
  });
});
