/**
 * The history counters (docs/operations.md, "Data"): what a worker adds to its queues' minute and hour buckets. Pure:
 * the completer and the fetch loop hand the result to the scripts, which add it in the call they make anyway (the
 * acknowledging fetch, reschedule, dead), so the history costs no round trip of its own.
 *
 * Fields of a bucket hash are `<job>|<counter>`; a job name never holds `|`, and `?` (not a job name either) stands
 * for an unreadable job. Counters:
 * - `p` processed (attempts that succeeded), `f` failed attempts, `r` retried, `d` dead-lettered;
 * - `rts` run-time sum (ms) and `rt0`…`rt5` run-time buckets (≤ 10 ms, ≤ 100 ms, ≤ 1 s, ≤ 10 s, ≤ 60 s, above),
 *   for attempts that succeeded or failed with a known start; their count is the buckets' sum;
 * - `wts` wait-time sum (ms) and `wt0`…`wt5` wait-time buckets, for attempts that succeeded (start − enqueue time).
 */
import type { QueueKeys } from '../keys.js';
import type { HistoryWrite } from '../scripts.js';
import { HISTORY_BUCKETS_MS } from '../inspect-types.js';
import { JOB_NAME_PATTERN } from '../define.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
/** Minute buckets live this long after their start… */
export const MINUTE_KEEP_MS = 48 * HOUR_MS;
/** …and hour buckets this long. */
export const HOUR_KEEP_MS = 90 * 24 * HOUR_MS;

/** The index of the histogram bucket of `ms` (see HISTORY_BUCKETS_MS). */
export function bucketOf(ms: number): number {
  const bounds = HISTORY_BUCKETS_MS;
  for (let i = 0; i < bounds.length; i++) if (ms <= (bounds[i] as number)) return i;
  return bounds.length;
}

/** The bucket keys of `queue` for wall-clock time `now` (ms). */
export function historyKeys(k: Pick<QueueKeys, 'historyPrefix'>, now: number): Omit<HistoryWrite, 'counts'> {
  const minute = now - (now % MINUTE_MS);
  const hour = now - (now % HOUR_MS);
  return {
    minute: `${k.historyPrefix}m:${minute}`,
    hour: `${k.historyPrefix}h:${hour}`,
    // Kept for their span after the bucket ends (PEXPIRE from now: the bucket's own clock is the worker's).
    minuteTtlMs: minute + MINUTE_MS + MINUTE_KEEP_MS - now,
    hourTtlMs: hour + HOUR_MS + HOUR_KEEP_MS - now,
  };
}

/** Counters summed by field, in insertion order: one failed attempt's fields (failureHistory). */
export class Tally {
  private readonly sums = new Map<string, number>();

  add(field: string, by: number): void {
    if (by === 0) return;
    this.sums.set(field, (this.sums.get(field) ?? 0) + by);
  }

  /** A run time (ms) under `job`: its sum and bucket. */
  runTime(job: string, ms: number): void {
    const v = Math.max(0, Math.round(ms));
    this.add(`${job}|rts`, v);
    this.add(`${job}|rt${bucketOf(v)}`, 1);
  }

  /** Alternating field and increment, as the scripts take them. */
  flat(): (string | number)[] {
    const out: (string | number)[] = [];
    for (const [f, n] of this.sums) out.push(f, n);
    return out;
  }
}

/** What the history needs of a finished run (a JobRun fits). */
export interface RunTimes {
  readonly job: { readonly name: string };
  readonly envelope: { readonly t: number };
  /** When its handler started (performance.now() time); 0 when it never started here (a recovered job). */
  readonly startedAt: number;
  /** When its handler ended (performance.now() time). */
  readonly endedAt?: number | undefined;
}

/** One job type's sums within a call (numbers only: the field names are built once per type, not per run). */
interface TypeSums {
  processed: number;
  runSum: number;
  waitSum: number;
  readonly runBuckets: number[];
  readonly waitBuckets: number[];
}

const BUCKETS = HISTORY_BUCKETS_MS.length + 1;

/**
 * The history of acknowledged runs, for the fetch call that carries them: per job type processed, run time and wait
 * time. Per run only numbers are added (a map lookup by job name, two bucket indexes); the fields are written once
 * per job type. `now`: wall-clock ms (the bucket). Undefined for no runs.
 */
export function ackHistory(k: Pick<QueueKeys, 'historyPrefix'>, runs: readonly RunTimes[], now = Date.now()): HistoryWrite | undefined {
  if (runs.length === 0) return undefined;
  const byType = new Map<string, TypeSums>();
  const origin = performance.timeOrigin;
  for (const run of runs) {
    const name = run.job.name;
    let t = byType.get(name);
    if (t === undefined) {
      t = { processed: 0, runSum: 0, waitSum: 0, runBuckets: new Array<number>(BUCKETS).fill(0), waitBuckets: new Array<number>(BUCKETS).fill(0) };
      byType.set(name, t);
    }
    t.processed++;
    const started = run.startedAt;
    if (started > 0) {
      const ended = run.endedAt;
      if (ended !== undefined && ended > 0) {
        const ms = ended > started ? Math.round(ended - started) : 0;
        t.runSum += ms;
        (t.runBuckets[bucketOf(ms)] as number)++;
      }
      const waited = origin + started - run.envelope.t;
      const w = waited > 0 ? Math.round(waited) : 0;
      t.waitSum += w;
      (t.waitBuckets[bucketOf(w)] as number)++;
    }
  }
  const counts: (string | number)[] = [];
  for (const [name, t] of byType) {
    counts.push(`${name}|p`, t.processed);
    if (t.runSum > 0) counts.push(`${name}|rts`, t.runSum);
    for (let i = 0; i < BUCKETS; i++) if ((t.runBuckets[i] as number) > 0) counts.push(`${name}|rt${i}`, t.runBuckets[i] as number);
    if (t.waitSum > 0) counts.push(`${name}|wts`, t.waitSum);
    for (let i = 0; i < BUCKETS; i++) if ((t.waitBuckets[i] as number) > 0) counts.push(`${name}|wt${i}`, t.waitBuckets[i] as number);
  }
  return { ...historyKeys(k, now), counts };
}

/**
 * The history of one failed attempt (`retry` or `dead`), or of a job dead-lettered without running (`run`
 * undefined: `job` names it, `?` when unreadable).
 */
export function failureHistory(
  k: Pick<QueueKeys, 'historyPrefix'>,
  outcome: 'retry' | 'dead',
  job: string | undefined,
  run?: RunTimes,
  now = Date.now(),
): HistoryWrite {
  const name = job !== undefined && JOB_NAME_PATTERN.test(job) ? job : '?';
  const t = new Tally();
  if (run !== undefined) {
    t.add(`${name}|f`, 1);
    if (run.startedAt > 0 && run.endedAt !== undefined && run.endedAt > 0) t.runTime(name, run.endedAt - run.startedAt);
  }
  t.add(`${name}|${outcome === 'retry' ? 'r' : 'd'}`, 1);
  return { ...historyKeys(k, now), counts: t.flat() };
}
