/**
 * Every Redis key jobcraft uses is built here and nowhere else. All keys of one queue share the hash tag `{queue}`,
 * so they live in one Redis Cluster slot and every Lua script can touch them together.
 * The layout is documented in docs/redis-layout.md.
 */

/** Default prefix of every key. */
export const DEFAULT_PREFIX = 'jobcraft';

/** Prefixes: letters, digits and `_ - . :`; at most 64 characters; never braces (they would break hash tags). */
export const PREFIX_PATTERN = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The keys of one queue. */
export interface QueueKeys {
  readonly queue: string;
  /** LIST of ids ready to run at priority 0, oldest first. */
  readonly wait: string;
  /** ZSET of ids ready to run at a non-zero priority; score = -priority * 2^42 + sequence. */
  readonly prio: string;
  /** ZSET of ids waiting for a time (delayed, retrying, snoozed); score = due time in ms. */
  readonly scheduled: string;
  /** ZSET of leased ids; score = lease expiry in ms. */
  readonly active: string;
  /** HASH id → envelope JSON, for every live job (waiting, scheduled or active). */
  readonly jobs: string;
  /** HASH id → attempts started so far, for jobs that have started at least once. */
  readonly attempts: string;
  /** HASH id → last error JSON, for live jobs that have failed at least once. */
  readonly errors: string;
  /** LIST holding at most one wake-up token for workers blocked in BLPOP. */
  readonly notify: string;
  /** STRING counter for generated ids and priority order. */
  readonly seq: string;
  /**
   * Prefix of the keys of a throttled job type (one with a concurrency cap or rate limit): `<prefix><job>:ready`
   * (ZSET, its waiting jobs), `<prefix><job>:running` (ZSET id → lease expiry), `<prefix><job>:starts` (ZSET of recent
   * starts, for the rate limit).
   */
  readonly typePrefix: string;
  /** Prefix of unique-job locks: STRING `<prefix><job name>:<sha1>` → id of the job holding it, with a TTL. */
  readonly uniquePrefix: string;
  /** HASH cron job name → time of its last firing handled (ms), the exactly-once record of cron firings. */
  readonly cron: string;
  /** STRING present while the queue is paused (no worker leases its jobs). */
  readonly paused: string;
  /** HASH id → "attempts|finishedAt" for recently completed jobs. */
  readonly done: string;
  /** LIST of recently completed ids, newest first (bounds `done`). */
  readonly doneOrder: string;
  /** HASH id → envelope of dead jobs. */
  readonly dead: string;
  /** HASH id → dead-letter info JSON (error, stack, attempts, when, reason). */
  readonly deadInfo: string;
  /** ZSET id → time of death, for ordering and capping the dead letters. */
  readonly deadOrder: string;
  /**
   * Prefix of the history buckets: HASH `<prefix>m:<bucket start ms>` (one minute, expires 48 h after) and
   * `<prefix>h:<bucket start ms>` (one hour, expires 90 days after), fields `<job>|<counter>` (see history.ts).
   */
  readonly historyPrefix: string;
  /**
   * Prefix of stored results (docs/results.md): STRING `<prefix><job id>` → the result's JSON, with a TTL (the job
   * type's `resultRetention`). Only jobs whose type declares a `result` schema have one.
   */
  readonly resultPrefix: string;
  /**
   * HASH next step's job id → outbox entry (src/chain.ts): the chain steps to create after steps of this queue
   * completed (docs/results.md, "Chains"); an entry lives from the step's acknowledgement until the next step exists.
   */
  readonly chainOutbox: string;
  /**
   * Prefix of fan-in records (docs/results.md, "Fan-in"): HASH `<prefix><parent id>` → the parent's envelope around
   * its children's results, its policy, and one field per child that ended; deleted when the parent is created.
   */
  readonly faninPrefix: string;
}

/** Builds the keys of `queue` under `prefix`. */
export function queueKeys(prefix: string, queue: string): QueueKeys {
  const base = `${prefix}:{${queue}}:`;
  return {
    queue,
    wait: `${base}wait`,
    prio: `${base}prio`,
    scheduled: `${base}scheduled`,
    active: `${base}active`,
    jobs: `${base}jobs`,
    attempts: `${base}attempts`,
    errors: `${base}errors`,
    notify: `${base}notify`,
    seq: `${base}seq`,
    paused: `${base}paused`,
    cron: `${base}cron`,
    uniquePrefix: `${base}unique:`,
    typePrefix: `${base}type:`,
    done: `${base}done`,
    doneOrder: `${base}done:order`,
    dead: `${base}dead`,
    deadInfo: `${base}dead:info`,
    deadOrder: `${base}dead:order`,
    historyPrefix: `${base}history:`,
    resultPrefix: `${base}result:`,
    chainOutbox: `${base}chain:outbox`,
    faninPrefix: `${base}fanin:`,
  };
}

/** SET of the queues that have cron records under a prefix (so records of a queue that is gone can be found). */
export function cronQueuesKey(prefix: string): string {
  return `${prefix}:cron-queues`;
}

/**
 * HASH queue name → JSON `{"throttled":[job names]}`: the registry of the queues under a prefix (written by a worker
 * for each queue it serves when it starts, and by a client once per process per queue at its first enqueue there).
 * Not hash-tagged: one small key per prefix.
 */
export function queueRegistryKey(prefix: string): string {
  return `${prefix}:queues`;
}

/** The worker registry: both keys share the hash tag `{#workers}` (no queue name holds '#'), so a script takes both. */
export interface WorkerRegistryKeys {
  /** HASH worker id → JSON of its last heartbeat. */
  readonly info: string;
  /** ZSET worker id → when its entry expires (ms, Redis clock): the last beat + 3 heartbeat intervals. */
  readonly beats: string;
}

/** The worker registry's keys under `prefix`. */
export function workerRegistryKeys(prefix: string): WorkerRegistryKeys {
  return { info: `${prefix}:{#workers}:info`, beats: `${prefix}:{#workers}:beats` };
}

/** The id prefix of jobs whose id jobcraft generates: `<queue>#`, followed by a base-36 sequence number. */
export function generatedIdPrefix(queue: string): string {
  return `${queue}#`;
}

/** The queue named by a generated id, or `undefined` for an id the caller chose. */
export function queueOfGeneratedId(id: string): string | undefined {
  const hash = id.lastIndexOf('#');
  if (hash <= 0 || !/^[0-9a-z]+$/.test(id.slice(hash + 1))) return undefined;
  return id.slice(0, hash);
}

/**
 * LIST that ends one worker's blocking read at shutdown: the worker blocks on it beside the queue's wake-up list, and
 * close() pushes to it (with a 10 s expiry) so a fetch parked behind the read still answers. Same hash tag as the
 * queue, so it lives on the queue's cluster node.
 */
export function unblockKey(k: QueueKeys, token: string): string {
  return `${k.notify}:unblock:${token}`;
}

/** The stored result of job `id` in the queue of `k` (STRING with a TTL; same hash tag as the queue). */
export function resultKey(k: QueueKeys, id: string): string {
  return `${k.resultPrefix}${id}`;
}

/**
 * The pub/sub channel (not a key) of the queue of `k` on which the scripts announce the end of a job whose type
 * declares a result: a message is one letter (`r` result stored, `d` dead, `c` cancelled) followed by the job id.
 * `P:{q}:results`, beside the result keys `P:{q}:result:<id>`.
 */
export function resultChannel(k: QueueKeys): string {
  return `${k.resultPrefix.slice(0, -1)}s`;
}

/** A queue's keys plus the record of one fan-in (its parent's id) and the queue's outbox: what the fan-in scripts take. */
export type FaninKeys = QueueKeys & { readonly fanin: string; readonly outbox: string };

/** The keys of the fan-in whose parent is `parent`, in the parent's queue of `k`. */
export function faninKeys(k: QueueKeys, parent: string): FaninKeys {
  return { ...k, fanin: k.faninPrefix + parent, outbox: k.chainOutbox };
}

/** The keys of one throttled job type in a queue. */
export interface TypeKeys {
  readonly ready: string;
  readonly running: string;
  readonly starts: string;
}

/** Builds the keys of throttled job type `job` in the queue of `k`. */
export function typeKeys(k: QueueKeys, job: string): TypeKeys {
  return { ready: `${k.typePrefix}${job}:ready`, running: `${k.typePrefix}${job}:running`, starts: `${k.typePrefix}${job}:starts` };
}

/** Where a new job of `job` waits in the queue of `k`: its type's ready set when the type is throttled, else undefined (the queue's own lists). */
export function readySetOf(k: QueueKeys, job: { readonly name: string; readonly throttle?: unknown }): string | undefined {
  return job.throttle === undefined ? undefined : typeKeys(k, job.name).ready;
}
