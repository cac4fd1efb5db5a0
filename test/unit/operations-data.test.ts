/** The pure parts of the operations data: history aggregation and buckets, cursors, envelope heads, bucket parsing. */
import { describe, expect, it } from 'vitest';
import { queueKeys } from '../../src/keys.js';
import { ackHistory, bucketOf, failureHistory, historyKeys, HOUR_KEEP_MS, HOUR_MS, MINUTE_KEEP_MS, MINUTE_MS, Tally } from '../../src/worker/history.js';
import { bucketStarts, countsOf, decodeCursor, encodeCursor, envelopeHead, parseBucket, MAX_HISTORY_BUCKETS } from '../../src/inspect.js';
import { entryJson } from '../../src/worker/heartbeat.js';
import { WORKER_RUNNING_LISTED } from '../../src/inspect-types.js';

const k = queueKeys('jc', 'q');
const T = Date.UTC(2026, 11, 2, 10, 37, 12, 345);

describe('history aggregation', () => {
  it('puts durations in the fixed buckets (bounds inclusive)', () => {
    expect([0, 10, 11, 100, 101, 1_000, 10_000, 60_000, 60_001].map(bucketOf)).toEqual([0, 0, 1, 1, 2, 2, 3, 4, 5]);
  });

  it('names the minute and hour buckets by their start and keeps them 48 h and 90 days past their end', () => {
    const h = historyKeys(k, T);
    const minute = T - (T % MINUTE_MS);
    const hour = T - (T % HOUR_MS);
    expect(h.minute).toBe(`jc:{q}:history:m:${minute}`);
    expect(h.hour).toBe(`jc:{q}:history:h:${hour}`);
    expect(T + h.minuteTtlMs).toBe(minute + MINUTE_MS + MINUTE_KEEP_MS);
    expect(T + h.hourTtlMs).toBe(hour + HOUR_MS + HOUR_KEEP_MS);
  });

  it('sums a batch of acknowledged runs per job type: one counter each, not one per job', () => {
    const start = 1_000;
    const run = (name: string, ms: number, waited: number) => ({
      job: { name },
      envelope: { t: performance.timeOrigin + start - waited },
      startedAt: start,
      endedAt: start + ms,
    });
    const h = ackHistory(k, [run('a', 5, 50), run('a', 7, 2_000), run('b', 500, 0), { job: { name: 'a' }, envelope: { t: 0 }, startedAt: 0 }], T);
    const counts = Object.fromEntries(chunk(h?.counts ?? []));
    expect(counts).toEqual({ 'a|p': 3, 'a|rts': 12, 'a|rt0': 2, 'a|wts': 2_050, 'a|wt1': 1, 'a|wt3': 1, 'b|p': 1, 'b|rts': 500, 'b|rt2': 1, 'b|wt0': 1 });
    expect(ackHistory(k, [], T)).toBeUndefined();
  });

  it('counts a failed attempt with its outcome, and a job that never ran only as dead (unknown names as ?)', () => {
    const run = { job: { name: 'a' }, envelope: { t: 0 }, startedAt: 10, endedAt: 30 };
    expect(Object.fromEntries(chunk(failureHistory(k, 'retry', 'a', run, T).counts))).toEqual({ 'a|f': 1, 'a|rts': 20, 'a|rt1': 1, 'a|r': 1 });
    expect(Object.fromEntries(chunk(failureHistory(k, 'dead', 'a', run, T).counts))).toEqual({ 'a|f': 1, 'a|rts': 20, 'a|rt1': 1, 'a|d': 1 });
    expect(Object.fromEntries(chunk(failureHistory(k, 'dead', undefined, undefined, T).counts))).toEqual({ '?|d': 1 });
    expect(Object.fromEntries(chunk(failureHistory(k, 'dead', 'bad|name', undefined, T).counts))).toEqual({ '?|d': 1 });
    // A recovered attempt (never started here) counts as failed, without a run time.
    expect(Object.fromEntries(chunk(failureHistory(k, 'retry', 'a', { ...run, startedAt: 0 }, T).counts))).toEqual({ 'a|f': 1, 'a|r': 1 });
  });

  it('a tally drops zero increments', () => {
    const t = new Tally();
    t.add('x|p', 0);
    t.add('x|p', 2);
    expect(t.flat()).toEqual(['x|p', 2]);
  });
});

describe('reading the history back', () => {
  it('parses bucket fields per job type and turns them into counts with duration summaries', () => {
    const byJob = parseBucket({ 'a|p': '3', 'a|rts': '12', 'a|rt0': '2', 'a|rt1': '1', 'a|wt5': '3', 'a|wts': '999999', 'b|d': '1', junk: '5' });
    expect([...byJob.keys()]).toEqual(['a', 'b']);
    const a = countsOf(byJob.get('a') ?? {});
    expect(a).toMatchObject({ processed: 3, failed: 0, retried: 0, dead: 0 });
    expect(a.runTime).toEqual({ count: 3, sumMs: 12, buckets: [2, 1, 0, 0, 0, 0] });
    expect(a.waitTime).toEqual({ count: 3, sumMs: 999_999, buckets: [0, 0, 0, 0, 0, 3] });
    expect(countsOf(byJob.get('b') ?? {}).dead).toBe(1);
  });

  it('lists bucket starts from and to, rounded down, and refuses too many', () => {
    expect(bucketStarts(T - 2 * MINUTE_MS, T, MINUTE_MS)).toEqual([0, 1, 2].map((i) => T - (T % MINUTE_MS) - (2 - i) * MINUTE_MS));
    expect(bucketStarts(T, T - HOUR_MS, MINUTE_MS)).toEqual([]);
    expect(() => bucketStarts(0, MINUTE_MS * MAX_HISTORY_BUCKETS, MINUTE_MS)).toThrow(/at most/);
  });
});

describe('listings', () => {
  it('cursors round-trip, and a cursor this API did not make is refused', () => {
    for (const c of [{ source: 'w', offset: 0 }, { source: 'tsend.email', offset: 40 }, { source: 's', offset: 1_000_000 }]) {
      expect(decodeCursor(encodeCursor(c))).toEqual(c);
    }
    for (const bad of ['', 'w', 'w:-1', 'w:1.5', 'w:x']) expect(() => decodeCursor(bad)).toThrow(/cursor/);
  });

  it('reads the name and enqueue time at the head of an envelope without parsing the payload', () => {
    expect(envelopeHead('{"n":"sendEmail","t":1764300000000,"p":{"big":"…"}}')).toEqual({ name: 'sendEmail', t: 1764300000000 });
    expect(envelopeHead('not json')).toEqual({ name: undefined, t: undefined });
    expect(envelopeHead(null)).toEqual({ name: undefined, t: undefined });
  });
});

describe('the heartbeat entry', () => {
  it('lists at most the first running jobs, counts them all, and leaves lastBeatAt to Redis', () => {
    const listed = Array.from({ length: WORKER_RUNNING_LISTED + 5 }, (_, i) => ({ id: `q#${i}`, queue: 'q', name: 'a', startedAt: i }));
    const e = JSON.parse(entryJson('w1', { name: undefined, queues: ['q'], concurrency: 7 }, 123, { listed, count: 205 })) as Record<string, unknown>;
    expect(e).toMatchObject({ id: 'w1', pid: process.pid, queues: ['q'], concurrency: 7, runningCount: 205, startedAt: 123, lastBeatAt: 0 });
    expect((e['running'] as unknown[]).length).toBe(WORKER_RUNNING_LISTED);
    expect(e['name']).toBe(`${String(e['host'])}:${process.pid}`);
    // heartbeat.lua replaces the 0 at the very end of the text.
    expect(entryJson('w1', { name: '"lastBeatAt":0}', queues: [], concurrency: 1 }, 1, { listed: [], count: 0 })).toMatch(/"lastBeatAt":0\}$/);
  });
});

function chunk(flat: readonly (string | number)[]): [string, number][] {
  const out: [string, number][] = [];
  for (let i = 0; i < flat.length; i += 2) out.push([String(flat[i]), Number(flat[i + 1])]);
  return out;
}

describe('a queue registry entry read back', () => {
  it('keeps only job names as throttled types, and at most MAX_THROTTLED_LISTED of them', async () => {
    const { parseQueueEntry, MAX_THROTTLED_LISTED } = await import('../../src/registry.js');
    expect(parseQueueEntry('{"throttled":["ok","evil\\u001b[2J","", "a:b", 7, "also.ok"]}').throttled).toEqual(['ok', 'also.ok']);
    // Each throttled type costs stats.lua a ZCARD: an entry written by someone else may not make that unbounded.
    const many = Array.from({ length: 100_000 }, (_, i) => `t${i}`);
    expect(parseQueueEntry(JSON.stringify({ throttled: many })).throttled).toHaveLength(MAX_THROTTLED_LISTED);
  });
});
