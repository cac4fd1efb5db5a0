import type { QueueKeys } from './keys.js';
import type { WorkerCore } from './worker.js';

const BATCH = 100;

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
    private readonly worker: WorkerCore,
    private readonly keys: ReadonlyMap<string, QueueKeys>,
  ) {
    this.intervalMs = Math.min(5_000, Math.max(50, Math.floor(worker.leaseMs / 2)));
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
      [...this.keys].map(async ([queue, k]) => {
        try {
          for (;;) {
            if (this.stopped) return;
            const w = this.worker;
            // Leases it grants count from when it was sent, like a fetch's.
            const sentAt = performance.now();
            const jobs = await w.track(w.scripts.recover(k, { leaseMs: w.leaseMs, max: BATCH, types: w.typesOf(queue), maxDead: w.maxDead, maxEnvelopeBytes: w.maxEnvelopeBytes }));
            if (jobs.length > 0) this.worker.recovered(queue, jobs, sentAt);
            if (jobs.length < BATCH) return;
          }
        } catch (err) {
          this.worker.reportError(err, `recovering expired leases in queue "${queue}"`);
        }
      }),
    );
  }
}
