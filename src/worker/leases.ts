/**
 * The lease book: which jobs this worker holds in each queue (buffered, running, or on their way to being recorded)
 * and until when it may count on each lease locally. Pure bookkeeping — no timers, no Redis; times are
 * `performance.now()` values passed in. Unit-tested in test/unit/leases.test.ts.
 *
 * A lease granted or renewed by a call sent at local time `t` lasts in Redis at least until `t + leaseMs` (Redis sets
 * it when the call runs, which is after it was sent), so this worker counts on it until `t + leaseMs − margin` — its
 * local deadline. A run whose deadline passed is given up (see WorkerCore.expireLeases) before another worker may
 * take the job over.
 */

/** What the book needs of a held job. */
export interface HeldRun {
  readonly id: string;
  readonly queue: string;
  /** Local lease deadline (performance.now() time). */
  deadline: number;
}

export class LeaseBook<R extends HeldRun> {
  private readonly byQueue = new Map<string, Map<string, R>>();

  constructor(
    queues: readonly string[],
    private readonly leaseMs: number,
    private readonly marginMs: number,
  ) {
    for (const q of queues) this.byQueue.set(q, new Map());
  }

  /** Where a lease granted or renewed by a call sent at `sentAt` ends for this worker. */
  deadline(sentAt: number): number {
    return sentAt + this.leaseMs - this.marginMs;
  }

  /** The run held under `id` in `queue`, if any. */
  get(queue: string, id: string): R | undefined {
    return this.byQueue.get(queue)?.get(id);
  }

  /**
   * The runs held in `queue` by id (undefined for a queue this worker does not serve): for a caller taking in a batch
   * of leased jobs, which looks the queue up once, not once per job.
   */
  heldIn(queue: string): Map<string, R> | undefined {
    return this.byQueue.get(queue);
  }

  /** Forgets `run` if it is the one held under its id; false when it was not held (any more). */
  drop(run: R): boolean {
    const held = this.byQueue.get(run.queue);
    if (held?.get(run.id) !== run) return false;
    held.delete(run.id);
    return true;
  }

  /** Forgets whatever is held under `id` in `queue`, and returns it. */
  dropId(queue: string, id: string): R | undefined {
    const held = this.byQueue.get(queue);
    const run = held?.get(id);
    if (run !== undefined) held?.delete(id);
    return run;
  }

  /** How many jobs are held in `queue`. */
  count(queue: string): number {
    return this.byQueue.get(queue)?.size ?? 0;
  }

  /** The runs held in `queue` (a copy). */
  runs(queue: string): R[] {
    const held = this.byQueue.get(queue);
    return held === undefined ? [] : [...held.values()];
  }

  /** Every run held, in all queues. */
  *all(): IterableIterator<R> {
    for (const held of this.byQueue.values()) yield* held.values();
  }

  /**
   * A renewal answered at `now`, sent when `deadline` was computed, went through: those of `runs` still held are ours
   * until then. Not a run whose deadline had passed by `now`: Redis may have run the renewal after the lease expired
   * and another worker had taken the job over, so only an answer read before the deadline proves the lease was still
   * ours. A deadline never moves back.
   */
  renewed(queue: string, runs: readonly R[], deadline: number, now: number): void {
    const held = this.byQueue.get(queue);
    for (const run of runs) if (held?.get(run.id) === run && run.deadline > now && run.deadline < deadline) run.deadline = deadline;
  }

  /**
   * Forgets every run whose deadline is at or before `now` and returns them (undefined when none), with the earliest
   * deadline left (Infinity when none).
   */
  expire(now: number): { expired: R[] | undefined; next: number } {
    let next = Infinity;
    let expired: R[] | undefined;
    for (const held of this.byQueue.values()) {
      for (const run of held.values()) {
        if (run.deadline > now) {
          if (run.deadline < next) next = run.deadline;
          continue;
        }
        held.delete(run.id);
        (expired ??= []).push(run);
      }
    }
    return { expired, next };
  }
}
