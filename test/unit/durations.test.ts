/** parseDuration, toMs and describe without Redis: every accepted form, and the message for every refused one. */
import { describe, expect, it } from 'vitest';
import { describe as describeValue, groupDigits, parseDuration, toMs } from '../../src/durations.js';

describe('parseDuration', () => {
  it('takes milliseconds as a number, rounded', () => {
    expect(parseDuration(0)).toBe(0);
    expect(parseDuration(1500)).toBe(1500);
    expect(parseDuration(1.4)).toBe(1);
    expect(parseDuration(1.6)).toBe(2);
  });

  it('takes each unit', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d')).toBe(86_400_000);
  });

  it('takes combinations, fractions, surrounding spaces and plain digit strings', () => {
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1h1m1s1ms')).toBe(3_661_001);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('0.0004s')).toBe(0);
    expect(parseDuration('  2s ')).toBe(2000);
    expect(parseDuration('1500')).toBe(1500);
    expect(parseDuration('12.6')).toBe(13);
  });

  it('refuses non-finite and negative numbers, naming the value', () => {
    expect(parseDuration(Number.NaN)).toBe('must be a finite number of milliseconds, got NaN');
    expect(parseDuration(Number.POSITIVE_INFINITY)).toBe('must be a finite number of milliseconds, got Infinity');
    expect(parseDuration(-1)).toBe('must not be negative, got -1');
    expect(parseDuration('-5s')).toBe('must not be negative, got "-5s"');
  });

  it('refuses malformed strings and other types', () => {
    const bad = 'must be milliseconds or a string like "250ms", "30s", "5m", "2h", "1d", got';
    expect(parseDuration('')).toBe(`${bad} ""`);
    expect(parseDuration('5')).toBe(5);
    expect(parseDuration('5x')).toBe(`${bad} "5x"`);
    expect(parseDuration('s')).toBe(`${bad} "s"`);
    expect(parseDuration('1s junk')).toBe(`${bad} "1s junk"`);
    expect(parseDuration('junk1s')).toBe(`${bad} "junk1s"`);
    expect(parseDuration('1s1')).toBe(`${bad} "1s1"`);
    expect(parseDuration(null)).toBe('must be milliseconds or a string like "30s", got null');
    expect(parseDuration({})).toBe('must be milliseconds or a string like "30s", got an object');
    expect(parseDuration(true)).toBe('must be milliseconds or a string like "30s", got boolean true');
  });

  it('starts each parse afresh (the global pattern keeps no state between calls)', () => {
    expect(parseDuration('1s')).toBe(1000);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1m2s')).toBe(62_000);
  });
});

describe('toMs', () => {
  it('returns the milliseconds, or throws a TypeError naming what was given', () => {
    expect(toMs('2s', 'x', 'y')).toBe(2000);
    expect(() => toMs('soon', 'createWorker', 'leaseMs')).toThrow(TypeError);
    expect(() => toMs('soon', 'createWorker', 'leaseMs')).toThrow(/^createWorker: leaseMs must be milliseconds or a string/);
  });
});

describe('describe (values in error messages)', () => {
  it('is short and safe for every kind of value', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue([1])).toBe('an array');
    expect(describeValue({ a: 1 })).toBe('an object');
    expect(describeValue('abc')).toBe('"abc"');
    expect(describeValue('x'.repeat(40))).toBe(JSON.stringify('x'.repeat(40)));
    expect(describeValue('x'.repeat(41))).toBe(JSON.stringify(`${'x'.repeat(40)}…`));
    expect(describeValue(undefined)).toBe('undefined undefined');
    expect(describeValue(3)).toBe('number 3');
  });
});

describe('groupDigits (numbers in error messages, without ICU)', () => {
  it('groups an integer in threes as en-US does', () => {
    for (const n of [0, 7, 999, 1_000, 5_000, 65_536, 999_999, 1_000_000, 33_554_432, 1_234_567_890, Number.MAX_SAFE_INTEGER]) {
      expect(groupDigits(n), String(n)).toBe(n.toLocaleString('en-US'));
    }
  });
});
