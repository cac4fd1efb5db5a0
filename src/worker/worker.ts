/**
 * The worker: wires its parts together and keeps what they share — the jobs it holds (the lease book, the buffer
 * of jobs leased ahead), the dispatch of buffered jobs to free slots, giving up leases, handing jobs back,
 * and shutdown. Each part declares what it needs from here (its params / host interface):
 *
 * - options.ts — option checking and defaults
 * - slots.ts — slot accounting, queue order, automatic prefetch (pure)
 * - leases.ts — the jobs held per queue and their local lease deadlines (pure)
 * - fetch-loop.ts — one fetch loop per queue (leases jobs, carries acknowledgements); due-wakeup.ts — due jobs
 * - decode.ts — leased job → JobRun, or the dead letters
 * - job-run.ts — context, middleware, timeout, abort: one handler call
 * - completer.ts — records success, snooze, retry, dead letter
 * - lease-renewal.ts, lease-recovery.ts, cron.ts — the background loops
 *
 * docs/architecture.md draws the whole map.
 */
import type { JobSet, JobsInQueue, QueueName } from '../define.js';
import { LeaseExpiredError, ShutdownError } from '../errors.js';
import { TypedEmitter, type WorkerEvents } from '../events.js';
import { headFieldsOf } from '../payload.js';
import { parseDeadInfo } from '../dead-letters.js';
import { joinRunHooks } from '../instrument.js';
import { metricsAttachments } from '../metrics.js';
import { tracingRunHooks } from '../tracing.js';
import { cronQueuesKey, queueKeys, workerRegistryKeys, type QueueKeys } from '../keys.js';
import { registerQueues, warnStrandedAliases } from '../registry.js';
import { Heartbeat, type HeartbeatHost, type RunningEntry } from './heartbeat.js';
import { resolveLogger, type Logger } from '../logger.js';
import { connect, describeConnection, release, type OwnedConnection } from '../redis.js';
import { ConnectionHealth } from '../connection-health.js';
import { startAfterChecks } from '../preflight.js';
import { Scripts, toLibraryError, type LeasedJob } from '../scripts.js';
import { ChainHandoffs } from './chain-handoff.js';
import { throttledTypes, type ThrottledType } from '../throttle.js';
import { resolveWorkerOptions, type WorkerOptions } from './options.js';
import { Slots } from './slots.js';
import { LeaseBook } from './leases.js';
import { FetchLoop, type FetchLoopHost } from './fetch-loop.js';
import { Completer, type EventSink } from './completer.js';
import { JobDecoder } from './decode.js';
import { JobRunner, abortRun, clearRunTimer, type Handler, type HandlersFor, type JobRun, type RunOutcomes } from './job-run.js';
import { LeaseRenewal, type LeaseRenewalHost } from './lease-renewal.js';
import { LeaseRecovery, type LeaseRecoveryHost } from './lease-recovery.js';
import { CronScheduler } from './cron.js';
import { installSignalHandlers } from './signals.js';

/** A running worker. */
export interface Worker {
  /** Adds an event listener (see {@link WorkerEvents}). */
  on<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  /** Removes an event listener. */
  off<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  /** Adds an event listener that runs once. */
  once<K extends keyof WorkerEvents>(event: K, listener: WorkerEvents[K]): this;
  /** Queues this worker serves. */
  readonly queues: readonly string[];
  /** Handlers running right now. */
  readonly running: number;
  /**
   * Resolves once the startup checks of Redis passed and the worker fetches jobs (or `close()` came first). Rejects
   * with `RedisConfigurationError` when the worker refuses to start: Redis may evict keys (see `allowEvictingRedis`)
   * or its user lacks a permission jobcraft needs. Connection problems do not reject it: it waits for Redis. A refused
   * worker closes itself (its connections are released); with `handleSignals` the process exits with code 1.
   */
  readonly ready: Promise<void>;
  /**
   * Stops fetching, waits up to `shutdownTimeoutMs` for running handlers, then aborts the rest and hands every
   * unfinished job back to its queue at once. Resolves when all is recorded in Redis and connections are closed, or
   * at most 2 s after `shutdownTimeoutMs` when Redis does not answer: then it warns, naming the jobs it could not
   * hand back or record (they run again once their lease expires).
   */
  close(): Promise<void>;
}

const IDLE_BLOCK_MS = 5_000;
/** close() gives Redis this long, after `shutdownTimeoutMs`, to record hand-backs and completions. */
const SHUTDOWN_REDIS_MS = 2_000;
/** A shutdown warning names at most this many jobs. */
const MAX_NAMED = 20;
/**
 * A lease deadline noticed later than max(margin / 4, this) means the process stalled (the attempt counts); less is
 * ordinary timer lag on a loaded machine (Redis was slow: the attempt is given back).
 */
const STALL_FLOOR_MS = 250;

/** Waits for `promise` until `deadline` (performance.now() time): true if it settled by then, either way. */
function settleBy(promise: Promise<unknown>, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), Math.max(0, deadline - performance.now()));
    const settled = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    promise.then(settled, settled);
  });
}

/** `id (name, state)` for up to MAX_NAMED runs, for a log line. */
function nameRuns(runs: Iterable<JobRun>): string {
  const all = [...runs];
  const named = all.slice(0, MAX_NAMED).map((r) => `${r.id} (${r.job.name}, ${r.state})`);
  return named.join(', ') + (all.length > MAX_NAMED ? ` and ${all.length - MAX_NAMED} more` : '');
}

/** The worker's machinery: the host of its fetch loops, lease loops, job runs and completer. Use {@link createWorker}. */
export class WorkerCore
  extends TypedEmitter<WorkerEvents>
  implements Worker, FetchLoopHost, LeaseRenewalHost, LeaseRecoveryHost, RunOutcomes, HeartbeatHost
{
  readonly queues: readonly string[];
  readonly logger: Logger;
  readonly scripts: Scripts;
  readonly leaseMs: number;
  /** How long before a lease can expire in Redis this worker gives it up when it could not renew it. */
  readonly leaseMarginMs: number;
  /** A job leased ahead starts only with at least this much of its local lease left (one renewal interval + half the margin). */
  private readonly startLeaseMs: number;
  stopping = false;

  private readonly conn: OwnedConnection;
  private readonly slots: Slots;
  private readonly shutdownTimeoutMs: number;
  private readonly keys = new Map<string, QueueKeys>();
  private readonly types = new Map<string, ThrottledType[]>();
  private readonly fetchers = new Map<string, FetchLoop>();
  /** The jobs this worker holds, per queue, and their local lease deadlines. */
  private readonly leases: LeaseBook<JobRun>;
  private readonly buffer: JobRun[] = [];
  private readonly pending = new Set<Promise<unknown>>();
  /** Jobs given back (or failed) whose record has not reached Redis yet: close() names those left at the end. */
  private readonly unreturned = new Set<JobRun>();
  /** Runs given up locally whose handler has not settled yet (handed back when it does, or after the margin). */
  private readonly givingUp = new Set<JobRun>();
  /** close() waiting for the next of them to be handed back. */
  private giveUpWaiters: (() => void)[] = [];
  /**
   * Runs given up because this process stalled (the deadline was noticed well after it passed): their attempt is
   * charged, as a crash's would be, so a job that stalls its worker every time dies after its attempts instead of
   * being handed back forever.
   */
  private readonly stalledRuns = new Set<JobRun>();
  private readonly completer: Completer;
  private readonly decoder: JobDecoder;
  private readonly runner: JobRunner;
  private readonly renewal: LeaseRenewal;
  private readonly recovery: LeaseRecovery;
  private readonly cron: CronScheduler | undefined;
  private readonly heartbeat: Heartbeat;
  private idleWaiters: (() => void)[] = [];
  private closing: Promise<void> | undefined;
  readonly ready: Promise<void>;
  private removeSignalHandlers: (() => void) | undefined;

  constructor(jobs: JobSet, handlers: Readonly<Record<string, Handler<unknown>>>, options: WorkerOptions) {
    const logger = resolveLogger(options.logger);
    super(logger);
    this.logger = logger;
    const o = resolveWorkerOptions(jobs, handlers, options);
    this.queues = o.queues;
    this.leaseMs = o.leaseMs;
    this.leaseMarginMs = o.leaseMarginMs;
    this.startLeaseMs = o.startLeaseMs;
    this.shutdownTimeoutMs = o.shutdownTimeoutMs;
    this.leases = new LeaseBook(o.queues, o.leaseMs, o.leaseMarginMs);
    this.slots = new Slots({ concurrency: o.concurrency, prefetch: o.prefetch, queues: o.queues, strict: o.strictOrder, weights: o.weights });

    this.conn = connect(options.redis, 'worker');
    this.scripts = new Scripts(this.conn.redis);
    const where = describeConnection(this.conn.redis);
    const health = new ConnectionHealth(this.logger, where);
    // A connection passed in stays the caller's: no listeners of ours are left on it (its errors are the caller's to log).
    if (this.conn.owned) health.watch(this.conn.redis);
    for (const q of this.queues) {
      const k = queueKeys(o.prefix, q);
      this.keys.set(q, k);
      this.types.set(q, throttledTypes(jobs, k));
    }
    // The worker is its parts' event sink: they emit through it directly (no wrapper call per job).
    const events: EventSink = this;
    const track = <T>(promise: Promise<T>): Promise<T> => this.track(promise);
    const reportError = (err: unknown, what: string): void => this.reportError(err, what);
    const resultQueues = new Set([...jobs.jobs.values()].filter((j) => j.result !== undefined).map((j) => j.queue));
    // Chain and fan-in hand-offs (docs/results.md, "Chains", "Fan-in").
    const handoffs = new ChainHandoffs({
      scripts: this.scripts,
      prefix: o.prefix,
      logger: this.logger,
      leaseMs: this.leaseMs,
      maxDead: o.maxDead,
      track,
      reportError,
      parentDead: (queue, id) => void this.announceParentDead(queue, id, o.prefix),
    });
    this.completer = new Completer({
      scripts: this.scripts,
      keys: this.keys,
      maxDead: o.maxDead,
      logger: this.logger,
      events,
      track,
      reportError,
      leases: this.leases,
      notRecorded: (run) => {
        if (this.stopping) this.unreturned.add(run);
      },
      declared: (queue, name) => jobs.jobs.get(name)?.queue === queue,
      resultQueues,
      handoffs,
    });
    this.decoder = new JobDecoder({
      jobSet: jobs,
      keys: this.keys,
      types: this.types,
      maxEnvelopeBytes: o.maxEnvelopeBytes,
      scripts: this.scripts,
      logger: this.logger,
      events,
      completer: this.completer,
      track,
      reportError,
      // As a recovered job's interrupted attempt: failed through the normal path, never started.
      failAttempt: (run, err) => {
        run.state = 'running';
        this.failed(run, err);
      },
    });
    const hooks = joinRunHooks([metricsAttachments(options.metrics, 'createWorker')?.attachWorker(this, jobs), tracingRunHooks(options.tracing)]);
    this.runner = new JobRunner(handlers, o.middleware, this.logger, this, hooks);
    for (const q of this.queues) {
      const k = this.keys.get(q) as QueueKeys;
      const blocking = connect(options.redis ?? this.conn.redis, 'blocking');
      if (blocking.owned) health.watch(blocking.redis);
      const acks = this.completer.batchOf(q);
      const loop = new FetchLoop(this, {
        keys: k,
        scripts: this.scripts,
        blocking,
        // A fetch parked behind the blocking read is sent long before Redis runs it; its jobs' local lease deadlines
        // count from the send, so the read must end well within the lease.
        idleBlockMs: Math.min(IDLE_BLOCK_MS, Math.floor(this.leaseMs / 4)),
        // A lone queue parks its fetch behind the blocking read (all free slots ride on it). With several queues a
        // parked fetch would hold slots another queue may need while this one is idle, so they fetch after waking.
        park: this.queues.length === 1,
        types: this.types.get(q) as ThrottledType[],
        leaseMs: this.leaseMs,
        keepCount: o.keepCount,
        keepAgeMs: o.keepAgeMs,
        maxDead: o.maxDead,
        maxEnvelopeBytes: o.maxEnvelopeBytes,
        acks,
      });
      acks.carrier = loop;
      this.fetchers.set(q, loop);
    }
    this.renewal = new LeaseRenewal(this, {
      leaseMs: this.leaseMs,
      leaseMarginMs: this.leaseMarginMs,
      keys: this.keys,
      types: this.types,
      scripts: this.scripts,
      logger: this.logger,
    });
    this.recovery = new LeaseRecovery(this, {
      leaseMs: this.leaseMs,
      keys: this.keys,
      types: this.types,
      scripts: this.scripts,
      maxDead: o.maxDead,
      maxEnvelopeBytes: o.maxEnvelopeBytes,
      handoffs,
      handoffQueues: resultQueues,
    });
    const cronJobs = [...jobs.jobs.values()].filter((j) => j.cron !== undefined && this.queues.includes(j.queue));
    this.cron =
      options.cron === false
        ? undefined
        : new CronScheduler({ jobs: cronJobs, keys: this.keys, jobSet: jobs, prefix: o.prefix, scripts: this.scripts, logger: this.logger, reportError });
    this.heartbeat = new Heartbeat(this, {
      scripts: this.scripts,
      keys: workerRegistryKeys(o.prefix),
      name: o.name,
      queues: this.queues,
      concurrency: o.concurrency,
      intervalMs: o.heartbeatMs,
      logger: this.logger,
    });
    if (options.handleSignals) this.removeSignalHandlers = installSignalHandlers(this.logger, () => this.close());
    const checks = {
      role: 'worker',
      sampleKeys: [...this.keys.values()].map((k) => k.jobs),
      registryKey: this.cron === undefined ? undefined : cronQueuesKey(o.prefix),
      where,
      allowEvicting: options.allowEvictingRedis === true,
      logger: this.logger,
    } as const;
    // Nothing is fetched until Redis passed the checks (eviction policy, ACL permissions): see preflight.ts.
    this.ready = startAfterChecks(this.conn.redis, checks, {
      logger: this.logger,
      isStopping: () => this.stopping,
      refused: (err) => {
        if (this.listenerCount('error') > 0) this.emit('error', err);
        // A worker that will not start holds nothing: its connections close (nothing keeps the process alive), and a
        // process run under handleSignals exits non-zero so that its supervisor sees the failure and restarts it.
        void this.close().then(() => {
          if (options.handleSignals === true) {
            this.logger.error('the worker did not start: exiting with code 1');
            process.exit(1);
          }
        });
      },
      start: () => {
        for (const f of this.fetchers.values()) f.start();
        this.renewal.start();
        this.recovery.start();
        this.cron?.start();
        // The operations data (docs/operations.md): this worker's queues in the queue registry, its registry entry.
        // Information only: a failure is noted at info level and the worker runs on.
        this.track(registerQueues(this.conn.redis, jobs, o.prefix, this.queues)).catch((e: unknown) =>
          this.logger.info(`could not write the queue registry: ${e instanceof Error ? e.message : String(e)}`),
        );
        this.track(warnStrandedAliases(this.conn.redis, jobs, o.prefix, this.queues, this.logger)).catch((e: unknown) =>
          this.logger.info(`could not look for jobs stored under old names of throttled jobs: ${e instanceof Error ? e.message : String(e)}`),
        );
        this.heartbeat.start();
      },
    });
  }

  get running(): number {
    return this.slots.running;
  }

  /**
   * A fan-in's parent went to the dead letters (`child_failed`) when this worker recorded its last child: emitted as
   * `dead` like any death (metrics count it there), its name read from the dead letter's head, its error from its info.
   */
  private async announceParentDead(queue: string, id: string, prefix: string): Promise<void> {
    if (this.listenerCount('dead') === 0) return;
    try {
      const k = queueKeys(prefix, queue);
      const [[head], info] = await this.track(Promise.all([this.scripts.heads(k.dead, { ids: [id], bytes: 512 }), this.scripts.redis.hget(k.deadInfo, id)]));
      const { job: name } = headFieldsOf(head ?? '');
      const dead = parseDeadInfo(info ?? null);
      this.emit('dead', { job: { id, name, queue, attempt: 0, maxAttempts: undefined }, reason: dead.reason, error: dead.error });
    } catch (err) {
      this.reportError(err, `announcing the death of fan-in parent ${JSON.stringify(id)}`);
    }
  }

  /** Reports a problem in the worker's own machinery. */
  reportError(err: unknown, what: string): void {
    if (this.stopping && /Connection is closed/.test(String((err as Error)?.message))) return;
    const mapped = toLibraryError(err, what);
    const error = mapped instanceof Error ? mapped : new Error(String(mapped));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.logger.error(`${what}: ${error.message}`);
  }

  hasErrorListeners(): boolean {
    return this.listenerCount('error') > 0;
  }

  /** Tracks a Redis call that `close()` must wait for. */
  track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => {});
    return promise;
  }

  /** The jobs whose handlers run now, the first `max` of them (HeartbeatHost). */
  runningJobs(max: number): { listed: RunningEntry[]; count: number } {
    const listed: RunningEntry[] = [];
    let count = 0;
    for (const run of this.leases.all()) {
      if (run.state !== 'running') continue;
      count++;
      if (listed.length < max) listed.push({ id: run.id, queue: run.queue, name: run.job.name, startedAt: Math.round(performance.timeOrigin + run.startedAt) });
    }
    return { listed, count };
  }

  // ---- slots (FetchLoopHost): the arithmetic is in slots.ts ----------------------------------------------------

  reserveSlots(queue: string, max = Infinity): number {
    if (this.stopping) return 0;
    return this.slots.reserve(queue, max, this.buffer.length, this.leases.count(queue));
  }

  releaseSlots(queue: string, n: number, used: number): void {
    // Slots this fetch did not fill may be wanted by another queue's fetcher that found none free.
    if (this.slots.release(queue, n, used)) this.kickFetchers();
  }

  wantsJobs(): boolean {
    return !this.stopping && this.slots.wantsJobs(this.buffer.length);
  }

  hasFreeSlots(): boolean {
    return !this.stopping && this.slots.hasFree(this.buffer.length);
  }

  batchMax(): number {
    return this.slots.batchMax();
  }

  get bufferedCount(): number {
    return this.buffer.length;
  }

  setIdle(queue: string, idle: boolean): void {
    this.slots.setIdle(queue, idle);
  }

  queueDrained(): void {
    this.slots.drained(performance.now());
  }

  /** Wakes every fetch loop waiting for slots (slots freed, or a queue went idle and its share is free). */
  kickFetchers(): void {
    for (const f of this.fetchers.values()) f.kick();
  }

  // ---- leases ----------------------------------------------------------------------------------------------

  /** The jobs whose leases this worker holds in `queue` (buffered, running, or on their way to being recorded). */
  heldRuns(queue: string): JobRun[] {
    return this.leases.runs(queue);
  }

  /** Where a lease granted or renewed by a call sent at `sentAt` ends for this worker (performance.now() time). */
  leaseDeadline(sentAt: number): number {
    return this.leases.deadline(sentAt);
  }

  /**
   * A renewal sent when `deadline` was computed went through: those of `runs` still held are ours until then, unless
   * their deadline has passed (see LeaseBook.renewed; recovery leases such a job under the same attempt until it
   * records the failure).
   */
  leasesRenewed(queue: string, runs: readonly JobRun[], deadline: number): void {
    this.leases.renewed(queue, runs, deadline, performance.now());
  }

  /**
   * Gives up every lease whose local deadline passed by `now` (no renewal confirmed in time: Redis is unreachable,
   * slow, or this process stalled): a running handler's signal aborts with `LeaseExpiredError`, a job leased ahead
   * leaves the buffer and is handed back (fenced, so only if the lease is still ours), and none is renewed again.
   * A job whose end is on its way to Redis is left to its fenced record. Returns how many were given up and the
   * earliest deadline left.
   */
  expireLeases(now: number): { expired: number; next: number } {
    const { expired: due, next } = this.leases.expire(now);
    let expired: JobRun[] | undefined;
    let unstarted: JobRun[] | undefined;
    if (due !== undefined) {
      for (const run of due) {
        if (run.state === 'buffered') (unstarted ??= []).push(run);
        else if (run.state === 'running') {
          run.state = 'expired';
          (expired ??= []).push(run);
          // Noticed late: the process (a handler blocking the event loop, or the machine) stalled, not Redis.
          if (now - run.deadline > Math.max(this.leaseMarginMs / 4, STALL_FLOOR_MS)) this.stalledRuns.add(run);
          // Handed back once the handler settles, or once the margin has passed if it ignores its signal: never
          // sooner, so no other worker starts the job while a handler that honours its signal is still stopping.
          clearRunTimer(run);
          run.timer = setTimeout(() => this.giveUp(run), this.leaseMarginMs);
          this.givingUp.add(run);
          abortRun(
            run,
            new LeaseExpiredError(
              `the lease of job ${run.id} could not be renewed in time (no renewal confirmed by Redis for ${this.leaseMs - this.leaseMarginMs} ms); another worker may run it once the lease expires`,
            ),
          );
        }
      }
    }
    if (unstarted !== undefined) {
      const drop = new Set(unstarted);
      const keep = this.buffer.filter((r) => !drop.has(r));
      this.buffer.length = 0;
      this.buffer.push(...keep);
      void this.handBack(unstarted);
      this.kickFetchers();
      // The next job leased ahead may have a fresher lease (dispatch calls this itself, so later, not nested).
      if (this.buffer.length > 0) queueMicrotask(() => this.dispatch());
    }
    const given = [...(expired ?? []), ...(unstarted ?? [])];
    if (given.length > 0) {
      this.logger.info(
        `gave up ${given.length} lease(s) that could not be renewed in time: ${expired?.length ?? 0} running handler(s) aborted, ${unstarted?.length ?? 0} job(s) leased ahead not started: ${nameRuns(given)}`,
      );
    }
    return { expired: given.length, next };
  }

  /** Called when Redis says leases are no longer ours: stop those handlers, forget the jobs. */
  leasesLost(queue: string, ids: readonly string[]): void {
    for (const id of ids) {
      const run = this.leases.dropId(queue, id);
      if (run === undefined) continue;
      this.logger.warn(`lost the lease of job ${id} (${run.job.name}); another worker took it over`, { queue });
      if (run.state === 'buffered') {
        const i = this.buffer.indexOf(run);
        if (i !== -1) this.buffer.splice(i, 1);
      }
      run.state = 'lost';
      // A run aborted at shutdown and waiting to be handed back: nothing to hand back now, so close() stops waiting.
      if (this.givingUp.delete(run)) {
        this.stalledRuns.delete(run);
        clearRunTimer(run);
        this.notifyGiveUp();
      }
      abortRun(run, new LeaseExpiredError(`the lease of job ${id} was lost; another worker runs it now`));
    }
  }

  // ---- leased jobs -----------------------------------------------------------------------------------------

  /**
   * Takes jobs a fetcher leased with a call sent at `sentAt` (performance.now() time): checks each one, buffers the
   * good ones and starts what slots allow.
   */
  accept(queue: string, leased: readonly LeasedJob[], sentAt: number): void {
    const held = this.leases.heldIn(queue);
    if (held === undefined || leased.length === 0) return;
    const deadline = this.leaseDeadline(sentAt);
    for (const l of leased) {
      const twin = held.get(l.id);
      if (twin !== undefined) {
        this.leasedAgain(twin, l, deadline);
        continue;
      }
      const run = this.decoder.prepare(queue, l, 'dequeue');
      if (run === undefined) continue;
      run.deadline = deadline;
      held.set(run.id, run);
      this.buffer.push(run);
    }
    this.renewal.watch(deadline);
    this.dispatch();
  }

  /**
   * The id of a job this worker already holds was leased again (it was in the queue twice, e.g. a producer's retried
   * push): Redis now fences the job under the newer attempt, so the run adopts that lease instead of running twice.
   * A run whose end is already on its way to Redis keeps its old fence (refused; the job comes back by recovery).
   */
  private leasedAgain(run: JobRun, l: LeasedJob, deadline: number): void {
    this.logger.warn(`job ${l.id} (${run.job.name}) was leased again while this worker held it (its id was queued twice); it runs once`, {
      queue: run.queue,
    });
    if (run.state !== 'buffered' && run.state !== 'running') return;
    run.attempt = l.attempt;
    if (deadline > run.deadline) run.deadline = deadline;
  }

  /** Jobs whose lease expired elsewhere, now leased by us: fail their interrupted attempt through the normal path. */
  recovered(queue: string, leased: readonly LeasedJob[], sentAt: number): void {
    for (const l of leased) {
      // Our own lease expired in Redis while its local deadline had not passed yet (Redis's clock jumped, or it ran
      // our renewal late): the recovery just gave it a fresh lease, sent at sentAt, so keep the run, with that lease.
      const own = this.leases.get(queue, l.id);
      if (own !== undefined && own.attempt === l.attempt) {
        const deadline = this.leaseDeadline(sentAt);
        if (deadline > own.deadline) own.deadline = deadline;
        continue;
      }
      const run = this.decoder.prepare(queue, l, 'recovery');
      if (run === undefined) continue;
      run.state = 'running';
      this.logger.warn(`recovered job ${run.id} (${run.job.name}): its lease expired during attempt ${run.attempt}`, { queue });
      this.failed(
        run,
        new LeaseExpiredError(
          `attempt ${run.attempt} of job ${run.id} stopped renewing its lease (the worker crashed, hung or lost Redis for over ${this.leaseMs} ms)`,
        ),
      );
    }
  }

  // ---- running ---------------------------------------------------------------------------------------------

  private dispatch(): void {
    let late: JobRun[] | undefined;
    const slots = this.slots;
    while (slots.running < slots.concurrency && this.buffer.length > 0 && !this.stopping) {
      const run = this.buffer.shift() as JobRun;
      const now = performance.now();
      // Never start a job whose lease may be someone else's before a renewal can confirm it: hand it back instead.
      if (run.deadline - now < this.startLeaseMs) {
        (late ??= []).push(run);
        continue;
      }
      slots.running++;
      slots.noteStart(now);
      this.runner.start(run, now);
    }
    if (late !== undefined) {
      this.logger.info(`handed back ${late.length} job(s) leased ahead whose lease was too close to its local deadline to start: ${nameRuns(late)}`);
      void this.handBack(late);
      this.kickFetchers();
    }
  }

  /** A handler succeeded (RunOutcomes). */
  succeeded(run: JobRun): void {
    // A run given up locally may have stopped half-way (it saw its signal): its end is a hand-back, not a completion.
    if (run.state === 'expired') return this.giveUp(run);
    if (run.state !== 'running') return;
    this.completer.succeed(run);
  }

  /** An attempt failed (RunOutcomes; also a recovered job's interrupted attempt). */
  failed(run: JobRun, err: unknown): void {
    // Given up locally: the attempt did not fail, the worker stopped it (the attempt is given back if still ours).
    if (run.state === 'expired') return this.giveUp(run);
    if (run.state !== 'running') return;
    this.completer.fail(run, err);
  }

  /** A handler call ended (either way): free its slot and start the next job (RunOutcomes). */
  ended(run: JobRun): void {
    if (run.timer !== undefined) clearTimeout(run.timer);
    this.slots.running--;
    this.dispatch();
    if (this.slots.running === 0 && this.buffer.length === 0) this.notifyIdle();
    this.kickFetchers();
  }

  /**
   * Records the end of a run given up locally (its lease could not be renewed in time): hands the job back to the
   * front of its queue with its attempt given back, fenced, so only if the lease is still ours (a slow Redis, a
   * stalled process); if another worker took it over, nothing changes. Whatever the handler returns later is ignored.
   */
  private giveUp(run: JobRun): void {
    if (run.state !== 'expired') return;
    this.givingUp.delete(run);
    clearRunTimer(run);
    if (this.stalledRuns.delete(run)) {
      // The attempt counts (retry after backoff, or the dead letters after the last one), fenced like any failure.
      run.state = 'running';
      this.failed(
        run,
        new LeaseExpiredError(
          `attempt ${run.attempt} of job ${run.id} was given up: this process stalled past the lease's local deadline (a handler blocking the event loop?)`,
        ),
      );
      this.notifyGiveUp();
      return;
    }
    const what = `job ${run.id} (${run.job.name})`;
    void this.handBack([run], (handedBack) =>
      this.logger.info(
        handedBack > 0
          ? `${what}, given up when its lease could not be renewed in time, was handed back with its attempt given back`
          : `${what} was given up after its lease was taken over; nothing was recorded`,
        { queue: run.queue },
      ),
    );
    this.notifyGiveUp();
  }

  private notifyGiveUp(): void {
    const waiters = this.giveUpWaiters;
    this.giveUpWaiters = [];
    for (const w of waiters) w();
  }

  // ---- shutdown --------------------------------------------------------------------------------------------

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private waitIdle(ms: number): Promise<boolean> {
    if (this.slots.running === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    const graceEnd = performance.now() + this.shutdownTimeoutMs;
    // Past this, nothing waits for Redis any more: close() resolves whatever Redis does.
    const cutoff = graceEnd + SHUTDOWN_REDIS_MS;
    this.recovery.stop();
    const cronStopped = this.cron?.stop().catch(() => {});
    // Stop fetching (blocked reads are ended, loops finish their current call), then hand back at once the jobs
    // leased ahead but never started. This runs beside the wait for handlers: a Redis that does not answer costs
    // the handlers none of their grace.
    const fetchingStopped = Promise.all([...this.fetchers.values()].map((f) => f.stop().catch(() => {}))).then(() =>
      this.handBack(this.buffer.splice(0)),
    );
    const finished = await this.waitIdle(this.shutdownTimeoutMs);
    if (!finished) {
      const stillRunning: JobRun[] = [];
      for (const run of this.leases.all()) if (run.state === 'running') stillRunning.push(run);
      this.logger.warn(
        `shutdown: ${stillRunning.length} job(s) still running after ${this.shutdownTimeoutMs} ms; aborting them; each is handed back once its handler stops`,
      );
      for (const run of stillRunning) {
        // Handed back (giveUp) when its handler settles, not before: another worker may start it at once then.
        run.state = 'expired';
        clearRunTimer(run);
        this.givingUp.add(run);
        abortRun(run, new ShutdownError('the worker is shutting down'));
      }
    }
    const drained = await settleBy(
      Promise.all([cronStopped, fetchingStopped]).then(() => this.drain()),
      cutoff,
    );
    this.renewal.stop();
    // The registry entry goes now (if Redis answers in time; otherwise it expires).
    const left0 = this.heartbeat.stop();
    if (drained) await settleBy(left0, cutoff);
    this.removeSignalHandlers?.();
    const stopping = [...this.givingUp];
    // Handlers that ignored their abort until now keep their job: it comes back through lease expiry, not sooner.
    for (const run of stopping) {
      run.state = 'lost';
      clearRunTimer(run);
    }
    this.givingUp.clear();
    const left = new Set([...this.unreturned, ...stopping]);
    for (const run of this.leases.all()) left.add(run);
    if (left.size > 0) {
      const why =
        stopping.length > 0
          ? ` (${stopping.length} aborted handler(s) had not stopped within ${this.shutdownTimeoutMs + SHUTDOWN_REDIS_MS} ms)`
          : drained
            ? ''
            : ` (Redis did not answer within ${this.shutdownTimeoutMs + SHUTDOWN_REDIS_MS} ms)`;
      this.logger.warn(
        `shutdown: ${left.size} job(s) could not be handed back or recorded${why}; ` +
          `they run again once their lease expires (within leaseMs, ${this.leaseMs} ms, plus the recovery interval): ${nameRuns(left)}`,
      );
    }
    // Cut off: connections are dropped without a goodbye (QUIT would wait on a dead link too).
    await Promise.all([...this.fetchers.values()].map((f) => f.closeConnection()));
    await release(this.conn, drained ? Math.min(1_000, Math.max(0, cutoff - performance.now())) : 0);
  }

  /** Waits until completions, hand-backs and failures are recorded in Redis. */
  private async drain(): Promise<void> {
    await Promise.all([...this.fetchers.values()].map((f) => f.flushAcks()));
    // Aborted handlers still stopping are handed back as they settle (until close()'s cutoff).
    while (this.pending.size > 0 || this.givingUp.size > 0) {
      if (this.pending.size > 0) await Promise.allSettled([...this.pending]);
      else await new Promise<void>((resolve) => this.giveUpWaiters.push(resolve));
    }
  }

  /**
   * Hands leased jobs back to the front of their queue, giving back their attempt (fenced: only those still ours).
   * Until Redis confirms, they count as not handed back. `onRecorded` gets how many of a queue's were still ours.
   */
  private handBack(runs: readonly JobRun[], onRecorded?: (handedBack: number) => void): Promise<void> {
    const byQueue = new Map<string, JobRun[]>();
    for (const run of runs) {
      run.state = 'released';
      // Its timeout no longer matters, and would keep the process alive.
      clearRunTimer(run);
      this.leases.drop(run);
      this.unreturned.add(run);
      let list = byQueue.get(run.queue);
      if (list === undefined) byQueue.set(run.queue, (list = []));
      list.push(run);
    }
    return Promise.all(
      [...byQueue].map(([queue, list]) =>
        this.track(
          this.scripts.release(this.keys.get(queue) as QueueKeys, {
            types: this.types.get(queue) ?? [],
            jobs: list.map((r) => ({ id: r.id, attempt: r.attempt, priority: r.envelope.r ?? 0, type: r.typeIndex })),
          }),
        ).then(
          (handedBack) => {
            for (const r of list) this.unreturned.delete(r);
            onRecorded?.(handedBack);
          },
          (e: unknown) => {
            // Outside shutdown nobody asks: the job comes back through lease expiry.
            if (!this.stopping) for (const r of list) this.unreturned.delete(r);
            this.reportError(e, `handing ${list.length} job(s) back to queue "${queue}"`);
          },
        ),
      ),
    ).then(() => {});
  }
}

/**
 * Starts a worker that runs the handlers of `jobs` for the queues it serves (all by default, or `options.queues`).
 * The handler map must hold exactly one handler per job of those queues: a missing, extra or mistyped handler does
 * not compile.
 *
 * @example
 * const worker = createWorker(jobs, {
 *   sendWelcomeEmail: async ({ email }, ctx) => { await mailer.send(email, { signal: ctx.signal }); },
 * }, { concurrency: 20 });
 */
export function createWorker<J extends JobSet, const Q extends QueueName<J> = QueueName<J>>(
  jobs: J,
  handlers: HandlersFor<J, JobsInQueue<J, Q>>,
  options: WorkerOptions<Q> = {},
): Worker {
  return new WorkerCore(jobs, handlers as unknown as Record<string, Handler<unknown>>, options);
}
