/**
 * The pure parts of the operations commands, without Redis: escaping stored text for a terminal, JSON that carries
 * no terminal control, when colours are on, `--since`, the selection a bulk action needs, reading an envelope
 * without trusting it, and where the connection settings come from.
 */
import { describe, expect, it } from 'vitest';
import { checkSelection, parseSince } from '../../codegen/ops-bulk.js';
import { readEnvelope } from '../../src/admin-scan.js';
import { prefixOf, redisUrlOf } from '../../codegen/ops-context.js';
import { duration, nextPageHint, throughputOf } from '../../codegen/ops-inspect.js';
import { CliError, EXIT, colorsWanted, escapeText, relative, safeJson } from '../../codegen/ops-output.js';

describe('escapeText', () => {
  it('writes every C0, DEL, C1 and invisible or reordering Unicode control as a visible escape', () => {
    expect(escapeText('a\u001b[31mb')).toBe('a\\x1b[31mb');
    expect(escapeText('\u0007\u007f\u009b\u0085')).toBe('\\x07\\x7f\\x9b\\x85');
    expect(escapeText('x\u202ey\u2066z\u200b\ufeff')).toBe('x\\u202ey\\u2066z\\u200b\\ufeff');
    expect(escapeText('line\nnext\r\t')).toBe('line\\nnext\\r\\t');
  });

  it('keeps newlines when asked (stacks), and leaves ordinary text, accents and emoji alone', () => {
    expect(escapeText('Error: x\n    at f (a.ts:1:2)\u001b', true)).toBe('Error: x\n    at f (a.ts:1:2)\\x1b');
    expect(escapeText('Grüße 👋 日本 "q" \\')).toBe('Grüße 👋 日本 "q" \\');
  });
});

describe('safeJson', () => {
  it('is JSON of the same value with nothing a terminal acts on', () => {
    const value = { s: 'a\u001b\u009b\u202e\u2028b', n: 1 };
    const json = safeJson(value, 2);
    expect(JSON.parse(json)).toEqual(value);
    expect(json).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u202e]/);
  });
});

describe('colorsWanted', () => {
  it('only on a terminal; never with NO_COLOR; always with FORCE_COLOR (not empty, not 0)', () => {
    expect(colorsWanted({}, true)).toBe(true);
    expect(colorsWanted({}, false)).toBe(false);
    expect(colorsWanted({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorsWanted({ NO_COLOR: '' }, true)).toBe(true);
    expect(colorsWanted({ FORCE_COLOR: '1' }, false)).toBe(true);
    expect(colorsWanted({ FORCE_COLOR: '0' }, false)).toBe(false);
    expect(colorsWanted({ FORCE_COLOR: '' }, false)).toBe(false);
    expect(colorsWanted({ NO_COLOR: '1', FORCE_COLOR: '1' }, true)).toBe(false);
    expect(colorsWanted({ TERM: 'dumb' }, true)).toBe(false);
  });
});

describe('parseSince', () => {
  const now = Date.UTC(2026, 11, 2, 8, 0, 0);
  it('takes a duration back from now or an ISO time', () => {
    expect(parseSince('90s', now)).toBe(now - 90_000);
    expect(parseSince('15m', now)).toBe(now - 900_000);
    expect(parseSince('2h', now)).toBe(now - 7_200_000);
    expect(parseSince('7d', now)).toBe(now - 7 * 86_400_000);
    expect(parseSince('2026-12-01T08:00:00Z', now)).toBe(Date.UTC(2026, 11, 1, 8));
  });

  it('refuses anything else as a usage error', () => {
    for (const bad of ['yesterday', '15', '-5m', '2026-13-45']) {
      const err = (() => {
        try {
          parseSince(bad, now);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err, bad).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode).toBe(EXIT.usage);
    }
  });
});

describe('checkSelection', () => {
  it('needs ids or --all/--job/--since, not both', () => {
    expect(() => checkSelection({ ids: [], all: false }, 'dead retry')).toThrow(/name the jobs/);
    expect(() => checkSelection({ ids: ['a'], all: true }, 'dead retry')).toThrow(/not both/);
    expect(() => checkSelection({ ids: ['a'], all: false }, 'x')).not.toThrow();
    expect(() => checkSelection({ ids: [], all: false, job: 'j' }, 'x')).not.toThrow();
    expect(() => checkSelection({ ids: [], all: false, since: 1 }, 'x')).not.toThrow();
  });
});

describe('readEnvelope', () => {
  it('reads the name and enqueue time, and nothing from an unreadable or hostile entry', () => {
    expect(readEnvelope('a', '{"n":"job","t":5,"p":{}}')).toEqual({ id: 'a', name: 'job', enqueuedAt: 5 });
    expect(readEnvelope('b', 'not json')).toEqual({ id: 'b', name: undefined, enqueuedAt: undefined });
    expect(readEnvelope('c', '{"n":1,"t":"x"}')).toEqual({ id: 'c', name: undefined, enqueuedAt: undefined });
  });
});

describe('connection settings', () => {
  it('--redis, then JOBCRAFT_REDIS_URL, then REDIS_URL, then the local default; --prefix, then JOBCRAFT_PREFIX', () => {
    expect(redisUrlOf({ redis: 'redis://a' }, { JOBCRAFT_REDIS_URL: 'redis://b', REDIS_URL: 'redis://c' })).toBe('redis://a');
    expect(redisUrlOf({}, { JOBCRAFT_REDIS_URL: 'redis://b', REDIS_URL: 'redis://c' })).toBe('redis://b');
    expect(redisUrlOf({}, { REDIS_URL: 'redis://c' })).toBe('redis://c');
    expect(redisUrlOf({}, {})).toBe('redis://127.0.0.1:6379');
    expect(prefixOf({ prefix: 'p' }, { JOBCRAFT_PREFIX: 'q' })).toBe('p');
    expect(prefixOf({}, { JOBCRAFT_PREFIX: 'q' })).toBe('q');
    expect(prefixOf({}, {})).toBe('jobcraft');
  });

  it('relative times', () => {
    expect(relative(1_000, 61_000)).toBe('1m ago');
    expect(relative(10_000, 5_000)).toBe('in 5s');
  });
});

describe('stats numbers', () => {
  it('throughput: the last complete minute, and the 60 complete minutes up to it; the minute in progress left out', () => {
    const now = Date.UTC(2026, 11, 2, 8, 30, 20);
    const minute = (m: number) => Date.UTC(2026, 11, 2, 8, 30) - m * 60_000;
    const points = [75, 61, 60, 59, 2, 1, 0].map((m) => ({ at: new Date(minute(m)), processed: 10 + m, failed: m === 1 ? 3 : 0 }));
    // m = 0 is in progress; 1..60 are the hour; 61 and 75 are older.
    expect(throughputOf({ points } as never, now)).toEqual({
      processedLastMinute: 11,
      processedLastHour: 11 + 12 + 69 + 70,
      failedLastMinute: 3,
      failedLastHour: 3,
    });
    expect(throughputOf({ points: [] }, now).processedLastHour).toBe(0);
  });

  it('latency as a short duration', () => {
    expect(duration(0)).toBe('-');
    expect(duration(250)).toBe('250ms');
    expect(duration(1_500)).toBe('1.5s');
    expect(duration(180_000)).toBe('3m');
    expect(duration(5_400_000)).toBe('1.5h');
  });
});

describe('nextPageHint', () => {
  it('repeats the listing with the cursor, and the --prefix and --redis given on the command line', () => {
    expect(nextPageHint('email', { state: 'retrying', limit: 3, cursor: 's:3' }, {})).toBe('jobcraft jobs email --state retrying --limit 3 --cursor s:3');
    expect(nextPageHint('email', { state: 'dead', job: 'sendWelcomeEmail', limit: 50, cursor: 'd:50' }, { prefix: 'shop', redis: 'redis://10.0.0.5:6380/2' })).toBe(
      'jobcraft jobs email --state dead --job sendWelcomeEmail --limit 50 --cursor d:50 --redis redis://10.0.0.5:6380/2 --prefix shop',
    );
  });

  it('never repeats a password given in --redis, and quotes what a shell would split or expand', () => {
    const hint = nextPageHint('my queue', { state: 'waiting', job: "it's", limit: 5, cursor: 'w:5' }, { redis: 'redis://app:s3cret@redis.internal:6379' });
    expect(hint).not.toContain('s3cret');
    expect(hint).toBe("jobcraft jobs 'my queue' --state waiting --job 'it'\\''s' --limit 5 --cursor w:5 --redis '<url>'");
    expect(nextPageHint('q', { state: 'waiting', limit: 5, cursor: 'w:5' }, { redis: 'redis://default@h:1' })).toContain('--redis redis://default@h:1');
  });
});
