import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';

/** The Redis the test run uses (set by test/global-setup.ts). */
export const redisUrl = (): string => process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test uses. */
export const testPrefix = (name: string): string => `jctest:${name}:${randomBytes(4).toString('hex')}`;

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. Outcomes, never timings. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A plain connection for looking at (or tampering with) keys directly. */
export function rawRedis(url = redisUrl()): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under a prefix on a connection of its own, then closes it: for cleanups that hold no raw connection. */
export async function clearPrefix(prefix: string): Promise<void> {
  const redis = rawRedis();
  await deletePrefix(redis, prefix);
  await redis.quit();
}

/** Deletes every key under a prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

// ---- added for the core-runtime test suite ---------------------------------------------------------------

import { afterEach } from 'vitest';
import type { QueueKeys } from '../src/keys.js';
import { createAdmin, createClient, queueKeys, type Admin, type JobClient, type JobSet } from '../src/index.js';

/**
 * Clean-ups for the running test, run after it (last added first) even when it fails. Call once per test file,
 * at module level; every clean-up runs even if an earlier one throws.
 */
export function cleanupRegistry(): (fn: () => unknown) => void {
  const list: (() => unknown)[] = [];
  afterEach(async () => {
    const errors: unknown[] = [];
    for (const fn of list.splice(0).reverse()) {
      try {
        await fn();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return (fn) => void list.push(fn);
}

/**
 * Whether a key holds operations data rather than jobs (docs/operations.md, "Data"): the queue registry, the worker
 * registry and the history buckets. They describe the queues, not a job, so tests about what a job leaves behind
 * leave them out (see keysUnder).
 */
export function isOperationsKey(key: string): boolean {
  return /:queues$/.test(key) || key.includes(':{#workers}:') || /:history:[mh]:\d+$/.test(key);
}

/** Every key under a prefix that holds jobs (the operations data left out: see isOperationsKey), sorted. */
export async function keysUnder(redis: Redis, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    found.push(...keys.filter((k) => !isOperationsKey(k)));
  } while (cursor !== '0');
  return found.sort();
}

/** A promise and the function that resolves it: lets a test decide when a handler finishes. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** Resolves when `signal` aborts, with its reason. */
/** What `p` rejects with; fails when it fulfils. */
export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

export function aborted(signal: AbortSignal): Promise<unknown> {
  if (signal.aborted) return Promise.resolve(signal.reason);
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(signal.reason), { once: true }));
}

/** How many ids each structure of one queue holds. */
export interface QueueCounts {
  wait: number;
  prio: number;
  scheduled: number;
  active: number;
  jobs: number;
  attempts: number;
  errors: number;
  done: number;
  dead: number;
}

/** The field that keeps an attempts hash in the hashtable encoding (_lib.lua ATTEMPTS_GUARD). */
export const ATTEMPTS_GUARD = '#jobcraft:attempts-hash-encoding-guard:keeps-the-hashtable-encoding-of-this-hash#';

/** How many ids each structure of one queue holds, read straight from Redis. */
export async function queueCounts(redis: Redis, k: QueueKeys): Promise<QueueCounts> {
  const [wait, prio, scheduled, active, jobs, attempts, errors, done, dead] = await Promise.all([
    redis.llen(k.wait),
    redis.zcard(k.prio),
    redis.zcard(k.scheduled),
    redis.zcount(k.active, '-inf', '(+inf'), // leases; the set's encoding guard is scored +inf
    redis.hlen(k.jobs),
    redis.hlen(k.attempts),
    redis.hlen(k.errors),
    redis.hlen(k.done),
    redis.hlen(k.dead),
    redis.hexists(k.attempts, ATTEMPTS_GUARD), // the hash's encoding guard (_lib.lua), while any job is leased
  ]).then(([w, p, s, a, j, at, e, d, dd, guard]) => [w, p, s, a, j, at - guard, e, d, dd] as const);
  return { wait, prio, scheduled, active, jobs, attempts, errors, done, dead };
}

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A worker running test/fixtures/child-worker.ts in its own process. */
export interface ChildWorker {
  /** `started <id> <attempt>` lines printed so far. */
  readonly started: { id: string; attempt: number }[];
  /** Resolves once `n` handlers have started (fails if the process exits first). */
  waitStarted(n: number): Promise<void>;
  /** Sends a signal and waits for the process to exit; resolves with its exit code and signal. */
  signal(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts test/fixtures/child-worker.ts (or `script`, which prints the same lines) with `env` (see that file) in a child process. `onCleanup` receives a
 * function that kills the process if it is still alive; register it with the file's clean-ups.
 */
export function spawnChildWorker(
  env: Record<string, string>,
  onCleanup: (fn: () => Promise<void>) => void,
  script = 'test/fixtures/child-worker.ts',
): ChildWorker {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: root,
    env: { ...process.env, REDIS_URL: redisUrl(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const started: { id: string; attempt: number }[] = [];
  let stderr = '';
  let pending = '';
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^started (\S+) (\d+)$/.exec(line);
      if (m) started.push({ id: m[1] as string, attempt: Number(m[2]) });
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    started,
    waitStarted: async (n) => {
      try {
        await waitFor(() => {
          if (child.exitCode !== null) throw new Error(`the child worker exited early (code ${child.exitCode})`);
          return started.length >= n;
        }, `${n} job(s) to start in the child worker`);
      } catch (err) {
        throw new Error(`${(err as Error).message}; its output: ${JSON.stringify(stdout + stderr)}`);
      }
    },
    signal: async (signal) => {
      child.kill(signal);
      return exited;
    },
  };
}

/**
 * A client of `jobs` on a key prefix no other test uses, and a raw connection for looking at (or tampering with) its
 * keys. After the test, both close and every key under the prefix is deleted.
 */
export function testClient<J extends JobSet>(
  jobs: J,
  name: string,
  defer: (fn: () => unknown) => void,
  url = redisUrl(),
): { prefix: string; client: JobClient<J>; raw: Redis } {
  const prefix = testPrefix(name);
  const client = createClient(jobs, { redis: url, prefix });
  const raw = rawRedis(url);
  defer(async () => {
    await client.close();
    await deletePrefix(raw, prefix);
    raw.disconnect();
  });
  return { prefix, client, raw };
}

/**
 * {@link testClient}, and an admin (`createAdmin`) on the same prefix with `adminJobs` (default `jobs`: another deploy's
 * job set when the test is about deploys), closed after the test; `k` is the keys of queue `default`.
 */
export function testAdmin<J extends JobSet>(
  jobs: J,
  name: string,
  defer: (fn: () => unknown) => void,
  adminJobs: JobSet = jobs,
): { prefix: string; client: JobClient<J>; raw: Redis; admin: Admin; k: QueueKeys } {
  const { prefix, client, raw } = testClient(jobs, name, defer);
  const admin = createAdmin({ redis: redisUrl(), prefix, jobs: adminJobs });
  defer(() => admin.close());
  return { prefix, client, raw, admin, k: queueKeys(prefix, 'default') };
}
