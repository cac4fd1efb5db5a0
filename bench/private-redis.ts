/**
 * A redis-server of the benchmark's own (scripts/redis-server.ts: a free loopback port, a temporary folder, no
 * persistence, stopped afterwards), and the readings that only make sense on a server nobody else uses: its CPU time
 * and its per-command statistics. Used by the `redis-cpu-per-job` workload and by bench/profile.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { hasRedisServer, startRedisServer, type RedisServer } from '../scripts/redis-server.js';

/** A private server, with a connection for the harness's own readings. */
export interface PrivateRedis {
  readonly url: string;
  readonly pid: number;
  /** The harness's connection (readings, checks); not counted as load beyond its own few commands. */
  readonly admin: Redis;
  readonly server: RedisServer;
}

/**
 * Starts a private redis-server, runs `body`, and stops the server (and deletes its folder) whatever happens.
 * Throws a clear error when redis-server is not installed.
 */
export async function withPrivateRedis<T>(body: (redis: PrivateRedis) => Promise<T>): Promise<T> {
  if (!hasRedisServer()) throw new Error('this measurement starts its own redis-server, and none is installed (apt-get install redis-server)');
  const server = await startRedisServer();
  const admin = new Redis(server.url, { maxRetriesPerRequest: 2 });
  try {
    const pid = server.process.pid;
    if (pid === undefined) throw new Error('the private redis-server has no process id');
    return await body({ url: server.url, pid, admin, server });
  } finally {
    admin.disconnect();
    await server.stop();
  }
}

/** CPU time (user + system) the server process has used, µs, from `INFO cpu` (getrusage: µs resolution). */
export async function infoCpuUs(admin: Redis): Promise<number> {
  const info = await admin.info('cpu');
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1]);
  const sys = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1]);
  return (user + sys) * 1e6;
}

let clockTicks: number | undefined;
/** Kernel clock ticks per second (`getconf CLK_TCK`, 100 nearly everywhere). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    const n = Number(r.stdout?.trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/**
 * CPU time (utime + stime) of process `pid` from `/proc/<pid>/stat`, µs (in steps of one clock tick, usually
 * 10 ms), or undefined where there is no /proc. The cross-check of {@link infoCpuUs} that needs nothing from Redis.
 */
export function procCpuUs(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces: count the fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) / ticksPerSecond()) * 1e6;
  } catch {
    return undefined;
  }
}

/** One command's totals in `INFO commandstats`. */
export interface CommandStat {
  readonly calls: number;
  readonly usec: number;
}

/** `INFO commandstats` as a map from command name (lower case, e.g. `evalsha`, `hset`) to its totals. */
export async function commandStats(admin: Redis): Promise<Map<string, CommandStat>> {
  return parseCommandStats(await admin.info('commandstats'));
}

export function parseCommandStats(info: string): Map<string, CommandStat> {
  const out = new Map<string, CommandStat>();
  for (const m of info.matchAll(/cmdstat_([^:]+):calls=(\d+),usec=(\d+)/g)) out.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) });
  return out;
}

/**
 * The commands run between two readings, most expensive first, without the harness's own readings (`info`,
 * `slowlog`, `config`). Commands that scripts call are counted both on their own and inside the script's total.
 */
export function commandDelta(before: ReadonlyMap<string, CommandStat>, after: ReadonlyMap<string, CommandStat>): { cmd: string; calls: number; usec: number }[] {
  return [...after]
    .map(([cmd, s]) => ({ cmd, calls: s.calls - (before.get(cmd)?.calls ?? 0), usec: s.usec - (before.get(cmd)?.usec ?? 0) }))
    .filter((r) => r.calls > 0 && r.cmd !== 'info' && r.cmd !== 'slowlog' && r.cmd !== 'config')
    .sort((a, b) => b.usec - a.usec);
}

/** A reading of the server's CPU by both methods. */
export interface CpuReading {
  readonly infoUs: number;
  readonly procUs: number | undefined;
}

export async function readCpu(redis: PrivateRedis): Promise<CpuReading> {
  return { infoUs: await infoCpuUs(redis.admin), procUs: procCpuUs(redis.pid) };
}
