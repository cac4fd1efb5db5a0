/**
 * The worker registry's heartbeat (docs/operations.md, "Data"): a background loop, off the hot path, that writes this
 * process's entry — host, pid, name, version, queues, concurrency, the jobs running now (the first 100, and their
 * count), when it started — every `intervalMs` with heartbeat.lua, which also drops the entries of processes that
 * stopped beating. An entry lives 3 intervals past its last beat; `close()` removes it at once.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { WorkerRegistryKeys } from '../keys.js';
import type { Scripts } from '../scripts.js';
import type { Logger } from '../logger.js';
import { WORKER_RUNNING_LISTED } from '../inspect-types.js';

/** Default time between beats. */
export const HEARTBEAT_MS = 5_000;
/** An entry lives this many intervals past its last beat. */
export const HEARTBEAT_TTL_INTERVALS = 3;

/** The version of the jobcraft package running (package.json, from src/worker or dist/worker alike). */
export const LIBRARY_VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
})();

/** A job running now, as the heartbeat lists it. */
export interface RunningEntry {
  readonly id: string;
  readonly queue: string;
  readonly name: string;
  /** Wall-clock ms. */
  readonly startedAt: number;
}

/** What the heartbeat needs from the worker. */
export interface HeartbeatHost {
  /** The jobs whose handlers run now, and how many there are. Called once per beat. */
  runningJobs(max: number): { readonly listed: readonly RunningEntry[]; readonly count: number };
}

/** How the heartbeat is set up (its params). */
export interface HeartbeatParams {
  readonly scripts: Scripts;
  readonly keys: WorkerRegistryKeys;
  /** `WorkerOptions.name`, if set. */
  readonly name: string | undefined;
  readonly queues: readonly string[];
  readonly concurrency: number;
  readonly intervalMs: number;
  /** Where a failing heartbeat is noted (at info level: the registry is information, the worker runs on). */
  readonly logger: Logger;
}

/** A new worker id: `<host>:<pid>:<random>`. */
function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
}

/**
 * The entry JSON of one beat. `lastBeatAt` is written last, as 0: heartbeat.lua puts Redis's time there (at the
 * end of the text, so no other field's text can be taken for it), so every entry's lapse compares on one clock.
 */
export function entryJson(
  id: string,
  p: Pick<HeartbeatParams, 'name' | 'queues' | 'concurrency'>,
  startedAt: number,
  running: { readonly listed: readonly RunningEntry[]; readonly count: number },
): string {
  const host = hostname();
  return JSON.stringify({
    id,
    name: p.name ?? `${host}:${process.pid}`,
    host,
    pid: process.pid,
    version: LIBRARY_VERSION,
    queues: p.queues,
    concurrency: p.concurrency,
    running: running.listed.slice(0, WORKER_RUNNING_LISTED),
    runningCount: running.count,
    startedAt,
    lastBeatAt: 0,
  });
}

/** Registers this worker process and keeps its entry fresh. */
export class Heartbeat {
  readonly id = newWorkerId();
  private readonly startedAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failing = false;
  /** The beat whose script call is in flight (stop() waits for it, so it cannot write the entry back afterwards). */
  private inFlight: Promise<unknown> | undefined;

  constructor(
    private readonly host: HeartbeatHost,
    private readonly p: HeartbeatParams,
  ) {}

  /** How long an entry lives past its last beat. */
  get ttlMs(): number {
    return this.p.intervalMs * HEARTBEAT_TTL_INTERVALS;
  }

  start(): void {
    void this.beat();
  }

  /** Writes the entry now. */
  async beat(): Promise<void> {
    if (this.stopped) return;
    try {
      const json = entryJson(this.id, this.p, this.startedAt, this.host.runningJobs(WORKER_RUNNING_LISTED));
      const call = this.p.scripts.heartbeat(this.p.keys, { id: this.id, json, ttlMs: this.ttlMs });
      this.inFlight = call;
      await call;
      this.failing = false;
    } catch (err) {
      // Said once per episode, at info level: the registry is information, the worker goes on (an outage is
      // reported by the fetch loops already; a user whose ACL leaves out the registry keys runs without an entry).
      if (!this.failing && !this.stopped) {
        this.p.logger.info(`could not write this worker's registry entry (it is retried every ${this.p.intervalMs} ms): ${err instanceof Error ? err.message : String(err)}`);
      }
      this.failing = true;
    }
    if (!this.stopped) {
      this.timer = setTimeout(() => void this.beat(), this.p.intervalMs);
      this.timer.unref();
    }
  }

  /** Stops beating and removes the entry (best effort: otherwise it expires). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    try {
      // A beat answered after the removal would write the entry back (an EVALSHA resent as EVAL after NOSCRIPT
      // reaches Redis after a removal sent meanwhile): the removal goes once it is answered, either way.
      await this.inFlight?.catch(() => {});
      await this.p.scripts.redis.multi().hdel(this.p.keys.info, this.id).zrem(this.p.keys.beats, this.id).exec();
    } catch {
      // Redis unreachable at shutdown: the entry expires after its TTL.
    }
  }
}
