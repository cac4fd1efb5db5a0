import type { QueueKeys } from '../keys.js';
import type { Logger } from '../logger.js';
import type { Held, Scripts } from '../scripts.js';
import type { ThrottledType } from '../throttle.js';
import type { JobRun } from './job-run.js';

/** The safety margin never exceeds this many ms… */
const MARGIN_MAX_MS = 5_000;
/** …nor this share of the lease. */
const MARGIN_SHARE = 0.2;

/**
 * How long before its lease can expire in Redis a worker gives up a job it could not renew: min(5 s, leaseMs / 5).
 * A handler that stops within this time of its `ctx.signal` aborting never runs at the same time as another
 * worker's run of the same job (docs/reliability.md derives the bound).
 */
export function leaseMarginMs(leaseMs: number): number {
  return Math.min(MARGIN_MAX_MS, Math.floor(leaseMs * MARGIN_SHARE));
}

/** How often a worker renews its leases: every quarter lease (at least every 25 ms). */
export function renewalIntervalMs(leaseMs: number): number {
  return Math.max(25, Math.floor(leaseMs / 4));
}

/** What lease renewal needs from the worker: the leases it holds, and what to do when they move. */
export interface LeaseRenewalHost {
  /** The jobs whose leases this worker holds in `queue`. */
  heldRuns(queue: string): JobRun[];
  /** Where a lease granted or renewed by a call sent at `sentAt` ends for this worker. */
  leaseDeadline(sentAt: number): number;
  /** A renewal sent when `deadline` was computed went through for those of `runs` still held. */
  leasesRenewed(queue: string, runs: readonly JobRun[], deadline: number): void;
  /** Redis says these leases are no longer this worker's. */
  leasesLost(queue: string, ids: readonly string[]): void;
  /** Gives up every lease whose local deadline passed by `now`: how many, and the earliest deadline left. */
  expireLeases(now: number): { expired: number; next: number };
  /** Whether the worker has `error` listeners (a failed renewal is then also emitted, not only logged). */
  hasErrorListeners(): boolean;
  reportError(err: unknown, what: string): void;
}

/** How lease renewal is set up (its params). */
export interface LeaseRenewalParams {
  readonly leaseMs: number;
  readonly leaseMarginMs: number;
  readonly keys: ReadonlyMap<string, QueueKeys>;
  /** Each queue's throttled job types. */
  readonly types: ReadonlyMap<string, readonly ThrottledType[]>;
  readonly scripts: Scripts;
  readonly logger: Logger;
}

/**
 * Keeps this worker's leases: renews every lease it holds every quarter of the lease, and keeps a local deadline per
 * lease so a job is given up *before* another worker may take it, even when Redis cannot be reached to say so.
 *
 * A lease granted or renewed by a call sent at local time `t` (monotonic clock) lasts in Redis at least until
 * `t + leaseMs`: Redis sets it when the call runs, which is after it was sent. So the worker treats it as ending at
 * `t + leaseMs − margin`. When that passes with no renewal confirmed since, the job's handler is aborted with
 * `LeaseExpiredError`, a job leased ahead is dropped from the buffer (and handed back), and the lease is no longer
 * renewed. One timer, set to the earliest deadline, does this; the renewal tick re-arms it. Leases Redis says are no
 * longer ours (taken back after an expiry) are reported to the worker, which aborts their handlers.
 */
export class LeaseRenewal {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  /** The deadline check: one timer for the earliest local lease deadline. */
  private watchTimer: NodeJS.Timeout | undefined;
  private watchAt = Infinity;
  /** Fires when a renewal call stays unanswered for half a lease (its leases are then close to being given up). */
  private lateTimer: NodeJS.Timeout | undefined;
  /** Renewals are failing or late and the worker has said so (once, until a renewal succeeds again). */
  private troubled = false;

  constructor(
    private readonly host: LeaseRenewalHost,
    private readonly p: LeaseRenewalParams,
  ) {
    this.intervalMs = renewalIntervalMs(p.leaseMs);
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.watchTimer !== undefined) clearTimeout(this.watchTimer);
    if (this.lateTimer !== undefined) clearTimeout(this.lateTimer);
    this.watchTimer = undefined;
    this.watchAt = -Infinity; // nothing arms the check again
  }

  /** A lease now ends locally at `deadline` (performance.now() time): make sure the check runs by then. */
  watch(deadline: number): void {
    if (deadline >= this.watchAt) return;
    if (this.watchTimer !== undefined) clearTimeout(this.watchTimer);
    this.watchAt = deadline;
    this.watchTimer = setTimeout(() => this.check(), Math.max(0, deadline - performance.now()));
  }

  /** Gives up every lease whose local deadline passed, and arms the timer for the next one. */
  check(): void {
    if (this.watchTimer !== undefined) clearTimeout(this.watchTimer);
    this.watchTimer = undefined;
    // A renewal answered after close() stopped the worker: its leases are handed back or left to expire already.
    if (this.stopped) return;
    const { expired, next } = this.host.expireLeases(performance.now());
    if (expired > 0) this.trouble(`${expired} lease(s) reached their local deadline with no renewal confirmed by Redis (Redis slow or unreachable, or this process stalled)`);
    this.watchAt = Infinity;
    if (next < Infinity) this.watch(next);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), this.intervalMs);
  }

  private async tick(): Promise<void> {
    // Sent now, so confirmed leases last in Redis at least until sentAt + leaseMs.
    const sentAt = performance.now();
    const deadline = this.host.leaseDeadline(sentAt);
    let failed = false;
    let sent = false;
    await Promise.all(
      [...this.p.keys].map(async ([queue, k]) => {
        const runs = this.host.heldRuns(queue);
        if (runs.length === 0) return;
        if (!sent) {
          sent = true;
          const lateMs = Math.floor(this.p.leaseMs / 2);
          this.lateTimer = setTimeout(() => this.trouble(`Redis has not answered a lease renewal for ${lateMs} ms`), lateMs);
        }
        const held: Held[] = runs.map((r: JobRun) => ({ id: r.id, attempt: r.attempt, type: r.typeIndex }));
        try {
          const lost = await this.p.scripts.renew(k, { types: this.p.types.get(queue) ?? [], leaseMs: this.p.leaseMs, held });
          if (lost.length > 0) this.host.leasesLost(queue, lost);
          this.host.leasesRenewed(queue, runs, deadline);
        } catch (err) {
          failed = true;
          const what = `renewing ${held.length} lease(s) in queue "${queue}"`;
          if (this.host.hasErrorListeners()) this.host.reportError(err, what);
          this.trouble(`${what} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }),
    );
    if (this.lateTimer !== undefined) clearTimeout(this.lateTimer);
    this.lateTimer = undefined;
    if (sent && !failed && this.troubled) {
      this.troubled = false;
      this.p.logger.info('lease renewals succeed again');
    }
    // Deadlines moved on: aim the check at the earliest one now (and give up any that passed meanwhile).
    this.check();
  }

  /** Says once per episode (until a renewal succeeds again) that leases are at risk. */
  private trouble(reason: string): void {
    if (this.troubled || this.stopped) return;
    this.troubled = true;
    this.p.logger.warn(
      `lease renewals are failing: ${reason}. Each job whose lease cannot be renewed in time is aborted ` +
        `(ctx.signal, LeaseExpiredError) ${this.p.leaseMarginMs} ms before its lease can expire in Redis, so that no ` +
        'other worker runs it at the same time; it is handed back once its handler stops (its attempt given back if the lease is still ' +
        'this worker\'s), or runs again after lease recovery. Logged once until renewals succeed again.',
    );
  }
}
