/**
 * What every part of the benchmark shares: the Redis it talks to, key namespaces and their cleanup, the payloads,
 * statistics, and the library adapter interface that bench/libs/jobcraft.ts and bench/libs/bullmq.ts implement.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';

/** The libraries compared. `ceiling` is no library at all: plain loops awaiting the same work. */
export type Lib = 'jobcraft' | 'bullmq';
export const LIBS: readonly Lib[] = ['jobcraft', 'bullmq'];

/** The Redis the benchmark uses: `REDIS_URL`, else the local default. */
export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Host, port, password and db of a redis:// URL, as ioredis/BullMQ connection options. */
export function redisOptions(url = redisUrl()): { host: string; port: number; password?: string; db?: number } {
  const u = new URL(url);
  const out: { host: string; port: number; password?: string; db?: number } = { host: u.hostname || '127.0.0.1', port: Number(u.port || 6379) };
  if (u.password) out.password = decodeURIComponent(u.password);
  const db = Number(u.pathname.slice(1));
  if (u.pathname.length > 1 && Number.isInteger(db)) out.db = db;
  return out;
}

/** Where one measurement keeps its keys: every key of it begins with `${prefix}:`. */
export interface Namespace {
  /** jobcraft's key prefix and BullMQ's `prefix` option. */
  readonly prefix: string;
  /** The BullMQ queue name (jobcraft's queue is always `bench`, its keys are `${prefix}:{bench}:…`). */
  readonly queue: string;
  /** The Redis of this measurement when it is not {@link redisUrl} (redis-cpu-per-job's private server). */
  readonly url?: string;
}

/** The Redis URL of a namespace. */
export const nsUrl = (ns: Namespace): string => ns.url ?? redisUrl();

/** An id for one harness run, so concurrent runs never share keys. */
export const RUN_ID = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
/** Every key the harness writes starts with this. */
export const ROOT_PREFIX = `jcbench:${RUN_ID}`;

/** A fresh namespace for one measurement of one workload by one library. */
export function namespace(workload: string, lib: string, rep: number, url?: string): Namespace {
  return { prefix: `${ROOT_PREFIX}:${workload}:${lib}:${rep}`, queue: 'bench', ...(url === undefined ? {} : { url }) };
}

/** Deletes every key under `${prefix}:` (SCAN + UNLINK; never FLUSHALL). Returns how many keys it deleted. */
export async function deleteKeys(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let n = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) n += await redis.unlink(...keys);
  } while (cursor !== '0');
  return n;
}

/** Every key under `${prefix}:`. */
export async function listKeys(redis: Redis, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    out.push(...keys);
  } while (cursor !== '0');
  return out;
}

/** A plain connection for the harness's own look-ups. */
export function adminRedis(): Redis {
  return new Redis(redisUrl(), { maxRetriesPerRequest: 2, enableAutoPipelining: true });
}

// ---- payloads -------------------------------------------------------------------------------------------------

/** The job kinds of the benchmark: `task` carries an index and a timestamp, `email` is a small realistic payload. */
export type JobKind = 'task' | 'email';

/** Payload of `task` jobs: `at` is a wall-clock time in ms (enqueue time or due time; 0 for warm-up jobs). */
export interface TaskPayload {
  readonly i: number;
  readonly at: number;
}

/** Payload of `email` jobs (about 90 bytes of JSON). */
export interface EmailPayload {
  readonly userId: string;
  readonly email: string;
  readonly template: 'welcome' | 'reset' | 'digest';
  readonly locale: 'en' | 'de' | 'fr';
}

export function emailPayload(i: number): EmailPayload {
  const id = String(100_000 + i);
  return { userId: `u-${id}`, email: `user${id}@example.com`, template: 'welcome', locale: 'en' };
}

/** Wall-clock time in ms with sub-ms precision, comparable between processes on one machine. */
export const wallNow = (): number => performance.timeOrigin + performance.now();

/** The unit of work of `work-1ms-c10`: one 1 ms timer. */
export const sleep1 = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- library adapters -----------------------------------------------------------------------------------------

/** The producer side of a library, as the workloads use it. */
export interface Producer {
  /** One enqueue / add call. */
  add(kind: JobKind, data: TaskPayload | EmailPayload, delayMs?: number): Promise<unknown>;
  /** One bulk call (jobcraft `enqueueMany`, BullMQ `addBulk`). */
  addMany(kind: JobKind, data: readonly (TaskPayload | EmailPayload)[]): Promise<unknown>;
  close(): Promise<void>;
}

/** What a benchmark worker runs per job. */
export type BenchHandler = (data: TaskPayload) => unknown;

/** The worker side of a library. */
export interface WorkerHandle {
  /** Resolves once the worker is connected (BullMQ `waitUntilReady`; jobcraft connects on creation). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

export interface WorkerSetup {
  readonly ns: Namespace;
  readonly concurrency: number;
  /** jobcraft only: record Prometheus metrics in the worker. */
  readonly metrics?: boolean;
  readonly handler: BenchHandler;
  /** Called once per job whose completion the library has recorded (its `completed` event). */
  readonly onCompleted: () => void;
  /** `result-roundtrip-p99`: the jobs return a result (the handler's value), which the producer waits for. */
  readonly withResult?: boolean;
}

/** The producer side of `result-roundtrip-p99`: enqueue one job, then wait until its result is received. */
export interface ResultProducer {
  addAndWait(data: TaskPayload): Promise<unknown>;
  close(): Promise<void>;
}

export interface LibAdapter {
  openProducer(ns: Namespace): Producer;
  startWorker(setup: WorkerSetup): WorkerHandle;
  /** jobcraft: `enqueue(…).result()`; BullMQ: `queue.add` then `job.waitUntilFinished(queueEvents)`. */
  openResultProducer(ns: Namespace): Promise<ResultProducer>;
}

/** Loads one library's adapter (dynamically, so a worker process holds only the library it measures). */
export async function loadLib(lib: Lib): Promise<LibAdapter> {
  return lib === 'jobcraft' ? (await import('./libs/jobcraft.js')).adapter : (await import('./libs/bullmq.js')).adapter;
}

// ---- machine load ---------------------------------------------------------------------------------------------

function cpuTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined; // not Linux
  }
}

/** How busy the machine's CPUs are over `ms` (0–100 % of all cores), or undefined where /proc/stat is missing. */
export async function cpuBusyPct(ms = 300): Promise<number | undefined> {
  const a = cpuTicks();
  await sleep(ms);
  const b = cpuTicks();
  if (a === undefined || b === undefined || b.total === a.total) return undefined;
  return ((b.busy - a.busy) / (b.total - a.total)) * 100;
}

/**
 * Waits (up to `maxWaitMs`) until the machine is quiet: other processes use less than `thresholdPct` of its CPUs.
 * Returns the last reading. The benchmark shares the machine with whatever else runs; this keeps their noise out.
 */
export async function waitQuiet(thresholdPct: number, maxWaitMs: number): Promise<number | undefined> {
  const deadline = Date.now() + maxWaitMs;
  for (;;) {
    const busy = await cpuBusyPct(400);
    if (busy === undefined || busy < thresholdPct || Date.now() > deadline) return busy;
  }
}

// ---- statistics -----------------------------------------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Nearest-rank percentile (p in 0–100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1] as number;
}

/** Rounds for display and JSON: 3 significant digits below 100, whole numbers above. */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  return Number(value.toPrecision(3));
}
