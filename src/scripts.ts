import { readFileSync } from 'node:fs';
import { RedisConfigurationError, RedisOutOfMemoryError } from './errors.js';
import { faninKeys, type FaninKeys, type QueueKeys, type WorkerRegistryKeys } from './keys.js';
import { DEFAULT_MAX_DEAD } from './bounds.js';
import { encodeCall, luaPrelude, PLANS, type Encoded, type ScriptName } from './redis-contract.js';
import type { ThrottledType } from './throttle.js';
import type { RedisConnection } from './redis.js';

/**
 * The Lua scripts in src/lua, each prefixed with _lib.lua and the prelude generated from its declaration in
 * src/redis-contract.ts (which reads its KEYS and ARGV by name), registered on a connection with ioredis's
 * `defineCommand` (sent as EVALSHA, with EVAL as the fallback after a Redis restart flushes the script cache).
 * Every key a script touches is passed in KEYS. Each script starts with a Redis 7 shebang that declares how it
 * behaves when Redis is out of memory (`#!lua flags=allow-oom`, `#!lua flags=no-writes`, or `#!lua`: refused as a
 * whole); it is kept as the first line, ahead of _lib.lua. The text is built once, at load.
 */
const LIB = readLua('_lib');
/** The enqueue script's name for calls sent at once rather than auto-pipelined. */
export const ENQUEUE_NOW = 'jcEnqueueNow';
/** The result read's name for calls sent at once rather than auto-pipelined (see result-wait.ts). */
export const RESULT_NOW = 'jcResultNow';
/** The commands registered on a connection: each runs one declared script. */
const COMMANDS = {
  jcEnqueue: { script: 'enqueue' },
  // The same script under a name that client connections exclude from auto-pipelining (see redis.ts): the client
  // already groups the enqueues of one tick into one call, and the pipeline's setImmediate only adds latency.
  [ENQUEUE_NOW]: { script: 'enqueue' },
  // fetch.lua twice: acknowledging only (its own allow-oom shebang: runs at maxmemory, and frees memory) and leasing
  // (a plain shebang: refused whole at maxmemory, so no new work starts there). A second name costs nothing per call.
  jcFetch: { script: 'fetch' },
  jcFetchLease: { script: 'fetch', shebang: '#!lua' },
  jcRenew: { script: 'renew' },
  jcRecover: { script: 'recover' },
  jcInvalidIds: { script: 'invalidIds' },
  jcReschedule: { script: 'reschedule' },
  jcDead: { script: 'dead' },
  jcRelease: { script: 'release' },
  jcGet: { script: 'get' },
  jcDeadRetry: { script: 'deadRetry' },
  jcDeadDelete: { script: 'deadDelete' },
  jcCancel: { script: 'cancel' },
  jcUniqueRelease: { script: 'uniqueRelease' },
  jcResume: { script: 'resume' },
  jcStats: { script: 'stats' },
  jcHeartbeat: { script: 'heartbeat' },
  jcWorkers: { script: 'workers' },
  jcHeads: { script: 'heads' },
  jcMigrate: { script: 'migrate' },
  jcResult: { script: 'result' },
  // The same script under a name client connections exclude from auto-pipelining, like ENQUEUE_NOW: a lone read of a
  // result someone waits for goes at once, since the pipeline only adds a setImmediate and a pipeline object per call.
  [RESULT_NOW]: { script: 'result' },
  jcFaninCreate: { script: 'faninCreate' },
  jcFaninRecord: { script: 'faninRecord' },
} as const satisfies Record<string, { script: ScriptName; shebang?: string }>;
type CommandName = keyof typeof COMMANDS;
type Reply = string | number | null | Reply[];

function readLua(file: string): string {
  return readFileSync(new URL(`./lua/${file}.lua`, import.meta.url), 'utf8');
}

/**
 * A script's text: its shebang line (which Redis reads only as the very first line; `replace` replaces the file's
 * own), `lib` (the parts of _lib.lua it uses), the prelude generated from its declaration, then the rest of the file
 * (exported for its test).
 */
export function placeLib(file: string, text: string, replace?: string, prelude = '', lib = LIB): string {
  const eol = text.indexOf('\n');
  // A checkout with CRLF line ends leaves a \r on the line.
  const own = text.slice(0, eol).replace(/\r$/, '');
  // Without flags Redis checks memory only at a script's first write, and a script whose first write does not add
  // data runs on at maxmemory while others fail: every script says what it does there.
  if (!/^#!lua( flags=[a-z-]+(,[a-z-]+)*)?$/.test(own)) throw new Error(`src/lua/${file}.lua must start with a "#!lua" shebang line`);
  return `${replace ?? own}\n${lib}\n${prelude}${text.slice(eol + 1)}`;
}

/** _lib.lua's top-level definitions (each with the comment above it), in order: what each defines and its text. */
const LIB_PARTS: readonly { readonly name: string | undefined; readonly text: string }[] = (() => {
  const parts: { name: string | undefined; text: string }[] = [];
  let pending: string[] = [];
  let current: { name: string | undefined; text: string } | undefined;
  for (const line of LIB.split('\n')) {
    const def = /^local (?:function )?(\w+)/.exec(line);
    if (def !== null) {
      current = { name: def[1], text: [...pending, line].join('\n') };
      parts.push(current);
      pending = [];
    } else if (line.startsWith('--') || line.trim() === '') {
      pending.push(line); // a comment or blank line belongs to the definition that follows
    } else if (current !== undefined) {
      current.text += `\n${[...pending, line].join('\n')}`;
      pending = [];
    }
  }
  return parts;
})();

const withoutComments = (lua: string): string => lua.replace(/--.*$/gm, '');

/**
 * The parts of _lib.lua a script uses (what its code names, and what those name in turn), in their order in the
 * file. Redis runs a script's whole text on every call, so each `local function` it carries is a closure made per
 * call: a script carries only the ones it needs.
 */
function libFor(code: string): string {
  const used = new Set<string>();
  const visit = (text: string): void => {
    const plain = withoutComments(text);
    for (const part of LIB_PARTS) {
      if (part.name === undefined || used.has(part.name) || !new RegExp(`\\b${part.name}\\b`).test(plain)) continue;
      used.add(part.name);
      visit(part.text);
    }
  };
  visit(code);
  return LIB_PARTS.filter((p) => p.name !== undefined && used.has(p.name))
    .map((p) => p.text)
    .join('\n');
}

/** The text Redis runs for a declared script (with `shebang` replacing the file's own). */
export function scriptSource(name: ScriptName, shebang?: string): string {
  const plan = PLANS[name];
  const text = readLua(plan.file);
  const lib = libFor(text);
  // The group accessors the script's code (and the parts of _lib.lua it carries) calls: `.name(`.
  const code = withoutComments(`${lib}\n${text}`);
  return placeLib(plan.file, text, shebang, luaPrelude(plan, (accessor) => code.includes(`.${accessor}(`)), lib);
}

const SOURCES = Object.fromEntries(
  Object.entries(COMMANDS).map(([name, c]) => [name, scriptSource(c.script, 'shebang' in c ? c.shebang : undefined)]),
) as Record<CommandName, string>;

/**
 * The number of keys of a script whose groups carry no keys, registered with the command: ioredis then knows the
 * keys, which a cluster's auto-pipelining needs to group calls by slot (a call that sends its key count first is
 * grouped by that number instead). Undefined: the count is sent with each call.
 */
const FIXED_KEYS = Object.fromEntries(
  Object.entries(COMMANDS).map(([name, c]) => {
    const plan = PLANS[c.script];
    return [name, plan.groups.some((g) => g.keys.length > 0) ? undefined : plan.keys.length];
  }),
) as Record<CommandName, number | undefined>;

/**
 * The commands whose number of keys varies per call: their first argument is that number, not a key. ioredis's
 * auto-pipelining on a Cluster groups a command by its first argument, so such a command can share a pipeline with
 * commands of another slot, which then fails whole ("All keys in the pipeline should belong to the same slots
 * allocation group"). A connection that auto-pipelines and may serve several queues at once excludes them.
 */
export const VARIABLE_KEY_COMMANDS: readonly string[] = Object.entries(FIXED_KEYS)
  .filter(([, keys]) => keys === undefined)
  .map(([name]) => name);

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

/** What `enqueue` writes. */
export interface EnqueueInput {
  /** 0 = ready now. */
  readonly delayMs: number;
  readonly priority: number;
  /** Prefix of generated ids; '' when `items` carry given ids. */
  readonly idPrefix: string;
  /** Alternating id ('' = generate) and envelope. */
  readonly items: readonly string[];
  /** A cron firing: written only if the job's last firing is still `expected` ('' = none), then set to `next`. */
  readonly cron?: { readonly name: string; readonly expected: string; readonly next: string } | undefined;
  /** Unique jobs: the lock TTL and job i's lock as `locks[i]`. */
  readonly unique?: { readonly ttlMs: number; readonly locks: readonly string[] } | undefined;
  /** The ready set of a throttled job type, instead of the queue's. */
  readonly readySet?: string | undefined;
  /** Send now, bypassing auto-pipelining (for calls that already carry a tick's worth of enqueues). */
  readonly now?: boolean | undefined;
}

/**
 * History counters a call adds to the queue's minute and hour buckets (see src/worker/history.ts): the bucket keys,
 * how long each lives from now (ms), and `counts`, alternating field and increment.
 */
export interface HistoryWrite {
  readonly minute: string;
  readonly hour: string;
  readonly minuteTtlMs: number;
  readonly hourTtlMs: number;
  readonly counts: readonly (string | number)[];
}

/** The two groups a HistoryWrite is sent as. */
function historyGroups(h: HistoryWrite | undefined): { history: HistoryWrite | undefined; counts: { flat: readonly (string | number)[] } } {
  return h === undefined || h.counts.length === 0 ? { history: undefined, counts: NO_ITEMS } : { history: h, counts: { flat: h.counts } };
}

/** What `stats` read (see stats.lua). */
export interface RawStats {
  readonly now: number;
  readonly wait: number;
  readonly prio: number;
  readonly throttled: number;
  readonly scheduled: number;
  readonly active: number;
  readonly errors: number;
  readonly dead: number;
  readonly done: number;
  readonly paused: boolean;
  /** Oldest enqueue time among the heads of the ready lists/sets, or -1. */
  readonly oldest: number;
  /** Earliest due time, or -1. */
  readonly nextDue: number;
}

/** What one `fetch` call does: acknowledge `acks`, then lease up to `want` jobs. */
export interface FetchInput {
  /** The queue's throttled types, in their fixed order (see throttle.ts). */
  readonly types: readonly ThrottledType[];
  readonly want: number;
  readonly leaseMs: number;
  /** Completed records to keep (count, and age in ms). */
  readonly keepCount: number;
  readonly keepAgeMs: number;
  readonly acks: readonly Completion[];
  /** The dead-letter cap, for jobs whose id is not valid UTF-8 (see invalidIds). Default 10,000. */
  readonly maxDead?: number | undefined;
  /** Envelopes over this many bytes are not sent, only their size and head (`tooBig`); 0 = no limit. */
  readonly maxEnvelopeBytes: number;
  /** History counters of the acknowledged runs. */
  readonly history?: HistoryWrite | undefined;
  /**
   * The results to store with the acks (docs/results.md): one per acknowledged job whose type declares a result (the
   * job itself is among `acks`). Undefined or empty for every other job: nothing more is sent.
   */
  readonly results?: readonly ResultWrite[] | undefined;
  /**
   * Chain hand-offs to record with the acks (docs/results.md, "Chains"): one per acknowledged chain step that has a
   * next step (the job itself is among `acks`). Undefined or empty otherwise.
   */
  readonly handoffs?: readonly HandoffWrite[] | undefined;
}

/** The next step of a chain, recorded in the outbox of the acknowledged step's queue with its acknowledgement. */
export interface HandoffWrite {
  /** The outbox of the acknowledged step's queue (keys.ts `chainOutbox`). */
  readonly outbox: string;
  /** The acknowledged step's id. */
  readonly id: string;
  /** The next step's id. */
  readonly next: string;
  /** The outbox entry (src/chain.ts `OutboxEntry`, JSON). */
  readonly entry: string;
}

/** A result stored with its job's acknowledgement. */
export interface ResultWrite {
  /** The result's key (keys.ts `resultKey`). */
  readonly result: string;
  readonly id: string;
  readonly json: string;
  /** How long it is kept. */
  readonly ttlMs: number;
  /** The queue's results channel. */
  readonly channel: string;
}

/** What `result.lua` read for one job. */
export type RawResult =
  | { readonly state: 'result'; readonly json: string }
  | { readonly state: 'dead'; readonly info: string | null }
  | { readonly state: 'live' | 'expired' | 'unknown' };

/** What `recover` takes over. */
export interface RecoverInput {
  readonly leaseMs: number;
  /** Jobs to take over at most. */
  readonly max: number;
  readonly types?: readonly ThrottledType[] | undefined;
  /** Default 10,000. */
  readonly maxDead?: number | undefined;
  /** 0 = no limit (default). */
  readonly maxEnvelopeBytes?: number | undefined;
}

/** A leased job to schedule again: a retry (with its error record) or a snooze. */
export interface RescheduleInput {
  readonly fence: Ack;
  readonly delayMs: number;
  /** The error record to store; none keeps the last one (a snooze). */
  readonly errorJson?: string | undefined;
  /** Gives the attempt back (a snooze). */
  readonly giveAttemptBack: boolean;
  readonly slot?: Slot | undefined;
  readonly history?: HistoryWrite | undefined;
}

/** A leased job to move to the dead letters. */
export interface DeadInput {
  readonly id: string;
  readonly attempt: number;
  readonly infoJson: string;
  readonly maxDead: number;
  /** The envelope to keep when the jobs hash has none for the id. */
  readonly fallbackEnvelope: string;
  readonly lock?: string | undefined;
  readonly slot?: Slot | undefined;
  readonly history?: HistoryWrite | undefined;
  /** The queue's results channel, for a job whose type declares a result: its death is announced there. */
  readonly publish?: string | undefined;
  /** A fan-in child's hand-off of its failure, recorded with the death (docs/results.md, "Fan-in"). */
  readonly handoff?: HandoffWrite | undefined;
}

/** What fanin-create.lua takes. */
export interface FaninCreateInput {
  readonly parent: string;
  readonly policy: 'fail' | 'continue' | 'ignore';
  readonly head: string;
  readonly tail: string;
  readonly priority: number;
  /** Each child's id and outbox entry (src/chain.ts `OutboxEntry`). */
  readonly children: readonly { readonly id: string; readonly entry: string }[];
}

/** What fanin-record.lua takes. */
export interface FaninRecordInput {
  readonly parent: string;
  readonly index: number;
  /** The child's result JSON (output form); '' when it failed. */
  readonly value: string;
  readonly maxDead: number;
  /** The parent queue's results channel, when the parent's type declares a result. */
  readonly publish?: string | undefined;
}

const NO_ITEMS = { flat: [] } as const;

const NO_ACKS: readonly Completion[] = [];
const NO_RESULTS: readonly ResultWrite[] = [];
const NO_HANDOFFS: readonly HandoffWrite[] = [];

/**
 * The acks of a fetch as its two groups: plain ones (two arguments each) and those holding a unique lock or a type's
 * slot. Without any of the latter (the usual batch) the list is passed as it is, with no copy.
 */
function splitAcks(acks: readonly Completion[]): { acks: readonly Completion[]; heldAcks: readonly Completion[] } {
  let i = 0;
  while (i < acks.length && (acks[i] as Completion).lock === undefined && (acks[i] as Completion).typeIndex === 0) i++;
  if (i === acks.length) return { acks, heldAcks: NO_ACKS };
  const plain: Completion[] = acks.slice(0, i);
  const held: Completion[] = [];
  for (; i < acks.length; i++) {
    const a = acks[i] as Completion;
    (a.lock === undefined && a.typeIndex === 0 ? plain : held).push(a);
  }
  return { acks: plain, heldAcks: held };
}

/** Typed calls to the Lua scripts on one connection. */
export class Scripts {
  readonly redis: RedisConnection;

  constructor(redis: RedisConnection) {
    this.redis = redis;
    if (!defined.has(redis)) {
      for (const name of Object.keys(COMMANDS) as CommandName[]) {
        const keys = FIXED_KEYS[name];
        redis.defineCommand(name, keys === undefined ? { lua: SOURCES[name] } : { numberOfKeys: keys, lua: SOURCES[name] });
      }
      defined.add(redis);
    }
  }

  private call(name: CommandName, { keys, args }: Encoded): Promise<Reply> {
    const fn = (this.redis as unknown as Record<CommandName, (...a: (string | number)[]) => Promise<Reply>>)[name];
    const reply = FIXED_KEYS[name] === undefined ? fn.call(this.redis, keys.length, ...keys, ...args) : fn.call(this.redis, ...keys, ...args);
    return reply.catch(async (err: unknown) => {
      if (err instanceof Error && OLD_REDIS.test(err.message)) throw await unsupportedRedis(this.redis, err);
      throw toLibraryError(err, `jobcraft's ${PLANS[COMMANDS[name].script].file} script${name === 'jcFetchLease' ? ' (leasing jobs)' : ''}`);
    });
  }

  /**
   * Adds jobs. Returns [id, duplicate] per job. With `cron`, the write happens only if the job's last firing is
   * still `expected` (then set to `next`); otherwise nothing is written and the result is empty.
   */
  async enqueue(k: QueueKeys, input: EnqueueInput): Promise<{ id: string; duplicate: boolean }[]> {
    const { unique, readySet } = input;
    const reply = (await this.call(
      input.now === true ? ENQUEUE_NOW : 'jcEnqueue',
      encodeCall('enqueue', k, input, {
        typeReady: readySet === undefined ? undefined : { ready: readySet },
        cron: input.cron,
        unique,
        locks: unique === undefined ? NO_ITEMS : { flat: unique.locks },
        items: { flat: input.items },
      }),
    )) as Reply[];
    const out: { id: string; duplicate: boolean }[] = [];
    if (input.idPrefix !== '' && unique === undefined) {
      // Generated ids, none unique: the reply is the number before the first id (or empty: a cron firing handled
      // elsewhere). Job i's id is the prefix and that number + i in base 36, as enqueue.lua makes it.
      if (reply.length === 0) return out;
      const first = Number(reply[0]);
      const count = input.items.length / 2;
      for (let i = 1; i <= count; i++) out.push({ id: input.idPrefix + (first + i).toString(36), duplicate: false });
      return out;
    }
    for (let i = 0; i < reply.length; i += 2) out.push({ id: String(reply[i]), duplicate: reply[i + 1] === 1 });
    return out;
  }

  /** Acknowledges `acks`, promotes due jobs and leases up to `want` jobs. */
  async fetch(k: QueueKeys, input: FetchInput): Promise<FetchResult> {
    const reply = (await this.call(
      input.want === 0 ? 'jcFetch' : 'jcFetchLease',
      encodeCall('fetch', k, input, {
        types: input.types,
        ...splitAcks(input.acks),
        ...historyGroups(input.history),
        results: input.results ?? NO_RESULTS,
        handoffs: input.handoffs ?? NO_HANDOFFS,
      }),
    )) as Reply[];
    const stale = Number(reply[1]);
    const jobs = leased(reply, 3 + stale, reply.length);
    const staleAcks = reply.slice(3, 3 + stale).map(String);
    const nextDueMs = Number(reply[0]);
    const expiry = String(reply[2]);
    // Everything is read out of the reply: empty it. ioredis keeps the reply as its command's resolved value, and
    // V8 keeps such replies alive across young-generation collections long enough to move them to the old
    // generation, which then grows until a full collection (about 8 MB less peak RSS in noop-c50: "Memory, round 3"
    // in docs/benchmarks.md, bench/promotion.mjs).
    reply.length = 0;
    // A client decodes bytes that are not UTF-8 to U+FFFD: only then is a second call needed (see invalidIds).
    if (!jobs.some(hasReplacementChar)) return { nextDueMs, staleAcks, jobs };
    try {
      const more = { types: input.types, maxDead: input.maxDead ?? DEFAULT_MAX_DEAD, maxEnvelopeBytes: input.maxEnvelopeBytes };
      return { nextDueMs, staleAcks, jobs: await this.invalidIds(k, { ...more, expiry, jobs }) };
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
    input: {
      readonly types: readonly ThrottledType[];
      readonly maxDead: number;
      readonly maxEnvelopeBytes: number;
      readonly expiry: string;
      readonly jobs: readonly LeasedJob[];
    },
  ): Promise<LeasedJob[]> {
    const { jobs } = input;
    const suspects = jobs.filter(hasReplacementChar);
    const reply = (await this.call(
      'jcInvalidIds',
      encodeCall('invalidIds', k, { ...input, uniquePrefix: k.uniquePrefix }, { types: input.types, suspects }),
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
  async renew(k: QueueKeys, input: { readonly types: readonly ThrottledType[]; readonly leaseMs: number; readonly held: readonly Held[] }): Promise<string[]> {
    const { types } = input;
    // A type's slot is extended only for a type with a cap (others hold none).
    const held = input.held.map((a) => ({ id: a.id, attempt: a.attempt, type: a.type > 0 && (types[a.type - 1]?.concurrency ?? 0) > 0 ? a.type : 0 }));
    return ((await this.call('jcRenew', encodeCall('renew', k, input, { types, held }))) as Reply[]).map(String);
  }

  /**
   * Takes over up to `max` jobs whose lease expired. Those whose id is not valid UTF-8 are dead-lettered by the
   * script instead, and come back flagged `invalidId` (already dead: for the worker's `dead` event). Envelopes over
   * `maxEnvelopeBytes` come back as `tooBig` (0 = no limit).
   */
  async recover(k: QueueKeys, input: RecoverInput): Promise<LeasedJob[]> {
    const args = {
      leaseMs: input.leaseMs,
      max: input.max,
      maxDead: input.maxDead ?? DEFAULT_MAX_DEAD,
      uniquePrefix: k.uniquePrefix,
      maxEnvelopeBytes: input.maxEnvelopeBytes ?? 0,
    };
    const reply = (await this.call('jcRecover', encodeCall('recover', k, args, { types: input.types ?? [] }))) as Reply[];
    const end = reply.length - 3 * Number(reply[0]);
    const jobs = leased(reply, 1, end);
    for (const j of leased(reply, end, reply.length)) jobs.push({ ...j, invalidId: true });
    return jobs;
  }

  /** Schedules a leased job to run again after `delayMs`; false when the lease was no longer ours. */
  async reschedule(k: QueueKeys, input: RescheduleInput): Promise<boolean> {
    const { fence, errorJson } = input;
    const args = { id: fence.id, attempt: fence.attempt, delayMs: Math.max(0, Math.round(input.delayMs)), giveAttemptBack: input.giveAttemptBack ? '1' : '0' };
    const reply = await this.call(
      'jcReschedule',
      encodeCall('reschedule', k, args, {
        slot: input.slot,
        error: errorJson === undefined ? undefined : { json: errorJson },
        ...historyGroups(input.history),
      }),
    );
    return reply === 1;
  }

  /** Moves a job to the dead letters; false when the lease was no longer ours. */
  async dead(k: QueueKeys, input: DeadInput): Promise<boolean> {
    const { lock } = input;
    const args = { id: input.id, attempt: input.attempt, info: input.infoJson, maxDead: input.maxDead, fallbackEnvelope: input.fallbackEnvelope };
    const reply = await this.call(
      'jcDead',
      encodeCall('dead', k, args, {
        unique: lock === undefined ? undefined : { lock },
        slot: input.slot,
        ...historyGroups(input.history),
        publish: input.publish === undefined ? undefined : { channel: input.publish },
        handoff: input.handoff,
      }),
    );
    return reply === 1;
  }

  /** Creates a fan-in's record and its children's hand-offs (fanin-create.lua). False: the parent id is known. */
  async faninCreate(keys: FaninKeys, input: FaninCreateInput): Promise<boolean> {
    return (await this.call('jcFaninCreate', encodeCall('faninCreate', keys, input, { children: input.children }))) === 1;
  }

  /** Records how one child of a fan-in ended (fanin-record.lua): 0 nothing, 1 recorded, 2 parent created, 3 parent dead. */
  async faninRecord(keys: FaninKeys, input: FaninRecordInput): Promise<number> {
    return Number(await this.call('jcFaninRecord', encodeCall('faninRecord', keys, input, { publish: input.publish === undefined ? undefined : { channel: input.publish } })));
  }

  /** Hands leased jobs back to the front of the queue, giving back their attempt. */
  async release(
    k: QueueKeys,
    input: { readonly types: readonly ThrottledType[]; readonly jobs: readonly { id: string; attempt: number; priority: number; type: number }[] },
  ): Promise<number> {
    if (input.jobs.length === 0) return 0;
    return Number(await this.call('jcRelease', encodeCall('release', k, {}, input)));
  }

  /** Reads one job's state. */
  async get(k: QueueKeys, input: { readonly id: string }): Promise<RawJobState> {
    const r = (await this.call('jcGet', encodeCall('get', k, input, {}))) as Reply[];
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
    input: { readonly types: readonly ThrottledType[]; readonly letters: readonly { id: string; lock?: string; ttlMs?: number }[] },
  ): Promise<string[]> {
    if (input.letters.length === 0) return [];
    // A lock's TTL defaults to an hour; without a lock the TTL is not read.
    const letters = input.letters.map((l) => ({ id: l.id, lock: l.lock, ttlMs: l.lock === undefined ? 0 : (l.ttlMs ?? 3_600_000) }));
    return ((await this.call('jcDeadRetry', encodeCall('deadRetry', k, {}, { types: input.types, letters }))) as Reply[]).map(String);
  }

  /** Deletes dead letters; returns how many existed. */
  async deadDelete(k: QueueKeys, input: { readonly ids: readonly string[] }): Promise<number> {
    if (input.ids.length === 0) return 0;
    return Number(await this.call('jcDeadDelete', encodeCall('deadDelete', k, {}, { ids: { flat: input.ids } })));
  }

  /** Cancels a job that has not started. `readySet`: its throttled type's ready set; `lock`: its unique lock. */
  async cancel(
    k: QueueKeys,
    input: {
      readonly id: string;
      readonly readySet?: string | undefined;
      readonly lock?: string | undefined;
      readonly publish?: string | undefined;
      /** A fan-in child's end for its parent (cancel.ts `cancelHandoff`), recorded in its queue's outbox with the cancel. */
      readonly handoff?: { readonly outbox: string; readonly next: string; readonly entry: string } | undefined;
    },
  ): Promise<'cancelled' | 'active' | 'unknown'> {
    const { readySet, lock, publish, handoff } = input;
    const groups = {
      typeReady: readySet === undefined ? undefined : { ready: readySet },
      unique: lock === undefined ? undefined : { lock },
      publish: publish === undefined ? undefined : { channel: publish },
      handoff,
    };
    return String(await this.call('jcCancel', encodeCall('cancel', k, input, groups))) as 'cancelled' | 'active' | 'unknown';
  }

  /**
   * One job's stored result, or what became of it (result.lua; `result`: the job's result key). `now`: sent at once,
   * outside auto-pipelining (on connections that exclude {@link RESULT_NOW}, as the client's does).
   */
  async result(k: QueueKeys, input: { readonly result: string; readonly id: string }, now = false): Promise<RawResult> {
    const r = (await this.call(now ? RESULT_NOW : 'jcResult', encodeCall('result', { ...faninKeys(k, input.id), result: input.result }, input, {}))) as Reply[];
    const state = String(r[0]);
    if (state === 'result') return { state, json: String(r[1]) };
    if (state === 'dead') return { state, info: r[1] === null || r[1] === undefined ? null : String(r[1]) };
    return { state: state as 'live' | 'expired' | 'unknown' };
  }

  /** Releases a unique lock if the job `id` holds it. */
  async uniqueRelease(lock: string, input: { readonly id: string }): Promise<void> {
    await this.call('jcUniqueRelease', encodeCall('uniqueRelease', { lock }, input, {}));
  }

  /** Resumes a paused queue; true if it was paused. */
  async resume(k: QueueKeys, input: { readonly types: readonly ThrottledType[] }): Promise<boolean> {
    return (await this.call('jcResume', encodeCall('resume', k, {}, input))) === 1;
  }

  /** One queue's counts and timings (stats.lua); `types`: the ready sets of its throttled types. */
  async stats(k: QueueKeys, input: { readonly types: readonly { readonly keys: { readonly ready: string } }[] }): Promise<RawStats> {
    const r = ((await this.call('jcStats', encodeCall('stats', k, {}, input))) as Reply[]).map(Number);
    const at = (i: number): number => r[i] as number;
    return {
      now: at(0),
      wait: at(1),
      prio: at(2),
      throttled: at(3),
      scheduled: at(4),
      active: at(5),
      errors: at(6),
      dead: at(7),
      done: at(8),
      paused: at(9) === 1,
      oldest: at(10),
      nextDue: at(11),
    };
  }

  /** Writes a worker's registry entry (its `lastBeatAt` set to Redis's time) and drops expired ones. */
  async heartbeat(k: WorkerRegistryKeys, input: { readonly id: string; readonly json: string; readonly ttlMs: number }): Promise<number> {
    return Number(await this.call('jcHeartbeat', encodeCall('heartbeat', k, input, {})));
  }

  /** The first `bytes` bytes of the values of `ids` in `hash` (heads.lua), null where a field is missing. */
  async heads(hash: string, input: { readonly ids: readonly string[]; readonly bytes: number }): Promise<(string | null)[]> {
    if (input.ids.length === 0) return [];
    const r = (await this.call('jcHeads', encodeCall('heads', { hash }, { bytes: input.bytes }, { ids: { flat: input.ids } }))) as Reply[];
    return input.ids.map((_, i) => {
      const v = r[i];
      return v === null || v === undefined ? null : String(v);
    });
  }

  /**
   * Rewrites stored jobs of `hash` (a queue's jobs or dead letters) whose stored text is still `expected` and whose id
   * is not leased in `active` (migrate.lua). Per item: `rewritten`, `changed` (gone or different since read) or `leased`.
   */
  async migrate(
    keys: { readonly hash: string; readonly active: string },
    input: { readonly items: readonly { readonly id: string; readonly expected: string; readonly envelope: string }[] },
  ): Promise<('rewritten' | 'changed' | 'leased')[]> {
    if (input.items.length === 0) return [];
    const r = (await this.call('jcMigrate', encodeCall('migrate', keys, {}, { items: input.items }))) as Reply[];
    return input.items.map((_, i) => (Number(r[i]) === 1 ? 'rewritten' : Number(r[i]) === 2 ? 'leased' : 'changed'));
  }

  /** The live entries of the worker registry: Redis's time, and per worker its id, expiry and entry JSON. */
  async workers(k: WorkerRegistryKeys): Promise<{ now: number; entries: { id: string; expiresAt: number; json: string | null }[] }> {
    const r = (await this.call('jcWorkers', encodeCall('workers', k, {}, {}))) as Reply[];
    const entries: { id: string; expiresAt: number; json: string | null }[] = [];
    for (let i = 1; i + 2 < r.length + 1; i += 3) {
      const json = r[i + 2];
      entries.push({ id: String(r[i]), expiresAt: Number(r[i + 1]), json: json === null || json === undefined ? null : String(json) });
    }
    return { now: Number(r[0]), entries };
  }
}
