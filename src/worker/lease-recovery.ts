import type { QueueKeys } from '../keys.js';
import type { LeasedJob, Scripts } from '../scripts.js';
import type { ThrottledType } from '../throttle.js';
import type { ChainHandoffs } from './chain-handoff.js';

const BATCH = 100;

/** What lease recovery needs from the worker. */
export interface LeaseRecoveryHost {
  /** Jobs whose lease expired elsewhere, now leased by a recovery call sent at `sentAt`: fail their attempt. */
  recovered(queue: string, leased: readonly LeasedJob[], sentAt: number): void;
  /** Tracks a Redis call that close() must wait for. */
  track<T>(promise: Promise<T>): Promise<T>;
  reportError(err: unknown, what: string): void;
}

/** How lease recovery is set up (its params). */
export interface LeaseRecoveryParams {
  readonly leaseMs: number;
  readonly keys: ReadonlyMap<string, QueueKeys>;
  /** Each queue's throttled job types. */
  readonly types: ReadonlyMap<string, readonly ThrottledType[]>;
  readonly scripts: Scripts;
  readonly maxDead: number;
  readonly maxEnvelopeBytes: number;
  /** Finishes the chain and fan-in hand-offs a crash left in a queue's outbox (chain-handoff.ts). */
  readonly handoffs?: Pick<ChainHandoffs, 'sweep'> | undefined;
  /**
   * The queues whose outbox is swept: those with a job type that declares a result (only such a job's ack, cancel or
   * death writes an outbox entry), so a worker of plain queues sends nothing for them.
   */
  readonly handoffQueues?: ReadonlySet<string>;
}

/**
 * Finds jobs whose lease expired (their worker died or hung) and fails their interrupted attempt, so they run
 * again with their attempt count kept, or die when that was their last attempt. Runs every half lease, at most
 * every 5 s, with a little randomness so workers do not all check at once. Any worker may recover any job.
 */
export class LeaseRecovery {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly intervalMs: number;

  constructor(
    private readonly host: LeaseRecoveryHost,
    private readonly p: LeaseRecoveryParams,
  ) {
    this.intervalMs = Math.min(5_000, Math.max(50, Math.floor(p.leaseMs / 2)));
  }

  start(): void {
    this.schedule(Math.random() * this.intervalMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule(this.intervalMs * (0.8 + Math.random() * 0.4))), delay);
  }

  private async tick(): Promise<void> {
    await Promise.all(
      [...this.p.keys].map(async ([queue, k]) => {
        try {
          for (;;) {
            if (this.stopped) return;
            const p = this.p;
            // Leases it grants count from when it was sent, like a fetch's.
            const sentAt = performance.now();
            const jobs = await this.host.track(p.scripts.recover(k, { leaseMs: p.leaseMs, max: BATCH, types: p.types.get(queue) ?? [], maxDead: p.maxDead, maxEnvelopeBytes: p.maxEnvelopeBytes }));
            if (jobs.length > 0) this.host.recovered(queue, jobs, sentAt);
            if (jobs.length < BATCH) break;
          }
        } catch (err) {
          this.host.reportError(err, `recovering expired leases in queue "${queue}"`);
        }
        if (this.stopped || this.p.handoffs === undefined || this.p.handoffQueues?.has(queue) !== true) return;
        try {
          await this.p.handoffs.sweep(k);
        } catch (err) {
          this.host.reportError(err, `finishing chain hand-offs in queue "${queue}"`);
        }
      }),
    );
  }
}
