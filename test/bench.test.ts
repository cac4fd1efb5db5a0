import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { escapeXml, ratioChart, redisCpuChart, writeCharts } from '../bench/chart.js';
import { round } from '../bench/common.js';
import { runBench, toJson, type BenchReport } from '../bench/run.js';

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
    // The worker process ran compiled JavaScript under plain node (issue 17: no tsx loader in the measured worker).
    expect(report.workers?.runtime).toBe('node (compiled)');
    const noop = report.workloads.find((w) => w.name === 'noop-c50');
    expect(noop?.runs.jobcraft?.[0]?.extra?.plainNode).toBe(1);
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

// Issue 17's workloads, tiny and with both libraries: the private redis-server's CPU per job in two phases, a fleet of
// worker processes, and noop-c50 / worker-rss-mb with their new targets; then the charts drawn from that report.
// Shape and consistency only: no speed is asserted.
describe('benchmark harness: Redis CPU per job, the fleet, the charts', () => {
  it('runs tiny redis-cpu-per-job, fleet-noop, noop-c50 and worker-rss-mb for both libraries and charts them', async () => {
    const report = await runBench({
      quick: true,
      scale: 0.01,
      reps: 1,
      only: ['noop-c50', 'fleet-noop', 'redis-cpu-per-job', 'worker-rss-mb'],
      progress: null,
    });
    expect(report.errors).toEqual([]);
    const json = JSON.parse(toJson(report)) as BenchReport;
    expect(json.workloads.map((w) => w.name)).toEqual(['noop-c50', 'fleet-noop', 'redis-cpu-per-job', 'worker-rss-mb']);
    expect(json.workloads.map((w) => w.unit)).toEqual(['jobs/s', 'jobs/s', 'µs', 'MB']);
    for (const w of json.workloads) {
      for (const lib of ['jobcraft', 'bullmq'] as const) {
        expect(typeof w[lib], `${w.name} ${lib}`).toBe('number');
        expect(w[lib] as number).toBeGreaterThan(0);
        expect(w.runs[lib]).toHaveLength(1); // every repetition is recorded
      }
      expect(typeof w.ratio).toBe('number');
      expect(typeof w.pass).toBe('boolean');
      expect(w.ratioTarget).toBeDefined();
    }
    const byName = new Map(json.workloads.map((w) => [w.name, w]));
    expect(byName.get('noop-c50')?.target).toBe('≥ 5× BullMQ (median of 5 runs)');
    expect(byName.get('noop-c50')?.provisional).toBe(true); // 1 run: a preview, not the verdict
    expect(byName.get('worker-rss-mb')?.ratioTarget).toEqual({ factor: 0.75, better: 'lower' });
    expect(byName.get('redis-cpu-per-job')?.ratioTarget).toEqual({ factor: 0.12, better: 'lower' });
    expect(byName.get('fleet-noop')?.ratioTarget).toEqual({ factor: 4, better: 'higher' });

    for (const lib of ['jobcraft', 'bullmq'] as const) {
      const cpu = byName.get('redis-cpu-per-job')?.runs[lib]?.[0];
      const extra = cpu?.extra ?? {};
      expect(extra.jobs).toBe(500); // 50k × 0.01
      expect(extra.enqueueUsPerJob as number).toBeGreaterThan(0);
      expect(extra.processUsPerJob as number).toBeGreaterThan(0);
      // The value is the sum of the two phases.
      expect(cpu?.value).toBeCloseTo((extra.enqueueUsPerJob as number) + (extra.processUsPerJob as number), 6);
      expect(Object.keys(extra).some((k) => k.startsWith('processUsPerJob:evalsha'))).toBe(true);
      expect(extra.plainNode).toBe(1);

      const fleet = byName.get('fleet-noop')?.runs[lib]?.[0]?.extra ?? {};
      // Four processes shared the 1,000 jobs: every share is between 0 and 1, and together they are all of them.
      expect(fleet.minShare as number).toBeGreaterThanOrEqual(0);
      expect(fleet.maxShare as number).toBeLessThanOrEqual(1);
      expect(fleet.maxShare as number).toBeGreaterThanOrEqual(0.25);
      expect(fleet.plainNode).toBe(1);
    }

    const dir = mkdtempSync(join(tmpdir(), 'jobcraft-bench-chart-'));
    try {
      const files = writeCharts(json, dir);
      expect(files.map((f) => f.slice(dir.length + 1))).toEqual(['ratios.svg', 'redis-cpu.svg']);
      const ratios = readFileSync(join(dir, 'ratios.svg'), 'utf8');
      expect(ratios.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
      for (const name of ['noop-c50', 'fleet-noop', 'redis-cpu-per-job', 'worker-rss-mb']) expect(ratios).toContain(`>${name}</text>`);
      const cpu = readFileSync(join(dir, 'redis-cpu.svg'), 'utf8');
      expect(cpu).toContain('>jobcraft</text>');
      expect(cpu).toContain('>BullMQ</text>');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});

describe('benchmark charts', () => {
  const report = (name: string): BenchReport => ({
    date: '2026-12-02T17:00:00.000Z',
    quick: true,
    reps: 1,
    machine: { nproc: 2, cpu: 'CPU <&> "quoted"', memoryGb: 1, node: 'v20', redis: '7.0', bullmq: '6.7' },
    workloads: [
      {
        name,
        unit: 'jobs/s',
        size: 'tiny',
        target: '≥ 4× BullMQ',
        ratioTarget: { factor: 4, better: 'higher' },
        jobcraft: 400,
        bullmq: 100,
        ratio: 4,
        pass: true,
        runs: {},
      },
      {
        name: 'redis-cpu-per-job',
        unit: 'µs',
        size: 'tiny',
        target: '≤ 0.12× BullMQ',
        ratioTarget: { factor: 0.12, better: 'lower' },
        jobcraft: 10,
        bullmq: 100,
        ratio: 0.1,
        pass: true,
        runs: {
          jobcraft: [{ value: 10, extra: { enqueueUsPerJob: 2, processUsPerJob: 8 } }],
          bullmq: [{ value: 100, extra: { enqueueUsPerJob: 20, processUsPerJob: 80 } }],
        },
      },
    ],
    errors: [],
  });

  it('escapes every text it writes', () => {
    expect(escapeXml(`a<b>&"c'`)).toBe('a&lt;b&gt;&amp;&quot;c&apos;');
    const svg = ratioChart(report('<script>alert(1)</script>'));
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(svg).not.toContain('CPU <&>');
    expect(svg).toContain('CPU &lt;&amp;&gt; &quot;quoted&quot;');
  });

  it('draws lower-is-better workloads as BullMQ ÷ jobcraft against the inverted target, and stacks the Redis CPU phases', () => {
    const svg = ratioChart(report('noop-c50'));
    // redis-cpu-per-job: 0.1× of BullMQ's CPU is 10× better, against a target of 1 ÷ 0.12 = 8.33×.
    expect(svg).toContain('10× · target 8.33× · pass');
    expect(svg).toContain('4× · target 4× · pass');
    const cpu = redisCpuChart(report('noop-c50')) ?? '';
    expect(cpu).toContain('2 + 8 = 10 µs');
    expect(cpu).toContain('20 + 80 = 100 µs');
    expect(cpu).toContain('0.12 × BullMQ&apos;s sum = 12 µs per job');
    expect(redisCpuChart({ ...report('x'), workloads: [] })).toBeUndefined();
  });
});
