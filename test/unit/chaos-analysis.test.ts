/**
 * The chaos run's partition phase must fail when the partition hit no running work: nothing in flight when it began,
 * or nothing in flight that was stopped by its signal and taken over elsewhere (an ordinary retry does not count).
 */
import { describe, expect, it } from 'vitest';
import { analyse, type ChaosEvidence } from '../../scripts/chaos/analysis.js';
import type { ChaosJobName, ExecutionRecord } from '../../scripts/chaos/jobs.js';

const TYPE: ChaosJobName = 'resizeImage';
const PARTITIONED = 1;
const OTHER = 2;
const rec = (kind: ExecutionRecord['kind'], id: string, attempt: number, at: number, pid: number): ExecutionRecord => ({ kind, id, attempt, at, pid });

/** Evidence of jobs that all completed, with one partition of worker 1 from 10 000 to 15 000 (lease 2 000). */
function evidence(records: ExecutionRecord[]): ChaosEvidence {
  const ids = [...new Set(records.map((r) => r.id))];
  const completed = new Map<string, string>();
  for (const r of records) if (r.kind === 'O') completed.set(r.id, `${r.attempt}|${r.at}`);
  return {
    leaseMs: 2_000,
    enqueued: new Map(ids.map((id) => [id, TYPE])),
    records,
    completed,
    dead: new Map(),
    kills: [],
    outages: [],
    partitions: [{ pid: PARTITIONED, start: 10_000, end: 15_000 }],
    leftovers: {},
    gracefulExits: [],
    unexpectedExits: [],
  };
}
const partitionProblems = (e: ChaosEvidence): string[] => analyse(e).problems.filter((p) => p.includes('partition'));

describe('chaos analysis: the partition phase', () => {
  it('passes when a run in flight at the hold was stopped by its signal and taken over during it', () => {
    const e = evidence([rec('S', 'j1', 1, 9_000, PARTITIONED), rec('A', 'j1', 1, 11_600, PARTITIONED), rec('S', 'j1', 1, 13_000, OTHER), rec('O', 'j1', 1, 13_500, OTHER)]);
    expect(partitionProblems(e)).toEqual([]);
    expect(analyse(e).partitions[0]).toMatchObject({ inFlight: 1, aborted: 1, takenOver: 1 });
  });

  it('fails when nothing was in flight when the partition began, even if an earlier job is retried elsewhere during it', () => {
    // j1 failed on the partitioned worker before the hold; its ordinary retry runs on another worker during it.
    const e = evidence([rec('S', 'j1', 1, 8_000, PARTITIONED), rec('F', 'j1', 1, 9_000, PARTITIONED), rec('S', 'j1', 2, 12_000, OTHER), rec('O', 'j1', 2, 12_500, OTHER)]);
    expect(partitionProblems(e)).toEqual([`the partition of worker ${PARTITIONED} hit no running work: no handler run was in flight when it began`]);
    expect(analyse(e).partitions[0]?.takenOver).toBe(0);
  });

  it('fails when the runs in flight were not stopped and taken over during it', () => {
    // j1 runs through the partition and ends after it on the same worker: the partition hit it, nothing was given up.
    const e = evidence([rec('S', 'j1', 1, 9_000, PARTITIONED), rec('O', 'j1', 1, 16_000, PARTITIONED)]);
    expect(partitionProblems(e)).toEqual([
      `the partition of worker ${PARTITIONED} proved nothing: none of the 1 run(s) in flight when it began was stopped by its signal and started by another worker during it`,
    ]);
  });
});
