/**
 * Where the time goes: runs noop-c50 and work-1ms-c10 (and, on request, fleet-noop, enqueue-single and enqueue-bulk) once per library against a private redis-server (so Redis's
 * counters hold only this traffic) and reports, per run: throughput; CPU per job of the worker process and of
 * Redis; Redis commands per job from `INFO commandstats` (calls and µs); the commands the worker process sent
 * (round trips) and jobs per fetch; the slowest entries of SLOWLOG; and the top of a `node --cpu-prof` profile of the
 * worker process, restricted to the measured window.
 *
 *   npx tsx bench/profile.ts [--only noop-c50] [--libs jobcraft] [--out DIR] [--jobs N]
 *   npx tsx bench/profile.ts --summarize FILE.cpuprofile      summarize any profile (e.g. of `jobcraft codegen`)
 *
 * Profiles stay in DIR (default bench/.tmp/profile-<time>) for Chrome DevTools or speedscope.
 */
import { readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Session } from 'node:inspector';
import type { Redis } from 'ioredis';
import { compileWorker } from './compile.js';
import { commandDelta, infoCpuUs, parseCommandStats, withPrivateRedis, type CommandStat } from './private-redis.js';
import { deleteKeys, emailPayload, loadLib, namespace, round, type EmailPayload, type Lib, type TaskPayload } from './common.js';
import { WorkerProcess } from './worker-client.js';
import { FLEET } from './workloads.js';
import type { WorkerMode } from './worker-process.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Where a profiled function lives, in a few buckets. */
function bucket(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'GC';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8/native (program)';
  if (url.includes('/node_modules/ioredis/')) return 'ioredis';
  if (url.includes('/node_modules/zod/')) return 'zod';
  if (url.includes('/node_modules/bullmq/')) return 'bullmq';
  if (url.includes('/node_modules/')) return `other packages (${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? '?'})`;
  if (url.includes('/src/')) return 'jobcraft src/';
  if (url.includes('/bench/')) return 'bench harness';
  if (url.startsWith('node:') || url === '') return 'node internals';
  return 'other';
}

/** A function's name and place, as the summaries print it. */
function frameKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${url.replace(/\/bench\/\.tmp\/compiled-[^/]+\//, '/').replace(/^file:\/\/.*?\/(node_modules|src|bench)\//, '$1/')}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

/**
 * Self time per function and per bucket, within [fromUs, toUs] of the profile's clock; and the inclusive time (the
 * function and everything it called, counted once per sample) of jobcraft's own functions.
 */
export function summarizeProfile(
  profile: CpuProfile,
  fromUs: number,
  toUs: number,
): { total: number; buckets: [string, number][]; functions: [string, number][]; inclusive: [string, number][] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const buckets = new Map<string, number>();
  const functions = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let t = profile.startTime;
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs) continue;
    const node = byId.get(profile.samples[i] as number);
    if (node === undefined) continue;
    const { functionName, url } = node.callFrame;
    const b = bucket(url, functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + dt);
    const key = frameKey(node);
    functions.set(key, (functions.get(key) ?? 0) + dt);
    total += dt;
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id);
      if (frame === undefined || !frame.callFrame.url.includes('/src/')) continue;
      const k = frameKey(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + dt);
    }
  }
  const sort = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);
  return { total, buckets: sort(buckets), functions: sort(functions), inclusive: sort(inclusive) };
}

const pct = (part: number, total: number): string => `${((part / total) * 100).toFixed(1)}%`;

async function profileRun(redis: Redis, lib: Lib, workload: string, jobs: number, concurrency: number, mode: WorkerMode, outDir: string, entry: string | undefined): Promise<void> {
  const ns = namespace(`profile-${workload}`, lib, 0);
  const dir = join(outDir, `${workload}-${lib}`);
  mkdirSync(dir, { recursive: true });
  const wp = new WorkerProcess({ lib, ns, mode, concurrency, expect: jobs }, { cpuProfDir: dir, env: { BENCH_TRACE: '1' }, entry });
  try {
    const producer = (await loadLib(lib)).openProducer(ns);
    for (let from = 0; from < jobs; from += 1_000) {
      await producer.addMany('task', Array.from({ length: Math.min(1_000, jobs - from) }, (_, k): TaskPayload => ({ i: from + k, at: 0 })));
    }
    await producer.close();
    await wp.loaded();
    await redis.slowlog('RESET');
    const stats0 = parseCommandStats(await redis.info('commandstats'));
    const cpu0 = await infoCpuUs(redis);
    await wp.start();
    const done = await wp.done(300_000);
    const cpu1 = await infoCpuUs(redis);
    const stats1 = parseCommandStats(await redis.info('commandstats'));
    const slow = (await redis.slowlog('GET', SLOWLOG_LEN)) as [number, number, number, string[]][];
    await wp.close();

    console.log(`\n## ${workload} — ${lib}: ${jobs} jobs, concurrency ${concurrency}`);
    console.log(`throughput ${Math.round((jobs / done.elapsedMs) * 1000)} jobs/s; worker CPU ${round((done.cpuMs * 1000) / jobs)} µs/job; Redis CPU ${round((cpu1 - cpu0) / jobs)} µs/job; peak RSS ${round(done.peakRssMb)} MB`);
    printStats(stats0, stats1, jobs);
    const sent = Object.entries(done.commands ?? {}).sort((a, b) => b[1] - a[1]);
    const roundTrips = sent.reduce((s, [, n]) => s + n, 0);
    console.log(`\ncommands sent by the worker process: ${round(roundTrips / jobs)} per job (${roundTrips} total)`);
    for (const [name, n] of sent) console.log(`  ${name.padEnd(18)} ${n} (${round(n / jobs)}/job)`);
    const fetched = done.fetchedPerCall ?? [];
    if (fetched.length > 0) {
      const withJobs = fetched.filter((n) => n > 0);
      console.log(`jobcraft fetch calls: ${fetched.length}; ${withJobs.length} returned jobs, ${round(withJobs.reduce((a, b) => a + b, 0) / Math.max(1, withJobs.length))} jobs per call on average; ${fetched.length - withJobs.length} returned none (ack-only or empty)`);
    }
    printScripts(slow, done.scripts ?? {}, jobs);
    // One profile per thread: thread 0 is the main thread (tsx's module loader runs on another).
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile') && f.includes(`.${wp.pid}.0.`));
    if (file !== undefined) {
      const summary = summarizeProfile(JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile, done.windowUs[0], done.windowUs[1]);
      printProfile(summary, jobs, `worker process, ${join(dir, file)}`);
    }
  } finally {
    wp.kill();
    await deleteKeys(redis, ns.prefix);
  }
}

/**
 * fleet-noop's shape against the private server: `procs` worker processes of concurrency `conc` on one queue of `jobs`
 * no-op jobs, against one process with the same total concurrency and one with 50, so the cost of splitting a
 * worker into a fleet shows: Redis CPU per job, jobs per script call, µs per call, the processes' CPU per job.
 */
async function profileFleet(redis: Redis, lib: Lib, jobs: number, entry: string | undefined): Promise<void> {
  console.log(`\n## fleet-noop — ${lib}: ${jobs} jobs (private server; throughput, Redis and worker CPU per job)`);
  for (const [procs, conc] of [[FLEET.processes, FLEET.concurrency], [1, FLEET.processes * FLEET.concurrency], [1, 50]] as const) {
    const ns = namespace('profile-fleet', lib, procs * 1_000 + conc);
    const wps = Array.from({ length: procs }, () => new WorkerProcess({ lib, ns, mode: 'noop', concurrency: conc, expect: jobs, fleet: true }, { entry }));
    try {
      const producer = (await loadLib(lib)).openProducer(ns);
      for (let from = 0; from < jobs; from += 1_000) {
        await producer.addMany('task', Array.from({ length: Math.min(1_000, jobs - from) }, (_, k): TaskPayload => ({ i: from + k, at: 0 })));
      }
      await producer.close();
      await Promise.all(wps.map((w) => w.loaded()));
      const stats0 = parseCommandStats(await redis.info('commandstats'));
      const cpu0 = await infoCpuUs(redis);
      await Promise.all(wps.map((w) => w.start()));
      let reports = await Promise.all(wps.map((w) => w.progress()));
      while (reports.reduce((sum, r) => sum + r.count, 0) < jobs) {
        await new Promise((r) => setTimeout(r, 50));
        reports = await Promise.all(wps.map((w) => w.progress()));
      }
      const cpu1 = await infoCpuUs(redis);
      const scripts = commandDelta(stats0, parseCommandStats(await redis.info('commandstats'))).find((r) => r.cmd === 'evalsha');
      const elapsed = Math.max(...reports.map((r) => r.lastEndWall)) - Math.min(...reports.map((r) => r.firstStartWall));
      const calls = scripts?.calls ?? 0;
      console.log(
        `  ${`${procs} × concurrency ${conc}`.padEnd(22)} ${String(Math.round((jobs / elapsed) * 1000)).padStart(7)} jobs/s; Redis ${round((cpu1 - cpu0) / jobs)} µs/job; ` +
          `${calls} script calls (${round(jobs / Math.max(1, calls))} jobs per call, ${round((scripts?.usec ?? 0) / Math.max(1, calls))} µs per call); ` +
          `worker processes ${round((reports.reduce((sum, r) => sum + r.cpuMs, 0) * 1000) / jobs)} µs/job of CPU together`,
      );
    } finally {
      await Promise.all(wps.map((w) => w.close()));
      await deleteKeys(redis, ns.prefix);
    }
  }
}

/** Profiles the producer side in this process (inspector CPU profiler around the measured window). */
async function profileEnqueue(redis: Redis, lib: Lib, workload: 'enqueue-single' | 'enqueue-bulk', jobs: number): Promise<void> {
  const ns = namespace(`profile-${workload}`, lib, 0);
  const producer = (await loadLib(lib)).openProducer(ns);
  const session = new Session();
  session.connect();
  const post = <T>(method: string, params?: object): Promise<T> =>
    new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res as T))));
  try {
    await producer.add('email', emailPayload(0));
    const payloads = Array.from({ length: jobs }, (_, i) => emailPayload(i + 1));
    const batches: EmailPayload[][] = [];
    for (let from = 0; from < jobs; from += 1_000) batches.push(payloads.slice(from, from + 1_000));
    await post('Profiler.enable');
    await post('Profiler.setSamplingInterval', { interval: 100 });
    const stats0 = parseCommandStats(await redis.info('commandstats'));
    const rcpu0 = await infoCpuUs(redis);
    const cpu0 = process.cpuUsage();
    await post('Profiler.start');
    const t0 = performance.now();
    if (workload === 'enqueue-single') await Promise.all(payloads.map((p) => producer.add('email', p)));
    else for (const b of batches) await producer.addMany('email', b);
    const ms = performance.now() - t0;
    const { profile } = await post<{ profile: CpuProfile }>('Profiler.stop');
    const cpu = process.cpuUsage(cpu0);
    const rcpu1 = await infoCpuUs(redis);
    const stats1 = parseCommandStats(await redis.info('commandstats'));
    console.log(`\n## ${workload} — ${lib}: ${jobs} jobs`);
    console.log(`throughput ${Math.round((jobs / ms) * 1000)} jobs/s; producer CPU ${round(((cpu.user + cpu.system) / jobs))} µs/job; Redis CPU ${round((rcpu1 - rcpu0) / jobs)} µs/job`);
    printStats(stats0, stats1, jobs);
    const summary = summarizeProfile(profile, -Infinity, Infinity);
    printProfile(summary, jobs, '(inspector profiler, this process)');
  } finally {
    session.disconnect();
    await producer.close();
    await deleteKeys(redis, ns.prefix);
  }
}

/** SLOWLOG keeps this many of the latest commands (threshold 0: every command) for the per-script account. */
const SLOWLOG_LEN = 20_000;

/**
 * Redis time per script (and per other top-level command) from SLOWLOG entries: scripts named by the SHA1 → name map
 * the worker process reported; a SHA it did not run (the producer's) is shown by its first characters.
 */
function printScripts(entries: readonly [number, number, number, string[]][], scripts: Readonly<Record<string, string>>, jobs: number): void {
  if (entries.length === 0) return;
  const rows = new Map<string, { calls: number; usec: number }>();
  for (const [, , usec, args] of entries) {
    const cmd = (args[0] ?? '?').toLowerCase();
    if (cmd === 'info' || cmd === 'slowlog' || cmd === 'config') continue;
    const name = cmd === 'evalsha' ? `evalsha ${scripts[args[1] ?? ''] ?? (args[1] ?? '').slice(0, 8)}` : cmd;
    const row = rows.get(name) ?? { calls: 0, usec: 0 };
    row.calls++;
    row.usec += usec;
    rows.set(name, row);
  }
  const whole = entries.length < SLOWLOG_LEN;
  const covered = whole ? '' : ` (only the last ${SLOWLOG_LEN.toLocaleString('en-US')} commands: a sample of the run's end)`;
  console.log(`\nRedis time per script and per command, SLOWLOG with threshold 0${covered}; a script's time includes the commands it calls, which are also listed:`);
  const sorted = [...rows].sort((a, b) => b[1].usec - a[1].usec);
  const sampledUsec = sorted.filter(([name]) => name.startsWith('evalsha') || name.startsWith('eval ')).reduce((sum, [, r]) => sum + r.usec, 0) || 1;
  for (const [name, r] of sorted.slice(0, 12)) {
    console.log(`  ${name.padEnd(34)} ${String(r.calls).padStart(7)} calls  ${String(round(r.usec / r.calls)).padStart(8)} µs/call  ${pct(r.usec, sampledUsec).padStart(6)} of the scripts' time`);
  }
  if (whole) console.log(`  (${jobs} jobs: ${round(sampledUsec / jobs)} µs of script time per job)`);
}

function printStats(stats0: ReadonlyMap<string, CommandStat>, stats1: ReadonlyMap<string, CommandStat>, jobs: number): void {
  console.log('\nRedis INFO commandstats during the run (scripts count the commands they call):');
  const rows = commandDelta(stats0, stats1);
  for (const r of rows) console.log(`  ${r.cmd.padEnd(18)} ${String(round(r.calls / jobs)).padStart(8)} calls/job  ${String(round(r.usec / Math.max(1, r.calls))).padStart(7)} µs/call  ${String(round(r.usec / jobs)).padStart(7)} µs/job`);
}

function printProfile(summary: ReturnType<typeof summarizeProfile>, jobs: number, where: string): void {
  console.log(`\nCPU profile over the measured window (${round(summary.total / 1000)} ms sampled; ${where}):`);
  for (const [b, us] of summary.buckets) console.log(`  ${b.padEnd(28)} ${pct(us, summary.total).padStart(6)}  ${round(us / jobs)} µs/job`);
  console.log('top self time:');
  for (const [f, us] of summary.functions.slice(0, 25)) console.log(`  ${pct(us, summary.total).padStart(6)}  ${f}`);
  if (summary.inclusive.length > 0) {
    console.log("jobcraft's functions by inclusive time (with everything they call):");
    for (const [f, us] of summary.inclusive.slice(0, 20)) console.log(`  ${pct(us, summary.total).padStart(6)}  ${round(us / jobs)} µs/job  ${f}`);
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const get = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i === -1 ? undefined : args[i + 1];
  };
  const only = get('--only')?.split(',') ?? ['noop-c50', 'work-1ms-c10'];
  const libs = (get('--libs')?.split(',') ?? ['jobcraft', 'bullmq']) as Lib[];
  const outDir = resolve(get('--out') ?? join(fileURLToPath(new URL('.', import.meta.url)), '.tmp', `profile-${Date.now()}`));
  const compiled = args.includes('--tsx-workers') ? undefined : compileWorker();
  try {
    await withPrivateRedis(async ({ url, admin: redis }) => {
      process.env.REDIS_URL = url;
      await redis.config('SET', 'slowlog-log-slower-than', '0');
      await redis.config('SET', 'slowlog-max-len', String(SLOWLOG_LEN));
      const version = /redis_version:(\S+)/.exec(await redis.info('server'))?.[1];
      console.log(`# jobcraft profile — private redis-server ${version} at ${url}; profiles in ${outDir}; worker processes: ${compiled ? 'node (compiled)' : 'tsx'}`);
      for (const workload of only) {
        for (const lib of libs) {
          if (workload === 'noop-c50') await profileRun(redis, lib, workload, Number(get('--jobs') ?? 50_000), 50, 'noop', outDir, compiled?.entry);
          else if (workload === 'work-1ms-c10') await profileRun(redis, lib, workload, Number(get('--jobs') ?? 10_000), 10, 'sleep1', outDir, compiled?.entry);
          else if (workload === 'fleet-noop') await profileFleet(redis, lib, Number(get('--jobs') ?? 100_000), compiled?.entry);
          else if (workload === 'enqueue-single') await profileEnqueue(redis, lib, workload, Number(get('--jobs') ?? 20_000));
          else if (workload === 'enqueue-bulk') await profileEnqueue(redis, lib, workload, Number(get('--jobs') ?? 100_000));
          else throw new Error(`profile.ts knows noop-c50, work-1ms-c10, fleet-noop, enqueue-single and enqueue-bulk, not ${workload}`);
        }
      }
    });
  } finally {
    compiled?.remove();
  }
}

/** `--summarize FILE.cpuprofile`: the buckets and top functions of any profile (e.g. of `jobcraft codegen`). */
function summarizeFile(file: string): void {
  const summary = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, -Infinity, Infinity);
  console.log(`${file}: ${round(summary.total / 1000)} ms sampled`);
  for (const [b, us] of summary.buckets) console.log(`  ${b.padEnd(32)} ${pct(us, summary.total).padStart(6)}  ${round(us / 1000)} ms`);
  console.log('top self time:');
  for (const [f, us] of summary.functions.slice(0, 30)) console.log(`  ${pct(us, summary.total).padStart(6)}  ${f}`);
  if (summary.inclusive.length > 0) console.log("jobcraft's functions by inclusive time (with everything they call):");
  for (const [f, us] of summary.inclusive.slice(0, 25)) console.log(`  ${pct(us, summary.total).padStart(6)}  ${round(us / 1000)} ms  ${f}`);
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--summarize');
  const run = i !== -1 ? Promise.resolve(summarizeFile(process.argv[i + 1] ?? '')) : main();
  run.catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : String(err));
    process.exit(1);
  });
}
