/**
 * Judges a chaos run from what survived it: the ids the orchestrator enqueued, every worker's execution log, and the
 * final state of Redis (completed records and dead letters). Pure: no I/O, so the verdict is easy to audit.
 */
import { CHAOS_JOB_NAMES, FLAKY_JOB, type ChainJobName, type ChaosJobName, type ExecutionRecord, type FanInJobName } from './jobs.js';

/** A signal the orchestrator sent to a worker. */
export interface KillEvent {
  readonly pid: number;
  readonly at: number;
  readonly signal: 'SIGKILL' | 'SIGTERM';
}

/** A dead letter as read back from Redis. */
export interface DeadRecord {
  readonly reason: string;
  readonly errorName: string;
  readonly errorMessage: string;
  readonly diedAt: number;
}

/** Everything the verdict is based on. */
export interface ChaosEvidence {
  readonly leaseMs: number;
  /** Job id → job type, for every enqueue Redis acknowledged. */
  readonly enqueued: ReadonlyMap<string, ChaosJobName | ChainJobName | FanInJobName>;
  readonly records: readonly ExecutionRecord[];
  /** Job id → `attempts|finishedAt` from the completed records. */
  readonly completed: ReadonlyMap<string, string>;
  readonly dead: ReadonlyMap<string, DeadRecord>;
  readonly kills: readonly KillEvent[];
  /** When Redis (or a cluster node) was down: [SHUTDOWN sent, answering again]. */
  readonly outages: readonly { readonly start: number; readonly end: number }[];
  /** When a worker's traffic to Redis was held by the proxy (a partition): which worker, from when to when. */
  readonly partitions: readonly Partition[];
  /** Live job structures still holding ids at the end (wait, prio, scheduled, active, jobs), per queue. */
  readonly leftovers: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Exit codes of workers stopped with SIGTERM during the run. */
  readonly gracefulExits: readonly { readonly pid: number; readonly code: number | null }[];
  /** Workers that exited without being told to. */
  readonly unexpectedExits: readonly { readonly pid: number; readonly code: number | null; readonly signal: string | null }[];
}

/** A partition: the proxy between one worker and Redis held its traffic from `start` to `end`. */
export interface Partition {
  readonly pid: number;
  readonly start: number;
  readonly end: number;
}

/** What a partitioned worker did about the jobs it held. */
export interface PartitionOutcome extends Partition {
  /** Its handler runs that were in flight when the partition began. */
  readonly inFlight: number;
  /** Its handler runs stopped by their signal during the partition (the lease given up before its expiry). */
  readonly aborted: number;
  /**
   * Runs in flight when the partition began that were stopped by their signal during it and whose job another worker
   * started during it: the work the partition was meant to hit (an ordinary retry elsewhere does not count).
   */
  readonly takenOver: number;
}

/** How long after a kill the killed worker's in-flight jobs were taken back, and running again elsewhere. */
export interface KillRecovery {
  readonly pid: number;
  readonly at: number;
  /** Attempts the worker had started and not finished, plus finished ones whose completion never reached Redis. */
  readonly inFlight: number;
  /** Ms from the kill until another worker had recovered the last of them from its expired lease; -1 if none. */
  readonly recoveredAfterMs: number;
  readonly recoveredMedianMs: number;
  /**
   * Ms from the kill until the last of them started again on another worker (or died for good): recovery, plus the
   * retry backoff, plus the wait behind whatever else was queued. -1 if none.
   */
  readonly runningAgainAfterMs: number;
  /** In-flight jobs never seen again (each is also counted as lost or stuck). */
  readonly unrecovered: number;
}

/** The verdict. */
export interface ChaosReport {
  readonly enqueued: number;
  readonly enqueuedByType: Readonly<Record<string, number>>;
  readonly completed: number;
  readonly dead: number;
  readonly deadByReason: Readonly<Record<string, number>>;
  readonly lost: readonly string[];
  readonly executions: {
    readonly started: number;
    readonly ok: number;
    readonly threw: number;
    /** Stopped by their signal (lease given up, or shutdown). */
    readonly aborted: number;
    readonly cutOff: number;
  };
  /** Jobs whose handler ran on two workers at the same time (overlapping start → end/abort/kill intervals). */
  readonly concurrentDoubleRuns: readonly string[];
  readonly partitions: readonly PartitionOutcome[];
  /** Jobs whose handler returned more than once, by cause. */
  readonly runMoreThanOnce: {
    readonly total: number;
    readonly inFlightAtKill: number;
    readonly redisRestart: number;
    readonly leaseLostInLiveWorker: number;
    readonly unexplained: readonly string[];
  };
  readonly kills: readonly KillRecovery[];
  readonly problems: readonly string[];
  readonly ok: boolean;
}

const KILL_ACK_WINDOW_MS = 3_000;
/** A worker may write a record in the instant between the orchestrator reading the clock and the signal landing. */
const SIGNAL_SLACK_MS = 100;

function median(values: readonly number[]): number {
  if (values.length === 0) return -1;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

function sample(ids: readonly string[]): string {
  return ids.slice(0, 5).join(', ') + (ids.length > 5 ? ` … (${ids.length} in all)` : '');
}

/** Compares what was enqueued, what ran and what Redis holds, and lists every discrepancy. */
export function analyse(e: ChaosEvidence): ChaosReport {
  const problems: string[] = [];
  const byId = new Map<string, ExecutionRecord[]>();
  for (const r of e.records) {
    let list = byId.get(r.id);
    if (list === undefined) byId.set(r.id, (list = []));
    list.push(r);
  }
  for (const list of byId.values()) list.sort((a, b) => a.at - b.at);
  const sigkills = e.kills.filter((k) => k.signal === 'SIGKILL');
  const killOf = new Map(sigkills.map((k) => [k.pid, k]));

  // ---- counts ---------------------------------------------------------------------------------------------
  const enqueuedByType: Record<string, number> = Object.fromEntries(CHAOS_JOB_NAMES.map((n) => [n, 0]));
  for (const type of e.enqueued.values()) enqueuedByType[type] = (enqueuedByType[type] ?? 0) + 1;
  const lost: string[] = [];
  for (const id of e.enqueued.keys()) if (!e.completed.has(id) && !e.dead.has(id)) lost.push(id);
  if (lost.length > 0) problems.push(`${lost.length} job(s) lost (neither completed nor dead): ${sample(lost)}`);
  const both = [...e.completed.keys()].filter((id) => e.dead.has(id));
  if (both.length > 0) problems.push(`${both.length} job(s) both completed and dead: ${sample(both)}`);
  const strangers = [...e.completed.keys(), ...e.dead.keys()].filter((id) => !e.enqueued.has(id));
  if (strangers.length > 0) problems.push(`${strangers.length} finished job(s) that were never enqueued: ${sample(strangers)}`);
  const completedInRedis = [...e.completed.keys()].filter((id) => e.enqueued.has(id));
  const notRun = completedInRedis.filter((id) => !(byId.get(id) ?? []).some((r) => r.kind === 'O'));
  if (notRun.length > 0) problems.push(`${notRun.length} job(s) recorded as completed whose handler never returned: ${sample(notRun)}`);
  const deadInRedis = [...e.dead.keys()].filter((id) => e.enqueued.has(id));
  if (completedInRedis.length + deadInRedis.length + lost.length !== e.enqueued.size) {
    problems.push(`counts do not add up: ${completedInRedis.length} completed + ${deadInRedis.length} dead + ${lost.length} lost ≠ ${e.enqueued.size} enqueued`);
  }
  for (const [queue, counts] of Object.entries(e.leftovers)) {
    const left = Object.entries(counts).filter(([, n]) => n > 0);
    if (left.length > 0) problems.push(`queue "${queue}" still holds live jobs: ${left.map(([k, n]) => `${k}=${n}`).join(', ')}`);
  }

  // ---- dead letters: only the flaky type, only with exhausted attempts --------------------------------------
  const deadByReason: Record<string, number> = {};
  const unexpectedDead: string[] = [];
  for (const id of deadInRedis) {
    const d = e.dead.get(id) as DeadRecord;
    const key = `${d.reason} (${d.errorName})`;
    deadByReason[key] = (deadByReason[key] ?? 0) + 1;
    const type = e.enqueued.get(id);
    const expected =
      type === FLAKY_JOB && d.reason === 'attempts_exhausted' && (d.errorName === 'FlakyEndpointError' || d.errorName === 'LeaseExpiredError');
    if (!expected) unexpectedDead.push(`${id} [${type}: ${d.reason}, ${d.errorName}: ${d.errorMessage}]`);
  }
  if (unexpectedDead.length > 0) problems.push(`${unexpectedDead.length} dead letter(s) with an unexpected reason: ${sample(unexpectedDead)}`);

  // ---- executions -----------------------------------------------------------------------------------------
  const finished = new Set<string>();
  let started = 0;
  let ok = 0;
  let threw = 0;
  let abortedRuns = 0;
  for (const r of e.records) {
    if (r.kind === 'S') started++;
    else if (r.kind === 'O' || r.kind === 'F' || r.kind === 'A') {
      if (r.kind === 'O') ok++;
      else if (r.kind === 'F') threw++;
      else abortedRuns++;
      finished.add(`${r.pid} ${r.id} ${r.attempt}`);
    }
  }
  const cutOff = e.records.filter((r) => r.kind === 'S' && !finished.has(`${r.pid} ${r.id} ${r.attempt}`));
  const cutOffByUnkilled = cutOff.filter((r) => !killOf.has(r.pid));
  if (cutOffByUnkilled.length > 0) {
    problems.push(
      `${cutOffByUnkilled.length} handler run(s) never finished in a worker that was not SIGKILLed: ${sample(cutOffByUnkilled.map((r) => `${r.id}@${r.pid}`))}`,
    );
  }

  // ---- jobs that ran on two workers at once -----------------------------------------------------------------
  // Each run lasts from its start to its end (returned, threw, or stopped by its signal), or to its worker's SIGKILL.
  const intervals = new Map<string, { pid: number; start: number; end: number }[]>();
  for (const [id, list] of byId) {
    const open = new Map<number, number>();
    const runs: { pid: number; start: number; end: number }[] = [];
    for (const r of list) {
      if (r.kind === 'S') open.set(r.pid, r.at);
      else if (r.kind === 'O' || r.kind === 'F' || r.kind === 'A') {
        const start = open.get(r.pid);
        if (start === undefined) continue;
        open.delete(r.pid);
        runs.push({ pid: r.pid, start, end: r.at });
      }
    }
    for (const [pid, start] of open) runs.push({ pid, start, end: killOf.get(pid)?.at ?? Infinity });
    intervals.set(id, runs);
  }
  const concurrent: string[] = [];
  for (const [id, runs] of intervals) {
    const clash = runs.find((x, i) => runs.some((y, j) => j > i && y.pid !== x.pid && x.start < y.end && y.start < x.end));
    if (clash !== undefined) concurrent.push(id);
  }
  if (concurrent.length > 0) {
    const show = concurrent.map((id) => `${id} [${(intervals.get(id) ?? []).map((r) => `pid ${r.pid}: ${r.start}–${r.end}`).join('; ')}]`);
    problems.push(`${concurrent.length} job(s) ran on two workers at the same time: ${sample(show)}`);
  }
  const partitions: PartitionOutcome[] = e.partitions.map((p) => {
    const mine = e.records.filter((r) => r.pid === p.pid);
    const during = (at: number): boolean => at >= p.start && at <= p.end;
    const inFlightIds = new Set<string>();
    for (const [id, runs] of intervals) if (runs.some((r) => r.pid === p.pid && r.start <= p.start && r.end > p.start)) inFlightIds.add(id);
    const aborted = mine.filter((r) => r.kind === 'A' && during(r.at)).length;
    const takenOver = [...inFlightIds].filter(
      (id) =>
        mine.some((r) => r.kind === 'A' && r.id === id && during(r.at)) &&
        (byId.get(id) ?? []).some((r) => r.kind === 'S' && r.pid !== p.pid && r.at > p.start && during(r.at)),
    ).length;
    return { ...p, inFlight: inFlightIds.size, aborted, takenOver };
  });
  for (const p of partitions) {
    if (p.end - p.start <= e.leaseMs) problems.push(`the partition of worker ${p.pid} lasted ${p.end - p.start} ms, not longer than the lease`);
    // A partition that hit no running work proves nothing about giving leases up.
    if (p.inFlight === 0) problems.push(`the partition of worker ${p.pid} hit no running work: no handler run was in flight when it began`);
    else if (p.takenOver === 0) {
      problems.push(
        `the partition of worker ${p.pid} proved nothing: none of the ${p.inFlight} run(s) in flight when it began was stopped by its signal and started by another worker during it`,
      );
    }
  }

  // ---- jobs whose handler returned more than once ---------------------------------------------------------
  const inOutage = (at: number): boolean => e.outages.some((o) => at >= o.start - e.leaseMs - 1_000 && at <= o.end + 1_000);
  const leaseLost = (id: string, pid: number): boolean => (byId.get(id) ?? []).some((r) => r.kind === 'L' && r.pid === pid);
  let inFlightAtKill = 0;
  let redisRestart = 0;
  let leaseLostInLive = 0;
  const unexplained: string[] = [];
  let runTwice = 0;
  for (const [id, list] of byId) {
    const oks = list.filter((r) => r.kind === 'O');
    if (oks.length < 2) continue;
    runTwice++;
    // Every completion but one must have a cause that kept it from being recorded.
    const causes = oks.map((r) => {
      const k = killOf.get(r.pid);
      if (k !== undefined && r.at <= k.at + SIGNAL_SLACK_MS && k.at - r.at <= KILL_ACK_WINDOW_MS) return 'kill';
      if (inOutage(r.at)) return 'redis';
      if (leaseLost(id, r.pid)) return 'lease';
      return undefined;
    });
    const uncaused = causes.filter((c) => c === undefined).length;
    if (uncaused > 1) unexplained.push(`${id} (${oks.map((r) => `pid ${r.pid} attempt ${r.attempt}`).join('; ')})`);
    else if (causes.includes('kill')) inFlightAtKill++;
    else if (causes.includes('redis')) redisRestart++;
    else leaseLostInLive++;
  }
  if (unexplained.length > 0) problems.push(`${unexplained.length} job(s) ran to completion more than once with no crash to explain it: ${sample(unexplained)}`);

  // ---- recovery after each kill ---------------------------------------------------------------------------
  const kills: KillRecovery[] = sigkills.map((k) => {
    const mine = e.records.filter((r) => r.pid === k.pid && r.at <= k.at + SIGNAL_SLACK_MS);
    const done = new Set(mine.filter((r) => r.kind === 'O' || r.kind === 'F' || r.kind === 'A').map((r) => `${r.id} ${r.attempt}`));
    const inFlight = new Set<string>();
    for (const r of mine) {
      if (r.kind === 'S' && !done.has(`${r.id} ${r.attempt}`)) inFlight.add(r.id);
      // Returned just before the kill and ran again later: its completion never reached Redis.
      if (r.kind === 'O' && k.at - r.at <= KILL_ACK_WINDOW_MS && (byId.get(r.id) ?? []).some((x) => x.kind === 'S' && x.pid !== k.pid && x.at > k.at)) {
        inFlight.add(r.id);
      }
    }
    const recovered: number[] = [];
    const running: number[] = [];
    let unrecovered = 0;
    for (const id of inFlight) {
      const later = (byId.get(id) ?? []).filter((r) => r.pid !== k.pid && r.at > k.at);
      const taken = later.find((r) => r.kind === 'R');
      const next = later.find((r) => r.kind === 'S');
      const died = e.dead.get(id);
      if (taken !== undefined) recovered.push(taken.at - k.at);
      if (next !== undefined) running.push(next.at - k.at);
      else if (died !== undefined && died.diedAt > k.at) running.push(died.diedAt - k.at);
      else unrecovered++;
    }
    return {
      pid: k.pid,
      at: k.at,
      inFlight: inFlight.size,
      recoveredAfterMs: recovered.length === 0 ? -1 : Math.max(...recovered),
      recoveredMedianMs: median(recovered),
      runningAgainAfterMs: running.length === 0 ? -1 : Math.max(...running),
      unrecovered,
    };
  });
  const unrecovered = kills.reduce((n, k) => n + k.unrecovered, 0);
  if (unrecovered > 0) problems.push(`${unrecovered} job(s) in flight at a kill never ran again nor died`);

  for (const g of e.gracefulExits) {
    if (g.code !== 0) problems.push(`the worker stopped with SIGTERM (pid ${g.pid}) exited with code ${String(g.code)}, not 0`);
  }
  for (const u of e.unexpectedExits) {
    problems.push(`worker pid ${u.pid} exited on its own (code ${String(u.code)}, signal ${String(u.signal)})`);
  }
  if (e.enqueued.size === 0) problems.push('nothing was enqueued');

  return {
    enqueued: e.enqueued.size,
    enqueuedByType,
    completed: completedInRedis.length,
    dead: deadInRedis.length,
    deadByReason,
    lost,
    executions: { started, ok, threw, aborted: abortedRuns, cutOff: cutOff.length },
    concurrentDoubleRuns: concurrent,
    partitions,
    runMoreThanOnce: { total: runTwice, inFlightAtKill, redisRestart, leaseLostInLiveWorker: leaseLostInLive, unexplained },
    kills,
    problems,
    ok: problems.length === 0,
  };
}
