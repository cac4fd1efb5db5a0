/**
 * Slot accounting without Redis or timers (src/worker/slots.ts): capacity = concurrency + prefetch, reservations
 * never exceeding it, the weighted and strict queue orders of a worker serving several queues, the low-water mark
 * that decides when a fetch is worth making, and the automatic prefetch sized from the start rate (clock passed in).
 */
import { describe, expect, it } from 'vitest';
import { AUTO_PREFETCH_GROWTH, AUTO_PREFETCH_MAX_FACTOR, MAX_SLOTS, RATE_WINDOW_MS, Slots } from '../../src/worker/slots.js';

const slots = (over: Partial<ConstructorParameters<typeof Slots>[0]> = {}) =>
  new Slots({ concurrency: 10, prefetch: undefined, queues: ['a'], strict: false, weights: new Map(), ...over });

/** Counts `n` starts spread evenly over (from, to]. */
function starts(s: Slots, n: number, from: number, to: number): void {
  for (let i = 1; i <= n; i++) s.noteStart(from + ((to - from) * i) / n);
}

describe('capacity and reservations (one queue)', () => {
  it('holds concurrency + prefetch slots: automatic prefetch starts at concurrency, a fixed one is kept', () => {
    expect(slots().total).toBe(20);
    expect(slots({ prefetch: 3 }).total).toBe(13);
    expect(slots({ prefetch: 0 }).total).toBe(10);
  });

  it('reserves every free slot at most, counting running, buffered and reserved ones', () => {
    const s = slots();
    s.running = 4;
    expect(s.free(6)).toBe(10);
    expect(s.reserve('a', Infinity, 6, 0)).toBe(10);
    expect(s.free(6)).toBe(0);
    expect(s.hasFree(6)).toBe(false);
    expect(s.reserve('a', Infinity, 6, 0)).toBe(0);
    expect(s.reservedFor('a')).toBe(10);
  });

  it('reserves at most `max`', () => {
    const s = slots();
    expect(s.reserve('a', 3, 0, 0)).toBe(3);
    expect(s.free(0)).toBe(17);
    expect(s.reserve('a', s.batchMax(), 0, 0)).toBe(10);
  });

  it('gets its slots back on release, and a lone queue never asks the others to look again', () => {
    const s = slots();
    const n = s.reserve('a', Infinity, 0, 0);
    expect(s.release('a', n, 2)).toBe(false);
    expect(s.free(2)).toBe(18);
    expect(s.reservedFor('a')).toBe(0);
  });

  it('asks for at most half the slots per fetch (at least 1)', () => {
    expect(slots().batchMax()).toBe(10);
    expect(slots({ concurrency: 1, prefetch: 0 }).batchMax()).toBe(1);
    expect(slots({ concurrency: 3, prefetch: 0 }).batchMax()).toBe(2);
  });

  it('wants jobs only while a slot is free and the buffer is below half the prefetch', () => {
    const s = slots(); // prefetch 10: low water 5
    expect(s.wantsJobs(0)).toBe(true);
    expect(s.wantsJobs(4)).toBe(true);
    expect(s.wantsJobs(5)).toBe(false);
    s.running = 16;
    expect(s.wantsJobs(4)).toBe(false); // no slot free
    const none = slots({ prefetch: 0 }); // low water 1: fetch only with an empty buffer
    expect(none.wantsJobs(0)).toBe(true);
    expect(none.wantsJobs(1)).toBe(false);
  });

  it('lets a handler start only below concurrency', () => {
    const s = slots({ concurrency: 2 });
    expect(s.canStart()).toBe(true);
    s.running = 2;
    expect(s.canStart()).toBe(false);
  });
});

describe('weighted queue order', () => {
  const two = (weights: [string, number][] = []) => slots({ queues: ['a', 'b'], weights: new Map(weights) });

  it('gives each busy queue an equal share by default', () => {
    const s = two();
    expect(s.reserve('a', Infinity, 0, 0)).toBe(10);
    expect(s.reserve('a', Infinity, 0, 0)).toBe(0); // its share is reserved already
    expect(s.reserve('b', Infinity, 0, 0)).toBe(10);
  });

  it('gives shares in proportion to the weights (rounded up)', () => {
    const s = two([['a', 3]]);
    expect(s.reserve('a', Infinity, 0, 0)).toBe(15);
    expect(s.reserve('b', Infinity, 0, 0)).toBe(5);
  });

  it('counts the jobs a queue holds against its share', () => {
    const s = two();
    expect(s.reserve('a', Infinity, 0, 8)).toBe(2);
  });

  it('reserves nothing (and frees nothing) for a queue holding more than its share', () => {
    const s = two();
    expect(s.reserve('a', Infinity, 0, 15)).toBe(0);
    expect(s.free(0)).toBe(20);
    expect(s.reservedFor('a')).toBe(0);
  });

  it('reserves nothing when the slots are over-full (the automatic prefetch shrank under them)', () => {
    const s = slots();
    s.running = 25;
    expect(s.free(0)).toBe(-5);
    expect(s.reserve('a', Infinity, 0, 0)).toBe(0);
    expect(s.free(0)).toBe(-5);
  });

  it('lets a queue take every free slot while the others are idle', () => {
    const s = two();
    s.setIdle('b', true);
    expect(s.isIdle('b')).toBe(true);
    expect(s.reserve('a', Infinity, 0, 0)).toBe(20);
    s.setIdle('b', false);
    expect(s.isIdle('b')).toBe(false);
  });

  it('keeps a queue that looks idle itself (its fetch parked behind the blocking read) to its share', () => {
    const s = two();
    s.setIdle('a', true);
    expect(s.reserve('a', Infinity, 0, 0)).toBe(10);
  });

  it('does not limit the only busy queue by what it holds (jobs whose completion is being recorded)', () => {
    const s = two();
    s.setIdle('b', true);
    expect(s.reserve('a', Infinity, 0, 5)).toBe(20);
  });

  it('never gives a busy queue less than one slot while slots are free', () => {
    const s = slots({ concurrency: 1, prefetch: 0, queues: ['a', 'b', 'c'], weights: new Map([['a', 100]]) });
    expect(s.reserve('b', Infinity, 0, 0)).toBe(1);
  });

  it('asks the other queues to look again when a fetch left reserved slots unfilled', () => {
    const s = two();
    const n = s.reserve('a', Infinity, 0, 0);
    expect(s.release('a', n, n)).toBe(false);
    const m = s.reserve('a', Infinity, 0, n);
    expect(m).toBe(0);
    const k = s.reserve('b', Infinity, 0, 0);
    expect(s.release('b', k, k - 1)).toBe(true);
  });
});

describe('strict queue order', () => {
  const strict = () => slots({ queues: ['a', 'b', 'c'], strict: true });

  it('serves a queue only while every queue before it is idle', () => {
    const s = strict();
    expect(s.reserve('b', Infinity, 0, 0)).toBe(0);
    expect(s.reserve('c', Infinity, 0, 0)).toBe(0);
    s.setIdle('a', true);
    expect(s.reserve('c', Infinity, 0, 0)).toBe(0); // b is not idle
    expect(s.reserve('b', 4, 0, 0)).toBe(4);
    s.setIdle('b', true);
    expect(s.reserve('c', Infinity, 0, 0)).toBe(16);
  });

  it('always serves the first queue, with every free slot (no shares)', () => {
    const s = strict();
    expect(s.reserve('a', Infinity, 0, 0)).toBe(20);
  });
});

describe('automatic prefetch', () => {
  it('grows to the jobs started in 5 ms, measured over 25 ms windows', () => {
    const s = slots();
    starts(s, 100, 0, RATE_WINDOW_MS); // 4 jobs/ms → 20 in 5 ms
    expect(s.total).toBe(10 + 20);
    expect(s.wantsJobs(9)).toBe(true); // low water is now half of 20
    expect(s.wantsJobs(10)).toBe(false);
  });

  it('measures each window from the end of the last one', () => {
    const s = slots();
    starts(s, 100, 0, RATE_WINDOW_MS);
    starts(s, 160, RATE_WINDOW_MS, 2 * RATE_WINDOW_MS); // 6.4 jobs/ms → 32 in 5 ms
    expect(s.total).toBe(10 + 32);
  });

  it('does not resize before a window has passed', () => {
    const s = slots();
    starts(s, 100, 0, RATE_WINDOW_MS - 1);
    expect(s.total).toBe(20);
  });

  it('stays between concurrency and 4 × concurrency', () => {
    const fast = slots();
    starts(fast, 10_000, 0, RATE_WINDOW_MS);
    expect(fast.total).toBe(10 + AUTO_PREFETCH_MAX_FACTOR * 10);
    const slow = slots();
    starts(slow, 100, 0, RATE_WINDOW_MS); // grow first
    starts(slow, 1, RATE_WINDOW_MS, 1_000);
    expect(slow.total).toBe(20);
  });

  it('keeps concurrency + prefetch within MAX_SLOTS', () => {
    const s = slots({ concurrency: 2_000 });
    starts(s, 1_000_000, 0, RATE_WINDOW_MS);
    expect(s.total).toBe(MAX_SLOTS);
  });

  it('starts again from concurrency once every queue is idle, not before', () => {
    const s = slots({ queues: ['a', 'b'] });
    starts(s, 100, 0, RATE_WINDOW_MS);
    expect(s.total).toBe(30);
    s.setIdle('a', true);
    s.drained(30);
    expect(s.total).toBe(30); // b still busy
    s.setIdle('b', true);
    s.drained(30);
    expect(s.total).toBe(20);
    // The rate is measured afresh from the drain: 100 starts in the next 10 ms do not resize yet.
    starts(s, 100, 30, 40);
    expect(s.total).toBe(20);
  });

  it('is off with a fixed prefetch: neither starts nor drains resize it', () => {
    const s = slots({ prefetch: 2 });
    starts(s, 10_000, 0, RATE_WINDOW_MS);
    expect(s.total).toBe(12);
    s.setIdle('a', true);
    s.drained(100);
    expect(s.total).toBe(12);
  });
});

/**
 * The fetch loop's chain for jobs faster than Redis: each call's answer comes back full to a worker that ran out of
 * jobs meanwhile, so the next call is reserved before the answer is taken in (docs/configuration.md, `prefetch`);
 * the answer's jobs then all start at once and end before the next answer, `rttMs` later. With the default round
 * trip of 25 ms the start rate alone says "stay at concurrency" (at most 25 jobs per 25 ms, 5 in 5 ms): a worker
 * whose Redis answers slowly (a fleet sharing one Redis, a busy machine). Returns the jobs each call asked for.
 */
function fetchChain(s: Slots, calls: number, opts: { from?: number; rttMs?: number } = {}): number[] {
  const { from = 0, rttMs = RATE_WINDOW_MS } = opts;
  const asked: number[] = [];
  let now = from;
  let out = s.reserve('a', s.batchMax(), 0, 0); // the first call: nothing has started yet
  asked.push(out);
  for (let i = 1; i < calls; i++) {
    now += rttMs;
    const next = s.reserve('a', s.batchMax(), 0, 0); // answer full, buffer empty: the next call goes first
    asked.push(next);
    s.release('a', out, out);
    for (let j = 0; j < out; j++) {
      s.running++;
      s.noteStart(now);
    }
    s.running -= out; // all ended before the next answer
    out = next;
  }
  return asked;
}

describe('automatic prefetch of a worker that runs dry while Redis answers', () => {
  it('grows (×2 per rate window) when its jobs end before its fetches return, although its start rate is low', () => {
    const s = slots();
    // 10 starts per 25 ms: the rate alone says 2 jobs in 5 ms, i.e. stay at concurrency (10).
    const asked = fetchChain(s, 40);
    expect(AUTO_PREFETCH_GROWTH).toBe(2);
    expect(s.total).toBe(10 + AUTO_PREFETCH_MAX_FACTOR * 10);
    // Calls grew with it: half the slots each, as before, of a larger capacity.
    expect(asked[0]).toBe(10);
    expect(Math.max(...asked)).toBe(25);
  });

  it('grows step by step: one doubling per window that ran dry', () => {
    const s = slots();
    const asked = fetchChain(s, 4); // answers at 25, 50 and 75 ms
    // 25 ms: the first answer (nothing had started before it: no sign yet). 50 ms: the jobs of the first answer had
    // ended when the second came: ran dry, ×2 (prefetch 20). 75 ms: again, ×2 (40 = 4 × concurrency, the cap).
    expect(asked).toEqual([10, 10, 10, 15]);
    expect(s.total).toBe(50);
  });

  it('does not grow at start-up: waiting for the first answer is no sign of short jobs', () => {
    const s = slots();
    const first = s.reserve('a', s.batchMax(), 0, 0);
    expect(s.reserve('a', s.batchMax(), 0, 0)).toBe(10); // nothing started since the first was reserved
    s.release('a', first, first);
    starts(s, 2, RATE_WINDOW_MS, 2 * RATE_WINDOW_MS); // a window ends: the rate says concurrency
    expect(s.total).toBe(20);
  });

  it('does not grow while the buffer still holds jobs, or while every slot runs a job (long jobs)', () => {
    const buffered = slots();
    const a = buffered.reserve('a', buffered.batchMax(), 0, 0);
    starts(buffered, 1, 0, 1);
    buffered.reserve('a', buffered.batchMax(), 3, 0); // 3 jobs still buffered when the answer came
    buffered.release('a', a, a);
    starts(buffered, 2, RATE_WINDOW_MS, 2 * RATE_WINDOW_MS);
    expect(buffered.total).toBe(20);

    const busy = slots();
    const b = busy.reserve('a', busy.batchMax(), 0, 0);
    starts(busy, 1, 0, 1);
    busy.running = 10; // every slot runs a job: none idle for lack of one
    busy.reserve('a', busy.batchMax(), 0, 0);
    busy.release('a', b, b);
    starts(busy, 2, RATE_WINDOW_MS, 2 * RATE_WINDOW_MS);
    expect(busy.total).toBe(20);
  });

  it('does not count another queue\'s fetch as this one running dry', () => {
    const s = slots({ queues: ['a', 'b'] });
    s.setIdle('b', true);
    s.reserve('a', 5, 0, 0);
    starts(s, 1, 0, 1);
    s.reserve('b', 5, 0, 0); // b's first call while a's is out
    starts(s, 2, RATE_WINDOW_MS, 2 * RATE_WINDOW_MS);
    expect(s.total).toBe(20);
  });

  it('shrinks back to what the start rate says after a window that did not run dry', () => {
    const s = slots();
    const asked = fetchChain(s, 40);
    expect(s.total).toBe(50);
    for (const n of asked.slice(-1)) s.release('a', n, n);
    // Jobs turn long: they start slowly and the buffer never runs dry.
    starts(s, 3, 10_000, 10_000 + 3 * RATE_WINDOW_MS);
    expect(s.total).toBe(20);
  });

  it('starts again from concurrency when every queue is idle', () => {
    const s = slots();
    fetchChain(s, 40);
    expect(s.total).toBe(50);
    s.setIdle('a', true);
    s.drained(10_000);
    expect(s.total).toBe(20);
  });

  it('never grows a fixed prefetch', () => {
    const s = slots({ prefetch: 3 });
    fetchChain(s, 40);
    expect(s.total).toBe(13);
  });

  it('never grows past 4 × concurrency, nor past MAX_SLOTS', () => {
    const s = slots({ concurrency: 3 });
    fetchChain(s, 200);
    expect(s.total).toBe(3 + AUTO_PREFETCH_MAX_FACTOR * 3);
    const big = slots({ concurrency: 2_000 });
    fetchChain(big, 40);
    expect(big.total).toBe(MAX_SLOTS);
  });
});
