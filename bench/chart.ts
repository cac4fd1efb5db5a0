/**
 * The benchmark's charts, as hand-written SVG (no browser, no dependency): every number drawn comes from a
 * {@link BenchReport}, and every piece of text in the SVG goes through {@link escapeXml}.
 *
 * - `ratios.svg`: per workload with a target relative to BullMQ, how many times better than BullMQ jobcraft was
 *   (jobs/s: jobcraft ÷ BullMQ; ms, bytes, MB, µs: BullMQ ÷ jobcraft), a bar on a log scale, with the target marked
 *   and the 1× line (parity). Green bars meet the target, red ones miss it.
 * - `redis-cpu.svg`: µs of Redis CPU per job for each library, stacked: bulk enqueue + processing (medians of each
 *   phase over the runs of `redis-cpu-per-job`), with jobcraft's target (0.12× BullMQ's sum) marked.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { median, round } from './common.js';
import type { BenchReport, WorkloadResult } from './run.js';

/** Escapes text for SVG/XML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string);
}

const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';
const GREEN = '#2f9e44';
const RED = '#e03131';
const GREY = '#868e96';
const BLUE = '#1971c2';
const ORANGE = '#f08c00';

/** `<text>` with escaped content. */
function text(x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${escapeXml(content)}</text>`;
}

/** A number for a label: 3 significant digits, thousands separated. */
function label(value: number): string {
  const r = round(value);
  return Math.abs(r) >= 1000 ? Math.round(r).toLocaleString('en-US') : String(r);
}

/** The two lines under each chart's title: when and how, then where. */
function subtitle(report: BenchReport): [string, string] {
  const m = report.machine;
  const busy = report.busyBeforeMeasurements
    ? ` · other processes kept the CPUs ${report.busyBeforeMeasurements.medianPct}% busy before the measurements (median; max ${report.busyBeforeMeasurements.maxPct}%)`
    : '';
  return [
    `${report.date.slice(0, 16).replace('T', ' ')} UTC · median of ${report.reps} run(s) per library${report.quick ? ' · --quick sizes' : ''}${busy}`,
    `${m.nproc} × ${m.cpu} · Redis ${m.redis} · Node ${m.node} · BullMQ ${m.bullmq}${report.workers ? ` · workers: ${report.workers.runtime}` : ''}`,
  ];
}

/** The title and subtitle lines. */
function heading(report: BenchReport, title: string): string {
  const [a, b] = subtitle(report);
  return [
    text(16, 24, title, 'font-size="16" font-weight="600" fill="#212529"'),
    text(16, 42, a, 'font-size="11" fill="#495057"'),
    text(16, 56, b, 'font-size="11" fill="#495057"'),
  ].join('\n');
}

/** How many times better than BullMQ, and the target in the same terms; undefined if the workload has no such target. */
export function advantage(w: WorkloadResult): { value: number; target: number } | undefined {
  if (w.ratioTarget === undefined || w.ratio === null || w.ratio <= 0 || w.jobcraft === null || w.bullmq === null) return undefined;
  const higher = w.ratioTarget.better === 'higher';
  // From the medians rather than the rounded ratio, so a tiny ratio (0.0394×) keeps its precision.
  const ratio = w.bullmq === 0 ? w.ratio : w.jobcraft / w.bullmq;
  return { value: higher ? ratio : 1 / ratio, target: higher ? w.ratioTarget.factor : 1 / w.ratioTarget.factor };
}

/** `ratios.svg` (see the module comment). */
export function ratioChart(report: BenchReport): string {
  const rows = report.workloads.flatMap((w) => {
    const a = advantage(w);
    return a === undefined ? [] : [{ w, ...a }];
  });
  const width = 960;
  const left = 190;
  const right = 330;
  const top = 84;
  const rowH = 34;
  const plotW = width - left - right;
  const height = top + Math.max(1, rows.length) * rowH + 50;
  // Log scale from 0.5× (or lower) to the largest value or target, in whole powers of two.
  const values = rows.flatMap((r) => [r.value, r.target]);
  const lo = Math.min(0.5, 2 ** Math.floor(Math.log2(Math.min(...values, 1))));
  const hi = Math.max(2, 2 ** Math.ceil(Math.log2(Math.max(...values, 1))));
  const x = (v: number): number => left + ((Math.log2(Math.max(v, lo)) - Math.log2(lo)) / (Math.log2(hi) - Math.log2(lo))) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="13">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(heading(report, 'jobcraft vs BullMQ: how many times better than BullMQ (log scale), target marked'));
  // Grid: powers of two.
  for (let v = lo; v <= hi + 1e-9; v *= 2) {
    const gx = x(v);
    out.push(`<line x1="${gx.toFixed(1)}" y1="${top - 8}" x2="${gx.toFixed(1)}" y2="${height - 40}" stroke="${v === 1 ? '#495057' : '#dee2e6'}" stroke-width="${v === 1 ? 1.5 : 1}"/>`);
    out.push(text(gx, height - 24, `${label(v)}×`, 'font-size="11" text-anchor="middle" fill="#495057"'));
  }
  out.push(text(x(1) + 4, height - 8, '1× = same as BullMQ; right of it jobcraft is better', 'font-size="11" fill="#495057"'));
  if (rows.length === 0) out.push(text(left, top + 20, 'no workload with a BullMQ-relative target in this report', 'fill="#495057"'));
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const pass = r.w.pass === true;
    const color = r.w.pass === null ? GREY : pass ? GREEN : RED;
    const x0 = x(Math.min(1, r.value));
    const x1 = x(Math.max(1, r.value));
    out.push(text(left - 10, y + 17, r.w.name, 'text-anchor="end" fill="#212529"'));
    out.push(`<rect x="${x0.toFixed(1)}" y="${y + 5}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${rowH - 12}" fill="${color}" opacity="0.85"><title>${escapeXml(`${r.w.name}: ${label(r.value)}× better than BullMQ (target ${label(r.target)}×)`)}</title></rect>`);
    const tx = x(r.target);
    out.push(`<line x1="${tx.toFixed(1)}" y1="${y + 1}" x2="${tx.toFixed(1)}" y2="${y + rowH - 3}" stroke="#212529" stroke-width="2.5" stroke-dasharray="4 2"/>`);
    const verdict = r.w.pass === null ? '' : pass ? 'pass' : 'FAIL';
    const provisional = r.w.provisional === true ? ' (preview)' : '';
    out.push(text(width - right + 12, y + 17, `${label(r.value)}× · target ${label(r.target)}× · ${verdict}${provisional}`, `fill="${color}" font-weight="600"`));
  });
  out.push(`<line x1="${width - right + 12}" y1="${top - 20}" x2="${width - right + 12}" y2="${top - 8}" stroke="#212529" stroke-width="2.5" stroke-dasharray="4 2"/>`);
  out.push(text(width - right + 18, top - 10, '= target', 'font-size="11" fill="#495057"'));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The medians of one phase's extra over a library's runs of a workload. */
function phaseMedian(w: WorkloadResult, lib: 'jobcraft' | 'bullmq', key: string): number | null {
  const values = (w.runs[lib] ?? []).map((s) => s.extra?.[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return values.length === 0 ? null : median(values);
}

/** `redis-cpu.svg` (see the module comment); undefined when the report has no `redis-cpu-per-job`. */
export function redisCpuChart(report: BenchReport): string | undefined {
  const w = report.workloads.find((x) => x.name === 'redis-cpu-per-job');
  if (w === undefined) return undefined;
  const libs = (['jobcraft', 'bullmq'] as const).flatMap((lib) => {
    const enqueue = phaseMedian(w, lib, 'enqueueUsPerJob');
    const process = phaseMedian(w, lib, 'processUsPerJob');
    return enqueue === null || process === null ? [] : [{ lib, enqueue, process }];
  });
  const width = 960;
  const left = 110;
  const right = 360;
  const top = 94;
  const rowH = 48;
  const plotW = width - left - right;
  const height = top + Math.max(1, libs.length) * rowH + 60;
  const bullmq = libs.find((l) => l.lib === 'bullmq');
  const target = bullmq === undefined || w.ratioTarget === undefined ? undefined : w.ratioTarget.factor * (bullmq.enqueue + bullmq.process);
  const max = Math.max(1, ...libs.map((l) => l.enqueue + l.process), target ?? 0);
  const x = (v: number): number => left + (v / max) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="13">`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(heading(report, 'Redis CPU per job (µs) on a private redis-server: bulk enqueue + processing (concurrency 50)'));
  out.push(`<rect x="16" y="68" width="12" height="12" fill="${BLUE}"/>`);
  out.push(text(32, 78, 'enqueue (enqueueMany / addBulk, batches of 1,000)', 'font-size="11" fill="#495057"'));
  out.push(`<rect x="330" y="68" width="12" height="12" fill="${ORANGE}"/>`);
  out.push(text(346, 78, 'processing (fetch, run, acknowledge)', 'font-size="11" fill="#495057"'));
  if (libs.length === 0) out.push(text(left, top + 20, 'no redis-cpu-per-job figures in this report', 'fill="#495057"'));
  libs.forEach((l, i) => {
    const y = top + i * rowH;
    const total = l.enqueue + l.process;
    out.push(text(left - 10, y + 22, l.lib === 'jobcraft' ? 'jobcraft' : 'BullMQ', 'text-anchor="end" fill="#212529" font-weight="600"'));
    out.push(`<rect x="${left}" y="${y + 6}" width="${Math.max(1, x(l.enqueue) - left).toFixed(1)}" height="${rowH - 16}" fill="${BLUE}"><title>${escapeXml(`${l.lib} enqueue: ${label(l.enqueue)} µs per job`)}</title></rect>`);
    out.push(`<rect x="${x(l.enqueue).toFixed(1)}" y="${y + 6}" width="${Math.max(1, x(total) - x(l.enqueue)).toFixed(1)}" height="${rowH - 16}" fill="${ORANGE}"><title>${escapeXml(`${l.lib} processing: ${label(l.process)} µs per job`)}</title></rect>`);
    const jobsPerCore = 1e6 / total;
    out.push(text(x(total) + 8, y + 22, `${label(l.enqueue)} + ${label(l.process)} = ${label(total)} µs  (${label(jobsPerCore)} jobs/s per Redis core)`, 'font-size="12" fill="#212529"'));
  });
  if (target !== undefined) {
    const tx = x(target);
    out.push(`<line x1="${tx.toFixed(1)}" y1="${top - 4}" x2="${tx.toFixed(1)}" y2="${top + libs.length * rowH}" stroke="#212529" stroke-width="2.5" stroke-dasharray="4 2"/>`);
    const verdict = w.pass === null ? '' : w.pass ? ' · jobcraft passes' : ' · jobcraft FAILS';
    out.push(text(16, height - 30, `dashed line: the target, 0.12 × BullMQ's sum = ${label(target)} µs per job${verdict}`, 'font-size="12" fill="#212529"'));
  }
  out.push(text(16, height - 12, 'Bars: median of each phase over the runs; jobs/s per Redis core = 1,000,000 µs ÷ the sum.', 'font-size="11" fill="#495057"'));
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes the charts of `report` into `dir` (created if missing); returns the files written. */
export function writeCharts(report: BenchReport, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  const ratios = join(dir, 'ratios.svg');
  writeFileSync(ratios, ratioChart(report));
  files.push(ratios);
  const cpu = redisCpuChart(report);
  if (cpu !== undefined) {
    const file = join(dir, 'redis-cpu.svg');
    writeFileSync(file, cpu);
    files.push(file);
  }
  return files;
}
