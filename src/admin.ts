/**
 * The write API over a prefix's queues ({@link Admin}; types in admin-types.ts): act on jobs named by id or selected
 * by a paged scan (admin-scan.ts), purge dead letters, pause and resume queues, list and trigger cron jobs. It goes
 * through the same primitives as the client — the cancel, dead-retry, dead-delete and resume scripts, the dead-letter
 * API — and adds one script of its own, migrate.lua, for `migrate` (admin-migrate.ts: stored payloads rewritten to a
 * payload version). Costs: docs/operations.md ("Write API: createAdmin").
 */
import { migrateStoredJobs } from './admin-migrate.js';
import { scanQueue, type PageResult, type ScanAction } from './admin-scan.js';
import {
  ACTION_STATES,
  ADMIN_ACTIONS,
  DEFAULT_BULK_PAGE_SIZE,
  MAX_BULK_PAGE_SIZE,
  type ActOptions,
  type ActOutcome,
  type ActResult,
  type Admin,
  type AdminAction,
  type AdminOptions,
  type BulkOptions,
  type BulkOutcome,
  type BulkQueueOutcome,
  type CronEntry,
  type DeadAction,
  type JobAction,
  type LiveState,
  type PauseOutcome,
  type PurgeOutcome,
  type TriggerOutcome,
} from './admin-types.js';
import { cancelTargets, recordCancelledChild } from './cancel.js';
import { createClient, type JobClient } from './client.js';
import { QueueDeadLetters } from './dead-letters.js';
import { jobNamed, type JobSet, type ResolvedJob } from './define.js';
import { describe } from './durations.js';
import { InvalidArgumentError } from './errors.js';
import { jobInfoFrom, type JobInfo } from './job-info.js';
import { DEFAULT_PREFIX, PREFIX_PATTERN, queueKeys, queueOfGeneratedId, queueRegistryKey, typeKeys, type QueueKeys } from './keys.js';
import { decodeEnvelope } from './payload.js';
import { connect, describeConnection, release } from './redis.js';
import { ConnectionHealth } from './connection-health.js';
import { silentLogger } from './logger.js';
import { parseQueueEntry } from './registry.js';
import { ENQUEUE_NOW, Scripts, VARIABLE_KEY_COMMANDS } from './scripts.js';
import { throttledTypes, type ThrottledType } from './throttle.js';
import { nextFiring } from './worker/cron.js';

const isDeadAction = (action: AdminAction): action is DeadAction => action === 'dead-retry' || action === 'dead-delete';

/** Redis's clock, in ms. */
async function redisNow(redis: { time(): Promise<(string | number)[]> }): Promise<number> {
  const [seconds, micros] = await redis.time();
  return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
}

/**
 * Opens an {@link Admin} on the queues under `prefix`: the write operations of the CLI and the dashboard. With a
 * connection of yours it uses it (and `close()` leaves it open); with a URL or options it opens its own. The `jobs`
 * option (the job set) checks queue and job names, knows throttled types and unique-lock TTLs, and is needed by
 * `cron()` and `triggerCron()`; without it the queues and throttled types come from the queue registry.
 *
 * @example
 * const admin = createAdmin({ redis: process.env.REDIS_URL, jobs });
 * const run = await admin.bulk({ action: 'dead-retry', queue: 'email', all: true, dryRun: true });
 * console.log(`${run.matched} dead letters would go back`);
 * await admin.close();
 */
export function createAdmin(options: AdminOptions = {}): Admin {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  if (!PREFIX_PATTERN.test(prefix)) throw new InvalidArgumentError('createAdmin', 'prefix', `prefix ${JSON.stringify(prefix)} may only hold letters, digits and _ - . : (1 to 64 characters)`);
  // As the client's: its grouped enqueues (triggerCron) go at once rather than auto-pipelined. So do the scripts
  // whose key count varies (cancel, dead-retry, resume, enqueue): on a Cluster, auto-pipelining would group them by
  // that count, not their queue, and calls on queues of different shards at once would fail.
  const conn = connect(options.redis, 'client', [ENQUEUE_NOW, ...VARIABLE_KEY_COMMANDS]);
  const redis = conn.redis;
  // A connection it opened is watched without logging, as the Inspector's: an 'error' listener of its own, so ioredis
  // does not print every failed reconnect with its stack.
  if (conn.owned) new ConnectionHealth(silentLogger, describeConnection(redis)).watch(redis);
  const scripts = new Scripts(redis);
  const jobSet: JobSet | undefined = options.jobs;
  const setQueues: readonly string[] = jobSet?.queues ?? [];
  let client: JobClient<JobSet> | undefined;

  function checkQueue(queue: unknown, call: string): string {
    if (typeof queue !== 'string' || queue.length === 0 || queue.includes('{') || queue.includes('}')) {
      throw new InvalidArgumentError(call, 'queue', `not a queue name: ${JSON.stringify(queue)}`);
    }
    if (jobSet !== undefined && !setQueues.includes(queue)) {
      throw new InvalidArgumentError(call, 'queue', `unknown queue ${JSON.stringify(queue)} (queues: ${jobSet.queues.join(', ')})`);
    }
    return queue;
  }

  /**
   * {@link checkQueue}, and without a job set also the queue registry (one HEXISTS): a queue no worker or client ever
   * registered is refused, so a typo does not pause a queue nobody serves or act on nothing without a word.
   */
  async function knownQueue(queue: unknown, call: string): Promise<string> {
    const q = checkQueue(queue, call);
    if (jobSet === undefined && (await redis.hexists(queueRegistryKey(prefix), q)) === 0) {
      const known = (await redis.hkeys(queueRegistryKey(prefix))).sort();
      throw new InvalidArgumentError(call, 'queue', `unknown queue ${JSON.stringify(q)} (the queue registry ${queueRegistryKey(prefix)} lists: ${known.join(', ') || 'none'})`);
    }
    return q;
  }

  function checkJob(name: unknown, call: string, argument: string): ResolvedJob | undefined {
    if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(call, argument, `not a job name: ${JSON.stringify(name)}`);
    if (jobSet === undefined) return undefined;
    const job = jobSet.jobs.get(name);
    if (job === undefined) throw new InvalidArgumentError(call, argument, `unknown job ${JSON.stringify(name)} (jobs: ${[...jobSet.jobs.keys()].join(', ')})`);
    return job;
  }

  /** A boolean option: absent, true or false. A "true" or 1 (a form's value) is refused rather than read as true or false. */
  function checkFlag(value: unknown, call: string, argument: string): boolean {
    if (value !== undefined && typeof value !== 'boolean') {
      throw new InvalidArgumentError(call, argument, `${argument} must be true or false, got ${describe(value)}`);
    }
    return value === true;
  }

  function checkAction(action: unknown, call: string): AdminAction {
    if (!(ADMIN_ACTIONS as readonly unknown[]).includes(action)) {
      throw new InvalidArgumentError(call, 'action', `action must be one of ${ADMIN_ACTIONS.join(', ')}, got ${JSON.stringify(action)}`);
    }
    return action as AdminAction;
  }

  /** The live states to act on: `states` checked against the action's, or all of the action's. */
  function statesOf(action: AdminAction, states: readonly LiveState[] | undefined, call: string): readonly LiveState[] {
    if (isDeadAction(action)) {
      if (states !== undefined) throw new InvalidArgumentError(call, 'states', `${action} acts on dead letters: states applies to job actions only`);
      return [];
    }
    const allowed = ACTION_STATES[action];
    if (states === undefined) return allowed;
    if (!Array.isArray(states) || states.length === 0 || states.some((s) => !allowed.includes(s))) {
      throw new InvalidArgumentError(call, 'states', `${action} applies to ${allowed.join(', ')}; states must be a non-empty subset of them, got ${JSON.stringify(states)}`);
    }
    return states;
  }

  /** Every queue: the job set's, else the queue registry's (one HKEYS). */
  async function allQueues(): Promise<readonly string[]> {
    if (jobSet !== undefined) return jobSet.queues;
    return (await redis.hkeys(queueRegistryKey(prefix))).sort();
  }

  /** The queues a job with this id may be in: the one given, the one a generated id names, else every queue. */
  async function queuesFor(id: string, queue: string | undefined): Promise<readonly string[]> {
    if (queue !== undefined) return [queue];
    const hinted = queueOfGeneratedId(id);
    if (hinted !== undefined && (jobSet === undefined || setQueues.includes(hinted))) return [hinted];
    return allQueues();
  }

  /**
   * A queue's throttled types: the job set's, and those the names in its registry entry add (one HGET). The registry
   * holds what the running workers cap, which a dashboard's job set from another deploy may not: a dead letter of
   * such a type put back on the plain wait list would run with no cap or rate limit.
   */
  async function typesOf(k: QueueKeys): Promise<ThrottledType[]> {
    const own = jobSet === undefined ? [] : throttledTypes(jobSet, k);
    const names = parseQueueEntry(await redis.hget(queueRegistryKey(prefix), k.queue)).throttled;
    // The scripts admin calls only route a job to its type's ready set (and look at it): the limits are not read.
    const more = names.filter((name) => !own.some((t) => t.name === name)).map((name) => ({ name, keys: typeKeys(k, name), concurrency: 0, rateMax: 0, ratePerMs: 0 }));
    return [...own, ...more];
  }

  async function deadLettersOf(k: QueueKeys): Promise<QueueDeadLetters> {
    return new QueueDeadLetters(scripts, k, await typesOf(k), (name) => (jobSet === undefined ? undefined : jobNamed(jobSet, name)?.unique?.ttlMs), (call) => call());
  }

  /** A job's state, searched in `queues` (one get.lua call each). */
  async function lookUp(id: string, queues: readonly string[]): Promise<JobInfo> {
    const states = await Promise.all(queues.map((q) => scripts.get(queueKeys(prefix, q), { id })));
    const i = states.findIndex((s) => s.state !== 'unknown');
    return jobInfoFrom(id, queues[i], states[i], (name) => (jobSet === undefined ? undefined : jobNamed(jobSet, name)?.attempts));
  }

  /**
   * Whether dead-retry.lua would leave this dead letter where it is (a dry run's answer, read without writing): its
   * id is live again, or its unique lock exists (the script's `SET NX` fails on any holder).
   */
  async function heldDead(k: QueueKeys, id: string): Promise<boolean> {
    const [live, raw] = await Promise.all([redis.hexists(k.jobs, id), redis.hget(k.dead, id)]);
    if (live === 1) return true;
    const decoded = decodeEnvelope(raw);
    if (!decoded.ok || decoded.envelope.u === undefined) return false;
    return (await redis.exists(k.uniquePrefix + decoded.envelope.u)) === 1;
  }

  /**
   * Cancels not-started jobs of a queue, one cancel.lua call each (as `client.cancel`). Each job's type ready set is
   * always named, throttled or not: the workers' deploy may cap a type that the admin's job set (or the registry) no
   * longer does, and an id left in that set would be leased later as a job without an envelope. Removing an id from
   * a set that does not hold it is a no-op.
   */
  async function cancelPage(k: QueueKeys, ids: readonly string[]): Promise<PageResult> {
    const raws = await redis.hmget(k.jobs, ...ids);
    const results = await Promise.all(
      ids.map((id, i) => {
        // Waiters for a result learn of the cancel at once when the job set says the type has one (as
        // client.cancel); without a job set they learn at their next poll, as a job not found.
        const targets = cancelTargets(k, id, raws[i] ?? null, (n) => (jobSet === undefined ? undefined : jobNamed(jobSet, n)), true);
        return scripts.cancel(k, { id, ...targets }).then(async (r) => {
          // A fan-in child: handed to its parent now (cancel.lua kept it in the outbox; a worker's sweep finishes it
          // should this fail, so the cancel still counts as done).
          if (r === 'cancelled' && targets.handoff !== undefined) await recordCancelledChild(scripts, prefix, targets.handoff).catch(() => undefined);
          return r;
        });
      }),
    );
    const done = results.filter((r) => r === 'cancelled').length;
    return { done, skipped: ids.length - done };
  }

  /** Makes scheduled jobs due now (never later than they were) and wakes a worker. Idempotent. */
  async function promotePage(k: QueueKeys, ids: readonly string[]): Promise<PageResult> {
    const now = await redisNow(redis);
    const args: string[] = [];
    for (const id of ids) args.push(String(now), id);
    // XX: only jobs still scheduled; LT: never later than their due time; CH: count those moved.
    const changed = Number(await redis.call('ZADD', k.scheduled, 'XX', 'LT', 'CH', ...args));
    if ((await redis.exists(k.paused)) === 0) {
      // One wake-up token at most (docs/redis-layout.md): the woken worker's fetch promotes the due jobs.
      await redis.multi().lpush(k.notify, '1').ltrim(k.notify, 0, 0).exec();
    }
    return { done: changed, skipped: ids.length - changed };
  }

  function jobPage(action: JobAction, k: QueueKeys, ids: readonly string[]): Promise<PageResult> {
    return action === 'cancel' || action === 'delete' ? cancelPage(k, ids) : promotePage(k, ids);
  }

  /**
   * The live state of each id of a page (undefined: no longer live): in `active`, in `scheduled` with or without an
   * error record, else waiting. Whether an id has a job and an error record is asked of heads.lua with 0 bytes: the
   * envelopes (up to maxPayloadBytes each, just read by the scan) and error records (up to 64 KiB) stay in Redis.
   */
  async function liveStates(k: QueueKeys, ids: readonly string[]): Promise<(LiveState | undefined)[]> {
    const [active, scheduled, errors, live] = await Promise.all([
      redis.zmscore(k.active, ...ids),
      redis.zmscore(k.scheduled, ...ids),
      scripts.heads(k.errors, { ids, bytes: 0 }),
      scripts.heads(k.jobs, { ids, bytes: 0 }),
    ]);
    return ids.map((_, i) =>
      live[i] === null ? undefined : active[i] !== null ? 'active' : scheduled[i] !== null ? (errors[i] !== null ? 'retrying' : 'delayed') : 'waiting',
    );
  }

  async function act(action: AdminAction, ids: readonly string[], o: ActOptions = {}): Promise<ActOutcome> {
    const call = 'admin.act';
    checkAction(action, call);
    if (!Array.isArray(ids)) throw new InvalidArgumentError(call, 'ids', `ids must be an array of non-empty strings, got ${describe(ids)}`);
    // The first bad one, not the whole list: a dashboard's selection may hold thousands of ids.
    const bad = ids.findIndex((id) => typeof id !== 'string' || id.length === 0);
    if (bad >= 0) throw new InvalidArgumentError(call, 'ids', `ids must be non-empty strings: ids[${bad}] is ${describe(ids[bad])}`);
    if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(call, 'options', 'options must be an object');
    const states = statesOf(action, o.states, call);
    const dryRun = checkFlag(o.dryRun, call, 'dryRun');
    const queue = o.queue === undefined ? undefined : await knownQueue(o.queue, call);
    const results: ActResult[] = [];
    // One dead-letter API per queue for the call: its throttled types cost a registry read (typesOf).
    const dlqs = new Map<string, QueueDeadLetters>();
    for (const id of ids) {
      if (isDeadAction(action)) {
        const queues = await queuesFor(id, queue);
        const found = await Promise.all(queues.map((q) => redis.hexists(queueKeys(prefix, q).dead, id)));
        const q = queues[found.findIndex((n) => n === 1)];
        if (q === undefined) {
          results.push({ id, result: 'not_found', queue: undefined, state: 'unknown' });
          continue;
        }
        const k = queueKeys(prefix, q);
        if (dryRun) {
          results.push(action === 'dead-retry' && (await heldDead(k, id)) ? { id, result: 'skipped', queue: q, state: 'dead', reason: 'held' } : { id, result: 'would', queue: q, state: 'dead' });
          continue;
        }
        let dlq = dlqs.get(q);
        if (dlq === undefined) dlqs.set(q, (dlq = await deadLettersOf(k)));
        const ok = action === 'dead-retry' ? (await dlq.retry([id])).length === 1 : (await dlq.delete([id])) === 1;
        if (ok) results.push({ id, result: 'done', queue: q, state: 'dead' });
        else if (action === 'dead-retry' && (await redis.hexists(k.dead, id)) === 1) results.push({ id, result: 'skipped', queue: q, state: 'dead', reason: 'held' });
        else results.push({ id, result: 'not_found', queue: q, state: 'unknown' });
        continue;
      }
      const info = await lookUp(id, await queuesFor(id, queue));
      if (info.state === 'unknown' || info.queue === undefined) {
        results.push({ id, result: 'not_found', queue: undefined, state: 'unknown' });
      } else if (!(states as readonly string[]).includes(info.state)) {
        results.push({ id, result: 'skipped', queue: info.queue, state: info.state, reason: 'state' });
      } else if (dryRun) {
        results.push({ id, result: 'would', queue: info.queue, state: info.state });
      } else {
        const r = await jobPage(action, queueKeys(prefix, info.queue), [id]);
        results.push(r.done === 1 ? { id, result: 'done', queue: info.queue, state: info.state } : { id, result: 'skipped', queue: info.queue, state: info.state, reason: 'changed' });
      }
    }
    const count = (f: (r: ActResult) => boolean): number => results.filter(f).length;
    return {
      action,
      dryRun,
      matched: count((r) => r.result === 'done' || r.result === 'would' || (r.result === 'skipped' && r.reason !== 'state')),
      done: count((r) => r.result === 'done'),
      skipped: count((r) => r.result === 'skipped'),
      notFound: count((r) => r.result === 'not_found'),
      results,
    };
  }

  function checkBulk(o: BulkOptions, call: string): { since: number | undefined; pageSize: number; rate: number | undefined } {
    if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(call, 'options', 'options must be an object');
    checkAction(o.action, call);
    checkFlag(o.dryRun, call, 'dryRun');
    if (!checkFlag(o.all, call, 'all') && o.job === undefined && o.since === undefined) {
      throw new InvalidArgumentError(call, 'all', 'name the jobs: all: true (optionally narrowed by job and since), or job, or since');
    }
    if (o.queue !== undefined) checkQueue(o.queue, call);
    // An old name (an alias) is accepted too: the filter matches the name a job is stored under, so jobs stored under
    // a renamed job's old name are addressed by that name (docs/contracts.md, "Rename a job").
    if (o.job !== undefined && !(typeof o.job === 'string' && jobSet?.aliases.has(o.job) === true)) checkJob(o.job, call, 'job');
    const since = o.since === undefined ? undefined : o.since instanceof Date ? o.since.getTime() : o.since;
    if (since !== undefined && (typeof since !== 'number' || !Number.isFinite(since))) {
      throw new InvalidArgumentError(call, 'since', `since must be a Date or ms since the epoch, got ${JSON.stringify(o.since)}`);
    }
    const pageSize = o.pageSize ?? DEFAULT_BULK_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > MAX_BULK_PAGE_SIZE) {
      throw new InvalidArgumentError(call, 'pageSize', `pageSize must be an integer from 1 to ${MAX_BULK_PAGE_SIZE}, got ${JSON.stringify(o.pageSize)}`);
    }
    if (o.rate !== undefined && (typeof o.rate !== 'number' || !Number.isFinite(o.rate) || o.rate <= 0)) {
      throw new InvalidArgumentError(call, 'rate', `rate must be a number of jobs per second above 0, got ${JSON.stringify(o.rate)}`);
    }
    return { since, pageSize, rate: o.rate };
  }

  /** The scan action of `o.action` over one queue. */
  async function scanActionOf(o: BulkOptions, queue: string, states: readonly LiveState[], since: number | undefined): Promise<ScanAction> {
    const k = queueKeys(prefix, queue);
    const action = o.action;
    if (!isDeadAction(action)) {
      return {
        queue,
        hash: k.jobs,
        job: o.job,
        enqueuedSince: since,
        narrow: async (ids) => {
          const found = await liveStates(k, ids);
          return ids.filter((_, i) => (states as readonly (string | undefined)[]).includes(found[i]));
        },
        act: (ids) => jobPage(action, k, ids),
      };
    }
    const dlq = await deadLettersOf(k);
    return {
      queue,
      hash: k.dead,
      job: o.job,
      enqueuedSince: undefined,
      // Dead letters are selected by their time of death (the `deadOrder` score), not their enqueue time.
      narrow:
        since === undefined
          ? undefined
          : async (ids) => {
              const scores = (await redis.zmscore(k.deadOrder, ...ids)) as (string | null)[];
              return ids.filter((_, i) => scores[i] !== null && Number(scores[i]) >= since);
            },
      act: async (ids) => {
        if (action === 'dead-retry') {
          const moved = await dlq.retry(ids);
          return { done: moved.length, skipped: ids.length - moved.length };
        }
        const deleted = await dlq.delete(ids);
        return { done: deleted, skipped: ids.length - deleted };
      },
    };
  }

  async function bulk(o: BulkOptions): Promise<BulkOutcome> {
    const call = 'admin.bulk';
    const { since, pageSize, rate } = checkBulk(o, call);
    const states = statesOf(o.action, o.states, call);
    const dryRun = o.dryRun === true;
    const queues = o.queue === undefined ? await allQueues() : [await knownQueue(o.queue, call)];
    const outcomes: BulkQueueOutcome[] = [];
    for (const queue of queues) {
      const outcome = await scanQueue(redis, await scanActionOf(o, queue, states, since), { dryRun, pageSize, rate, signal: o.signal, onProgress: o.onProgress });
      outcomes.push(outcome);
      if (outcome.interrupted) break;
    }
    const sum = (f: (q: BulkQueueOutcome) => number): number => outcomes.reduce((a, q) => a + f(q), 0);
    return {
      action: o.action,
      dryRun,
      interrupted: outcomes.some((q) => q.interrupted),
      matched: sum((q) => q.matched),
      done: sum((q) => q.done),
      skipped: sum((q) => q.skipped),
      queues: outcomes,
    };
  }

  async function purgeDead(queue: string, o: { readonly dryRun?: boolean } = {}): Promise<PurgeOutcome> {
    const call = 'admin.purgeDead';
    if (typeof o !== 'object' || o === null) throw new InvalidArgumentError(call, 'options', 'options must be an object');
    const dryRun = checkFlag(o.dryRun, call, 'dryRun');
    const k = queueKeys(prefix, await knownQueue(queue, call));
    const dlq = await deadLettersOf(k);
    if (dryRun) return { queue, dryRun: true, matched: await dlq.count(), done: 0 };
    const purged = await dlq.purge();
    return { queue, dryRun: false, matched: purged, done: purged };
  }

  async function pause(queue: string): Promise<PauseOutcome> {
    const k = queueKeys(prefix, await knownQueue(queue, 'admin.pause'));
    const replies = await redis.multi().exists(k.paused).set(k.paused, '1').exec();
    const [err, was] = replies?.[0] ?? [null, 0];
    if (err) throw err;
    return { queue, paused: true, changed: Number(was) === 0 };
  }

  async function resume(queue: string): Promise<PauseOutcome> {
    const k = queueKeys(prefix, await knownQueue(queue, 'admin.resume'));
    const was = await scripts.resume(k, { types: await typesOf(k) });
    return { queue, paused: false, changed: was };
  }

  function needJobs(call: string): JobSet {
    if (jobSet === undefined) throw new InvalidArgumentError(call, 'jobs', 'needs the job set: pass createAdmin({ jobs })');
    return jobSet;
  }

  async function cron(): Promise<readonly CronEntry[]> {
    const set = needJobs('admin.cron');
    const now = await redisNow(redis);
    const cronJobs = [...set.jobs.values()].filter((j) => j.cron !== undefined);
    const lasts = await Promise.all(cronJobs.map((j) => redis.hget(queueKeys(prefix, j.queue).cron, j.name)));
    return cronJobs.map((j, i) => {
      // A record that is not a number counts as none, as the scheduler reads it (it then starts afresh).
      const last = Number(lasts[i] ?? NaN);
      const next = nextFiring(j, now);
      return {
        name: j.name,
        queue: j.queue,
        schedule: j.cron?.pattern ?? '',
        tz: j.cron?.tz ?? 'UTC',
        catchUp: j.cron?.catchUp ?? 'last',
        lastFiring: Number.isFinite(last) ? new Date(last) : undefined,
        nextFiring: next === undefined ? undefined : new Date(next),
      };
    });
  }

  async function triggerCron(name: string): Promise<TriggerOutcome> {
    const call = 'admin.triggerCron';
    const set = needJobs(call);
    const job = checkJob(name, call, 'name') as ResolvedJob;
    if (job.cron === undefined) throw new InvalidArgumentError(call, 'name', `job ${JSON.stringify(name)} has no cron schedule`);
    // The client enqueues as the application does (validation, unique key, throttling) on this connection.
    client ??= createClient(set, { redis, prefix, logger: false });
    const result = await client.enqueue(name, JSON.parse(job.cron.payloadJson) as never);
    return { job: name, queue: job.queue, id: result.id, duplicate: result.duplicate };
  }

  return {
    prefix,
    act,
    bulk,
    purgeDead,
    pause,
    resume,
    isPaused: async (queue) => (await redis.exists(queueKeys(prefix, await knownQueue(queue, 'admin.isPaused')).paused)) === 1,
    cron,
    triggerCron,
    migrate: (o) => migrateStoredJobs({ redis, scripts, prefix, jobSet }, o),
    close: async () => {
      await client?.close();
      await release(conn);
    },
  };
}
