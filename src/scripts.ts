import { readFileSync } from 'node:fs';
import { RedisConfigurationError, RedisOutOfMemoryError } from './errors.js';
import type { QueueKeys } from './keys.js';
import { throttleArgs, type ThrottledType } from './throttle.js';
import type { RedisConnection } from './redis.js';

/**
 * The Lua scripts in src/lua, each prefixed with _lib.lua, registered on a connection with ioredis's
 * `defineCommand` (sent as EVALSHA, with EVAL as the fallback after a Redis restart flushes the script cache).
 * Every key a script touches is passed in KEYS; the order is documented at the top of each file.
 * Each script starts with a Redis 7 shebang that declares how it behaves when Redis is out of memory
 * (`#!lua flags=allow-oom`, `#!lua flags=no-writes`, or `#!lua`: refused as a whole); it is kept as the first line,
 * ahead of _lib.lua.
 */
const LIB = readLua('_lib');
/** The enqueue script's name for calls sent at once rather than auto-pipelined. */
export const ENQUEUE_NOW = 'jcEnqueueNow';
const SCRIPTS = {
  // keys: null = a variable number of keys (unique-job locks), sent as the first argument.
  jcEnqueue: { file: 'enqueue', keys: null },
  // The same script under a name that client connections exclude from auto-pipelining (see redis.ts): the client
  // already groups the enqueues of one tick into one call, and the pipeline's setImmediate only adds latency.
  [ENQUEUE_NOW]: { file: 'enqueue', keys: null },
  // fetch.lua twice: acknowledging only (its own allow-oom shebang: runs at maxmemory, and frees memory) and leasing
  // (a plain shebang: refused whole at maxmemory, so no new work starts there). A second name costs nothing per call.
  jcFetch: { file: 'fetch', keys: null },
  jcFetchLease: { file: 'fetch', keys: null, shebang: '#!lua' },
  jcRenew: { file: 'renew', keys: null },
  jcRecover: { file: 'recover', keys: null },
  jcInvalidIds: { file: 'invalid-ids', keys: null },
  jcReschedule: { file: 'reschedule', keys: null },
  jcDead: { file: 'dead', keys: null },
  jcRelease: { file: 'release', keys: null },
  jcGet: { file: 'get', keys: 8 },
  jcDeadRetry: { file: 'dead-retry', keys: null },
  jcDeadDelete: { file: 'dead-delete', keys: 3 },
  jcCancel: { file: 'cancel', keys: null },
  jcUniqueRelease: { file: 'unique-release', keys: 1 },
  jcResume: { file: 'resume', keys: null },
} as const;
type ScriptName = keyof typeof SCRIPTS;
type Arg = string | number;
type Reply = string | number | null | Reply[];

function readLua(file: string): string {
  return readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8');
}

/**
 * The script's text with _lib.lua after its shebang line, which Redis reads only as the very first line; `shebang`
 * replaces the file's own.
 */
function withLib(file: string, replace?: string): string {
  return placeLib(file, readLua(file), replace);
}

/** withLib on a script's text (exported for its test). */
export function placeLib(file: string, text: string, replace?: string): string {
  const eol = text.indexOf('\n');
  // A checkout with CRLF line ends leaves a \r on the line.
  const own = text.slice(0, eol).replace(/\r$/, '');
  // Without flags Redis checks memory only at a script's first write, and a script whose first write does not add
  // data runs on at maxmemory while others fail: every script says what it does there.
  if (!/^#!lua( flags=[a-z-]+(,[a-z-]+)*)?$/.test(own)) throw new Error(`src/lua/${file}.lua must start with a "#!lua" shebang line`);
  return `${replace ?? own}\n${LIB}\n${text.slice(eol + 1)}`;
}

const SOURCES = Object.fromEntries(
  Object.entries(SCRIPTS).map(([name, s]) => [name, withLib(s.file, 'shebang' in s ? s.shebang : undefined)]),
) as Record<ScriptName, string>;

/** Redis before 7.0 reads no shebang line: it compiles `#!lua` as Lua and fails on the `#`. */
const OLD_REDIS = /Error compiling script.*near '#'/;

/** The error for a Redis too old to load the scripts, naming the version INFO reports. */
async function unsupportedRedis(redis: RedisConnection, cause: unknown): Promise<RedisConfigurationError> {
  let found = 'an older version';
  try {
    found = /redis_version:([^\r\n]+)/.exec(await redis.info('server'))?.[1] ?? found;
  } catch {
    // The version only names the problem; the error stands without it.
  }
  return new RedisConfigurationError('redis_version', `jobcraft needs Redis ≥ 7.0 (found ${found}): its scripts declare their flags in a #!lua shebang line, which older versions cannot load`, [], { cause });
}

/**
 * Turns an error of a Redis call into the library's error where there is one (today: Redis out of memory, as
 * {@link RedisOutOfMemoryError}); returns anything else unchanged. `operation` names what was refused.
 */
export function toLibraryError(err: unknown, operation: string): unknown {
  if (err instanceof RedisOutOfMemoryError) return err;
  const message = err instanceof Error ? err.message : '';
  if (message.startsWith('OOM ')) return new RedisOutOfMemoryError(operation, { cause: err });
  return err;
}

const defined = new WeakSet<RedisConnection>();

/** A job handed out by `fetch` or `recover`. */
export interface LeasedJob {
  readonly id: string;
  /** The stored envelope, or null when the jobs hash has no entry for the id (or it was too big to send). */
  readonly raw: string | null;
  readonly attempt: number;
  /**
   * True when the stored id was not valid UTF-8 (written by a producer outside jobcraft): the script already moved
   * the job to the dead letters under `id` (`#invalid-utf8:` + the id with bytes outside printable ASCII written as
   * %XX); the worker only reports it.
   */
  readonly invalidId?: true;
  /** Set when the envelope was over the worker's size limit and Redis sent only this: its size and first bytes. */
  readonly tooBig?: { readonly bytes: number; readonly head: string };
}

/** One leased job, fenced by its attempt number. */
export interface Ack {
  readonly id: string;
  readonly attempt: number;
}

/** A leased job with the index of its throttled type (1-based among the queue's throttled types; 0 = none). */
export interface Held extends Ack {
  readonly type: number;
}

/** A finished job to acknowledge, with the unique lock to release, if any (a worker's job run fits this shape). */
export interface Completion extends Ack {
  /** 1-based index of the job's throttled type among its queue's throttled types; 0 = none. */
  readonly typeIndex: number;
  readonly lock?: string | undefined;
}

/** The concurrency slot a job of a capped type holds: its type's running and ready sets. */
export interface Slot {
  readonly running: string;
  readonly ready: string;
}

/** The answer of `fetch`. */
export interface FetchResult {
  /** Ms until the earliest scheduled job is due, or -1 when nothing is scheduled. */
  readonly nextDueMs: number;
  /** Ids of acks refused because the lease was no longer ours. */
  readonly staleAcks: string[];
  readonly jobs: LeasedJob[];
}

/** What `get` found for one id. */
export interface RawJobState {
  readonly state: 'waiting' | 'delayed' | 'retrying' | 'active' | 'dead' | 'completed' | 'unknown';
  readonly raw: string | null;
  readonly attempts: number;
  readonly error: string | null;
  readonly extra: string | null;
}

/** Whether a leased job's id holds U+FFFD (free for ids of one-byte characters, the usual case). */
function hasReplacementChar(job: LeasedJob): boolean {
  return job.id.includes('\uFFFD');
}

/** The jobs in reply[from, end): id, envelope, attempt each. */
function leased(reply: Reply[], from: number, end: number): LeasedJob[] {
  const jobs: LeasedJob[] = [];
  for (let i = from; i + 2 < end; i += 3) {
    const env = reply[i + 1];
    if (Array.isArray(env)) {
      jobs.push({ id: String(reply[i]), raw: null, attempt: Number(reply[i + 2]), tooBig: { bytes: Number(env[0]), head: String(env[1] ?? '') } });
    } else {
      jobs.push({ id: String(reply[i]), raw: env === null ? null : String(env), attempt: Number(reply[i + 2]) });
    }
  }
  return jobs;
}

/** Typed calls to the Lua scripts on one connection. */
export class Scripts {
  readonly redis: RedisConnection;

  constructor(redis: RedisConnection) {
    this.redis = redis;
    if (!defined.has(redis)) {
      for (const [name, s] of Object.entries(SCRIPTS)) {
        redis.defineCommand(name, s.keys === null ? { lua: SOURCES[name as ScriptName] } : { numberOfKeys: s.keys, lua: SOURCES[name as ScriptName] });
      }
      defined.add(redis);
    }
  }

  private call(name: ScriptName, keys: readonly string[], args: readonly Arg[]): Promise<Reply> {
    const fn = (this.redis as unknown as Record<ScriptName, (...a: Arg[]) => Promise<Reply>>)[name];
    const reply = SCRIPTS[name].keys === null ? fn.call(this.redis, keys.length, ...keys, ...args) : fn.call(this.redis, ...keys, ...args);
    return reply.catch(async (err: unknown) => {
      if (err instanceof Error && OLD_REDIS.test(err.message)) throw await unsupportedRedis(this.redis, err);
      throw toLibraryError(err, `jobcraft's ${SCRIPTS[name].file} script${name === 'jcFetchLease' ? ' (leasing jobs)' : ''}`);
    });
  }

  /**
   * Adds jobs; `items` alternate id ('' = generate) and envelope. Returns [id, duplicate] per job. With `cron`, the
   * write happens only if the job's last firing is still `expected` (then set to `next`); otherwise nothing is
   * written and the result is empty.
   */
  async enqueue(
    k: QueueKeys,
    delayMs: number,
    priority: number,
    idPrefix: string,
    items: readonly string[],
    more: {
      readonly cron?: { name: string; expected: string; next: string };
      readonly unique?: { ttlMs: number; locks: readonly string[] };
      /** The ready set of a throttled job type, instead of the queue's. */
      readonly readySet?: string;
      /** Send now, bypassing auto-pipelining (for calls that already carry a tick's worth of enqueues). */
      readonly now?: boolean;
    } = {},
  ): Promise<{ id: string; duplicate: boolean }[]> {
    const { cron, unique, readySet, now = false } = more;
    const reply = (await this.call(
      now ? ENQUEUE_NOW : 'jcEnqueue',
      [k.jobs, k.wait, readySet ?? k.prio, k.scheduled, k.notify, k.seq, k.done, k.dead, k.paused, k.cron, ...(unique?.locks ?? [])],
      [
        items.length / 2,
        delayMs,
        priority,
        idPrefix,
        cron?.name ?? '',
        cron?.expected ?? '',
        cron?.next ?? '',
        unique?.ttlMs ?? 0,
        readySet === undefined ? '0' : '1',
        ...items,
      ],
    )) as Reply[];
    const out: { id: string; duplicate: boolean }[] = [];
    for (let i = 0; i < reply.length; i += 2) out.push({ id: String(reply[i]), duplicate: reply[i + 1] === 1 });
    return out;
  }

  /** Acknowledges `acks`, promotes due jobs and leases up to `want` jobs. */
  async fetch(
    k: QueueKeys,
    types: readonly ThrottledType[],
    want: number,
    leaseMs: number,
    keepCount: number,
    keepAgeMs: number,
    acks: readonly Completion[],
    /** The dead-letter cap, for jobs whose id is not valid UTF-8 (see invalidIds). */
    maxDead = 10_000,
    /** Envelopes over this many bytes are not sent, only their size and head (`tooBig`); 0 = no limit. */
    maxEnvelopeBytes = 0,
  ): Promise<FetchResult> {
    const t = throttleArgs(types);
    const keys = [k.wait, k.prio, k.scheduled, k.active, k.jobs, k.attempts, k.errors, k.notify, k.done, k.doneOrder, k.seq, k.paused, ...t.keys];
    const args: Arg[] = [want, leaseMs, keepCount, keepAgeMs, ...t.args, acks.length];
    // Two arguments per ack: the id, and the attempt alone or, when the job holds a lock or a type slot,
    // "attempt:lock:type" (lock = 1-based index among the extra keys). Most acks are the short form.
    let locks = 0;
    for (const a of acks) {
      if (a.lock === undefined) {
        args.push(a.id, a.typeIndex === 0 ? a.attempt : `${a.attempt}:0:${a.typeIndex}`);
      } else {
        keys.push(a.lock);
        args.push(a.id, `${a.attempt}:${++locks}:${a.typeIndex}`);
      }
    }
    args.push(maxEnvelopeBytes); // last, after the variable-length acks
    const reply = (await this.call(want === 0 ? 'jcFetch' : 'jcFetchLease', keys, args)) as Reply[];
    const stale = Number(reply[1]);
    const jobs = leased(reply, 3 + stale, reply.length);
    const staleAcks = reply.slice(3, 3 + stale).map(String);
    const nextDueMs = Number(reply[0]);
    // A client decodes bytes that are not UTF-8 to U+FFFD: only then is a second call needed (see invalidIds).
    if (!jobs.some(hasReplacementChar)) return { nextDueMs, staleAcks, jobs };
    try {
      return { nextDueMs, staleAcks, jobs: await this.invalidIds(k, types, maxDead, maxEnvelopeBytes, String(reply[2]), jobs) };
    } catch {
      // The acks and the lease are done: keep the batch's other jobs. Its suspects stay leased under their raw id
      // until lease recovery takes them over (recover.lua dead-letters the invalid ones, runs the valid ones).
      return { nextDueMs, staleAcks, jobs: jobs.filter((j) => !hasReplacementChar(j)) };
    }
  }

  /**
   * Leased jobs with an id holding U+FFFD, maybe decoded from bytes that are not UTF-8: has invalid-ids.lua send
   * every such job of the batch (the leases with its `expiry`) to the dead letters under an addressable name, keeps
   * the suspects that are leased under exactly the id we decoded with this batch's expiry (valid ids holding U+FFFD)
   * unless a dead-lettered id decodes to the same string (then which one we were handed is unknown: lease recovery
   * settles it), and adds the dead-lettered jobs, flagged `invalidId`, for the worker's `dead` event.
   */
  private async invalidIds(
    k: QueueKeys,
    types: readonly ThrottledType[],
    maxDead: number,
    maxEnvelopeBytes: number,
    expiry: string,
    jobs: readonly LeasedJob[],
  ): Promise<LeasedJob[]> {
    const suspects = jobs.filter(hasReplacementChar);
    const t = throttleArgs(types);
    const reply = (await this.call(
      'jcInvalidIds',
      [k.active, k.jobs, k.attempts, k.errors, k.dead, k.deadInfo, k.deadOrder, k.notify, ...t.keys],
      [expiry, maxDead, k.uniquePrefix, ...t.args, maxEnvelopeBytes, ...suspects.map((j) => j.id)],
    )) as Reply[];
    const buried = Number(reply[0]);
    const end = 1 + 4 * buried;
    const dead: LeasedJob[] = [];
    const ambiguous = new Set<string>();
    for (let i = 1; i < end; i += 4) {
      const [job] = leased(reply, i, i + 3); // envelope: the text, or {size, head} over the limit
      if (job !== undefined) dead.push({ ...job, invalidId: true });
      ambiguous.add(String(reply[i + 3]));
    }
    const valid = new Set(suspects.filter((j, i) => reply[end + i] === 1 && !ambiguous.has(j.id)));
    const out = jobs.filter((j) => !hasReplacementChar(j) || valid.has(j));
    out.push(...dead);
    return out;
  }

  /** Extends leases; returns the ids whose lease was lost. */
  async renew(k: QueueKeys, types: readonly ThrottledType[], leaseMs: number, held: readonly Held[]): Promise<string[]> {
    const args: Arg[] = [leaseMs];
    for (const a of held) args.push(a.id, a.attempt, a.type > 0 && (types[a.type - 1]?.concurrency ?? 0) > 0 ? a.type : 0);
    const keys = [k.active, k.attempts, ...types.map((t) => t.keys.running)];
    return ((await this.call('jcRenew', keys, args)) as Reply[]).map(String);
  }

  /**
   * Takes over up to `max` jobs whose lease expired. Those whose id is not valid UTF-8 are dead-lettered by the
   * script instead, and come back flagged `invalidId` (already dead: for the worker's `dead` event). Envelopes over
   * `maxEnvelopeBytes` come back as `tooBig` (0 = no limit).
   */
  async recover(
    k: QueueKeys,
    leaseMs: number,
    max: number,
    types: readonly ThrottledType[] = [],
    maxDead = 10_000,
    maxEnvelopeBytes = 0,
  ): Promise<LeasedJob[]> {
    const t = throttleArgs(types);
    const reply = (await this.call(
      'jcRecover',
      [k.active, k.jobs, k.attempts, k.errors, k.dead, k.deadInfo, k.deadOrder, k.notify, ...t.keys],
      [leaseMs, max, maxDead, k.uniquePrefix, ...t.args, maxEnvelopeBytes],
    )) as Reply[];
    const end = reply.length - 3 * Number(reply[0]);
    const jobs = leased(reply, 1, end);
    for (const j of leased(reply, end, reply.length)) jobs.push({ ...j, invalidId: true });
    return jobs;
  }

  /** Schedules a leased job to run again after `delayMs`; false when the lease was no longer ours. */
  async reschedule(k: QueueKeys, ack: Ack, delayMs: number, errorJson: string, giveAttemptBack: boolean, slot?: Slot): Promise<boolean> {
    const reply = await this.call(
      'jcReschedule',
      [k.active, k.attempts, k.errors, k.scheduled, k.notify, ...(slot === undefined ? [] : [slot.running, slot.ready])],
      [ack.id, ack.attempt, Math.max(0, Math.round(delayMs)), errorJson, giveAttemptBack ? '1' : '0'],
    );
    return reply === 1;
  }

  /** Moves a job to the dead letters; false when the lease was no longer ours. */
  async dead(
    k: QueueKeys,
    id: string,
    attempt: number,
    infoJson: string,
    maxDead: number,
    fallbackRaw: string,
    lock?: string,
    slot?: Slot,
  ): Promise<boolean> {
    const keys = [k.active, k.jobs, k.attempts, k.errors, k.dead, k.deadInfo, k.deadOrder, k.notify];
    if (lock !== undefined) keys.push(lock);
    if (slot !== undefined) keys.push(slot.running, slot.ready);
    const reply = await this.call('jcDead', keys, [
      id,
      attempt,
      infoJson,
      maxDead,
      fallbackRaw,
      lock === undefined ? '0' : '1',
      slot === undefined ? '0' : '1',
    ]);
    return reply === 1;
  }

  /** Hands leased jobs back to the front of the queue, giving back their attempt. */
  async release(
    k: QueueKeys,
    types: readonly ThrottledType[],
    jobs: readonly { id: string; attempt: number; priority: number; type: number }[],
  ): Promise<number> {
    if (jobs.length === 0) return 0;
    const t = throttleArgs(types);
    const args: Arg[] = [...t.args];
    for (const j of jobs) args.push(j.id, j.attempt, j.priority, j.type);
    return Number(await this.call('jcRelease', [k.active, k.attempts, k.wait, k.prio, k.notify, k.seq, ...t.keys], args));
  }

  /** Reads one job's state. */
  async get(k: QueueKeys, id: string): Promise<RawJobState> {
    const r = (await this.call(
      'jcGet',
      [k.jobs, k.active, k.scheduled, k.attempts, k.errors, k.done, k.dead, k.deadInfo],
      [id],
    )) as Reply[];
    const str = (v: Reply | undefined): string | null => (v === null || v === undefined ? null : String(v));
    return {
      state: String(r[0]) as RawJobState['state'],
      raw: str(r[1]),
      attempts: Number(r[2]),
      error: str(r[3]),
      extra: str(r[4]),
    };
  }

  /** Puts dead letters back in the queue; returns the ids put back. A unique job's lock is taken again. */
  async deadRetry(
    k: QueueKeys,
    types: readonly ThrottledType[],
    items: readonly { id: string; lock?: string; ttlMs?: number }[],
  ): Promise<string[]> {
    if (items.length === 0) return [];
    const t = throttleArgs(types);
    const keys = [k.dead, k.deadInfo, k.deadOrder, k.jobs, k.wait, k.prio, k.notify, k.seq, ...t.keys];
    const args: Arg[] = [...t.args];
    let locks = 0;
    for (const item of items) {
      if (item.lock === undefined) {
        args.push(item.id, 0, 0);
      } else {
        keys.push(item.lock);
        args.push(item.id, ++locks, item.ttlMs ?? 3_600_000);
      }
    }
    return ((await this.call('jcDeadRetry', keys, args)) as Reply[]).map(String);
  }

  /** Deletes dead letters; returns how many existed. */
  async deadDelete(k: QueueKeys, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    return Number(await this.call('jcDeadDelete', [k.dead, k.deadInfo, k.deadOrder], ids));
  }

  /** Cancels a job that has not started. */
  async cancel(k: QueueKeys, id: string, readySet: string | undefined, lock?: string): Promise<'cancelled' | 'active' | 'unknown'> {
    const keys = [k.jobs, k.wait, k.prio, k.scheduled, k.active, k.attempts, k.errors, readySet ?? k.prio, ...(lock === undefined ? [] : [lock])];
    return String(await this.call('jcCancel', keys, [id])) as
      | 'cancelled'
      | 'active'
      | 'unknown';
  }

  /** Releases a unique lock if `id` holds it. */
  async uniqueRelease(lock: string, id: string): Promise<void> {
    await this.call('jcUniqueRelease', [lock], [id]);
  }

  /** Resumes a paused queue; true if it was paused. */
  async resume(k: QueueKeys, types: readonly ThrottledType[]): Promise<boolean> {
    return (await this.call('jcResume', [k.paused, k.wait, k.prio, k.notify, ...types.map((t) => t.keys.ready)], [])) === 1;
  }
}
