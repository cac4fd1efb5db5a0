/**
 * The completer's decision without Redis (src/worker/completer.ts decideFailure): what becomes of a failed attempt
 * given its error, its attempt number, the attempts allowed and the job's backoff.
 */
import { describe, expect, it } from 'vitest';
import { PermanentError, SnoozeSignal, TimeoutError } from '../../src/errors.js';
import { decideFailure } from '../../src/worker/completer.js';

const backoff = { type: 'exponential' as const, delayMs: 1_000, maxDelayMs: 60_000, jitter: 0 };

describe('decideFailure', () => {
  it('retries an ordinary failure before the last attempt, after the backoff of the failed attempt', () => {
    expect(decideFailure(new Error('boom'), 1, 3, backoff)).toEqual({ kind: 'retry', delayMs: 1_000 });
    expect(decideFailure(new Error('boom'), 2, 3, backoff)).toEqual({ kind: 'retry', delayMs: 2_000 });
    expect(decideFailure('a thrown string', 1, 2, backoff)).toEqual({ kind: 'retry', delayMs: 1_000 });
    expect(decideFailure(new TimeoutError('j', 5), 1, 2, backoff)).toEqual({ kind: 'retry', delayMs: 1_000 });
  });

  it('passes the random source to the backoff jitter', () => {
    const jittered = { ...backoff, jitter: 0.5 };
    expect(decideFailure(new Error('boom'), 1, 3, jittered, () => 1)).toEqual({ kind: 'retry', delayMs: 500 });
    expect(decideFailure(new Error('boom'), 1, 3, jittered, () => 0)).toEqual({ kind: 'retry', delayMs: 1_000 });
  });

  it('sends the last attempt to the dead letters (attempts_exhausted), and an attempt past it', () => {
    expect(decideFailure(new Error('boom'), 3, 3, backoff)).toEqual({ kind: 'dead', reason: 'attempts_exhausted' });
    expect(decideFailure(new Error('boom'), 1, 1, backoff)).toEqual({ kind: 'dead', reason: 'attempts_exhausted' });
    expect(decideFailure(new Error('boom'), 4, 3, backoff)).toEqual({ kind: 'dead', reason: 'attempts_exhausted' });
  });

  it('sends a PermanentError to the dead letters at once (permanent_error), attempts left or not', () => {
    expect(decideFailure(new PermanentError('no'), 1, 5, backoff)).toEqual({ kind: 'dead', reason: 'permanent_error' });
    expect(decideFailure(new PermanentError('no'), 5, 5, backoff)).toEqual({ kind: 'dead', reason: 'permanent_error' });
  });

  it('snoozes for the asked delay, even on the last attempt (a snooze spends none)', () => {
    expect(decideFailure(new SnoozeSignal(250), 1, 3, backoff)).toEqual({ kind: 'snooze', delayMs: 250 });
    expect(decideFailure(new SnoozeSignal(0), 3, 3, backoff)).toEqual({ kind: 'snooze', delayMs: 0 });
  });
});
