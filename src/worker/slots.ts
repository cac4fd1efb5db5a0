/**
 * Slot accounting of one worker: how many jobs it may hold at once (running + leased ahead + being fetched), how a
 * worker serving several queues shares those slots (weighted or strict queue order), and the automatic prefetch.
 *
 * Pure bookkeeping: no timers, no Redis, no clock of its own (callers pass `performance.now()`-style times in). The
 * worker tells it what it needs to know (jobs running, the buffer's length, each queue's held jobs and idleness) and
 * asks it how many jobs a fetch may take. Unit-tested in test/unit/slots.test.ts.
 */

/** Upper bound of `concurrency` + `prefetch` (one fetch call's reply stays a few hundred KiB at most). */
export const MAX_SLOTS = 5_000;
/** Automatic prefetch: the jobs this worker starts in this many ms… */
export const AUTO_PREFETCH_AHEAD_MS = 5;
/** …at most this many times `concurrency`… */
export const AUTO_PREFETCH_MAX_FACTOR = 4;
/** …measured over windows of this length… */
export const RATE_WINDOW_MS = 25;
/**
 * …and multiplied by this (up to the same cap) after a window in which the worker ran dry while a fetch was out: its
 * jobs end faster than Redis answers, so its start rate measured the round trip, not the jobs (see noteStart).
 */
export const AUTO_PREFETCH_GROWTH = 2;
/** The buffer is refilled when it falls below this share of the prefetch. */
export const LOW_WATER = 0.5;

/** What slot accounting is configured with (resolved worker options). */
export interface SlotsConfig {
  /** Handlers running at once. */
  readonly concurrency: number;
  /** A fixed prefetch, or undefined for automatic. */
  readonly prefetch: number | undefined;
  /** The queues served, in the order of `queues` (strict order follows it). */
  readonly queues: readonly string[];
  /** `queueOrder: 'strict'`. */
  readonly strict: boolean;
  /** Weights for the weighted order (default 1 each). */
  readonly weights: ReadonlyMap<string, number>;
}

export class Slots {
  readonly concurrency: number;
  /** Handlers running now (the worker counts them in and out). */
  running = 0;
  /** Slots: `concurrency` + the current prefetch. */
  private capacity = 0;
  /** Fetch when the buffer of leased-ahead jobs falls below this. */
  private lowWater = 1;
  private readonly fixedPrefetch: number | undefined;
  private readonly maxPrefetch: number;
  /** Job starts counted since `rateSince`, to size the automatic prefetch. */
  private rateStarts = 0;
  private rateSince = 0;
  /** Job starts in all (never reset): which fetch reservations jobs started after. */
  private startCount = 0;
  /** `startCount` when each queue last reserved slots for a fetch. */
  private readonly startsAtReserve = new Map<string, number>();
  /** The worker ran dry while a fetch was out, in the current rate window (see reserve). */
  private ranDry = false;
  private readonly queues: readonly string[];
  private readonly strict: boolean;
  private readonly weights: ReadonlyMap<string, number>;
  /** Slots reserved by fetches on their way, in all and per queue. */
  private reserved = 0;
  private readonly reservedBy = new Map<string, number>();
  /** Queues whose fetch loop found them empty and waits for a wake-up. */
  private readonly idle = new Set<string>();

  constructor(config: SlotsConfig) {
    this.concurrency = config.concurrency;
    this.fixedPrefetch = config.prefetch;
    this.maxPrefetch = config.prefetch ?? Math.min(AUTO_PREFETCH_MAX_FACTOR * config.concurrency, MAX_SLOTS - config.concurrency);
    this.queues = config.queues;
    this.strict = config.strict;
    this.weights = config.weights;
    this.setPrefetch(config.prefetch ?? config.concurrency);
  }

  /** Slots in all now: `concurrency` + the current prefetch. */
  get total(): number {
    return this.capacity;
  }

  /** Slots neither running, nor buffered (`buffered` jobs leased ahead), nor reserved by a fetch on its way. */
  free(buffered: number): number {
    return this.capacity - this.running - buffered - this.reserved;
  }

  /** Whether a fetch now could take at least one job. */
  hasFree(buffered: number): boolean {
    return this.capacity - this.running - buffered - this.reserved > 0;
  }

  /**
   * Whether a fetch is worth making now: a slot is free and the buffer of leased-ahead jobs is below half the
   * prefetch (so each call takes several jobs, and the buffer refills before it runs dry).
   */
  wantsJobs(buffered: number): boolean {
    return this.hasFree(buffered) && buffered < this.lowWater;
  }

  /** Whether a handler may start now (fewer than `concurrency` running). */
  canStart(): boolean {
    return this.running < this.concurrency;
  }

  /**
   * Reserves slots for one fetch from `queue` (running + buffered + being fetched never exceeds the capacity) and
   * returns how many. With several busy (not idle) queues, each gets a share of the capacity in proportion to its
   * weight, less what it holds already (`heldInQueue`: its jobs buffered, running or being recorded, plus its
   * reservations); with strict order, a queue gets slots only while every queue before it is idle. At most `max`.
   */
  reserve(queue: string, max: number, buffered: number, heldInQueue: number): number {
    this.noteRunDry(queue, buffered);
    const free = this.free(buffered);
    if (free <= 0) return 0;
    let want = free;
    if (this.queues.length > 1) {
      if (this.strict) {
        for (const q of this.queues) {
          if (q === queue) break;
          if (!this.idle.has(q)) return 0;
        }
      } else {
        const busy = this.queues.filter((q) => q === queue || !this.idle.has(q));
        if (busy.length > 1) {
          const total = busy.reduce((sum, q) => sum + this.weightOf(q), 0);
          const share = Math.max(1, Math.ceil((this.capacity * this.weightOf(queue)) / total));
          const inFlight = heldInQueue + (this.reservedBy.get(queue) ?? 0);
          want = Math.min(free, share - inFlight);
        }
      }
    }
    want = Math.min(want, max);
    if (want <= 0) return 0;
    this.reserved += want;
    this.reservedBy.set(queue, (this.reservedBy.get(queue) ?? 0) + want);
    this.startsAtReserve.set(queue, this.startCount);
    return want;
  }

  /**
   * Notes whether the worker ran dry while a fetch of `queue` was out: a fetch is being reserved while the queue's
   * previous one still holds its slots (its answer came back full, not yet taken in), nothing is buffered, a slot is
   * idle, and jobs started since that previous fetch was reserved — so jobs started and ended within one round trip
   * to Redis. (At start-up nothing has started yet, and a worker of long jobs still has them running: neither counts.)
   */
  private noteRunDry(queue: string, buffered: number): void {
    if (this.fixedPrefetch === undefined && buffered === 0 && this.running < this.concurrency && (this.reservedBy.get(queue) ?? 0) > 0) {
      if (this.startCount > (this.startsAtReserve.get(queue) ?? this.startCount)) this.ranDry = true;
    }
  }

  /**
   * Returns `n` slots reserved by {@link reserve} once the fetch answered; `used` of them were filled. True when the
   * other queues' fetch loops should look again (slots this fetch did not fill may be what one of them waits for).
   */
  release(queue: string, n: number, used: number): boolean {
    this.reserved -= n;
    this.reservedBy.set(queue, (this.reservedBy.get(queue) ?? 0) - n);
    return used < n && this.queues.length > 1;
  }

  /** Slots reserved by fetches on their way for `queue`. */
  reservedFor(queue: string): number {
    return this.reservedBy.get(queue) ?? 0;
  }

  /** The most one fetch asks for: half the slots, so a second batch can be on its way while one runs. */
  batchMax(): number {
    return Math.max(1, Math.ceil(this.capacity / 2));
  }

  /** A queue's fetch loop found it empty (true) or found jobs / was woken (false). */
  setIdle(queue: string, idle: boolean): void {
    if (idle) this.idle.add(queue);
    else this.idle.delete(queue);
  }

  isIdle(queue: string): boolean {
    return this.idle.has(queue);
  }

  /**
   * Counts a job start at `now` and, with automatic prefetch, resizes the buffer every RATE_WINDOW_MS to the jobs
   * this worker starts in AUTO_PREFETCH_AHEAD_MS: between `concurrency` and 4 × `concurrency`. Short jobs get a
   * deeper buffer (fewer, bigger fetches, and a burst of slots freeing at once never finds it empty); long ones keep
   * the default.
   *
   * A worker whose jobs end faster than Redis answers starts only what its fetches bring: its start rate is
   * (jobs per call) ÷ (round trip), and jobs per call follow from the prefetch, so the rate would size the prefetch
   * after itself and stay small whenever round trips are long (a fleet of workers sharing one Redis, a busy machine).
   * So after a window in which the worker ran dry while a fetch was out (see noteRunDry), the prefetch grows by
   * AUTO_PREFETCH_GROWTH (up to the same cap) whatever the rate said.
   */
  noteStart(now: number): void {
    this.startCount++;
    if (this.fixedPrefetch !== undefined) return;
    this.rateStarts++;
    const elapsed = now - this.rateSince;
    if (elapsed < RATE_WINDOW_MS) return;
    let wanted = Math.ceil((this.rateStarts / elapsed) * AUTO_PREFETCH_AHEAD_MS);
    if (this.ranDry) wanted = Math.max(wanted, (this.capacity - this.concurrency) * AUTO_PREFETCH_GROWTH);
    this.setPrefetch(Math.max(this.concurrency, Math.min(this.maxPrefetch, wanted)));
    this.rateStarts = 0;
    this.rateSince = now;
    this.ranDry = false;
  }

  /**
   * A queue was found empty at `now`: when every queue is idle, the automatic prefetch starts again from
   * `concurrency` (a deep prefetch from a burst of short jobs ends here, so a parked fetch does not take a next
   * burst's jobs away from other idle workers).
   */
  drained(now: number): void {
    if (this.fixedPrefetch !== undefined) return;
    for (const q of this.queues) if (!this.idle.has(q)) return; // another queue still keeps this worker busy
    this.setPrefetch(this.concurrency);
    this.rateStarts = 0;
    this.rateSince = now;
    this.ranDry = false;
  }

  /**
   * The buffer is refilled when it falls below half the prefetch, so each call takes several jobs (fewer, bigger
   * calls) while what is left covers the round trip.
   */
  private setPrefetch(prefetch: number): void {
    this.capacity = this.concurrency + prefetch;
    this.lowWater = Math.max(1, Math.ceil(prefetch * LOW_WATER));
  }

  private weightOf(queue: string): number {
    return this.weights.get(queue) ?? 1;
  }
}
