import type { QueueKeys } from './keys.js';
import type { WorkerCore } from './worker.js';

/**
 * Renews the leases of every job this worker holds, every third of the lease, so a live worker never loses a job
 * it is running. Leases Redis says are no longer ours (taken back after an expiry) are reported to the worker,
 * which aborts their handlers.
 */
export class LeaseRenewal {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly intervalMs: number;

  constructor(
    private readonly worker: WorkerCore,
    private readonly keys: ReadonlyMap<string, QueueKeys>,
  ) {
    this.intervalMs = Math.max(30, Math.floor(worker.leaseMs / 3));
  }

  start(): void {
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick().finally(() => this.schedule()), this.intervalMs);
  }

  private async tick(): Promise<void> {
    await Promise.all(
      [...this.keys].map(async ([queue, k]) => {
        const held = this.worker.heldLeases(queue);
        if (held.length === 0) return;
        try {
          const lost = await this.worker.scripts.renew(k, this.worker.typesOf(queue), this.worker.leaseMs, held);
          if (lost.length > 0) this.worker.leasesLost(queue, lost);
        } catch (err) {
          this.worker.reportError(err, `renewing ${held.length} lease(s) in queue "${queue}"`);
        }
      }),
    );
  }
}
