import { Cluster, ReplyError } from 'ioredis';
import { RedisConfigurationError } from './errors.js';
import type { Logger } from './logger.js';
import type { RedisConnection } from './redis.js';

/**
 * Startup checks of the Redis a worker or client uses: the eviction policy (a Redis that evicts keys loses jobs) and
 * the permissions of the Redis user (an ACL user missing one command fails every script call with an error that
 * never names it). A worker does not fetch until they pass; a client only warns.
 */

/** Commands the Lua scripts run (as the connecting user, so the user needs each one), with a key where they take one. */
const SCRIPT_COMMANDS: readonly string[] = [
  'DEL {key}', 'EXISTS {key}', 'GET {key}', 'SET {key} v', 'INCR {key}', 'INCRBY {key} 1', 'TYPE {key}', 'PEXPIRE {key} 1',
  'HDEL {key} f', 'HEXISTS {key} f', 'HGET {key} f', 'HINCRBY {key} f 1', 'HLEN {key}', 'HMGET {key} f', 'HSET {key} f v',
  'LINDEX {key} 0', 'LLEN {key}', 'LPOP {key}', 'LPUSH {key} v', 'LRANGE {key} 0 1', 'LREM {key} 0 v', 'LTRIM {key} 0 1',
  'RPOP {key}', 'RPUSH {key} v',
  'ZADD {key} 1 m', 'ZCARD {key}', 'ZMSCORE {key} m', 'ZRANGE {key} 0 1', 'ZRANGEBYSCORE {key} 0 1', 'ZREM {key} m',
  'ZREMRANGEBYRANK {key} 0 1', 'ZREMRANGEBYSCORE {key} 0 1', 'ZSCORE {key} m',
  'TIME',
];

/** Commands a client sends itself, besides the scripts. */
const CLIENT_COMMANDS: readonly string[] = [
  'EVAL s 1 {key}', 'EVALSHA s 1 {key}', 'HGET {key} f', 'HMGET {key} f', 'HEXISTS {key} f', 'EXISTS {key}', 'SET {key} v',
  'ZRANGE {key} 0 1', 'ZREVRANGE {key} 0 1', 'ZCARD {key}', 'DEL {key}', 'MULTI', 'EXEC',
];

/** Used when allowed, not needed: ioredis's ready check (INFO) and the eviction check (CONFIG GET, else INFO). */
const OPTIONAL_COMMANDS: readonly string[] = ['CONFIG GET maxmemory-policy', 'INFO'];

/** What a worker sends besides those: the blocking read, its wake-ups, cron records and the cron registry. */
const WORKER_COMMANDS: readonly string[] = [
  'BLPOP {key} 0', 'RPUSH {key} v', 'PEXPIRE {key} 1', 'HKEYS {key}', 'HDEL {key} f', 'DEL {key}', 'HLEN {key}',
  'SADD {registry} m', 'SMEMBERS {registry}', 'SREM {registry} m',
];

/** Sent by the ioredis Cluster client to learn the slots. */
const CLUSTER_COMMANDS: readonly string[] = ['CLUSTER SLOTS', 'CLUSTER INFO'];

/**
 * Every command a user of this role needs, without duplicates, in the order above; `SELECT <db>` when the connection
 * uses a database other than 0 (ioredis ignores a refused SELECT and would use database 0).
 */
function requiredCommands(role: 'worker' | 'client', cluster: boolean, db = 0): string[] {
  const lines = [
    ...SCRIPT_COMMANDS,
    ...CLIENT_COMMANDS,
    ...(role === 'worker' ? WORKER_COMMANDS : []),
    ...(cluster ? CLUSTER_COMMANDS : []),
    ...(db !== 0 ? [`SELECT ${db}`] : []),
  ];
  return [...new Set(lines)];
}

/** The name of a check line: the command, with its subcommand for CONFIG and CLUSTER (`CONFIG GET`). */
function commandName(line: string): string {
  const [cmd = '', sub = ''] = line.split(' ');
  return cmd === 'CONFIG' || cmd === 'CLUSTER' ? `${cmd} ${sub}` : cmd;
}

// Checks each line with redis.acl_check_cmd (Redis 7.0+): a line with {key} on every queue key, one with {registry} on
// the cron registry key (skipped when empty); for a line refused, the command alone tells a missing command from a
// missing key pattern. ARGV: n, n queue keys, the registry key, the lines. Returns 'unsupported', or flattened
// { 'cmd' | 'key' | 'unknown', line, key } triples.
const PROBE = `
if type(redis.acl_check_cmd) ~= 'function' then return 'unsupported' end
local n = tonumber(ARGV[1])
local registry, out = ARGV[n + 2], {}
local function check(line, placeholder, key)
  local words, bare = {}, {}
  for w in string.gmatch(line, '%S+') do
    if w == placeholder then words[#words + 1] = key else words[#words + 1] = w; bare[#bare + 1] = w end
  end
  if words[1] ~= 'CONFIG' and words[1] ~= 'CLUSTER' then bare = { words[1] } end
  -- acl_check_cmd raises on a command this Redis does not know (renamed or disabled): report it, check the rest
  local ok, allowed = pcall(redis.acl_check_cmd, unpack(words))
  if not ok then
    out[#out + 1] = 'unknown'
  elseif not allowed then
    out[#out + 1] = redis.acl_check_cmd(unpack(bare)) and 'key' or 'cmd'
  else
    return
  end
  out[#out + 1] = line
  out[#out + 1] = key or ''
end
for i = n + 3, #ARGV do
  local line = ARGV[i]
  if string.find(line, '{registry}', 1, true) then
    if registry ~= '' then check(line, '{registry}', registry) end
  elseif string.find(line, '{key}', 1, true) then
    for k = 2, n + 1 do check(line, '{key}', ARGV[k]) end
  else
    check(line, nil, nil)
  end
end
return out
`;

/** What the permission check found. */
export interface PermissionReport {
  /** False when Redis cannot tell (before 7.0: no `redis.acl_check_cmd`). */
  readonly checked: boolean;
  /** Commands the user may not run at all, e.g. `TIME`, `CONFIG GET`. */
  readonly commands: readonly string[];
  /** Commands the user may run, but not on some of the keys checked. */
  readonly keyDenied: readonly string[];
  /** The keys those commands were refused on. */
  readonly deniedKeys: readonly string[];
  /** Commands this Redis does not know (renamed or disabled with `rename-command`). */
  readonly unknown: readonly string[];
}

function isNoPerm(err: unknown): boolean {
  return /NOPERM|no permissions/i.test(String((err as Error)?.message));
}

/**
 * Asks Redis which of `lines` the connected user may not run, on each of `keys` (lines with `{key}`) and on
 * `registryKey` (lines with `{registry}`; skipped when undefined). The probe itself is an `EVAL` with no declared key
 * (so it needs no key permission); when EVAL is denied, that is the answer.
 */
async function checkPermissions(
  redis: RedisConnection,
  keys: readonly string[],
  lines: readonly string[],
  registryKey?: string,
): Promise<PermissionReport> {
  let reply: unknown;
  try {
    reply = await redis.eval(PROBE, 0, keys.length, ...keys, registryKey ?? '', ...lines);
  } catch (err) {
    if (isNoPerm(err)) return { checked: true, commands: ['EVAL', 'EVALSHA'], keyDenied: [], deniedKeys: [], unknown: [] };
    throw err;
  }
  if (!Array.isArray(reply)) return { checked: false, commands: [], keyDenied: [], deniedKeys: [], unknown: [] };
  const found = { cmd: new Set<string>(), key: new Set<string>(), unknown: new Set<string>() };
  const deniedKeys = new Set<string>();
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const kind = reply[i] === 'cmd' || reply[i] === 'key' ? reply[i] : 'unknown';
    found[kind as keyof typeof found].add(commandName(String(reply[i + 1])));
    if (kind === 'key') deniedKeys.add(String(reply[i + 2]));
  }
  return { checked: true, commands: [...found.cmd], keyDenied: [...found.key], deniedKeys: [...deniedKeys], unknown: [...found.unknown] };
}

/** Policies under which Redis deletes keys when it reaches `maxmemory`. */
function isEvictingPolicy(policy: string): boolean {
  return policy !== '' && policy !== 'noeviction';
}

/** What {@link readEvictionPolicy} found. */
export interface EvictionSettings {
  /** `maxmemory-policy`; undefined when it could not be read. */
  readonly policy: string | undefined;
  /** `maxmemory` in bytes (0: no limit, so nothing is evicted); undefined when unknown. */
  readonly maxmemory: number | undefined;
  /** Why it could not be read (the refusals of CONFIG GET and INFO). */
  readonly denied: string | undefined;
}

/**
 * Reads `maxmemory-policy` and `maxmemory`: CONFIG GET, else the `maxmemory_policy` and `maxmemory` lines of INFO
 * memory (managed services often disable CONFIG). The policy is undefined when both are denied or unavailable.
 */
async function readEvictionPolicy(redis: RedisConnection): Promise<EvictionSettings> {
  let denied: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory*')) as unknown;
    if (Array.isArray(reply)) {
      const pairs = new Map<string, string>();
      for (let i = 0; i + 1 < reply.length; i += 2) pairs.set(String(reply[i]), String(reply[i + 1]));
      const policy = pairs.get('maxmemory-policy');
      const max = pairs.get('maxmemory');
      if (policy !== undefined) return { policy, maxmemory: max === undefined ? undefined : Number(max), denied: undefined };
    }
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err; // not a refusal: Redis could not be asked
    denied = `CONFIG GET: ${(err as Error).message}`;
  }
  try {
    const info = await redis.info('memory');
    const m = /^maxmemory_policy:(\S+)/m.exec(info);
    const max = /^maxmemory:(\d+)/m.exec(info);
    if (m?.[1] !== undefined) return { policy: m[1], maxmemory: max?.[1] === undefined ? undefined : Number(max[1]), denied: undefined };
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err;
    denied = `${denied === undefined ? '' : `${denied}; `}INFO: ${(err as Error).message}`;
  }
  return { policy: undefined, maxmemory: undefined, denied };
}

/** Options of {@link runStartupChecks}. */
export interface StartupCheckOptions {
  readonly role: 'worker' | 'client';
  /** A key of each queue used, for the key-permission check (`<prefix>:{queue}:jobs`). */
  readonly sampleKeys: readonly string[];
  /** The cron registry key (`<prefix>:cron-queues`), checked for a worker that runs cron jobs. */
  readonly registryKey?: string;
  /** Where Redis is, for messages. */
  readonly where: string;
  /** The worker option `allowEvictingRedis`: run on an evicting Redis anyway (only warn). */
  readonly allowEvicting: boolean;
  readonly logger: Logger;
}

/**
 * Runs the startup checks. Resolves when the worker (or client) may go on — problems it may live with are logged as
 * warnings, once — and rejects with {@link RedisConfigurationError} when a worker must not start: a permission it
 * needs is missing, or Redis may evict keys and `allowEvictingRedis` is not set. A client never rejects: it warns.
 */
export async function runStartupChecks(redis: RedisConnection, o: StartupCheckOptions): Promise<void> {
  const problems: RedisConfigurationError[] = [];

  // The two checks are independent: one that could not run does not skip the other. An error that is no answer from
  // Redis (the connection) is thrown, and the caller asks again once Redis is back.
  const optional = new Set(OPTIONAL_COMMANDS.map(commandName));
  let perms: PermissionReport;
  try {
    const db = redis instanceof Cluster ? 0 : Number(redis.options.db ?? 0);
    const lines = [...requiredCommands(o.role, redis instanceof Cluster, db), ...OPTIONAL_COMMANDS];
    perms = await checkPermissions(redis, o.sampleKeys, lines, o.registryKey);
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err;
    o.logger.warn(`the ACL permission check of Redis at ${o.where} failed (${(err as Error).message}); skipped: a missing permission shows as NOPERM on the first call`);
    perms = { checked: false, commands: [], keyDenied: [], deniedKeys: [], unknown: [] };
  }
  const missing = perms.commands.filter((c) => !optional.has(c));
  const unknown = perms.unknown.filter((c) => !optional.has(c));
  if (!perms.checked) o.logger.debug('Redis before 7.0 cannot check ACL permissions ahead (no redis.acl_check_cmd); skipped');
  if (missing.length > 0 || perms.keyDenied.length > 0 || unknown.length > 0) {
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`may not run ${missing.join(', ')}`);
    if (unknown.length > 0) parts.push(`cannot run ${unknown.join(', ')} (unknown to this Redis: renamed or disabled by rename-command)`);
    if (perms.keyDenied.length > 0) {
      const keys = perms.deniedKeys;
      parts.push(`may not use ${perms.keyDenied.join(', ')} on key${keys.length > 1 ? 's' : ''} ${keys.join(', ')} (grant ~<prefix>:*)`);
    }
    problems.push(
      new RedisConfigurationError(
        'missing_permissions',
        `the Redis user of this ${o.role} at ${o.where} ${parts.join(' and ')}; ${
          missing.includes('SELECT') ? 'without SELECT ioredis quietly uses database 0, where no worker of this database looks for jobs' : 'every job call would fail'
        }. Grant them (docs/configuration.md, "Redis users and ACLs" lists the exact ACL)`,
        [...missing, ...unknown],
      ),
    );
  }

  const { policy, maxmemory, denied } = await readEvictionPolicy(redis);
  if (policy === undefined) {
    o.logger.warn(
      `could not read Redis maxmemory-policy at ${o.where} (${denied ?? 'no answer'}), so the eviction check was skipped: make sure it is "noeviction", or jobs may be lost under memory pressure`,
    );
  } else if (isEvictingPolicy(policy) && maxmemory === 0) {
    // No memory limit: Redis never evicts (it grows until the machine runs out), so there is nothing to refuse.
    o.logger.warn(
      `Redis at ${o.where} has maxmemory-policy "${policy}" but no maxmemory limit, so it evicts nothing now; if a limit is set later it will evict keys and lose jobs. Set the policy to "noeviction"`,
    );
  } else if (isEvictingPolicy(policy)) {
    const text = `Redis at ${o.where} has maxmemory-policy "${policy}": under memory pressure it evicts keys and loses jobs (and may resume paused queues). Set it to "noeviction"`;
    if (o.role === 'worker' && !o.allowEvicting) {
      problems.push(new RedisConfigurationError('eviction_policy', `${text}, or pass allowEvictingRedis: true to run anyway`, []));
    } else {
      o.logger.warn(`${text}${o.role === 'worker' ? ' (running anyway: allowEvictingRedis is set)' : ''}`);
    }
  }

  if (problems.length === 0) return;
  if (o.role === 'client') {
    for (const p of problems) o.logger.warn(p.message);
    return;
  }
  const first = problems[0] as RedisConfigurationError;
  if (problems.length === 1) throw first;
  throw new RedisConfigurationError(first.reason, problems.map((p) => p.message).join('; and '), first.missingCommands);
}

/** What {@link startAfterChecks} needs from a worker. */
export interface CheckedStart {
  readonly logger: Logger;
  /** Whether the worker is closing (then it must not start, and a failed check is no news). */
  isStopping(): boolean;
  /** Starts fetching and the lease loops. */
  start(): void;
  /** Tells the worker's `error` listeners. */
  refused(err: RedisConfigurationError): void;
}

/** How long the checks wait before asking again when Redis could not be asked (no connection). */
const RECHECK_MS = 1_000;

/**
 * Runs the startup checks until Redis answers them: an error that is no answer from Redis (the connection is down,
 * ioredis gave up on a command) is not a verdict, so they run again after RECHECK_MS. Stops when the worker closes.
 */
async function checkWhenAnswered(redis: RedisConnection, o: StartupCheckOptions, isStopping: () => boolean): Promise<void> {
  for (;;) {
    try {
      return await runStartupChecks(redis, o);
    } catch (err) {
      if (err instanceof RedisConfigurationError || err instanceof ReplyError || isStopping()) throw err;
      o.logger.debug(`the startup checks of Redis at ${o.where} could not ask Redis (${(err as Error)?.message ?? String(err)}); asking again`);
      await new Promise((resolve) => setTimeout(resolve, RECHECK_MS).unref());
      if (isStopping()) return;
    }
  }
}

/**
 * Runs the startup checks, then starts the worker. A {@link RedisConfigurationError} keeps it from starting: logged
 * as an error, emitted as `error`, and the returned promise (the worker's `ready`) rejects with it. While Redis cannot
 * be reached the checks wait and ask again; a check Redis answered with an unexpected error is logged and the worker
 * starts anyway. The promise never rejects unobserved.
 */
export function startAfterChecks(redis: RedisConnection, o: StartupCheckOptions, worker: CheckedStart): Promise<void> {
  const ready = checkWhenAnswered(redis, o, () => worker.isStopping()).then(
    () => {
      if (!worker.isStopping()) worker.start();
    },
    (err: unknown) => {
      if (worker.isStopping()) return;
      if (err instanceof RedisConfigurationError) {
        worker.logger.error(`the worker will not start: ${err.message}`);
        worker.refused(err);
        throw err;
      }
      worker.logger.warn(`the startup checks of Redis at ${o.where} failed (${(err as Error)?.message ?? String(err)}); starting anyway`);
      worker.start();
    },
  );
  ready.catch(() => {});
  return ready;
}
