/**
 * One memory reading of a worker process in a given state, for bench/memory.ts (which compiles this file with the
 * worker, bench/compile.ts, and runs it under plain `node --expose-gc`). Its only argument is a JSON
 * {@link ProbeConfig}; it prints one JSON {@link ProbeReading} line and exits.
 *
 * Stages:
 * - `bare`: nothing loaded beyond node itself.
 * - `deps`: ioredis and zod imported (what the issue calls a bare process with ioredis and zod: ~74 MB peak).
 * - `loaded`: the library imported (jobcraft: ioredis, zod, its runtime and the benchmark's job set; BullMQ: ioredis
 *   and the package, no zod, as in the benchmark's BullMQ worker).
 * - `idle`: a worker created, connected and idle on an empty queue.
 * - `held`: a worker whose handlers never finish, on a queue the driver filled with `jobs` jobs: `concurrency`
 *   of them run (blocked) and, for jobcraft, up to `prefetch` more wait in its buffer.
 * - `connections`: `connections` extra ioredis connections opened and connected (nothing else).
 */
import { readFileSync } from 'node:fs';
import type { Lib, Namespace } from './common.js';

export type ProbeStage = 'bare' | 'deps' | 'loaded' | 'idle' | 'held' | 'connections';

export interface ProbeConfig {
  readonly stage: ProbeStage;
  readonly lib: Lib;
  readonly ns: Namespace;
  readonly url: string;
  readonly concurrency?: number;
  /** jobcraft only: a fixed prefetch (its worker option). */
  readonly prefetch?: number;
  /** `held`: wait until this many handlers started. */
  readonly started?: number;
  readonly connections?: number;
}

export interface ProbeReading {
  /** Peak RSS (VmHWM), MB. */
  readonly hwmMb: number;
  /** RSS now (after two full GCs), MB. */
  readonly rssMb: number;
  /** V8 heap in use after two full GCs, MB. */
  readonly heapUsedMb: number;
  /** V8 heap reserved (heapTotal), MB. */
  readonly heapTotalMb: number;
  /** Memory of C++ objects bound to JS (Buffers included), MB. */
  readonly externalMb: number;
  /** Handlers started (`held`). */
  readonly started: number;
}

const MB = 1024 * 1024;

function status(field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+)\\s+kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 50));
    gc?.();
  }
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as ProbeConfig;
  process.env.REDIS_URL = config.url;
  let started = 0;
  const keep: unknown[] = [];
  // ioredis, and zod where the library uses it (jobcraft validates with it; the BullMQ worker never loads it).
  if (config.stage !== 'bare') keep.push(await import('ioredis'));
  if (config.stage === 'deps' || config.stage === 'connections' || config.lib === 'jobcraft') keep.push(await import('zod'));
  if (config.stage === 'loaded' || config.stage === 'idle' || config.stage === 'held') {
    if (config.lib === 'jobcraft') keep.push(await import('../src/index.js'), await import('./libs/jobcraft.js'));
    else keep.push(await import('bullmq'));
  }
  if (config.stage === 'idle' || config.stage === 'held') {
    const concurrency = config.concurrency ?? 1;
    const block = new Promise<void>(() => {}); // the handlers of `held` never finish
    const handler = (): Promise<void> => {
      started++;
      return config.stage === 'held' ? block : Promise.resolve();
    };
    if (config.lib === 'jobcraft') {
      const { createWorker } = await import('../src/index.js');
      const { benchJobs } = await import('./libs/jobcraft.js');
      keep.push(
        createWorker(benchJobs, { task: handler, email: handler }, {
          redis: config.url,
          prefix: config.ns.prefix,
          concurrency,
          ...(config.prefetch === undefined ? {} : { prefetch: config.prefetch }),
        }),
      );
    } else {
      const { Worker } = await import('bullmq');
      const { redisOptions } = await import('./common.js');
      const worker = new Worker(config.ns.queue, handler, {
        connection: { ...redisOptions(config.url), maxRetriesPerRequest: null },
        prefix: config.ns.prefix,
        concurrency,
      });
      await worker.waitUntilReady();
      keep.push(worker);
    }
    const want = config.started ?? 0;
    const deadline = Date.now() + 30_000;
    while (started < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, config.stage === 'idle' ? 1_000 : 500));
  }
  if (config.stage === 'connections') {
    const { Redis } = await import('ioredis');
    const conns = Array.from({ length: config.connections ?? 0 }, () => new Redis(config.url));
    await Promise.all(conns.map((c) => c.ping()));
    keep.push(conns);
  }
  await settle();
  const mem = process.memoryUsage();
  const reading: ProbeReading = {
    hwmMb: status('VmHWM'),
    rssMb: status('VmRSS'),
    heapUsedMb: mem.heapUsed / MB,
    heapTotalMb: mem.heapTotal / MB,
    externalMb: mem.external / MB,
    started,
  };
  process.stdout.write(`${JSON.stringify(reading)}\n`, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
