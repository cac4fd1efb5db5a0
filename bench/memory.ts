/**
 * What a worker process's memory is made of, for each library: fresh `node --expose-gc` processes running compiled
 * JavaScript (bench/compile.ts, bench/memory-probe.ts), each read in one state — bare node, ioredis + zod loaded, the
 * library loaded, an idle connected worker, a worker holding N blocked jobs, N extra connections — so the
 * differences give the cost of each part: per running job, per prefetched job (jobcraft), per connection. Then the
 * peak RSS of noop-c50's worker with V8's young generation capped (`--max-semi-space-size`), which shows how much
 * of the peak is garbage not yet collected rather than live data.
 *
 *   npx tsx bench/memory.ts [--json FILE] [--skip-noop]
 *
 * Uses REDIS_URL (default redis://127.0.0.1:6379) under the benchmark's key prefix, deleted afterwards.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { adminRedis, deleteKeys, loadLib, median, namespace, redisUrl, ROOT_PREFIX, round, type Lib, type Namespace, type TaskPayload } from './common.js';
import { compileWorker, type CompiledWorker } from './compile.js';
import type { ProbeConfig, ProbeReading } from './memory-probe.js';
import { WorkerProcess } from './worker-client.js';

async function fill(lib: Lib, ns: Namespace, n: number): Promise<void> {
  const producer = (await loadLib(lib)).openProducer(ns);
  try {
    for (let from = 0; from < n; from += 1_000) {
      await producer.addMany('task', Array.from({ length: Math.min(1_000, n - from) }, (_, k): TaskPayload => ({ i: from + k, at: 0 })));
    }
  } finally {
    await producer.close();
  }
}

let probeCount = 0;

/** Runs the probe in a fresh process (after filling its queue with `jobs` jobs) and returns its reading. */
async function probe(compiled: CompiledWorker, lib: Lib, config: Omit<ProbeConfig, 'lib' | 'ns' | 'url'>, jobs = 0): Promise<ProbeReading> {
  const ns = namespace('memory', lib, probeCount++);
  const admin = adminRedis();
  try {
    if (jobs > 0) await fill(lib, ns, jobs);
    const entry = join(compiled.dir, 'bench', 'memory-probe.js');
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const r = spawnSync(process.execPath, ['--expose-gc', entry, JSON.stringify({ ...config, lib, ns, url: redisUrl() })], { encoding: 'utf8', env, timeout: 60_000 });
    if (r.status !== 0) throw new Error(`memory probe ${config.stage} (${lib}) failed: ${r.stderr || r.error?.message}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as ProbeReading;
  } finally {
    await deleteKeys(admin, ns.prefix);
    admin.disconnect();
  }
}

/** Peak RSS of a noop-c50 worker process (50,000 jobs, concurrency 50), with extra node options. */
async function noopPeak(compiled: CompiledWorker, lib: Lib, nodeArgs: readonly string[], rep: number): Promise<{ peakRssMb: number; jobsPerSec: number }> {
  const ns = namespace(`memory-noop-${nodeArgs.map((a) => a.replace(/\D/g, '')).join('-') || 'default'}`, lib, rep);
  const admin = adminRedis();
  const n = 50_000;
  const wp = new WorkerProcess({ lib, ns, mode: 'noop', concurrency: 50, expect: n }, { entry: compiled.entry, nodeArgs });
  try {
    await Promise.all([wp.loaded(), fill(lib, ns, n)]);
    await wp.start();
    const done = await wp.done(120_000);
    return { peakRssMb: done.peakRssMb, jobsPerSec: (done.count / done.elapsedMs) * 1000 };
  } finally {
    await wp.close();
    await deleteKeys(admin, ns.prefix);
    admin.disconnect();
  }
}

const f = (v: number): string => String(round(v));

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const jsonAt = args.indexOf('--json');
  const compiled = compileWorker();
  const out: Record<string, unknown> = { date: new Date().toISOString(), node: process.version };
  try {
    const bare = await probe(compiled, 'jobcraft', { stage: 'bare' });
    const deps = await probe(compiled, 'jobcraft', { stage: 'deps' });
    console.log(`# Worker memory by part (compiled JS, plain node ${process.version}); MB`);
    console.log('\nstage                                  peak RSS   RSS after GC   heap used   external');
    const row = (name: string, r: ProbeReading): void =>
      console.log(`${name.padEnd(38)} ${f(r.hwmMb).padStart(8)}   ${f(r.rssMb).padStart(12)}   ${f(r.heapUsedMb).padStart(9)}   ${f(r.externalMb).padStart(8)}`);
    row('bare node', bare);
    row('ioredis + zod imported', deps);
    out.bare = bare;
    out.deps = deps;
    const RUNNING = 1_000;
    const PREFETCH = 2_000;
    const CONNECTIONS = 50;
    for (const lib of ['jobcraft', 'bullmq'] as const) {
      const loaded = await probe(compiled, lib, { stage: 'loaded' });
      const idle = await probe(compiled, lib, { stage: 'idle', concurrency: 50 });
      const held1 = await probe(compiled, lib, { stage: 'held', concurrency: 1, prefetch: 0, started: 1 }, 1);
      const heldN = await probe(compiled, lib, { stage: 'held', concurrency: RUNNING, prefetch: 0, started: RUNNING }, RUNNING);
      row(`${lib}: library imported`, loaded);
      row(`${lib}: idle worker (concurrency 50)`, idle);
      row(`${lib}: 1 blocked job`, held1);
      row(`${lib}: ${RUNNING} blocked jobs`, heldN);
      const perRunning = ((heldN.heapUsedMb - held1.heapUsedMb) * 1024 * 1024) / (RUNNING - 1);
      const perRunningExt = ((heldN.externalMb - held1.externalMb) * 1024 * 1024) / (RUNNING - 1);
      console.log(`  → per running job: ${Math.round(perRunning)} bytes of heap, ${Math.round(perRunningExt)} bytes external (started: ${held1.started}, ${heldN.started})`);
      const entry: Record<string, unknown> = { loaded, idle, held1, heldN, perRunningJobHeapBytes: perRunning };
      if (lib === 'jobcraft') {
        const pre = await probe(compiled, lib, { stage: 'held', concurrency: 1, prefetch: PREFETCH, started: 1 }, PREFETCH + 1);
        row(`${lib}: 1 blocked + ${PREFETCH} prefetched`, pre);
        const perPrefetched = ((pre.heapUsedMb - held1.heapUsedMb) * 1024 * 1024) / PREFETCH;
        console.log(`  → per prefetched job: ${Math.round(perPrefetched)} bytes of heap`);
        entry.prefetched = pre;
        entry.perPrefetchedJobHeapBytes = perPrefetched;
      }
      out[lib] = entry;
    }
    const c0 = await probe(compiled, 'jobcraft', { stage: 'connections', connections: 0 });
    const cN = await probe(compiled, 'jobcraft', { stage: 'connections', connections: CONNECTIONS });
    row('ioredis + zod, 0 extra connections', c0);
    row(`ioredis + zod, ${CONNECTIONS} extra connections`, cN);
    const perConn = ((cN.heapUsedMb - c0.heapUsedMb) * 1024 * 1024) / CONNECTIONS;
    const perConnRss = ((cN.rssMb - c0.rssMb) * 1024 * 1024) / CONNECTIONS;
    console.log(`  → per ioredis connection: ${Math.round(perConn)} bytes of heap, ${Math.round(perConnRss)} bytes of RSS`);
    out.connections = { c0, cN, perConnectionHeapBytes: perConn, perConnectionRssBytes: perConnRss };

    if (!args.includes('--skip-noop')) {
      console.log('\nnoop-c50 worker peak RSS (MB) by young-generation cap; median of 3 (jobs/s in brackets):');
      const noop: Record<string, unknown> = {};
      for (const semi of [undefined, 8, 4, 1]) {
        const nodeArgs = semi === undefined ? [] : [`--max-semi-space-size=${semi}`];
        const cells: string[] = [];
        for (const lib of ['jobcraft', 'bullmq'] as const) {
          const runs = [];
          for (let rep = 0; rep < 3; rep++) runs.push(await noopPeak(compiled, lib, nodeArgs, rep));
          const peak = median(runs.map((r) => r.peakRssMb));
          const rate = median(runs.map((r) => r.jobsPerSec));
          noop[`${lib}:${semi ?? 'default'}`] = runs;
          cells.push(`${lib} ${f(peak)} (${Math.round(rate).toLocaleString('en-US')}/s)`);
        }
        console.log(`  ${(semi === undefined ? 'default' : `--max-semi-space-size=${semi}`).padEnd(26)} ${cells.join('   ')}`);
      }
      out.noopPeakBySemiSpace = noop;
    }
    if (jsonAt !== -1 && args[jsonAt + 1] !== undefined) {
      writeFileSync(args[jsonAt + 1] as string, `${JSON.stringify(out, null, 2)}\n`);
    }
  } finally {
    compiled.remove();
    const admin = adminRedis();
    await deleteKeys(admin, ROOT_PREFIX).catch(() => 0);
    admin.disconnect();
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  });
}
