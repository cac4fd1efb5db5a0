import { describe, expect, it } from 'vitest';
import { round } from '../bench/common.js';
import { runBench, toJson } from '../bench/run.js';

// A smoke test of the benchmark harness: tiny versions of two workloads, jobcraft only. It checks that they complete
// and report the JSON shape of issue 6; it never asserts a speed (speed is measured by `npm run bench`).
describe('benchmark harness', () => {
  it('runs tiny noop-c50 and enqueue-single and reports them in the JSON shape', async () => {
    const report = await runBench({
      quick: true,
      scale: 0.01,
      reps: 1,
      libs: ['jobcraft'],
      only: ['noop-c50', 'enqueue-single', 'worker-rss-mb'],
      progress: null,
    });
    expect(report.errors).toEqual([]);
    const json = JSON.parse(toJson(report)) as { workloads: Record<string, unknown>[] };
    expect(json.workloads.map((w) => w.name)).toEqual(['noop-c50', 'enqueue-single', 'worker-rss-mb']);
    for (const w of json.workloads) {
      expect(Object.keys(w)).toEqual(expect.arrayContaining(['name', 'unit', 'jobcraft', 'bullmq', 'ratio']));
      expect(typeof w.jobcraft).toBe('number');
      expect(w.jobcraft as number).toBeGreaterThan(0);
      expect(w.bullmq).toBeNull();
      expect(w.ratio).toBeNull();
    }
    expect(json.workloads.map((w) => w.unit)).toEqual(['jobs/s', 'jobs/s', 'MB']);
  }, 90_000);

  it('runs a tiny result-roundtrip-p99 (enqueue → result received) and reports it in the same shape, in ms', async () => {
    const report = await runBench({ quick: true, scale: 0.01, reps: 1, libs: ['jobcraft'], only: ['result-roundtrip-p99'], progress: null });
    expect(report.errors).toEqual([]);
    const json = JSON.parse(toJson(report)) as { workloads: Record<string, unknown>[] };
    expect(json.workloads.map((w) => w.name)).toEqual(['result-roundtrip-p99']);
    const [w] = json.workloads as [Record<string, unknown>];
    expect(Object.keys(w)).toEqual(expect.arrayContaining(['name', 'unit', 'jobcraft', 'bullmq', 'ratio']));
    expect(w.unit).toBe('ms');
    expect(typeof w.jobcraft).toBe('number');
    expect(w.jobcraft as number).toBeGreaterThan(0);
    expect(w.bullmq).toBeNull();
  }, 90_000);
});

// The dashboard's server-time workloads, tiny: the harness seeds both prefixes, calls the fetch handler and reports
// the overview (measured) and the queue page (derived from the same run) in the JSON shape, with the 10-job figures
// beside them. No speed is asserted.
describe('benchmark harness: dashboard pages', () => {
  it('runs tiny dashboard-overview and dashboard-queue and reports them in the JSON shape', async () => {
    const report = await runBench({ quick: true, scale: 0.01, reps: 1, libs: ['jobcraft'], only: ['dashboard-overview', 'dashboard-queue'], progress: null });
    expect(report.errors).toEqual([]);
    const json = JSON.parse(toJson(report)) as {
      workloads: { name: string; unit: string; target: string; jobcraft: unknown; bullmq: unknown; ratio: unknown; runs: { jobcraft?: { value: unknown; extra?: Record<string, unknown> }[] } }[];
    };
    expect(json.workloads.map((w) => w.name)).toEqual(['dashboard-overview', 'dashboard-queue']);
    for (const w of json.workloads) {
      expect(w.unit).toBe('ms');
      expect(w.target).toBe('p95 < 100 ms');
      expect(typeof w.jobcraft).toBe('number');
      expect(w.jobcraft as number).toBeGreaterThan(0);
      expect(w.bullmq).toBeNull();
      expect(w.ratio).toBeNull();
    }
    const [overview, queue] = json.workloads;
    const extra = overview?.runs.jobcraft?.[0]?.extra ?? {};
    for (const key of ['overviewMedianMs', 'queueP95Ms', 'queueMedianMs', 'smallOverviewP95Ms', 'smallQueueP95Ms']) {
      expect(typeof extra[key], key).toBe('number');
    }
    expect(extra.waiting).toBe(1_000); // 100k (--quick) × 0.01
    expect(extra.dead).toBe(100);
    expect(queue?.jobcraft).toBe(round(extra.queueP95Ms as number));
  }, 90_000);
});
