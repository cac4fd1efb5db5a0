/**
 * The worker side of a measurement, in its own process (so its CPU and its peak RSS are its own). Started by
 * bench/worker-client.ts with a JSON config as its only argument; talks to the harness over IPC:
 *   → loaded   modules loaded (the harness fills the queue meanwhile)
 *   ← start    create the worker (or run the no-queue ceiling loops)
 *   → ready    the worker is connected
 *   → done     `expect` jobs completed: timings, latencies, peak RSS, CPU time
 *   ← close    close the worker gracefully and exit
 * A worker of a fleet (`fleet: true`, several processes on one queue) never reports `done` (it cannot know its
 * share); instead the harness asks:
 *   ← report   → progress   completions so far, wall-clock times of the first handler start and last completion
 */
import { readFileSync } from 'node:fs';
import { loadLib, sleep1, wallNow, type Lib, type Namespace, type TaskPayload } from './common.js';

/** What the handler does per job. */
export type WorkerMode = 'noop' | 'sleep1' | 'latency' | 'result';

export interface WorkerConfig {
  /** The library to run, or `ceiling`: `concurrency` plain loops running `expect / concurrency` 1 ms waits each. */
  readonly lib: Lib | 'ceiling';
  readonly ns: Namespace;
  readonly mode: WorkerMode;
  readonly concurrency: number;
  /** Completions after which the worker reports `done` (warm-up jobs included). */
  readonly expect: number;
  /** jobcraft only: record Prometheus metrics (createMetrics) in the worker. */
  readonly metrics?: boolean;
  /** One of several worker processes on the queue: answer `report` with `progress` instead of sending `done`. */
  readonly fleet?: boolean;
}

/** A fleet worker's answer to `report`. */
export interface ProgressMessage {
  readonly type: 'progress';
  /** Completions so far. */
  readonly count: number;
  /** Wall-clock time (ms, comparable between processes) of the first handler start; 0 before it. */
  readonly firstStartWall: number;
  /** Wall-clock time of the latest completion; 0 before it. */
  readonly lastEndWall: number;
  /** CPU time of this process since the first handler start, ms. */
  readonly cpuMs: number;
  readonly peakRssMb: number;
  /** As in {@link DoneMessage}. */
  readonly plainNode: boolean;
}

export interface DoneMessage {
  readonly type: 'done';
  readonly count: number;
  /** From the first handler start to the `expect`-th completion, ms. */
  readonly elapsedMs: number;
  /** From creating the worker to its first handler start, ms. */
  readonly startupMs: number;
  /** For `latency` mode: per job with `at > 0`, handler start minus `at` (ms). */
  readonly latencies: number[];
  /** Peak resident set size of this process (VmHWM), MB. */
  readonly peakRssMb: number;
  /** CPU time (user + system) of this process between the first handler start and `done`, ms. */
  readonly cpuMs: number;
  /** The measured window on the monotonic clock of `--cpu-prof` profiles (µs): first handler start, `done`. */
  readonly windowUs: readonly [number, number];
  /** Whether this process runs compiled JavaScript under plain node: no TypeScript loader (tsx) or other hook. */
  readonly plainNode: boolean;
  /** With BENCH_TRACE=1: Redis commands this process sent while measuring, by name (EVALSHA by key count). */
  readonly commands?: Readonly<Record<string, number>>;
  /** With BENCH_TRACE=1: the SHA1 of each script this process ran, and the name its library registered it under. */
  readonly scripts?: Readonly<Record<string, string>>;
  /** With BENCH_TRACE=1: jobs returned per jobcraft fetch call while measuring. */
  readonly fetchedPerCall?: readonly number[];
}

export type ChildMessage = { type: 'loaded' } | { type: 'ready' } | DoneMessage | ProgressMessage | { type: 'closed' } | { type: 'error'; message: string };
export type ParentMessage = { type: 'start' } | { type: 'close' } | { type: 'report' };

/** Resolves at the first message of `type` from the harness. */
const nextMessage = (type: ParentMessage['type']): Promise<void> =>
  new Promise((resolve) => {
    const on = (m: ParentMessage): void => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve();
    };
    process.on('message', on);
  });

let sampledPeak = 0;
const sampler = setInterval(() => (sampledPeak = Math.max(sampledPeak, process.memoryUsage.rss())), 50);
sampler.unref();

/** Peak RSS in MB: the kernel's high-water mark where there is one, else the sampled maximum. */
function peakRssMb(): number {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch {
    // not Linux
  }
  return Math.max(sampledPeak, process.memoryUsage.rss()) / 1024 / 1024;
}

function send(message: ChildMessage, then?: () => void): void {
  if (process.send) process.send(message, undefined, {}, () => then?.());
  else then?.();
}

/**
 * Whether this process runs compiled JavaScript under plain node: this module is a .js file, and neither node's
 * arguments nor NODE_OPTIONS load a hook (tsx and other loaders come in through --import, --loader or --require).
 */
const PLAIN_NODE =
  import.meta.url.endsWith('.js') && ![...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].some((a) => /^--(import|loader|experimental-loader|require)\b|^-r$/.test(a));

const monoUs = (): number => Number(process.hrtime.bigint() / 1000n);

/**
 * BENCH_TRACE=1 counts the Redis commands this process sends (both libraries use the same ioredis), and how many jobs
 * each jobcraft fetch returned. Counting starts at the first handler start.
 */
const trace =
  process.env.BENCH_TRACE === '1' ? { on: false, commands: {} as Record<string, number>, fetched: [] as number[], scripts: {} as Record<string, string> } : undefined;
async function installTrace(lib: Lib): Promise<void> {
  if (trace === undefined) return;
  if (lib === 'jobcraft') {
    const { Scripts } = await import('../src/scripts.js');
    const fetch = Scripts.prototype.fetch;
    Scripts.prototype.fetch = async function (this: InstanceType<typeof Scripts>, ...args: Parameters<typeof fetch>) {
      const result = await fetch.apply(this, args);
      if (trace.on) trace.fetched.push(result.jobs.length);
      return result;
    };
  }
  const { Redis } = await import('ioredis');
  type Cmd = { name: string; args: unknown[]; promise: Promise<unknown> };
  type Conn = { scriptsSet?: Record<string, { sha: string }> };
  const proto = Redis.prototype as unknown as { sendCommand(cmd: Cmd, stream?: unknown): unknown };
  const original = proto.sendCommand;
  proto.sendCommand = function (this: Conn, cmd: Cmd, stream?: unknown) {
    if (trace.on) {
      let name = cmd.name;
      if (cmd.name === 'evalsha' || cmd.name === 'eval') {
        // A script is named as the library registered it (ioredis defineCommand: jobcraft's jcFetch, BullMQ's
        // moveToFinished-14 …); its SHA1 is kept so Redis-side readings (SLOWLOG) can be matched to the name.
        const sha = String(cmd.args[0]);
        const script = Object.entries(this.scriptsSet ?? {}).find(([, s]) => s.sha === sha)?.[0];
        if (script !== undefined) trace.scripts[sha] = script;
        name = `${cmd.name}:${script ?? `${String(cmd.args[1])}keys`}`;
      }
      trace.commands[name] = (trace.commands[name] ?? 0) + 1;
    }
    return original.call(this, cmd, stream);
  };
}

function cpuMsSince(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

async function runCeiling(config: WorkerConfig): Promise<void> {
  const per = Math.ceil(config.expect / config.concurrency);
  const t0 = performance.now();
  const t0Us = monoUs();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: config.concurrency }, async () => {
      for (let i = 0; i < per; i++) await sleep1();
    }),
  );
  const elapsedMs = performance.now() - t0;
  const windowUs = [t0Us, monoUs()] as const;
  send({ type: 'done', count: per * config.concurrency, elapsedMs, startupMs: 0, latencies: [], peakRssMb: peakRssMb(), cpuMs: cpuMsSince(cpu0), windowUs, plainNode: PLAIN_NODE });
}

async function runWorker(config: WorkerConfig, lib: Lib): Promise<{ close(): Promise<void> }> {
  await installTrace(lib);
  const adapter = await loadLib(lib);
  send({ type: 'loaded' });
  await nextMessage('start');
  const createdAt = performance.now();
  let firstStart = 0;
  let firstStartUs = 0;
  let cpu0: NodeJS.CpuUsage | undefined;
  const begin = (): void => {
    firstStart = performance.now();
    firstStartUs = monoUs();
    cpu0 = process.cpuUsage();
    if (trace) trace.on = true;
  };
  let completed = 0;
  let lastEndWall = 0;
  const latencies: number[] = [];
  if (config.fleet === true) {
    process.on('message', (m: ParentMessage) => {
      if (m.type !== 'report') return;
      send({
        type: 'progress',
        count: completed,
        firstStartWall: firstStart === 0 ? 0 : performance.timeOrigin + firstStart,
        lastEndWall,
        cpuMs: cpu0 === undefined ? 0 : cpuMsSince(cpu0),
        peakRssMb: peakRssMb(),
        plainNode: PLAIN_NODE,
      });
    });
  }
  const handler =
    config.mode === 'sleep1'
      ? (): Promise<void> => {
          if (firstStart === 0) begin();
          return sleep1();
        }
      : config.mode === 'latency'
        ? (data: TaskPayload): void => {
            const now = wallNow();
            if (firstStart === 0) begin();
            if (data.at > 0) latencies.push(now - data.at);
          }
        : config.mode === 'result'
          ? (data: TaskPayload): { i: number } => {
              if (firstStart === 0) begin();
              return { i: data.i };
            }
          : (): void => {
              if (firstStart === 0) begin();
            };
  const worker = adapter.startWorker({
    ns: config.ns,
    concurrency: config.concurrency,
    metrics: config.metrics === true,
    withResult: config.mode === 'result',
    handler,
    onCompleted: () => {
      ++completed;
      if (config.fleet === true) {
        lastEndWall = wallNow();
        return;
      }
      if (completed !== config.expect) return;
      const end = performance.now();
      if (trace) trace.on = false;
      send({
        type: 'done',
        count: completed,
        elapsedMs: end - firstStart,
        startupMs: firstStart - createdAt,
        latencies,
        peakRssMb: peakRssMb(),
        cpuMs: cpu0 === undefined ? 0 : cpuMsSince(cpu0),
        windowUs: [firstStartUs, monoUs()],
        plainNode: PLAIN_NODE,
        ...(trace ? { commands: trace.commands, fetchedPerCall: trace.fetched, scripts: trace.scripts } : {}),
      });
    },
  });
  await worker.ready();
  send({ type: 'ready' });
  return worker;
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig;
  process.on('disconnect', () => process.exit(1)); // the harness is gone
  if (config.lib === 'ceiling') {
    send({ type: 'loaded' });
    await nextMessage('start');
    send({ type: 'ready' });
    await runCeiling(config);
    await nextMessage('close');
  } else {
    const worker = await runWorker(config, config.lib);
    await nextMessage('close');
    await worker.close();
  }
  // Exit even if a library left a handle open (process.exit also writes --cpu-prof profiles).
  send({ type: 'closed' }, () => process.exit(0));
}

main().catch((err: unknown) => {
  send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  process.exit(1);
});
