/**
 * The jobcraft benchmark: every workload of issue 6 for jobcraft and BullMQ against the same Redis, alternating the
 * libraries and repeating each measurement, then a table of medians, ratios and targets.
 *
 *   npm run bench                                  full run (several minutes)
 *   npm run bench -- --quick                       shorter sizes (under 2 minutes)
 *   npm run bench -- --json bench-results.json     also write the results as JSON
 *   npm run bench -- --md results.md               and as a Markdown table (the one in docs/benchmarks.md)
 *   npm run bench -- --only noop-c50,latency-p99   some workloads only
 *   npm run bench -- --reps 5                      repetitions per library (default 3)
 *   npm run bench -- --libs jobcraft               one library only (no ratios)
 *   npm run bench -- --cpu-prof DIR                write V8 CPU profiles of the jobcraft worker processes into DIR
 *   npm run bench -- --wait-quiet 30               before each measurement, wait up to 30 s for other processes to
 *                                                  calm down (the machine may be shared)
 *   npm run bench -- --chart docs/bench            also draw the charts (SVG) into that folder
 *   npm run bench -- --chart-from FILE.json DIR    only draw the charts of an earlier --json file
 *   npm run bench -- --tsx-workers                 run worker processes through tsx instead of compiled JavaScript
 *                                                  (how rounds 1 and 2 measured; for comparisons only)
 *
 * The verdict of issue 17: `npm run bench:verdict` (= `--reps 5 --wait-quiet 60 --json bench-results.json --chart docs/bench`).
 *
 * Worker processes run compiled JavaScript under plain `node` (bench/compile.ts compiles the worker and jobcraft's
 * runtime once per run into bench/.tmp/), so neither library pays for a TypeScript loader.
 *
 * REDIS_URL picks the Redis (default redis://127.0.0.1:6379). Keys live under `jcbench:<run id>:` and are deleted
 * after each measurement; the harness never flushes anything else.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminRedis, cpuBusyPct, deleteKeys, LIBS, median, ROOT_PREFIX, round, waitQuiet, type Lib } from './common.js';
import { compileWorker, type CompiledWorker } from './compile.js';
import { writeCharts } from './chart.js';
import { WORKLOADS, type Medians, type RunContext, type Sample, type Subject, type Unit, type Workload } from './workloads.js';

export interface BenchOptions {
  readonly quick?: boolean;
  /** Repetitions per library (default 3). */
  readonly reps?: number;
  /** Workload names to run (default all). */
  readonly only?: readonly string[];
  /** Libraries to run (default both). */
  readonly libs?: readonly Lib[];
  /** Multiplies every job count and duration (the smoke test runs tiny versions). Default 1. */
  readonly scale?: number;
  readonly cpuProfDir?: string;
  /**
   * Before each measurement, wait up to this many seconds for the machine to be quiet (other processes under 15 %
   * of the CPUs). 0 (the default) only records how busy it was.
   */
  readonly waitQuietSec?: number;
  /** Where progress goes (default stderr); `null` silences it. */
  readonly progress?: NodeJS.WritableStream | null;
  /** Run worker processes through tsx instead of compiling them (rounds 1 and 2 did). Default false. */
  readonly tsxWorkers?: boolean;
}

/** One row of the results. `ratio` is jobcraft ÷ BullMQ for every unit. */
export interface WorkloadResult {
  readonly name: string;
  readonly unit: Unit;
  readonly size: string;
  readonly target: string;
  readonly jobcraft: number | null;
  readonly bullmq: number | null;
  readonly ratio: number | null;
  /** work-1ms-c10 only: the no-queue ceiling measured in the same run. */
  readonly ceiling?: number | null;
  readonly pass: boolean | null;
  /**
   * The target counts only at `verdictReps` repetitions (noop-c50: 5) and this run made fewer: `pass` is a
   * preview, not the verdict.
   */
  readonly provisional?: boolean;
  /** The target relative to BullMQ as a number (for the chart): ratio ≥ factor (`higher`) or ≤ factor (`lower`). */
  readonly ratioTarget?: { readonly factor: number; readonly better: 'higher' | 'lower' };
  readonly note?: string;
  /** Every repetition's measurement, per library; `jobcraft` and `bullmq` above are their medians. */
  readonly runs: Partial<Record<Subject, Sample[]>>;
}

export interface BenchReport {
  readonly date: string;
  readonly quick: boolean;
  readonly reps: number;
  readonly machine: MachineInfo;
  /** How busy the machine's CPUs were (other processes) in the moment before each measurement. */
  readonly busyBeforeMeasurements?: { readonly medianPct: number; readonly maxPct: number };
  /** How worker processes ran: compiled JavaScript under plain node (the default), or through tsx. */
  readonly workers?: { readonly runtime: 'node (compiled)' | 'tsx'; readonly compileMs?: number };
  readonly workloads: WorkloadResult[];
  readonly errors: string[];
}

export interface MachineInfo {
  readonly nproc: number;
  readonly cpu: string;
  readonly memoryGb: number;
  readonly node: string;
  readonly redis: string;
  readonly bullmq: string;
}

async function machineInfo(redisVersion: string): Promise<MachineInfo> {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  let bullmq = 'unknown';
  try {
    bullmq = (JSON.parse(readFileSync(fileURLToPath(new URL('../node_modules/bullmq/package.json', import.meta.url)), 'utf8')) as { version: string }).version;
  } catch {
    // not installed
  }
  const { availableParallelism, totalmem } = await import('node:os');
  return { nproc: availableParallelism(), cpu, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, redis: redisVersion, bullmq };
}

/** Draws one progress line (rewritten in place on a terminal). */
function progressWriter(stream: NodeJS.WritableStream | null): (text: string) => void {
  if (stream === null) return () => {};
  const tty = (stream as NodeJS.WriteStream).isTTY === true;
  return (text) => {
    if (tty) stream.write(`\r\x1b[K${text}`);
    else stream.write(`${text}\n`);
  };
}

/** Other processes must use less than this share of the CPUs for the machine to count as quiet. */
const QUIET_PCT = 15;

const medianOf = (samples: readonly Sample[] | undefined): number | null => {
  const values = (samples ?? []).map((s) => s.value).filter((v): v is number => v !== null && Number.isFinite(v));
  return values.length === 0 ? null : median(values);
};

/** Runs the benchmark and returns the report (also used by the smoke test). */
export async function runBench(options: BenchOptions = {}): Promise<BenchReport> {
  const quick = options.quick ?? false;
  const reps = options.reps ?? 3;
  const libs = options.libs ?? LIBS;
  const only = options.only;
  const unknown = only?.filter((n) => !WORKLOADS.some((w) => w.name === n)) ?? [];
  if (unknown.length > 0) throw new Error(`unknown workload(s): ${unknown.join(', ')} (known: ${WORKLOADS.map((w) => w.name).join(', ')})`);
  const selected = WORKLOADS.filter((w) => only === undefined || only.includes(w.name));
  // A derived workload needs its source to run.
  const toRun = WORKLOADS.filter(
    (w) => w.derivedFrom === undefined && (selected.includes(w) || selected.some((s) => s.derivedFrom?.workload === w.name)),
  );
  const show = progressWriter(options.progress === undefined ? process.stderr : options.progress);
  if (options.cpuProfDir !== undefined) mkdirSync(options.cpuProfDir, { recursive: true });

  const admin = adminRedis();
  const errors: string[] = [];
  const samples = new Map<string, Partial<Record<Subject, Sample[]>>>();
  let compiled: CompiledWorker | undefined;
  try {
    if (options.tsxWorkers !== true && toRun.some((w) => w.workerProcesses === true)) {
      show('compiling the worker process (tsc) …');
      compiled = compileWorker();
    }
    const redisVersion = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1] ?? 'unknown';
    const machine = await machineInfo(redisVersion);
    const plan: { w: Workload; subject: Subject; rep: number }[] = [];
    for (const w of toRun) {
      const subjects = w.subjects.filter((s) => s === 'ceiling' || libs.includes(s));
      const fixed = subjects.filter((s) => s === 'ceiling');
      const alternating = subjects.filter((s) => s !== 'ceiling');
      // A single-subject workload (codegen) has nothing to alternate with: once in --quick, else up to 3 times.
      const repsHere = w.subjects.length === 1 ? Math.min(reps, quick ? 1 : 3) : reps;
      for (let rep = 0; rep < repsHere; rep++) {
        const order = rep % 2 === 0 ? alternating : [...alternating].reverse();
        for (const subject of [...fixed, ...order]) plan.push({ w, subject, rep });
      }
    }
    const ctxBase = { quick, admin, cpuProfDir: options.cpuProfDir, scale: options.scale ?? 1, workerEntry: compiled?.entry };
    let step = 0;
    const unavailable = new Set<string>();
    const busyBefore: number[] = [];
    for (const { w, subject, rep } of plan) {
      step++;
      if (unavailable.has(w.name)) continue;
      const repsHere = plan.filter((p) => p.w === w && p.subject === subject).length;
      show(`[${String(step).padStart(2)}/${plan.length}] ${w.name} · ${subject} · run ${rep + 1}/${repsHere} · ${w.size(quick)}`);
      const ctx: RunContext = { ...ctxBase, rep };
      const busy = options.waitQuietSec ? await waitQuiet(QUIET_PCT, options.waitQuietSec * 1000) : await cpuBusyPct(100);
      if (busy !== undefined) busyBefore.push(busy);
      let sample: Sample;
      const t0 = performance.now();
      try {
        sample = await w.run(subject, ctx);
        sample = { ...sample, extra: { ...sample.extra, ...(busy === undefined ? {} : { busyBeforePct: busy }), measurementSec: (performance.now() - t0) / 1000 } };
      } catch (err) {
        const message = `${w.name} / ${subject} / run ${rep + 1}: ${err instanceof Error ? err.message : String(err)}`;
        errors.push(message);
        sample = { value: null, note: `error: ${message}` };
      }
      const bySubject = samples.get(w.name) ?? {};
      (bySubject[subject] ??= []).push(sample);
      samples.set(w.name, bySubject);
      // A workload that is not available once is not available at all (codegen): skip its other repetitions.
      if (sample.value === null && sample.note?.startsWith('n/a')) unavailable.add(w.name);
    }
    show(`done: ${plan.length} measurements`);
    if ((options.progress === undefined ? process.stderr : options.progress) !== null && (process.stderr as NodeJS.WriteStream).isTTY) process.stderr.write('\n');

    const workloads: WorkloadResult[] = [];
    for (const w of selected) {
      let runs: Partial<Record<Subject, Sample[]>>;
      if (w.derivedFrom !== undefined) {
        const from = samples.get(w.derivedFrom.workload) ?? {};
        const key = w.derivedFrom.extra;
        runs = {};
        for (const lib of LIBS) {
          const list = from[lib];
          if (list !== undefined) runs[lib] = list.map((s) => ({ value: s.extra?.[key] ?? null }));
        }
      } else {
        runs = samples.get(w.name) ?? {};
      }
      const m: Medians = { jobcraft: medianOf(runs.jobcraft), bullmq: medianOf(runs.bullmq), ceiling: medianOf(runs.ceiling) };
      const note = [...(runs.jobcraft ?? []), ...(runs.bullmq ?? [])].find((s) => s.note !== undefined)?.note;
      const pass = w.judge(m);
      const repsDone = Math.min(...[runs.jobcraft, runs.bullmq].filter((r) => r !== undefined).map((r) => r.length));
      const provisional = w.verdictReps !== undefined && pass !== undefined && repsDone < w.verdictReps;
      workloads.push({
        name: w.name,
        unit: w.unit,
        size: w.size(quick),
        target: w.target,
        jobcraft: m.jobcraft === null ? null : round(m.jobcraft),
        bullmq: m.bullmq === null ? null : round(m.bullmq),
        ratio: m.jobcraft === null || m.bullmq === null || m.bullmq === 0 ? null : round(m.jobcraft / m.bullmq),
        ...(w.subjects.includes('ceiling') ? { ceiling: m.ceiling === null ? null : round(m.ceiling) } : {}),
        pass: pass ?? null,
        ...(provisional ? { provisional } : {}),
        ...(w.ratioTarget !== undefined ? { ratioTarget: w.ratioTarget } : {}),
        ...(note !== undefined ? { note } : {}),
        runs,
      });
    }
    const load = busyBefore.length === 0 ? undefined : { medianPct: round(median(busyBefore)), maxPct: round(Math.max(...busyBefore)) };
    const workers = compiled !== undefined ? { runtime: 'node (compiled)' as const, compileMs: round(compiled.compileMs) } : options.tsxWorkers === true ? { runtime: 'tsx' as const } : undefined;
    return { date: new Date().toISOString(), quick, reps, machine, ...(load ? { busyBeforeMeasurements: load } : {}), ...(workers ? { workers } : {}), workloads, errors };
  } finally {
    compiled?.remove();
    await deleteKeys(admin, ROOT_PREFIX).catch(() => 0);
    admin.disconnect();
  }
}

// ---- output ---------------------------------------------------------------------------------------------------

function fmt(value: number | null | undefined, unit?: Unit): string {
  if (value === null || value === undefined) return 'n/a';
  if (unit === 'jobs/s' || unit === 'bytes' || Math.abs(value) >= 1000) return Math.round(value).toLocaleString('en-US');
  return String(round(value));
}

/** PASS / FAIL, with `(preview)` when the run had fewer repetitions than the verdict needs. */
function verdict(w: WorkloadResult, pass: string, fail: string): string {
  if (w.pass === null) return '–';
  return `${w.pass ? pass : fail}${w.provisional === true ? ' (preview: fewer runs than the verdict needs)' : ''}`;
}

/** The results as a plain-text table. */
export function formatTable(report: BenchReport): string {
  const rows = report.workloads.map((w) => {
    let target = w.target;
    if (w.ceiling !== undefined) {
      target += w.ceiling === null ? '' : ` (ceiling ${fmt(w.ceiling, 'jobs/s')}/s` + (w.jobcraft === null ? ')' : `, jobcraft at ${Math.round((w.jobcraft / w.ceiling) * 100)}%)`);
    }
    return [
      w.name,
      w.unit,
      w.jobcraft === null && w.note !== undefined ? w.note : fmt(w.jobcraft, w.unit),
      fmt(w.bullmq, w.unit),
      w.ratio === null ? '' : `${w.ratio}×`,
      target,
      verdict(w, 'PASS', 'FAIL'),
    ];
  });
  const header = ['workload', 'unit', 'jobcraft', 'BullMQ', 'ratio', 'target', 'result'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number))).join('  ').trimEnd();
  const m = report.machine;
  return [
    `jobcraft vs BullMQ ${m.bullmq} — medians of ${report.reps} runs each${report.quick ? ' (--quick sizes)' : ''}; ratio = jobcraft ÷ BullMQ`,
    `${m.nproc} × ${m.cpu}, ${m.memoryGb} GB, Redis ${m.redis}, Node ${m.node}` +
      (report.workers ? `; worker processes: ${report.workers.runtime}` : '') +
      (report.busyBeforeMeasurements
        ? `; CPU busy before measurements: median ${report.busyBeforeMeasurements.medianPct}%, max ${report.busyBeforeMeasurements.maxPct}%`
        : ''),
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    ...(report.errors.length > 0 ? ['', 'errors:', ...report.errors.map((e) => `  ${e}`)] : []),
  ].join('\n');
}

/** The results as a Markdown table (for docs/benchmarks.md): medians, every run, and the extra figures. */
export function formatMarkdown(report: BenchReport): string {
  const m = report.machine;
  const cell = (w: WorkloadResult, lib: Subject): string => {
    const runs = (w.runs[lib] ?? []).map((s) => fmt(s.value, w.unit)).join(' / ');
    const median = lib === 'jobcraft' ? w.jobcraft : lib === 'bullmq' ? w.bullmq : (w.ceiling ?? null);
    if (median === null) return w.note !== undefined && lib === 'jobcraft' ? w.note : 'n/a';
    return `**${fmt(median, w.unit)}** (${runs})`;
  };
  const lines = [
    `${report.date.slice(0, 16).replace('T', ' ')} UTC, ${report.quick ? '`--quick` sizes, ' : ''}${report.reps} runs per library, alternating; median in bold, then each run.`,
    `Machine: ${m.nproc} × ${m.cpu}, ${m.memoryGb} GB; Redis ${m.redis}; Node ${m.node}; BullMQ ${m.bullmq}.` +
      (report.workers ? ` Worker processes: ${report.workers.runtime}.` : '') +
      (report.busyBeforeMeasurements
        ? ` Other processes kept the CPUs ${report.busyBeforeMeasurements.medianPct}% busy (median; max ${report.busyBeforeMeasurements.maxPct}%) just before the measurements.`
        : ''),
    '',
    '| workload | unit | jobcraft | BullMQ | ratio | target | result |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const w of report.workloads) {
    let target = w.target;
    if (w.ceiling !== undefined && w.ceiling !== null) {
      target += ` — ceiling ${cell(w, 'ceiling')}` + (w.jobcraft === null ? '' : `; jobcraft at ${Math.round((w.jobcraft / w.ceiling) * 100)}%`);
    }
    lines.push(
      `| \`${w.name}\` | ${w.unit} | ${cell(w, 'jobcraft')} | ${w.runs.bullmq ? cell(w, 'bullmq') : 'n/a'} | ${w.ratio === null ? '' : `${w.ratio}×`} | ${target} | ${verdict(w, 'pass', '**FAIL**')} |`,
    );
  }
  return lines.join('\n');
}

function parseArgs(argv: readonly string[]): BenchOptions & { json?: string; md?: string; chart?: string } {
  const out: { quick?: boolean; reps?: number; only?: string[]; libs?: Lib[]; json?: string; md?: string; chart?: string; cpuProfDir?: string; waitQuietSec?: number; tsxWorkers?: boolean } = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') out.quick = true;
    else if (a === '--json') out.json = value();
    else if (a === '--md') out.md = value();
    else if (a === '--chart') out.chart = resolve(value());
    else if (a === '--tsx-workers') out.tsxWorkers = true;
    else if (a === '--only') out.only = value().split(',').map((s) => s.trim()).filter(Boolean);
    else if (a === '--reps') out.reps = Number(value());
    else if (a === '--cpu-prof') out.cpuProfDir = resolve(value());
    else if (a === '--wait-quiet') out.waitQuietSec = Number(value());
    else if (a === '--libs') out.libs = value().split(',').map((l) => {
      if (l !== 'jobcraft' && l !== 'bullmq') throw new Error(`--libs: unknown library ${l}`);
      return l;
    });
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--quick] [--json FILE] [--md FILE] [--only a,b] [--reps N] [--libs jobcraft,bullmq] [--cpu-prof DIR] [--wait-quiet SECONDS] [--chart DIR] [--tsx-workers]\n       npm run bench -- --chart-from FILE.json DIR | --md-from FILE.json');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (out.reps !== undefined && (!Number.isInteger(out.reps) || out.reps < 1)) throw new Error('--reps must be a positive integer');
  return out;
}

/** The JSON written by --json: the issue's fields first, then the details. */
export function toJson(report: BenchReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

async function main(): Promise<void> {
  const from = process.argv.indexOf('--md-from');
  if (from !== -1) {
    // Renders the Markdown table of an earlier --json file.
    console.log(formatMarkdown(JSON.parse(readFileSync(process.argv[from + 1] ?? '', 'utf8')) as BenchReport));
    return;
  }
  const chartFrom = process.argv.indexOf('--chart-from');
  if (chartFrom !== -1) {
    // Draws the charts of an earlier --json file.
    const file = process.argv[chartFrom + 1];
    const dir = process.argv[chartFrom + 2];
    if (file === undefined || dir === undefined) throw new Error('usage: --chart-from FILE.json DIR');
    for (const f of writeCharts(JSON.parse(readFileSync(file, 'utf8')) as BenchReport, resolve(dir))) console.log(`chart written to ${f}`);
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const onSignal = (): void => {
    const admin = adminRedis();
    void deleteKeys(admin, ROOT_PREFIX).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const report = await runBench(args);
  console.log(formatTable(report));
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(0)} s)`);
  if (args.json !== undefined) {
    writeFileSync(args.json, toJson(report));
    console.log(`results written to ${args.json}`);
  }
  if (args.md !== undefined) {
    writeFileSync(args.md, `${formatMarkdown(report)}\n`);
    console.log(`Markdown table written to ${args.md}`);
  }
  if (args.chart !== undefined) {
    for (const f of writeCharts(report, args.chart)) console.log(`chart written to ${f}`);
  }
  process.exitCode = report.errors.length > 0 ? 1 : 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
