/**
 * retryDelay without Redis: exponential and fixed growth, the cap, and the jitter (up to its fraction taken off at
 * random), with the random source pinned.
 */
import { describe, expect, it } from 'vitest';
import { retryDelay } from '../../src/backoff.js';

const exp = { type: 'exponential' as const, delayMs: 1000, maxDelayMs: 10_000, jitter: 0 };

describe('retryDelay', () => {
  it('doubles per failed attempt from the base delay, starting at attempt 1', () => {
    expect([1, 2, 3, 4].map((a) => retryDelay(exp, a))).toEqual([1000, 2000, 4000, 8000]);
  });

  it('treats an attempt below 1 as the first', () => {
    expect(retryDelay(exp, 0)).toBe(1000);
    expect(retryDelay(exp, -3)).toBe(1000);
  });

  it('caps every delay at maxDelay', () => {
    expect(retryDelay(exp, 5)).toBe(10_000);
    expect(retryDelay(exp, 50)).toBe(10_000);
    expect(retryDelay({ ...exp, maxDelayMs: 1000 }, 1)).toBe(1000);
  });

  it('waits the same delay every time when fixed (also capped)', () => {
    const fixed = { ...exp, type: 'fixed' as const };
    expect([1, 2, 7].map((a) => retryDelay(fixed, a))).toEqual([1000, 1000, 1000]);
    expect(retryDelay({ ...fixed, delayMs: 5000, maxDelayMs: 3000 }, 1)).toBe(3000);
  });

  it('takes up to the jitter fraction off, scaled by the random draw, after the cap', () => {
    const j = { ...exp, jitter: 0.2 };
    expect(retryDelay(j, 1, () => 0)).toBe(1000);
    expect(retryDelay(j, 1, () => 1)).toBe(800);
    expect(retryDelay(j, 1, () => 0.5)).toBe(900);
    expect(retryDelay(j, 3, () => 1)).toBe(3200);
    expect(retryDelay(j, 9, () => 1)).toBe(8000); // 20 % off the 10 s cap
    expect(retryDelay({ ...exp, jitter: 1 }, 1, () => 1)).toBe(0);
  });

  it('rounds to whole milliseconds', () => {
    expect(retryDelay({ ...exp, delayMs: 3, jitter: 0.5 }, 1, () => 0.5)).toBe(2); // 2.25
    expect(retryDelay({ ...exp, delayMs: 5, jitter: 0.3 }, 1, () => 1)).toBe(4); // 3.5
  });

  it('uses Math.random by default, within the jitter range', () => {
    const seen = new Set<number>();
    for (let i = 0; i < 50; i++) {
      const d = retryDelay({ ...exp, jitter: 0.5 }, 1);
      expect(d).toBeGreaterThanOrEqual(500);
      expect(d).toBeLessThanOrEqual(1000);
      seen.add(d);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});
